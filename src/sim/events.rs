//! Events as the real apiserver serves them: stored once in their core/v1 shape and read
//! and written through two API versions, core/v1 (`/api/v1/…/events`) and
//! `events.k8s.io/v1` (`/apis/events.k8s.io/v1/…/events`), converted on the way in and
//! out like `pkg/apis/events/v1/conversion.go` does, with that version's field labels.

use actix_web::HttpResponse;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::resource::Resource;
use super::status::{ApiError, Cause};
use super::store::Stored;

/// The API version a request reads and writes objects in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// core/v1, the storage shape: objects pass unchanged.
    #[default]
    Core,
    /// `events.k8s.io/v1`: events converted from and to core/v1.
    EventsV1,
}

/// The group/version of the events API.
pub const GROUP_VERSION: &str = "events.k8s.io/v1";

/// The group of the events API.
const GROUP: &str = "events.k8s.io";

impl View {
    /// `apiVersion` of objects and lists in this view.
    pub fn api_version(self) -> &'static str {
        match self {
            View::Core => "v1",
            View::EventsV1 => GROUP_VERSION,
        }
    }

    /// The stored (core/v1) field label a field selector's `label` stands for, or the
    /// real server's 400 (`AddFieldLabelConversionsForEvent` of each version).
    pub fn internal_label(self, resource: Resource, label: &str) -> Result<&'static str, ApiError> {
        let mapped = match self {
            View::Core => resource
                .selectable_fields()
                .iter()
                .copied()
                .find(|f| *f == label),
            View::EventsV1 => events_v1_label(label),
        };
        mapped.ok_or_else(|| ApiError::bad_request(format!("field label not supported: {label}")))
    }

    /// The stored object as this view shows it.
    pub fn outgoing(self, stored: &Stored) -> Bytes {
        match self {
            View::Core => stored.bytes.clone(),
            View::EventsV1 => {
                let v = to_events_v1(stored.decode());
                Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
            }
        }
    }

    /// A 403 worded for this view's API group, as RBAC words it
    /// (`events.events.k8s.io is forbidden: … in API group "events.k8s.io" …`).
    pub fn in_group(self, mut e: ApiError) -> ApiError {
        if self == View::EventsV1 && e.code == 403 {
            e.message = format!(
                "events.{GROUP}{}",
                e.message.strip_prefix("events").unwrap_or(&e.message)
            )
            .replace("in API group \"\"", &format!("in API group \"{GROUP}\""));
            if let Some(details) = e.details.as_mut() {
                details["group"] = GROUP.into();
            }
        }
        e
    }

    /// An object in this view, converted to its stored shape.
    pub fn incoming(self, v: Value) -> Value {
        match self {
            View::Core => v,
            View::EventsV1 => to_core(v),
        }
    }

    /// A stored-shape value as this view shows it (for patches applied in the view).
    pub fn outgoing_value(self, v: Value) -> Value {
        match self {
            View::Core => v,
            View::EventsV1 => to_events_v1(v),
        }
    }
}

/// `pkg/apis/events/v1/conversion.go` `AddFieldLabelConversionsForEvent`.
fn events_v1_label(label: &str) -> Option<&'static str> {
    Some(match label {
        "reason" => "reason",
        "regarding.kind" => "involvedObject.kind",
        "regarding.namespace" => "involvedObject.namespace",
        "regarding.name" => "involvedObject.name",
        "regarding.uid" => "involvedObject.uid",
        "regarding.apiVersion" => "involvedObject.apiVersion",
        "regarding.resourceVersion" => "involvedObject.resourceVersion",
        "regarding.fieldPath" => "involvedObject.fieldPath",
        "reportingController" => "reportingComponent",
        "type" => "type",
        "metadata.namespace" => "metadata.namespace",
        "metadata.name" => "metadata.name",
        _ => return None,
    })
}

fn take(m: &mut Map<String, Value>, key: &str) -> Value {
    m.remove(key).unwrap_or(Value::Null)
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_i64() != Some(0),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// A core/v1 event as the real server writes it out: the fields Go always encodes
/// (`involvedObject`, `source`, the timestamps as `null`, `reportingComponent` and
/// `reportingInstance` as strings), zero values of `omitempty` ones left out.
pub fn canonical_core(v: Value) -> Value {
    let Value::Object(mut m) = v else { return v };
    let mut out = Map::new();
    out.insert("kind".into(), "Event".into());
    out.insert("apiVersion".into(), "v1".into());
    out.insert("metadata".into(), take(&mut m, "metadata"));
    let object = |v: Value| if v.is_object() { v } else { json!({}) };
    out.insert(
        "involvedObject".into(),
        object(take(&mut m, "involvedObject")),
    );
    for key in ["reason", "message"] {
        let v = take(&mut m, key);
        if non_empty(&v) {
            out.insert(key.into(), v);
        }
    }
    out.insert("source".into(), object(take(&mut m, "source")));
    for key in ["firstTimestamp", "lastTimestamp"] {
        out.insert(key.into(), take(&mut m, key));
    }
    for key in ["count", "type"] {
        let v = take(&mut m, key);
        if non_empty(&v) {
            out.insert(key.into(), v);
        }
    }
    out.insert("eventTime".into(), take(&mut m, "eventTime"));
    for key in ["series", "action", "related"] {
        let v = take(&mut m, key);
        if non_empty(&v) {
            out.insert(key.into(), v);
        }
    }
    for key in ["reportingComponent", "reportingInstance"] {
        let v = take(&mut m, key);
        out.insert(key.into(), if v.is_string() { v } else { "".into() });
    }
    Value::Object(out)
}

/// core/v1 → events.k8s.io/v1 (`Convert_core_Event_To_v1_Event`).
pub fn to_events_v1(core: Value) -> Value {
    let Value::Object(mut m) = core else {
        return core;
    };
    let mut out = Map::new();
    out.insert("kind".into(), "Event".into());
    out.insert("apiVersion".into(), GROUP_VERSION.into());
    out.insert("metadata".into(), take(&mut m, "metadata"));
    out.insert("eventTime".into(), take(&mut m, "eventTime"));
    let put = |out: &mut Map<String, Value>, to: &str, v: Value| {
        if non_empty(&v) {
            out.insert(to.into(), v);
        }
    };
    put(&mut out, "series", take(&mut m, "series"));
    put(
        &mut out,
        "reportingController",
        take(&mut m, "reportingComponent"),
    );
    put(
        &mut out,
        "reportingInstance",
        take(&mut m, "reportingInstance"),
    );
    put(&mut out, "action", take(&mut m, "action"));
    put(&mut out, "reason", take(&mut m, "reason"));
    let regarding = take(&mut m, "involvedObject");
    out.insert(
        "regarding".into(),
        if regarding.is_object() {
            regarding
        } else {
            json!({})
        },
    );
    put(&mut out, "related", take(&mut m, "related"));
    put(&mut out, "note", take(&mut m, "message"));
    put(&mut out, "type", take(&mut m, "type"));
    let source = take(&mut m, "source");
    out.insert(
        "deprecatedSource".into(),
        if source.is_object() {
            source
        } else {
            json!({})
        },
    );
    out.insert(
        "deprecatedFirstTimestamp".into(),
        take(&mut m, "firstTimestamp"),
    );
    out.insert(
        "deprecatedLastTimestamp".into(),
        take(&mut m, "lastTimestamp"),
    );
    put(&mut out, "deprecatedCount", take(&mut m, "count"));
    Value::Object(out)
}

/// events.k8s.io/v1 → core/v1 (`Convert_v1_Event_To_core_Event`), in the stored shape.
/// Unknown fields are kept, so field validation can still find them.
pub fn to_core(v1: Value) -> Value {
    let Value::Object(mut m) = v1 else { return v1 };
    for (from, to) in [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
    ] {
        if let Some(x) = m.remove(from) {
            m.insert(to.into(), x);
        }
    }
    let metadata = m.get("metadata").cloned();
    let mut core = canonical_core(Value::Object(m.clone()));
    // canonical_core keeps known fields only; carry the others over unchanged.
    if let Value::Object(out) = &mut core {
        for (k, x) in m {
            if !out.contains_key(&k) && !matches!(k.as_str(), "kind" | "apiVersion") {
                out.insert(k, x);
            }
        }
        if let Some(meta) = metadata {
            out.insert("metadata".into(), meta);
        }
    }
    core
}

/// `ValidateEventCreate` (`pkg/apis/core/validation/events.go`) on the stored shape: the
/// legacy rules for every create, the strict ones for `events.k8s.io/v1`. The field
/// names are the request version's where the real server words them so.
pub fn validate_create(v: &Value, view: View) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let text = |key: &str| v[key].as_str().unwrap_or_default();
    let required = |field: &str| Cause {
        reason: "FieldValueRequired",
        message: "Required value".into(),
        field: field.into(),
    };
    let invalid = |field: &str, value: &str, message: &str| Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {value:?}: {message}"),
        field: field.into(),
    };
    let namespace = v["metadata"]["namespace"].as_str().unwrap_or_default();
    let involved_ns = v["involvedObject"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let timed = non_empty(&v["eventTime"]);
    if !timed {
        let mismatch = if involved_ns.is_empty() {
            !namespace.is_empty() && namespace != "default"
        } else {
            namespace != involved_ns
        };
        if mismatch {
            causes.push(invalid(
                "involvedObject.namespace",
                involved_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            causes.push(invalid(
                "involvedObject.namespace",
                involved_ns,
                "does not match event.namespace",
            ));
        }
        let controller = match view {
            View::Core => "reportingComponent",
            View::EventsV1 => "reportingController",
        };
        for (key, field) in [
            ("reportingComponent", controller),
            ("reportingInstance", "reportingInstance"),
            ("action", "action"),
            ("reason", "reason"),
        ] {
            if text(key).is_empty() {
                causes.push(required(field));
            }
        }
    }
    if view == View::EventsV1 {
        if let Some(series) = v["series"].as_object() {
            if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
                causes.push(invalid("series.count", "", "should be at least 2"));
            }
            if !series.get("lastObservedTime").is_some_and(non_empty) {
                causes.push(required("series.lastObservedTime"));
            }
        }
        if !timed {
            causes.push(required("eventTime"));
        }
        if !matches!(text("type"), "Normal" | "Warning") {
            causes.push(invalid(
                "type",
                "",
                &format!("has invalid value: {}", text("type")),
            ));
        }
        for key in ["firstTimestamp", "lastTimestamp", "count"] {
            if non_empty(&v[key]) {
                causes.push(invalid(key, "", "needs to be unset"));
            }
        }
        if non_empty(&v["source"]["component"]) || non_empty(&v["source"]["host"]) {
            causes.push(invalid("source", "", "needs to be unset"));
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    let name = v["metadata"]["name"].as_str().unwrap_or_default();
    // The real server names the kind without its group in either version.
    Err(ApiError::invalid("Event", name, causes))
}

/// `GET /apis/events.k8s.io`: the group.
pub async fn group() -> HttpResponse {
    json_response(api_group())
}

/// The `APIGroup` for `/apis`.
pub fn api_group() -> Value {
    let version = json!({"groupVersion": GROUP_VERSION, "version": "v1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": "events.k8s.io", "versions": [version], "preferredVersion": version})
}

/// `GET /apis/events.k8s.io/v1`: its one resource.
pub async fn resources() -> HttpResponse {
    json_response(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
        "resources": Resource::Events.discovery(),
    }))
}

fn json_response(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubelet_event() -> Value {
        json!({
            "metadata": {"name": "web-1.17f", "namespace": "web"},
            "involvedObject": {"kind": "Pod", "namespace": "web", "name": "web-1", "uid": "u1", "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "message": "Back-off restarting failed container app in pod web-1_web(u1)",
            "source": {"component": "kubelet", "host": "worker-1"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z",
            "count": 7, "type": "Warning", "reportingComponent": "kubelet", "reportingInstance": "worker-1"
        })
    }

    #[test]
    fn core_and_events_v1_convert_both_ways() {
        let core = canonical_core(kubelet_event());
        let v1 = to_events_v1(core.clone());
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web-1");
        assert_eq!(v1["note"], core["message"]);
        assert_eq!(v1["deprecatedCount"], 7);
        assert_eq!(v1["deprecatedSource"]["component"], "kubelet");
        assert_eq!(v1["reportingController"], "kubelet");
        assert_eq!(v1["deprecatedLastTimestamp"], "2026-01-01T00:05:00Z");
        assert!(v1["eventTime"].is_null());
        assert_eq!(to_core(v1), core);
    }

    #[test]
    fn a_new_api_event_has_empty_legacy_fields_in_core() {
        let v1 = json!({
            "metadata": {"name": "p.1", "namespace": "web"}, "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:02:00.000000Z"},
            "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-cp-0",
            "action": "Scheduling", "reason": "FailedScheduling", "regarding": {"kind": "Pod", "name": "p"},
            "note": "0/3 nodes are available", "type": "Warning"
        });
        let core = to_core(v1);
        assert_eq!(core["source"], json!({}));
        assert!(core["firstTimestamp"].is_null() && core.get("count").is_none());
        assert_eq!(core["reportingComponent"], "default-scheduler");
        assert_eq!(core["series"]["count"], 3);
        assert_eq!(core["message"], "0/3 nodes are available");
    }

    #[test]
    fn creates_are_validated_like_the_real_server() {
        let legacy = canonical_core(kubelet_event());
        assert!(validate_create(&legacy, View::Core).is_ok());
        let err =
            validate_create(&legacy, View::EventsV1).expect_err("legacy fields on events.k8s.io");
        assert_eq!(err.code, 422);
        assert!(
            err.message.starts_with("Event \"web-1.17f\" is invalid: ["),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("eventTime: Required value"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("count: Invalid value: \"\": needs to be unset"),
            "{}",
            err.message
        );
        let mut elsewhere = legacy.clone();
        elsewhere["metadata"]["namespace"] = "other".into();
        let err = validate_create(&elsewhere, View::Core).expect_err("namespace mismatch");
        assert!(
            err.message.contains("involvedObject.namespace"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_forbidden_events_k8s_io_request_names_its_group() {
        let e = ApiError::forbidden(Resource::Events, "list", None, None);
        assert_eq!(View::Core.in_group(e.clone()).message, e.message);
        let e = View::EventsV1.in_group(e);
        assert_eq!(
            e.message,
            "events.events.k8s.io is forbidden: User \"system:serviceaccount:podwall:podwall\" cannot list resource \"events\" in API group \"events.k8s.io\" at the cluster scope"
        );
    }

    #[test]
    fn field_labels_follow_each_version() {
        let e = Resource::Events;
        assert_eq!(
            View::EventsV1.internal_label(e, "regarding.name").ok(),
            Some("involvedObject.name")
        );
        assert_eq!(
            View::EventsV1.internal_label(e, "reportingController").ok(),
            Some("reportingComponent")
        );
        let err = View::EventsV1
            .internal_label(e, "involvedObject.name")
            .expect_err("core label on events.k8s.io");
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "field label not supported: involvedObject.name")
        );
        assert!(View::Core.internal_label(e, "source").is_ok());
        assert!(View::Core.internal_label(e, "regarding.name").is_err());
        assert!(View::Core.internal_label(e, "note").is_err());
    }
}
