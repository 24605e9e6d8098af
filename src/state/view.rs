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
    /// Why the pod is in its status, in Kubernetes' words, cut to [`MAX_MESSAGE`] bytes:
    /// the scheduler's message for a pod it cannot place, a waiting or failed container's
    /// message, the pod's own (an eviction's). Interned: pending pods share theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Arc<str>>,
    /// How the most recent restart came about, once a container has restarted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_restart: Option<Box<LastRestart>>,
}

/// The longest message a view keeps: a wall shows a line or two of it, and it comes from
/// other programs, so its size is bounded here.
pub const MAX_MESSAGE: usize = 512;

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn bounded(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How a container's previous run ended: when, why, with which exit code. (Fields in
/// alphabetical order: the pod frames' keys are sorted, see `fanout/frames/data.rs`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRestart {
    /// When the previous run finished (RFC 3339), if the runtime said.
    #[serde(serialize_with = "rfc3339")]
    pub at: Option<jiff::Timestamp>,
    /// The previous run's exit code.
    pub exit_code: i32,
    /// `OOMKilled`, `Error`, … or `ExitCode:N` when the runtime gave no reason (interned).
    pub reason: Arc<str>,
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
    /// The trouble conditions that are True: the pressures, NetworkUnavailable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pressure: Vec<NodeCondition>,
    /// Taints that keep pods off (NoSchedule, NoExecute), in the node's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// A node condition that means trouble when True.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NodeCondition {
    /// The kubelet is evicting pods to free memory.
    MemoryPressure,
    /// The kubelet is evicting pods to free disk space.
    DiskPressure,
    /// The node is running out of process ids.
    #[serde(rename = "PIDPressure")]
    PidPressure,
    /// The node's network is not configured.
    NetworkUnavailable,
}

impl NodeCondition {
    /// Every trouble condition, in the order a node box shows them.
    pub const ALL: [NodeCondition; 4] = [
        Self::MemoryPressure,
        Self::DiskPressure,
        Self::PidPressure,
        Self::NetworkUnavailable,
    ];

    /// The condition type, as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemoryPressure => "MemoryPressure",
            Self::DiskPressure => "DiskPressure",
            Self::PidPressure => "PIDPressure",
            Self::NetworkUnavailable => "NetworkUnavailable",
        }
    }
}

/// A taint that keeps pods off a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// e.g. `node.kubernetes.io/disk-pressure`.
    pub key: String,
    /// The value, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `NoSchedule` or `NoExecute`.
    pub effect: String,
}

impl Taint {
    /// Taints the node's own state or role puts (not-ready, cordoned, the pressures, the
    /// control plane's): the box shows that state and role already, so it does not repeat
    /// them among the taints.
    pub fn follows_state(&self) -> bool {
        const STATE_TAINTS: [&str; 8] = [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
            "node.kubernetes.io/unschedulable",
            "node.kubernetes.io/memory-pressure",
            "node.kubernetes.io/disk-pressure",
            "node.kubernetes.io/pid-pressure",
            "node.kubernetes.io/network-unavailable",
            "node.cloudprovider.kubernetes.io/uninitialized",
        ];
        STATE_TAINTS.contains(&self.key.as_str())
            || self.key.starts_with("node-role.kubernetes.io/")
    }
}

impl std::fmt::Display for Taint {
    /// As kubectl prints one: `key=value:Effect`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}:{}", self.key, v, self.effect),
            None => write!(f, "{}:{}", self.key, self.effect),
        }
    }
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
        let status::Derived {
            status,
            ready: ready_containers,
            restarts,
            message,
        } = status::derive(pod);
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
            message: message
                .filter(|m| !m.is_empty())
                .map(|m| Arc::from(bounded(m, MAX_MESSAGE))),
            last_restart: status::last_restart(pod).map(Box::new),
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

    /// A container restarted within [`RECENT`] of the present moment (the wall marks it).
    pub fn restarted_lately(&self) -> bool {
        self.restarted_recently(jiff::Timestamp::now())
    }

    /// A container restarted within [`RECENT`] of `now`.
    pub fn restarted_recently(&self, now: jiff::Timestamp) -> bool {
        self.last_restart
            .as_ref()
            .and_then(|r| r.at)
            .is_some_and(|at| recent(at, now))
    }

    /// Needs attention: neither Running and ready nor Completed, restarted recently, or
    /// warned about recently (a kept Warning event). (`problems=1` shows these.)
    pub fn has_problem(&self, now: jiff::Timestamp) -> bool {
        !matches!(self.status_class(), StatusClass::Ok | StatusClass::Done)
            || self.restarted_recently(now)
            || self.warning.is_some()
    }
}

/// How long a restart or warning counts as recent: the wall marks it, `problems=1` shows it.
pub const RECENT: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// `at` is within [`RECENT`] before `now` (or after it: clocks differ).
fn recent(at: jiff::Timestamp, now: jiff::Timestamp) -> bool {
    now.duration_since(at) < RECENT
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
            pressure: NodeCondition::ALL
                .into_iter()
                .filter(|c| {
                    node.status
                        .conditions
                        .iter()
                        .any(|nc| nc.type_ == c.as_str() && nc.status == "True")
                })
                .collect(),
            taints: node
                .spec
                .taints
                .iter()
                .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                .map(|t| Taint {
                    key: t.key.clone(),
                    value: t.value.clone().filter(|v| !v.is_empty()),
                    effect: t.effect.clone(),
                })
                .collect(),
        })
    }

    /// Needs attention: not Ready, cordoned, or under a pressure. (`problems=1` shows these.)
    pub fn has_problem(&self) -> bool {
        !self.ready || self.unschedulable || !self.pressure.is_empty()
    }

    /// The taints that are not the node's state repeated (see [`Taint::follows_state`]).
    pub fn own_taints(&self) -> impl Iterator<Item = &Taint> {
        self.taints.iter().filter(|t| !t.follows_state())
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
    fn why_a_pod_waits_and_how_it_last_restarted() {
        let pending = pod_from_json(serde_json::json!({"status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/12 nodes are available: 3 Insufficient cpu."}]}}));
        assert_eq!(&*pending.status, "Pending");
        assert_eq!(
            pending.message.as_deref(),
            Some("0/12 nodes are available: 3 Insufficient cpu.")
        );
        let config = pod_from_json(
            serde_json::json!({"spec": {"nodeName": "n1", "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "a", "restartCount": 0,
                "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"db\" not found"}}}]}}),
        );
        assert_eq!(config.message.as_deref(), Some("secret \"db\" not found"));
        let evicted = pod_from_json(
            serde_json::json!({"status": {"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory."}}),
        );
        assert_eq!(
            evicted.message.as_deref(),
            Some("The node was low on resource: memory.")
        );
        let crashing = pod_from_json(serde_json::json!({"status": {"phase": "Running",
            "containerStatuses": [{"name": "a", "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=a"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                    "finishedAt": "2026-12-05T10:00:00Z"}}}]}}));
        let restart = crashing.last_restart.as_deref().expect("restarted");
        assert_eq!((&*restart.reason, restart.exit_code), ("OOMKilled", 137));
        let at: jiff::Timestamp = "2026-12-05T10:00:00Z".parse().expect("time");
        assert!(crashing.restarted_recently(at + jiff::SignedDuration::from_mins(59)));
        assert!(!crashing.restarted_recently(at + jiff::SignedDuration::from_mins(61)));
        assert!(crashing.has_problem(at + jiff::SignedDuration::from_hours(5)));
        // Running and ready again, an old restart: no problem; a fresh one: a problem.
        let recovered = pod_from_json(serde_json::json!({"status": {"phase": "Running",
            "containerStatuses": [{"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-12-05T10:00:00Z"}}}]}}));
        assert!(recovered.message.is_none());
        assert!(recovered.has_problem(at + jiff::SignedDuration::from_mins(10)));
        assert!(!recovered.has_problem(at + jiff::SignedDuration::from_hours(2)));
        // A long message is cut at a character boundary.
        let long = pod_from_json(serde_json::json!({"status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "message": "é".repeat(400)}]}}));
        let cut = long.message.as_deref().expect("message");
        assert!(cut.len() <= super::MAX_MESSAGE && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn node_pressure_and_taints() {
        let v = node_from_json(serde_json::json!({
            "metadata": {"name": "n1"},
            "spec": {"taints": [
                {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": "soft", "effect": "PreferNoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "True"}, {"type": "MemoryPressure", "status": "False"}]}}));
        assert_eq!(v.pressure, [super::NodeCondition::DiskPressure]);
        assert_eq!(v.taints.len(), 2, "PreferNoSchedule does not keep pods off");
        let own: Vec<String> = v.own_taints().map(ToString::to_string).collect();
        assert_eq!(own, ["dedicated=gpu:NoSchedule"]);
        assert!(v.has_problem());
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["pressure"], serde_json::json!(["DiskPressure"]));
        assert_eq!(
            json["taints"][1],
            serde_json::json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
        );
        let calm = node_from_json(serde_json::json!({"metadata": {"name": "n2"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        assert!(!calm.has_problem());
        let json = serde_json::to_value(&calm).expect("json");
        assert!(json.get("pressure").is_none() && json.get("taints").is_none());
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
