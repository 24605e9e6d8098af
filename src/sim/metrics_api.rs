//! The `metrics.k8s.io/v1beta1` API that metrics-server adds through the aggregator:
//! `PodMetrics` and `NodeMetrics`, computed from the store's pods and nodes so usage
//! follows the churn — a pod has usage while its containers run, a NotReady node (and
//! its pods) has none, as metrics-server cannot scrape its kubelet.
//!
//! Usage is a deterministic function of the pod's uid, container name and the 15 s
//! scrape window: mostly below requests, memory always below its limit, about one
//! container in 25 "hot" (CPU and memory above their requests in every window).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::SimContext;
use super::query::query_pairs;
use super::resource::Resource;
use super::status::ApiError;
use super::store::Store;
use crate::k8s::selector::LabelSelector;

/// The API group.
pub const GROUP: &str = "metrics.k8s.io";
/// The group's only version.
pub const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";
/// How often metrics-server scrapes kubelets by default; usage changes once per window.
pub const SCRAPE_WINDOW: Duration = Duration::from_secs(15);

/// Whether the simulated cluster has a metrics-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsMode {
    /// Registered and answering (the default).
    Serving,
    /// Not installed: the group is missing from discovery and its paths are 404.
    Absent,
    /// Registered, but its backend is down: discovery lists it, requests get 503.
    Unavailable,
}

impl MetricsMode {
    /// Parses `serving`, `absent` or `unavailable`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "serving" => Some(Self::Serving),
            "absent" => Some(Self::Absent),
            "unavailable" => Some(Self::Unavailable),
            _ => None,
        }
    }
}

/// The metrics API's state: its mode and the usage of the last scrape window.
pub struct MetricsApi {
    mode: Mutex<MetricsMode>,
    /// Usage computed for (store resourceVersion, window); recomputed when either moves.
    last: Mutex<Option<Arc<Scrape>>>,
}

impl MetricsApi {
    /// A metrics API in `mode`.
    pub fn new(mode: MetricsMode) -> Self {
        Self {
            mode: Mutex::new(mode),
            last: Mutex::new(None),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> MetricsMode {
        *self.mode.lock()
    }

    /// Changes the mode.
    pub fn set_mode(&self, mode: MetricsMode) {
        *self.mode.lock() = mode;
    }

    /// The usage of the current window, computed at most once per store change and window.
    fn scrape(&self, store: &Store) -> Arc<Scrape> {
        let window = current_window();
        let rv = store.rv();
        let mut last = self.last.lock();
        if let Some(s) = last.as_ref()
            && s.rv == rv
            && s.window == window
        {
            return s.clone();
        }
        let scrape = Arc::new(Scrape::compute(store, rv, window));
        *last = Some(scrape.clone());
        scrape
    }
}

/// One container's usage.
struct ContainerUsage {
    name: String,
    cpu_nanos: u64,
    memory_bytes: u64,
}

/// One pod's usage.
struct PodSample {
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    containers: Vec<ContainerUsage>,
}

/// One node's usage.
struct NodeSample {
    name: String,
    labels: BTreeMap<String, String>,
    cpu_nanos: u64,
    memory_bytes: u64,
}

/// Everything one scrape saw.
struct Scrape {
    rv: u64,
    window: u64,
    timestamp: String,
    pods: Vec<PodSample>,
    nodes: Vec<NodeSample>,
}

// Only the fields usage depends on; the rest of a stored object is skipped unparsed.
#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct PodDoc {
    metadata: Meta,
    #[serde(default)]
    spec: PodSpec,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default)]
    containers: Vec<Container>,
}

#[derive(Deserialize)]
struct Container {
    name: String,
    #[serde(default)]
    resources: Resources,
}

#[derive(Deserialize, Default)]
struct Resources {
    #[serde(default)]
    requests: BTreeMap<String, String>,
    #[serde(default)]
    limits: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize)]
struct ContainerStatus {
    name: String,
    #[serde(default)]
    state: ContainerState,
}

#[derive(Deserialize, Default)]
struct ContainerState {
    #[serde(default)]
    running: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct NodeDoc {
    metadata: Meta,
    #[serde(default)]
    status: NodeStatus,
}

#[derive(Deserialize, Default)]
struct NodeStatus {
    #[serde(default)]
    allocatable: BTreeMap<String, String>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

impl Scrape {
    fn compute(store: &Store, rv: u64, window: u64) -> Self {
        let (_, node_objects) = store.snapshot(Resource::Nodes, None);
        let mut nodes: BTreeMap<String, NodeSample> = BTreeMap::new();
        let mut capacity: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for stored in node_objects {
            let Ok(node) = serde_json::from_slice::<NodeDoc>(&stored.bytes) else {
                continue;
            };
            let ready = node
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True");
            if !ready {
                continue;
            }
            let h = hash(&[node.metadata.name.as_bytes()]);
            // The kubelet, container runtime and system daemons.
            let cpu_nanos = (60.0 + 100.0 * unit(h)) as u64 * 1_000_000;
            let memory_bytes = ((300.0 + 400.0 * unit(h >> 7)) * MIB) as u64;
            let alloc = |key: &str| {
                node.status
                    .allocatable
                    .get(key)
                    .and_then(|q| crate::k8s::quantity::parse(q))
                    .unwrap_or(0.0)
            };
            capacity.insert(
                node.metadata.name.clone(),
                ((alloc("cpu") * 1e9) as u64, alloc("memory") as u64),
            );
            nodes.insert(
                node.metadata.name.clone(),
                NodeSample {
                    name: node.metadata.name,
                    labels: node.metadata.labels,
                    cpu_nanos,
                    memory_bytes,
                },
            );
        }
        let (_, pod_objects) = store.snapshot(Resource::Pods, None);
        let mut pods = Vec::new();
        for stored in pod_objects {
            let Ok(pod) = serde_json::from_slice::<PodDoc>(&stored.bytes) else {
                continue;
            };
            let Some(node) = pod.spec.node_name.as_deref().and_then(|n| nodes.get_mut(n)) else {
                continue;
            };
            if pod.status.phase.as_deref() != Some("Running") {
                continue;
            }
            let containers: Vec<ContainerUsage> = pod
                .spec
                .containers
                .iter()
                .filter(|c| {
                    pod.status
                        .container_statuses
                        .iter()
                        .any(|s| s.name == c.name && s.state.running.is_some())
                })
                .map(|c| container_usage(&pod.metadata.uid, c, window))
                .collect();
            if containers.is_empty() {
                continue;
            }
            for c in &containers {
                node.cpu_nanos += c.cpu_nanos;
                node.memory_bytes += c.memory_bytes;
            }
            pods.push(PodSample {
                namespace: pod.metadata.namespace,
                name: pod.metadata.name,
                labels: pod.metadata.labels,
                containers,
            });
        }
        // A node cannot use more than it has; hot pods may push the sum there.
        for node in nodes.values_mut() {
            if let Some(&(cpu, mem)) = capacity.get(&node.name) {
                if cpu > 0 {
                    node.cpu_nanos = node.cpu_nanos.min(cpu);
                }
                if mem > 0 {
                    node.memory_bytes = node.memory_bytes.min(mem);
                }
            }
        }
        let start = window * SCRAPE_WINDOW.as_secs();
        let timestamp = jiff::Timestamp::from_second(i64::try_from(start).unwrap_or(0))
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        Self {
            rv,
            window,
            timestamp,
            pods,
            nodes: nodes.into_values().collect(),
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// One container's usage in `window`: a per-container level, a slow wave and some noise.
fn container_usage(uid: &str, c: &Container, window: u64) -> ContainerUsage {
    let request = |key: &str| {
        c.resources
            .requests
            .get(key)
            .and_then(|q| crate::k8s::quantity::parse(q))
    };
    let cpu_request = request("cpu").unwrap_or(0.05);
    let memory_request = request("memory").unwrap_or(64.0 * MIB);
    let memory_limit = c
        .resources
        .limits
        .get("memory")
        .and_then(|q| crate::k8s::quantity::parse(q));
    let h = hash(&[uid.as_bytes(), c.name.as_bytes()]);
    let hot = h.is_multiple_of(25);
    // A hot container stays above its requests through wave and noise (≥ 1.3 × 0.9 ×
    // 0.95 of CPU, ≥ 1.1 × 0.95 of memory); the others stay below (≤ 0.6 × 1.3 × 1.1).
    let (cpu_level, memory_level, swing, jitter) = if hot {
        (
            1.3 + 0.4 * unit(h >> 3),
            1.1 + 0.5 * unit(h >> 5),
            0.1,
            0.05,
        )
    } else {
        (
            0.1 + 0.5 * unit(h >> 3),
            0.35 + 0.45 * unit(h >> 5),
            0.3,
            0.1,
        )
    };
    let period = 8.0 + (h % 13) as f64;
    let wave = (std::f64::consts::TAU * (window as f64 / period + unit(h >> 9))).sin();
    let noise =
        1.0 - jitter + 2.0 * jitter * unit(hash(&[&h.to_le_bytes(), &window.to_le_bytes()]));
    let cpu = cpu_request * cpu_level * (1.0 + swing * wave) * noise;
    let mut memory = memory_request * memory_level * (1.0 + 0.05 * wave);
    if let Some(limit) = memory_limit {
        memory = memory.min(limit * 0.97);
    }
    ContainerUsage {
        name: c.name.clone(),
        cpu_nanos: (cpu * 1e9) as u64,
        // metrics-server reports working set bytes in Ki.
        memory_bytes: (memory as u64) / 1024 * 1024,
    }
}

/// FNV-1a over the parts, then a splitmix finaliser so nearby inputs spread out.
fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A hash as a number in [0, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The number of the current scrape window since the epoch.
fn current_window() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / SCRAPE_WINDOW.as_secs())
}

fn json_response(v: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}

/// The `/apis` entry of the group (while it is registered).
pub fn api_group() -> Value {
    let version = json!({"groupVersion": GROUP_VERSION, "version": "v1beta1"});
    json!({"name": GROUP, "versions": [version], "preferredVersion": version})
}

fn registered(ctx: &SimContext, req: &HttpRequest) -> Result<(), ApiError> {
    match ctx.metrics.mode() {
        MetricsMode::Absent => Err(ApiError::no_route(req.path())),
        _ => Ok(()),
    }
}

/// `GET /apis/metrics.k8s.io`.
pub async fn group(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    match registered(&ctx, &req) {
        Ok(()) => {
            let mut g = api_group();
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            json_response(&g)
        }
        Err(e) => e.to_response(),
    }
}

/// `GET /apis/metrics.k8s.io/v1beta1`.
pub async fn resources(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    match registered(&ctx, &req) {
        Ok(()) => json_response(&json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [
                {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
                {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}
            ]
        })),
        Err(e) => e.to_response(),
    }
}

/// Every `/apis/metrics.k8s.io/v1beta1/…` request.
pub async fn dispatch(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    match handle(&req, &ctx) {
        Ok(v) => json_response(&v),
        Err(e) => {
            tracing::debug!(
                path = req.path(),
                code = e.code,
                reason = e.reason,
                "metrics API error"
            );
            e.to_response()
        }
    }
}

/// What a metrics path names.
enum Target<'a> {
    Nodes(Option<&'a str>),
    Pods {
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    },
}

fn parse_target(tail: &str) -> Option<Target<'_>> {
    let seg: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
    match seg.as_slice() {
        ["nodes"] => Some(Target::Nodes(None)),
        ["nodes", name] if !name.is_empty() => Some(Target::Nodes(Some(name))),
        ["pods"] => Some(Target::Pods {
            namespace: None,
            name: None,
        }),
        ["namespaces", ns, "pods"] if !ns.is_empty() => Some(Target::Pods {
            namespace: Some(ns),
            name: None,
        }),
        ["namespaces", ns, "pods", name] if !ns.is_empty() && !name.is_empty() => {
            Some(Target::Pods {
                namespace: Some(ns),
                name: Some(name),
            })
        }
        _ => None,
    }
}

fn handle(req: &HttpRequest, ctx: &SimContext) -> Result<Value, ApiError> {
    registered(ctx, req)?;
    let tail = req.match_info().query("tail");
    let target = parse_target(tail).ok_or_else(|| ApiError::no_route(req.path()))?;
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed(req.method().as_str()));
    }
    if ctx.metrics.mode() == MetricsMode::Unavailable {
        return Err(ApiError::service_unavailable(
            "the server is currently unable to handle the request",
        ));
    }
    let mut selector = LabelSelector::default();
    for (key, value) in query_pairs(req.query_string())? {
        match key.as_str() {
            "labelSelector" => {
                selector = LabelSelector::parse(&value)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            // metrics-server serves no watches.
            "watch" if value == "true" || value == "1" => {
                return Err(ApiError::method_not_allowed("watch"));
            }
            _ => {}
        }
    }
    let scrape = ctx.metrics.scrape(&ctx.store);
    let selected =
        |labels: &BTreeMap<String, String>| selector.matches(|k| labels.get(k).map(String::as_str));
    match target {
        Target::Nodes(Some(name)) => scrape
            .nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| with_kind(node_json(n, &scrape.timestamp), "NodeMetrics"))
            .ok_or_else(|| ApiError::not_found_in_group("nodemetrics", GROUP, name)),
        Target::Nodes(None) => Ok(list(
            "NodeMetricsList",
            scrape
                .nodes
                .iter()
                .filter(|n| selected(&n.labels))
                .map(|n| node_json(n, &scrape.timestamp))
                .collect(),
        )),
        Target::Pods {
            namespace: Some(ns),
            name: Some(name),
        } => scrape
            .pods
            .iter()
            .find(|p| p.namespace == ns && p.name == name)
            .map(|p| with_kind(pod_json(p, &scrape.timestamp), "PodMetrics"))
            .ok_or_else(|| ApiError::not_found_in_group("podmetrics", GROUP, name)),
        Target::Pods { namespace, .. } => Ok(list(
            "PodMetricsList",
            scrape
                .pods
                .iter()
                .filter(|p| namespace.is_none_or(|ns| p.namespace == ns) && selected(&p.labels))
                .map(|p| pod_json(p, &scrape.timestamp))
                .collect(),
        )),
    }
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})
}

fn with_kind(mut v: Value, kind: &str) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), kind.into());
        m.insert("apiVersion".into(), GROUP_VERSION.into());
    }
    v
}

/// Usage the way metrics-server writes it: CPU in nanocores, memory in Ki.
fn usage_json(cpu_nanos: u64, memory_bytes: u64) -> Value {
    json!({"cpu": format!("{cpu_nanos}n"), "memory": format!("{}Ki", memory_bytes / 1024)})
}

fn window_text() -> String {
    format!("{}s", SCRAPE_WINDOW.as_secs())
}

fn node_json(n: &NodeSample, timestamp: &str) -> Value {
    json!({
        "metadata": {"name": n.name, "creationTimestamp": super::store::now_rfc3339(), "labels": n.labels},
        "timestamp": timestamp, "window": window_text(),
        "usage": usage_json(n.cpu_nanos, n.memory_bytes)
    })
}

fn pod_json(p: &PodSample, timestamp: &str) -> Value {
    let containers: Vec<Value> = p
        .containers
        .iter()
        .map(|c| json!({"name": c.name, "usage": usage_json(c.cpu_nanos, c.memory_bytes)}))
        .collect();
    json!({
        "metadata": {"name": p.name, "namespace": p.namespace, "creationTimestamp": super::store::now_rfc3339(), "labels": p.labels},
        "timestamp": timestamp, "window": window_text(),
        "containers": containers
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(cpu: &str, mem: &str, limit: &str) -> Container {
        Container {
            name: "app".into(),
            resources: Resources {
                requests: [("cpu".into(), cpu.into()), ("memory".into(), mem.into())].into(),
                limits: [("memory".into(), limit.into())].into(),
            },
        }
    }

    #[test]
    fn usage_stays_under_limits_and_mostly_under_requests() {
        let c = container("200m", "256Mi", "512Mi");
        let (mut under, mut total) = (0, 0);
        for i in 0..2000 {
            let uid = format!("uid-{i}");
            for window in [0, 7, 1000] {
                let u = container_usage(&uid, &c, window);
                assert!(
                    u.memory_bytes <= 512 * 1024 * 1024,
                    "memory above its limit"
                );
                assert!(u.cpu_nanos > 0 && u.memory_bytes > 0);
                total += 1;
                if u.cpu_nanos < 200_000_000 && u.memory_bytes < 256 * 1024 * 1024 {
                    under += 1;
                }
            }
        }
        let share = under as f64 / total as f64;
        // The rest are the hot ones, above both requests in every window.
        assert_eq!(
            total - under,
            (0..2000)
                .filter(|i| hash(&[format!("uid-{i}").as_bytes(), b"app"]).is_multiple_of(25))
                .count()
                * 3
        );
        assert!(
            (0.85..1.0).contains(&share),
            "share under requests {share}: most, not all"
        );
    }

    #[test]
    fn usage_moves_between_windows() {
        let c = container("500m", "1Gi", "2Gi");
        let a = container_usage("u", &c, 1).cpu_nanos;
        let b = container_usage("u", &c, 2).cpu_nanos;
        assert_ne!(a, b);
        assert_eq!(a, container_usage("u", &c, 1).cpu_nanos, "deterministic");
    }

    #[test]
    fn paths() {
        assert!(matches!(parse_target("nodes"), Some(Target::Nodes(None))));
        assert!(matches!(
            parse_target("nodes/worker-1"),
            Some(Target::Nodes(Some("worker-1")))
        ));
        assert!(matches!(
            parse_target("namespaces/web/pods/x"),
            Some(Target::Pods {
                namespace: Some("web"),
                name: Some("x")
            })
        ));
        assert!(parse_target("namespaces//pods").is_none());
        assert!(parse_target("services").is_none());
    }
}
