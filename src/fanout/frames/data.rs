//! The `data:` JSON of the pod frames, serialized straight from the borrowed view.
//!
//! Pods are most of the changes a wall sees, so their frames skip the `serde_json::Value`
//! tree (a map insert and an allocation per field) the rarer node and status frames use.
//! Keys stay in alphabetical order, byte for byte what clients have always received:
//! the frames were first built from `Value` maps, which sort their keys.

use serde::Serialize;

use crate::state::{Labels, LastRestart, PodView, Ready, WarningView, rfc3339};

/// `/api/events` upsert of a pod: `{"cluster"?,"kind":"Pod","object":{…}}`.
#[derive(Serialize)]
pub(super) struct PodUpsert<'a> {
    /// Named only on walls of several clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<&'a str>,
    /// Always "Pod".
    pub kind: &'static str,
    /// The view, keys sorted.
    pub object: SortedPod<'a>,
}

/// `/api/events` upsert of a warning: `{"cluster"?,"kind":"Warning","object":{…}}` (the
/// object's keys sorted by its own `Serialize`).
#[derive(Serialize)]
pub(super) struct WarningUpsert<'a> {
    /// Named only on walls of several clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<&'a str>,
    /// Always "Warning".
    pub kind: &'static str,
    /// The warning.
    pub object: &'a WarningView,
}

/// `/api/events` delete of a pod or warning: `{"cluster"?,"kind":…,"name":…,"namespace":…}`.
#[derive(Serialize)]
pub(super) struct PodDelete<'a> {
    /// Named only on walls of several clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<&'a str>,
    /// "Pod" or "Warning".
    pub kind: &'static str,
    /// The object's name.
    pub name: Option<&'a str>,
    /// The object's namespace.
    pub namespace: Option<&'a str>,
}

/// `/events` upsert of a fragment: `{"html":…,"id":…,"parent":…}`.
#[derive(Serialize)]
pub(super) struct HtmlUpsert<'a> {
    /// The rendered fragment.
    pub html: &'a str,
    /// The element id it replaces.
    pub id: &'a str,
    /// The id of the box it belongs in.
    pub parent: &'a str,
}

/// `/events` delete of an element: `{"id":…}`.
#[derive(Serialize)]
pub(super) struct HtmlDelete<'a> {
    /// The element id to remove.
    pub id: Option<&'a str>,
}

/// A `PodView`'s fields in alphabetical key order (see the module comment).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SortedPod<'a> {
    cpu_request_millis: u64,
    #[serde(serialize_with = "rfc3339")]
    created: Option<jiff::Timestamp>,
    labels: &'a Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_restart: Option<&'a LastRestart>,
    memory_request_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    name: &'a str,
    namespace: &'a str,
    node: Option<&'a str>,
    owner: Option<&'a str>,
    phase: &'a str,
    ready: Ready,
    restarts: u32,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'a str>,
}

impl<'a> From<&'a PodView> for SortedPod<'a> {
    fn from(p: &'a PodView) -> Self {
        // Destructured so that a new `PodView` field fails to compile here until added.
        let PodView {
            namespace,
            name,
            node,
            phase,
            status,
            ready,
            restarts,
            owner,
            labels,
            cpu_request_millis,
            memory_request_bytes,
            created,
            warning,
            message,
            last_restart,
        } = p;
        Self {
            cpu_request_millis: *cpu_request_millis,
            created: *created,
            labels,
            last_restart: last_restart.as_deref(),
            memory_request_bytes: *memory_request_bytes,
            message: message.as_deref(),
            name,
            namespace,
            node: node.as_deref(),
            owner: owner.as_deref(),
            phase,
            ready: *ready,
            restarts: *restarts,
            status,
            warning: warning.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::fixtures::pod_from_json as view;

    /// The pods of the tests: every field set, and the bare minimum.
    fn pods() -> [PodView; 2] {
        [
            view(json!({
                "metadata": {"name": "web-1", "namespace": "shop",
                    "labels": {"tier": "front", "app": "web\"<x>"},
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d", "controller": true,
                        "apiVersion": "apps/v1", "uid": "u"}],
                    "creationTimestamp": "2026-01-02T03:04:05Z"},
                "spec": {"nodeName": "n1", "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}}]}})),
            view(json!({"metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"name": "a"}]}})),
        ]
    }

    // The expected bytes are built the way the fan-out built them before, from `Value` maps.
    #[test]
    fn pod_events_are_the_bytes_of_the_sorted_value_maps() {
        for p in pods() {
            for cluster in [None, Some("east")] {
                let mut upsert = json!({"kind": "Pod", "object": &p});
                let mut delete =
                    json!({"kind": "Pod", "namespace": &*p.namespace, "name": &*p.name});
                if let Some(c) = cluster {
                    for v in [&mut upsert, &mut delete] {
                        v.as_object_mut()
                            .expect("a map")
                            .insert("cluster".into(), c.into());
                    }
                }
                let ours = PodUpsert {
                    cluster,
                    kind: "Pod",
                    object: SortedPod::from(&p),
                };
                assert_eq!(
                    serde_json::to_string(&ours).expect("json"),
                    serde_json::to_string(&upsert).expect("json")
                );
                let ours = PodDelete {
                    cluster,
                    kind: "Pod",
                    name: Some(&p.name),
                    namespace: Some(&p.namespace),
                };
                assert_eq!(
                    serde_json::to_string(&ours).expect("json"),
                    serde_json::to_string(&delete).expect("json")
                );
            }
        }
    }

    #[test]
    fn html_events_are_the_bytes_of_the_sorted_value_maps() {
        let (html, id, parent) = ("<div class=\"pod\">\u{1F600}</div>", "pod/ns/p", "node/n1");
        assert_eq!(
            serde_json::to_string(&HtmlUpsert { html, id, parent }).expect("json"),
            serde_json::to_string(&json!({"id": id, "parent": parent, "html": html}))
                .expect("json")
        );
        for id in [Some(id), None] {
            assert_eq!(
                serde_json::to_string(&HtmlDelete { id }).expect("json"),
                serde_json::to_string(&json!({ "id": id })).expect("json")
            );
        }
    }
}
