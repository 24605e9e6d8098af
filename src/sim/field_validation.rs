//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore` on create, update and
//! patch). The real apiserver decodes every written object into its typed Go struct;
//! fields the struct does not have are rejected (`Strict`), dropped with a `Warning`
//! header (`Warn`, the default), or dropped silently (`Ignore`) — KEP-2885, apiserver
//! `endpoints/handlers/{create,update,patch}.go`. The simulator decodes into the
//! k8s-openapi types and lets `serde_ignored` report the fields they skip.

use std::fmt;

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderValue, WARNING};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::events::View;
use super::query::query_pairs;
use super::resource::Resource;
use super::status::{ApiError, Cause};

/// What to do with fields the object's type does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn about each (the server's default).
    Warn,
    /// Reject the request (400 BadRequest; 422 Invalid for a patch).
    Strict,
}

/// Which request an object came with: the real server words its errors differently for
/// a decoded body (400 BadRequest) and for a patched object (422 Invalid on `patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write<'a> {
    /// POST: the body is the object.
    Create,
    /// PUT: the body is the object.
    Update,
    /// PATCH: the object is the stored one with this patch applied.
    Patch(&'a Value),
}

impl FieldValidation {
    /// Reads the `fieldValidation` query parameter of a request whose options are of
    /// `kind` (`CreateOptions`, `UpdateOptions`, `PatchOptions`); unset or empty
    /// means `Warn`.
    pub fn from_query(query: &str, kind: &str) -> Result<Self, ApiError> {
        let mut directive = Self::Warn;
        for (k, v) in query_pairs(query)? {
            if k != "fieldValidation" {
                continue;
            }
            directive = match v.as_str() {
                "" | "Warn" => Self::Warn,
                "Ignore" => Self::Ignore,
                "Strict" => Self::Strict,
                other => {
                    // Values are case-sensitive (apimachinery `ValidateFieldValidation`).
                    let message = format!(
                        "Unsupported value: \"{other}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
                    );
                    let mut e = ApiError::invalid(
                        &format!("{kind}.meta.k8s.io"),
                        "",
                        vec![Cause {
                            reason: "FieldValueNotSupported",
                            message: message.clone(),
                            field: "fieldValidation".into(),
                        }],
                    );
                    e.details = Some(json!({"group": "meta.k8s.io", "kind": kind, "causes": [
                        {"reason": "FieldValueNotSupported", "message": message, "field": "fieldValidation"}
                    ]}));
                    return Err(e);
                }
            };
        }
        Ok(directive)
    }

    /// Applies the directive to an object about to be written: rejects it, or removes
    /// its unknown fields and returns the warnings to send.
    pub fn apply(
        self,
        resource: Resource,
        view: View,
        write: Write,
        obj: &mut Value,
    ) -> Result<Vec<String>, ApiError> {
        let decoded = match (resource, view) {
            (Resource::Events, View::EventsV1) => {
                unknown_fields::<k8s_openapi::api::events::v1::Event>(obj)
            }
            (Resource::Events, View::Core) => {
                unknown_fields::<k8s_openapi::api::core::v1::Event>(obj)
            }
            (Resource::Pods, _) => unknown_fields::<Pod>(obj),
            (Resource::Nodes, _) => unknown_fields::<Node>(obj),
            (Resource::Namespaces, _) => unknown_fields::<Namespace>(obj),
        };
        let unknown = decoded.map_err(|e| decode_error(resource, write, e.to_string()))?;
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        if self == Self::Strict {
            let listed: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            let message = format!("strict decoding error: {}", listed.join(", "));
            return Err(decode_error(resource, write, message));
        }
        for field in &unknown {
            field.remove_from(obj);
        }
        Ok(match self {
            Self::Warn => unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect(),
            _ => Vec::new(),
        })
    }
}

/// Adds one `Warning: 299 - "…"` header per warning, the form client-go prints.
pub fn with_warnings(mut resp: HttpResponse, warnings: &[String]) -> HttpResponse {
    for w in warnings {
        let quoted = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            resp.headers_mut().append(WARNING, value);
        }
    }
    resp
}

fn decode_error(resource: Resource, write: Write, message: String) -> ApiError {
    let kind = resource.kind();
    match write {
        Write::Create | Write::Update => ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {message}"
        )),
        // The real server names the patched object (merge patch) or the patch (strategic
        // merge patch) as the invalid value; the simulator names the patch.
        Write::Patch(patch) => ApiError::invalid(
            "",
            "",
            vec![Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {:?}: {message}", patch.to_string()),
                field: "patch".into(),
            }],
        ),
    }
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path of a field the object's type does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UnknownField(Vec<Step>);

impl UnknownField {
    fn from_path(path: &serde_ignored::Path) -> Self {
        let mut steps = Vec::new();
        let mut at = path;
        loop {
            at = match at {
                serde_ignored::Path::Root => break,
                serde_ignored::Path::Seq { parent, index } => {
                    steps.push(Step::Index(*index));
                    parent
                }
                serde_ignored::Path::Map { parent, key } => {
                    steps.push(Step::Key(key.clone()));
                    parent
                }
                serde_ignored::Path::Some { parent }
                | serde_ignored::Path::NewtypeStruct { parent }
                | serde_ignored::Path::NewtypeVariant { parent } => parent,
            };
        }
        steps.reverse();
        Self(steps)
    }

    fn remove_from(&self, obj: &mut Value) {
        let Some((Step::Key(last), parents)) = self.0.split_last() else {
            return;
        };
        let mut at = obj;
        for step in parents {
            let next = match step {
                Step::Key(k) => at.get_mut(k.as_str()),
                Step::Index(i) => at.get_mut(*i),
            };
            match next {
                Some(v) => at = v,
                None => return,
            }
        }
        if let Value::Object(map) = at {
            map.remove(last);
        }
    }
}

/// Formats like the real server: `spec.containers[0].foo`.
impl fmt::Display for UnknownField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

fn unknown_fields<T: DeserializeOwned>(
    obj: &Value,
) -> Result<Vec<UnknownField>, serde_json::Error> {
    let mut found = Vec::new();
    let _: T = serde_ignored::deserialize(obj, |path| found.push(UnknownField::from_path(&path)))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "namespace": "default", "labels": {"x": "y"}, "bogus": 1},
            "spec": {"foo": true, "containers": [{"name": "c", "image": "i", "colour": "red"}]},
        })
    }

    #[test]
    fn strict_rejects_every_unknown_field_with_its_path() {
        let mut v = pod();
        let err = FieldValidation::Strict
            .apply(Resource::Pods, View::Core, Write::Create, &mut v)
            .unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(err.reason, "BadRequest");
        assert_eq!(
            err.message,
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"metadata.bogus\", unknown field \"spec.containers[0].colour\", unknown field \"spec.foo\""
        );
        let patch = json!({"spec": {"foo": true}});
        let err = FieldValidation::Strict
            .apply(Resource::Pods, View::Core, Write::Patch(&patch), &mut v)
            .unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert!(
            err.message.starts_with(
                " \"\" is invalid: patch: Invalid value: \"{\\\"spec\\\":{\\\"foo\\\":true}}\": strict decoding error: unknown field"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn warn_and_ignore_drop_unknown_fields() {
        let mut v = pod();
        let warnings = FieldValidation::Warn
            .apply(Resource::Pods, View::Core, Write::Update, &mut v)
            .unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings.contains(&"unknown field \"spec.foo\"".to_string()));
        assert!(v["spec"].get("foo").is_none());
        assert!(v["metadata"].get("bogus").is_none());
        assert_eq!(
            v["spec"]["containers"][0],
            json!({"name": "c", "image": "i"})
        );
        assert_eq!(v["metadata"]["labels"]["x"], "y");

        let mut v = pod();
        let warnings = FieldValidation::Ignore
            .apply(Resource::Pods, View::Core, Write::Create, &mut v)
            .unwrap();
        assert!(warnings.is_empty());
        assert!(v["spec"].get("foo").is_none());
    }

    #[test]
    fn known_fields_pass_and_type_errors_are_bad_requests() {
        let mut v = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        let before = v.clone();
        let warnings = FieldValidation::Strict
            .apply(Resource::Nodes, View::Core, Write::Create, &mut v)
            .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(v, before);
        let mut v = json!({"metadata": {"name": 5}});
        let err = FieldValidation::Ignore
            .apply(Resource::Namespaces, View::Core, Write::Create, &mut v)
            .unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message
                .starts_with("Namespace in version \"v1\" cannot be handled as a Namespace: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn directive_parsing() {
        let parse = |q| FieldValidation::from_query(q, "CreateOptions");
        assert_eq!(parse("").unwrap(), FieldValidation::Warn);
        assert_eq!(
            parse("fieldValidation=Strict").unwrap(),
            FieldValidation::Strict
        );
        assert_eq!(
            parse("dryRun=All&fieldValidation=Ignore").unwrap(),
            FieldValidation::Ignore
        );
        let err = parse("fieldValidation=strict").unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        );
    }
}
