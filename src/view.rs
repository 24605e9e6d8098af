//! Compact views of Pods and Nodes: what the wall shows, derived from the slim wire types.

use std::sync::Arc;

use serde::Serialize;

use crate::quantity;
use crate::slim::{NodeFields, PodFields};

/// What the wall knows about one Pod.
///
/// Compact: repeated strings (namespace, node, phase, status, owner) and the label set
/// are shared `Arc`s the cache interns, so a pod costs its name and a few pointers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        let (status, ready_containers, restarts) = derive_status(pod);
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
        })
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The colour class of the status.
    pub fn status_class(&self) -> StatusClass {
        classify(&self.status, self.ready)
    }
}

fn classify(status: &str, ready: Ready) -> StatusClass {
    let all_ready = ready.all();
    match status {
        "Running" if all_ready => StatusClass::Ok,
        "Running" | "NotReady" => StatusClass::NotReady,
        "Pending" | "ContainerCreating" | "PodInitializing" => StatusClass::Starting,
        s if s.starts_with("Init:") && !is_bad_reason(&s[5..]) => StatusClass::Starting,
        "Completed" | "Succeeded" => StatusClass::Done,
        "Terminating" => StatusClass::Terminating,
        "Unknown" => StatusClass::Unknown,
        _ => StatusClass::Bad,
    }
}

fn is_bad_reason(reason: &str) -> bool {
    reason.contains("Err")
        || reason.contains("BackOff")
        || reason.contains("Error")
        || reason.starts_with("ExitCode")
        || reason.starts_with("Signal")
        || reason == "OOMKilled"
}

/// The STATUS column of `kubectl get pods`, plus ready containers and restarts.
///
/// Follows `printPod` in kubernetes `pkg/printers/internalversion/printers.go`:
/// phase, overridden by `status.reason`, by the first unfinished init container
/// (`Init:<reason>`, `Init:N/M`), then by app container waiting/terminated reasons
/// (scanned last to first), and `Terminating` whenever a deletion timestamp is set.
fn derive_status(pod: &PodFields) -> (String, usize, i64) {
    let status = &pod.status;
    let mut reason = status.phase.clone().unwrap_or_default();
    if let Some(r) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        reason = r.to_owned();
    }
    let mut restarts: i64 = 0;
    let mut ready_containers = 0;
    let mut initializing = false;
    let init_total = pod.spec.init_containers.len();
    for (i, c) in status.init_container_statuses.iter().enumerate() {
        restarts += c.restart_count;
        let is_sidecar = pod
            .spec
            .init_containers
            .get(i)
            .and_then(|s| s.restart_policy.as_deref())
            == Some("Always");
        if is_sidecar && c.started == Some(true) {
            continue;
        }
        if let Some(t) = &c.state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = if !t.reason.is_empty() {
                format!("Init:{}", t.reason)
            } else if t.signal != 0 {
                format!("Init:Signal:{}", t.signal)
            } else {
                format!("Init:ExitCode:{}", t.exit_code)
            };
        } else if let Some(w) = c
            .state
            .waiting
            .as_ref()
            .filter(|w| !w.reason.is_empty() && w.reason != "PodInitializing")
        {
            reason = format!("Init:{}", w.reason);
        } else {
            reason = format!(
                "Init:{i}/{}",
                init_total.max(status.init_container_statuses.len())
            );
        }
        initializing = true;
        break;
    }
    let initialized = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = 0;
        let mut has_running = false;
        for c in status.container_statuses.iter().rev() {
            restarts += c.restart_count;
            if let Some(w) = c.state.waiting.as_ref().filter(|w| !w.reason.is_empty()) {
                reason = w.reason.clone();
            } else if let Some(t) = &c.state.terminated {
                reason = terminated_reason(t);
            } else if c.ready && c.state.running.is_some() {
                has_running = true;
                ready_containers += 1;
            }
        }
        if reason == "Completed" && has_running {
            let ready_cond = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if ready_cond { "Running" } else { "NotReady" }.to_owned();
        }
    }
    if reason == "Succeeded" {
        reason = "Completed".to_owned();
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown"
        } else {
            "Terminating"
        }
        .to_owned();
    }
    if reason.is_empty() {
        reason = "Unknown".to_owned();
    }
    (reason, ready_containers, restarts)
}

fn terminated_reason(t: &crate::slim::StateReason) -> String {
    if !t.reason.is_empty() {
        t.reason.clone()
    } else if t.signal != 0 {
        format!("Signal:{}", t.signal)
    } else {
        format!("ExitCode:{}", t.exit_code)
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
        })
    }

    /// "Ready", "NotReady", with ",SchedulingDisabled" when cordoned — as kubectl prints.
    pub fn state_text(&self) -> String {
        let base = if self.ready { "Ready" } else { "NotReady" };
        if self.unschedulable {
            format!("{base},SchedulingDisabled")
        } else {
            base.to_owned()
        }
    }

    /// Allocatable CPU, for people.
    pub fn allocatable_cpu_text(&self) -> String {
        cpu_text(self.allocatable_cpu_millis)
    }

    /// Allocatable memory, for people.
    pub fn allocatable_memory_text(&self) -> String {
        bytes_text(self.allocatable_memory_bytes)
    }

    /// The role the wall sorts by: `control-plane` first, then the first role, `~` for none.
    pub fn sort_role(&self) -> &str {
        if self
            .roles
            .iter()
            .any(|r| r == "control-plane" || r == "master")
        {
            "!control-plane"
        } else {
            self.roles.first().map_or("~", String::as_str)
        }
    }

    /// Roles joined for display, `<none>` when there are none.
    pub fn roles_text(&self) -> String {
        if self.roles.is_empty() {
            "<none>".to_owned()
        } else {
            self.roles.join(",")
        }
    }
}

/// CPU millicores for people: "250m" below one core, else cores with one decimal ("3.9").
pub fn cpu_text(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis}m")
    } else {
        let tenths = (millis + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{}", tenths / 10)
        } else {
            format!("{}.{}", tenths / 10, tenths % 10)
        }
    }
}

/// Bytes for people, in binary units with one decimal ("64Mi", "15.0Gi").
pub fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["", "Ki", "Mi", "Gi", "Ti"];
    let mut unit = 0;
    let mut scaled = bytes;
    // Whole units while exact and small, one decimal otherwise.
    while unit + 1 < UNITS.len() && scaled >= 1024 {
        scaled /= 1024;
        unit += 1;
    }
    let divisor = 1u64 << (10 * unit);
    if bytes.is_multiple_of(divisor) || scaled >= 100 {
        format!("{}{}", bytes / divisor, UNITS[unit])
    } else {
        let tenths = (bytes.saturating_mul(10) + divisor / 2) / divisor;
        format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> PodView {
        let mut base = serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "a"}]},
        });
        if let (Some(b), Some(extra)) = (base.as_object_mut(), json.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let fields: PodFields = serde_json::from_value(base).expect("pod json");
        PodView::from_fields(&fields).expect("view")
    }

    fn cs(state: serde_json::Value, ready: bool, restarts: i64) -> serde_json::Value {
        serde_json::json!({"name": "a", "ready": ready, "restartCount": restarts, "state": state})
    }

    #[test]
    fn running_and_ready() {
        let p = pod(serde_json::json!({"status": {"phase": "Running",
            "containerStatuses": [cs(serde_json::json!({"running": {}}), true, 2)]}}));
        assert_eq!(
            (&*p.status, p.ready.to_string().as_str(), p.restarts),
            ("Running", "1/1", 2)
        );
        assert_eq!(p.status_class(), StatusClass::Ok);
    }

    #[test]
    fn waiting_reasons_win() {
        for reason in [
            "ContainerCreating",
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
        ] {
            let p = pod(serde_json::json!({"status": {"phase": "Pending",
                "containerStatuses": [cs(serde_json::json!({"waiting": {"reason": reason}}), false, 0)]}}));
            assert_eq!(&*p.status, reason);
            assert_eq!(p.ready.to_string(), "0/1");
        }
    }

    #[test]
    fn terminated_reasons() {
        for (reason, code, want) in [
            ("Completed", 0, "Completed"),
            ("Error", 1, "Error"),
            ("OOMKilled", 137, "OOMKilled"),
            ("", 3, "ExitCode:3"),
        ] {
            let p = pod(serde_json::json!({"status": {"phase": "Running",
                "containerStatuses": [cs(serde_json::json!({"terminated": {"reason": reason, "exitCode": code}}), false, 0)]}}));
            assert_eq!(&*p.status, want);
        }
    }

    #[test]
    fn phases() {
        assert_eq!(
            &*pod(serde_json::json!({"status": {"phase": "Succeeded"}})).status,
            "Completed"
        );
        assert_eq!(
            &*pod(serde_json::json!({"status": {"phase": "Failed"}})).status,
            "Failed"
        );
        assert_eq!(
            &*pod(serde_json::json!({"status": {"phase": "Unknown"}})).status,
            "Unknown"
        );
        assert_eq!(
            &*pod(serde_json::json!({"status": {"phase": "Pending"}})).status,
            "Pending"
        );
        assert_eq!(
            &*pod(serde_json::json!({"status": {"phase": "Failed", "reason": "Evicted"}})).status,
            "Evicted"
        );
        assert_eq!(&*pod(serde_json::json!({})).status, "Unknown");
    }

    #[test]
    fn init_containers() {
        let p = pod(serde_json::json!({
            "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i1"}, {"name": "i2"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                cs(serde_json::json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0),
                cs(serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}}), false, 4)]}}));
        assert_eq!(&*p.status, "Init:CrashLoopBackOff");
        assert_eq!(p.restarts, 4);
        assert_eq!(p.status_class(), StatusClass::Bad);
        let p = pod(serde_json::json!({
            "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i1"}, {"name": "i2"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                cs(serde_json::json!({"terminated": {"exitCode": 0}}), false, 0),
                cs(serde_json::json!({"running": {}}), false, 0)]}}));
        assert_eq!(&*p.status, "Init:1/2");
        assert_eq!(p.status_class(), StatusClass::Starting);
    }

    #[test]
    fn terminating_wins() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running", "containerStatuses": [cs(serde_json::json!({"running": {}}), true, 0)]}}));
        assert_eq!(&*p.status, "Terminating");
    }

    #[test]
    fn requests_owner_and_node() {
        let p = pod(serde_json::json!({
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
        let p = pod(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "labels": {"tier": "front", "app": "web"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d", "controller": true,
                    "apiVersion": "apps/v1", "uid": "u"}],
                "creationTimestamp": "2026-01-02T03:04:05Z"},
            "spec": {"nodeName": "n1", "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [cs(serde_json::json!({"running": {}}), true, 2)]}}));
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"namespace":"shop","name":"web-1","node":"n1","phase":"Running","status":"Running","ready":"1/1","restarts":2,"owner":"ReplicaSet/web-7d","labels":{"app":"web","tier":"front"},"cpuRequestMillis":250,"memoryRequestBytes":67108864,"created":"2026-01-02T03:04:05Z"}"#
        );
        let bare = pod(serde_json::json!({}));
        assert_eq!(
            serde_json::to_string(&bare).expect("json"),
            r#"{"namespace":"ns","name":"p","node":null,"phase":"","status":"Unknown","ready":"0/1","restarts":0,"owner":null,"labels":{},"cpuRequestMillis":0,"memoryRequestBytes":0,"created":null}"#
        );
    }

    #[test]
    fn node_view() {
        let node: NodeFields = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"allocatable": {"cpu": "3900m", "memory": "16Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]}}))
        .expect("node json");
        let v = NodeView::from_fields(&node).expect("view");
        assert_eq!(v.roles, ["control-plane"]);
        assert_eq!(v.state_text(), "Ready,SchedulingDisabled");
        assert_eq!((v.allocatable_cpu_millis, v.pod_capacity), (3900, 110));
        assert_eq!(v.allocatable_memory_bytes, 16 << 30);
    }

    #[test]
    fn quantities_for_people() {
        assert_eq!(cpu_text(250), "250m");
        assert_eq!(cpu_text(3900), "3.9");
        assert_eq!(cpu_text(4000), "4");
        assert_eq!(bytes_text(64 << 20), "64Mi");
        assert_eq!(bytes_text(16106127360), "15Gi");
        assert_eq!(bytes_text(1536 << 20), "1.5Gi");
        assert_eq!(bytes_text(0), "0");
    }
}
