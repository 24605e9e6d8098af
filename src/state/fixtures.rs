//! Views and snapshots for tests and benchmarks: the one place they are built.
//!
//! Views are plain structs: a test states what it cares about with struct update
//! syntax, `PodView { status: "CrashLoopBackOff".into(), ..fixtures::pod("a", "web-1") }`.
//! Views that must come through the real decoding start from JSON ([`pod_from_json`]);
//! objects to create through an API server are JSON too ([`pod_object`]).

use std::sync::Arc;

use super::change::{ApiStatus, Epoch, EventsState, Snapshot};
use super::view::{Labels, NodeView, PodView, Ready};
use super::warnings::{EventId, Regarding, WarningView};
use crate::k8s::{Kind, NodeFields, PodFields, Scope};

/// A Running, ready pod of one container, unscheduled, no requests, no labels.
pub fn pod(namespace: &str, name: &str) -> PodView {
    PodView {
        namespace: Arc::from(namespace),
        name: Arc::from(name),
        node: None,
        phase: Arc::from("Running"),
        status: Arc::from("Running"),
        ready: Ready { ready: 1, total: 1 },
        restarts: 0,
        owner: None,
        labels: Labels::default(),
        cpu_request_millis: 0,
        memory_request_bytes: 0,
        created: None,
        warning: None,
        message: None,
        last_restart: None,
    }
}

/// [`pod`] bound to `node`.
pub fn pod_on(namespace: &str, name: &str, node: &str) -> PodView {
    PodView {
        node: Some(Arc::from(node)),
        ..pod(namespace, name)
    }
}

/// A Ready, schedulable worker node: 4 CPUs, 8 GiB, 110 pods.
pub fn node(name: &str) -> NodeView {
    NodeView {
        name: Arc::from(name),
        ready: true,
        unschedulable: false,
        roles: vec!["worker".to_owned()],
        allocatable_cpu_millis: 4000,
        allocatable_memory_bytes: 8 << 30,
        pod_capacity: 110,
        warning: None,
        pressure: Vec::new(),
        taints: Vec::new(),
    }
}

/// A pod decoded from JSON like a watch event's, through the real wire types: `patch`'s
/// top-level fields replace those of a minimal pod `ns/p` with one container `a`.
pub fn pod_from_json(patch: serde_json::Value) -> PodView {
    let fields: PodFields = serde_json::from_value(merged(
        serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "a"}]},
        }),
        patch,
    ))
    .expect("fixture pod JSON decodes");
    PodView::from_fields(&fields).expect("fixture pod has a name and namespace")
}

/// A node decoded from JSON through the real wire types (no defaults merged in).
pub fn node_from_json(json: serde_json::Value) -> NodeView {
    let fields: NodeFields = serde_json::from_value(json).expect("fixture node JSON decodes");
    NodeView::from_fields(&fields).expect("fixture node has a name")
}

/// A snapshot at epoch 1, seq 1, with the API server ok.
pub fn snapshot(nodes: Vec<NodeView>, pods: Vec<PodView>) -> Snapshot {
    Snapshot {
        epoch: Epoch(1),
        seq: 1,
        nodes: nodes.into_iter().map(Arc::new).collect(),
        pods: pods.into_iter().map(Arc::new).collect(),
        warnings: Vec::new(),
        apiserver: ApiStatus::ok(),
        events: EventsState::Ok,
        cluster: None,
    }
}

fn merged(mut base: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
    if let (Some(b), serde_json::Value::Object(extra)) = (base.as_object_mut(), patch) {
        b.extend(extra);
    }
    base
}

/// A Pod as a client creates it (no namespace: the request's path gives it): one
/// container `app` (nginx:1.27) requesting 100m CPU and 64Mi, the label `app=probe`;
/// `node` sets `spec.nodeName`, binding it.
pub fn pod_object(name: &str, node: Option<&str>) -> serde_json::Value {
    let mut pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "probe"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = serde_json::Value::from(node);
    }
    pod
}

/// The scope of a cluster-wide pod watch, for feeding a cache directly.
pub fn pods_scope() -> Scope {
    Scope {
        kind: Kind::Pod,
        namespace: None,
    }
}

/// The scope of the cluster-wide Warning events watch.
pub fn events_scope() -> Scope {
    Scope {
        kind: Kind::Event,
        namespace: None,
    }
}

/// A Warning event about `kind` `namespace/name` as `events.k8s.io/v1` serves it, last
/// seen now, named the way client-go's recorder names events (`<name>.<hex>`). A node's
/// events live in `default`, as the kubelet writes them.
pub fn warning_event(
    kind: &str,
    namespace: &str,
    name: &str,
    reason: &str,
    note: &str,
) -> serde_json::Value {
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let now = jiff::Timestamp::now();
    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = u64::try_from(now.as_nanosecond()).unwrap_or(0) + serial;
    let (event_ns, object_ns) = if kind == "Node" {
        ("default", serde_json::Value::Null)
    } else {
        (namespace, serde_json::Value::from(namespace))
    };
    serde_json::json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": event_ns,
            "creationTimestamp": now.to_string()},
        "eventTime": now.to_string(),
        "reportingController": "kubelet", "reportingInstance": "test", "action": "Test",
        "regarding": {"kind": kind, "namespace": object_ns, "name": name},
        "reason": reason, "note": note, "type": "Warning",
    })
}

/// A kept warning about pod `namespace/name` (event `<name>.1`), last seen at Unix second
/// `last_seen`.
pub fn warning_view(namespace: &str, name: &str, reason: &str, last_seen: u32) -> WarningView {
    WarningView::restore(
        Arc::new(Regarding::new(
            "Pod".into(),
            Some(namespace.into()),
            name.into(),
        )),
        EventId::Suffix(1),
        reason.into(),
        "why".into(),
        1,
        last_seen,
    )
}
