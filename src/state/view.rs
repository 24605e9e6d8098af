//! Compact views of Pods and Nodes: what the wall shows, derived from the slim wire types.

use std::sync::Arc;

use serde::Serialize;

use crate::k8s::quantity;
use crate::k8s::{NodeFields, PodFields};

mod status;

/// What the wall knows about one Pod.
///
/// Compact: repeated strings (namespace, node, phase, status, owner) and the label set
/// are shared `Arc`s the cache interns, so a pod costs its name and a few pointers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    /// Namespace (interned).
    pub namespace: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Node it is bound to; `None` while unscheduled (interned).
    pub node: Option<Arc<str>>,
    /// `status.phase` (interned).
    pub phase: Arc<str>,
    /// The one word `kubectl get pods` shows in its STATUS column (interned).
    pub status: Arc<str>,
    /// Ready containers over containers, shown as "1/2".
    pub ready: Ready,
    /// Container restarts.
    pub restarts: u32,
    /// Controlling owner as "Kind/name" (interned).
    pub owner: Option<Arc<str>>,
    /// Labels (the set is interned).
    pub labels: Labels,
    /// Sum of container CPU requests in millicores.
    pub cpu_request_millis: u64,
    /// Sum of container memory requests in bytes.
    pub memory_request_bytes: u64,
    /// Creation time, shown in RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    pub created: Option<jiff::Timestamp>,
    /// The reason of the newest kept Warning event about the pod (`BackOff`), set by the
    /// cache; absent from the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<Arc<str>>,
}

/// Serializes a timestamp in RFC 3339, or null.
pub(crate) fn rfc3339<S: serde::Serializer>(
    t: &Option<jiff::Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// Ready containers over containers; displayed and serialized as "1/2".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// Containers ready.
    pub ready: u16,
    /// Containers in the spec.
    pub total: u16,
}

impl Ready {
    /// Every container is ready, and there is at least one.
    pub fn all(self) -> bool {
        self.ready == self.total && self.total != 0
    }
}

impl std::fmt::Display for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ready, self.total)
    }
}

impl Serialize for Ready {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Label pairs, sorted by key.
pub type LabelPairs = [(Arc<str>, Arc<str>)];

/// A pod's labels: a sorted slice shared by every pod with the same set (a ReplicaSet's
/// pods), no allocation when empty. Serializes as a JSON object in key order.
#[derive(Debug, Clone, Default)]
pub struct Labels(Option<Arc<LabelPairs>>);

impl Labels {
    /// Labels from pairs in any order (the last of a repeated key wins, as in JSON).
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (Arc::from(k.as_ref()), Arc::from(v.as_ref())))
            .collect();
        // A stable sort keeps repeated keys in input order; the swap keeps the last.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        Self::from_shared(pairs.into())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let pairs = self.0.as_deref()?;
        pairs
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*pairs[i].1)
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|p| p.iter())
            .map(|(k, v)| (&**k, &**v))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.as_deref().map_or(0, <[_]>::len)
    }

    /// No labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Whether both are the same shared set (not just equal).
    pub fn shares_with(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    pub(crate) fn pairs(&self) -> Option<&Arc<LabelPairs>> {
        self.0.as_ref()
    }

    pub(crate) fn from_shared(pairs: Arc<LabelPairs>) -> Self {
        Self((!pairs.is_empty()).then_some(pairs))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.shares_with(other) || self.0.as_deref() == other.0.as_deref()
    }
}

impl Eq for Labels {}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// What the wall knows about one Node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// Name (interned).
    pub name: Arc<str>,
    /// The Ready condition is True.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
    /// Roles from `node-role.kubernetes.io/<role>` labels.
    pub roles: Vec<String>,
    /// Allocatable CPU in millicores.
    pub allocatable_cpu_millis: u64,
    /// Allocatable memory in bytes.
    pub allocatable_memory_bytes: u64,
    /// How many pods the node accepts.
    pub pod_capacity: u32,
    /// The reason of the newest kept Warning event about the node, set by the cache;
    /// absent from the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<Arc<str>>,
}

/// Why an object could not become a view.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The object had no `metadata.name` (or no namespace for a pod).
    #[error("object without {0}")]
    Missing(&'static str),
}

/// The status class used for colours: a small closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// Running and ready.
    Ok,
    /// Starting: Pending, ContainerCreating, Init:…
    Starting,
    /// Running but not all containers ready.
    NotReady,
    /// Crash loops, image pull errors, failures.
    Bad,
    /// Finished successfully.
    Done,
    /// Being deleted.
    Terminating,
    /// Anything else.
    Unknown,
}

impl StatusClass {
    /// Every class, the catch-all ([`StatusClass::Unknown`]) last: the page reads them in
    /// this order (`data-status-classes`, see `render.rs`).
    pub const ALL: [StatusClass; 7] = [
        Self::Ok,
        Self::Starting,
        Self::NotReady,
        Self::Bad,
        Self::Done,
        Self::Terminating,
        Self::Unknown,
    ];

    /// The CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Starting => "starting",
            Self::NotReady => "notready",
            Self::Bad => "bad",
            Self::Done => "done",
            Self::Terminating => "terminating",
            Self::Unknown => "unknown",
        }
    }
}

impl PodView {
    /// Builds the view of a decoded Pod.
    pub fn from_fields(pod: &PodFields) -> Result<Self, ViewError> {
        let meta = &pod.metadata;
        let name = meta
            .name
            .as_deref()
            .ok_or(ViewError::Missing("metadata.name"))?;
        let namespace = meta
            .namespace
            .as_deref()
            .ok_or(ViewError::Missing("metadata.namespace"))?;
        let (status, ready_containers, restarts) = status::derive(pod);
        let owner = meta.owner_references.as_ref().and_then(|owners| {
            owners
                .iter()
                .find(|o| o.controller == Some(true))
                .or_else(|| owners.first())
                .map(|o| Arc::from(format!("{}/{}", o.kind, o.name)))
        });
        let requests = |resource: &str, parse: fn(&str) -> Option<u64>| -> u64 {
            pod.spec
                .containers
                .iter()
                .filter_map(|c| c.resources.requests.get(resource))
                .filter_map(|q| parse(q))
                .sum()
        };
        Ok(Self {
            namespace: Arc::from(namespace),
            name: Arc::from(name),
            node: pod
                .spec
                .node_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(Arc::from),
            phase: Arc::from(pod.status.phase.as_deref().unwrap_or_default()),
            status: Arc::from(status),
            ready: Ready {
                ready: u16::try_from(ready_containers).unwrap_or(u16::MAX),
                total: u16::try_from(pod.spec.containers.len()).unwrap_or(u16::MAX),
            },
            restarts: u32::try_from(restarts.max(0)).unwrap_or(u32::MAX),
            owner,
            labels: meta
                .labels
                .as_ref()
                .map_or_else(Labels::default, Labels::from_pairs),
            cpu_request_millis: requests("cpu", quantity::cpu_millis),
            memory_request_bytes: requests("memory", quantity::whole_units),
            created: meta.creation_timestamp.as_ref().map(|t| t.0),
            warning: None,
        })
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The colour class of the status.
    pub fn status_class(&self) -> StatusClass {
        status::classify(&self.status, self.ready)
    }
}

impl NodeView {
    /// Builds the view of a decoded Node.
    pub fn from_fields(node: &NodeFields) -> Result<Self, ViewError> {
        let name = node
            .metadata
            .name
            .as_deref()
            .ok_or(ViewError::Missing("metadata.name"))?;
        let labels = node.metadata.labels.as_ref();
        let mut roles: Vec<String> = labels
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                    Some(role.to_owned())
                } else if k == "kubernetes.io/role" {
                    Some(v.clone())
                } else {
                    None
                }
            })
            .filter(|r| !r.is_empty())
            .collect();
        roles.sort();
        roles.dedup();
        let alloc = &node.status.allocatable;
        Ok(Self {
            name: Arc::from(name),
            ready: node
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            unschedulable: node.spec.unschedulable,
            roles,
            allocatable_cpu_millis: alloc
                .get("cpu")
                .and_then(|q| quantity::cpu_millis(q))
                .unwrap_or(0),
            allocatable_memory_bytes: alloc
                .get("memory")
                .and_then(|q| quantity::whole_units(q))
                .unwrap_or(0),
            pod_capacity: alloc
                .get("pods")
                .and_then(|q| quantity::whole_units(q))
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            warning: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::state::fixtures::{node_from_json, pod_from_json};

    #[test]
    fn requests_owner_and_node() {
        let p = pod_from_json(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
                {"kind": "ReplicaSet", "name": "rs1", "controller": true, "apiVersion": "apps/v1", "uid": "u"}]},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}));
        assert_eq!(p.cpu_request_millis, 1250);
        assert_eq!(p.memory_request_bytes, (64 << 20) + (1 << 30));
        assert_eq!(p.owner.as_deref(), Some("ReplicaSet/rs1"));
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(p.ready.to_string(), "0/2");
    }

    #[test]
    fn the_json_of_a_pod_is_the_documented_contract() {
        let p = pod_from_json(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"tier": "front", "app": "web"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d", "controller": true,
                    "apiVersion": "apps/v1", "uid": "u"}],
                "creationTimestamp": "2026-01-02T03:04:05Z"},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}}]}}));
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"namespace":"shop","name":"web-1","node":"n1","phase":"Running","status":"Running","ready":"1/1","restarts":2,"owner":"ReplicaSet/web-7d","labels":{"app":"web","tier":"front"},"cpuRequestMillis":250,"memoryRequestBytes":67108864,"created":"2026-01-02T03:04:05Z"}"#
        );
        let bare = pod_from_json(serde_json::json!({}));
        assert_eq!(
            serde_json::to_string(&bare).expect("json"),
            r#"{"namespace":"ns","name":"p","node":null,"phase":"","status":"Unknown","ready":"0/1","restarts":0,"owner":null,"labels":{},"cpuRequestMillis":0,"memoryRequestBytes":0,"created":null}"#
        );
    }

    #[test]
    fn node_view() {
        let v = node_from_json(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"allocatable": {"cpu": "3900m", "memory": "16Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]}}));
        assert_eq!(v.roles, ["control-plane"]);
        assert!(v.ready && v.unschedulable);
        assert_eq!((v.allocatable_cpu_millis, v.pod_capacity), (3900, 110));
        assert_eq!(v.allocatable_memory_bytes, 16 << 30);
    }
}
