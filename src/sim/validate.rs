//! Create/update validation like the apiserver's (`pkg/apis/core/validation`), for the
//! fields clients commonly get wrong: names, labels, annotations, pod containers.

use serde_json::Value;

use super::resource::Resource;
use super::status::{ApiError, Cause};
use crate::k8s::selector::{
    validate_dns_label, validate_dns_subdomain, validate_key, validate_value,
};

fn cause(reason: &'static str, field: &str, message: String) -> Cause {
    Cause {
        reason,
        message,
        field: field.to_string(),
    }
}

/// Checks an object about to be stored; 422 `Invalid` with every field error found.
pub fn validate(resource: Resource, value: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let meta = &value["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required".into(),
        ));
    } else {
        let check = match resource {
            Resource::Pods | Resource::Nodes | Resource::Events => validate_dns_subdomain(name),
            Resource::Namespaces => validate_dns_label(name),
        };
        if let Err(e) = check {
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: {name:?}: a {e}"),
            ));
        }
    }
    if let Some(labels) = meta.get("labels").filter(|l| !l.is_null()) {
        match labels.as_object() {
            None => causes.push(cause(
                "FieldValueInvalid",
                "metadata.labels",
                "Invalid value: labels must be an object".into(),
            )),
            Some(map) => {
                for (k, v) in map {
                    if let Err(e) = validate_key(k) {
                        causes.push(cause(
                            "FieldValueInvalid",
                            "metadata.labels",
                            format!("Invalid value: {k:?}: name part {e}"),
                        ));
                    }
                    match v.as_str() {
                        Some(s) => {
                            if let Err(e) = validate_value(s) {
                                causes.push(cause(
                                    "FieldValueInvalid",
                                    &format!("metadata.labels[{k}]"),
                                    format!("Invalid value: {s:?}: {e}"),
                                ));
                            }
                        }
                        None => causes.push(cause(
                            "FieldValueInvalid",
                            &format!("metadata.labels[{k}]"),
                            "Invalid value: must be a string".into(),
                        )),
                    }
                }
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").filter(|a| !a.is_null()) {
        match annotations.as_object() {
            None => causes.push(cause(
                "FieldValueInvalid",
                "metadata.annotations",
                "Invalid value: annotations must be an object".into(),
            )),
            Some(map) => {
                for k in map.keys() {
                    if let Err(e) = validate_key(k) {
                        causes.push(cause(
                            "FieldValueInvalid",
                            "metadata.annotations",
                            format!("Invalid value: {k:?}: name part {e}"),
                        ));
                    }
                }
            }
        }
    }
    if resource == Resource::Pods {
        validate_pod_spec(&value["spec"], &mut causes);
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(resource.kind(), name, causes))
    }
}

fn validate_pod_spec(spec: &Value, causes: &mut Vec<Cause>) {
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.containers",
            "Required value".into(),
        ));
    }
    let mut seen = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let cname = c["name"].as_str().unwrap_or_default();
        if cname.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.containers[{i}].name"),
                "Required value".into(),
            ));
        } else if let Err(e) = validate_dns_label(cname) {
            causes.push(cause(
                "FieldValueInvalid",
                &format!("spec.containers[{i}].name"),
                format!("Invalid value: {cname:?}: a {e}"),
            ));
        } else if seen.contains(&cname) {
            causes.push(cause(
                "FieldValueDuplicate",
                &format!("spec.containers[{i}].name"),
                format!("Duplicate value: {cname:?}"),
            ));
        }
        seen.push(cname);
        if c["image"].as_str().unwrap_or_default().trim().is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                &format!("spec.containers[{i}].image"),
                "Required value".into(),
            ));
        }
    }
    if let Some(node) = spec["nodeName"].as_str()
        && !node.is_empty()
        && let Err(e) = validate_dns_subdomain(node)
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.nodeName",
            format!("Invalid value: {node:?}: a {e}"),
        ));
    }
}
