//! Live CPU and memory usage: polls `metrics.k8s.io/v1beta1` (PodMetrics, NodeMetrics)
//! on an interval and keeps the last sample beside the cache, keyed like it.
//!
//! Usage is not part of the watch-based views on purpose: it changes every scrape for
//! every pod, and folding it into the diff stream would turn a quiet cluster into a
//! flood. The page fetches [`Usage::json`] instead, encoded once per poll.
//!
//! Without metrics-server (404), with it down (503) or without RBAC on it (403), the
//! wall works as before: the status says why there is no usage, logged once per change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::ListParams;
use parking_lot::RwLock;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::app::metrics::UsageLabel;

/// What podwall asks of `metrics.k8s.io` (resource, verbs); granted by the optional
/// manifest `deploy/optional/metrics-rbac.yaml`.
pub const METRICS_RBAC: &[(&str, &[&str])] = &[("pods", &["list"]), ("nodes", &["list"])];

/// While the metrics API is missing or forbidden, polls come this many intervals apart.
const UNAVAILABLE_BACKOFF: u32 = 4;

/// Usage of one pod or node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory (working set) in bytes.
    pub memory_bytes: u64,
}

/// Whether usage is known, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageStatus {
    /// `--usage-interval 0`.
    Off,
    /// The first poll has not answered yet.
    Waiting,
    /// The last poll answered.
    Ok,
    /// No metrics API (404) or its backend is down (503).
    Unavailable(String),
    /// RBAC denies listing metrics (403).
    Forbidden(String),
    /// Anything else (the last good sample is kept).
    Error(String),
}

impl UsageStatus {
    /// The one word of the status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Waiting => "waiting",
            Self::Ok => "ok",
            Self::Unavailable(_) => "unavailable",
            Self::Forbidden(_) => "forbidden",
            Self::Error(_) => "error",
        }
    }

    /// Why, for people ("" when there is nothing to say).
    pub fn message(&self) -> &str {
        match self {
            Self::Unavailable(m) | Self::Forbidden(m) | Self::Error(m) => m,
            Self::Off | Self::Waiting | Self::Ok => "",
        }
    }
}

/// One poll's result.
#[derive(Debug)]
pub struct Report {
    /// Whether it worked.
    pub status: UsageStatus,
    /// The scrape time metrics-server reported (RFC 3339), when known.
    pub timestamp: Option<String>,
    /// How many pods have a sample.
    pub pod_count: usize,
    /// Nodes by name.
    pub nodes: HashMap<Arc<str>, Sample>,
    /// `GET /api/usage`'s body, encoded once per poll.
    pub json: Bytes,
    /// The `pods` object inside `json` (a slice of it, not a copy), kept through a failed
    /// poll. Pods are only ever read as this JSON, so no per-pod map is held: at 150k pods
    /// a map keyed by names cost hundreds of bytes per pod in small, scattered allocations.
    pods: Bytes,
}

/// One pod's sample as a poll decodes it, before it is encoded.
struct PodSample {
    namespace: String,
    name: String,
    sample: Sample,
}

impl PodSample {
    /// The `/api/usage` key, `namespace/name`, as bytes in order (no allocation).
    fn key(&self) -> impl Iterator<Item = u8> + '_ {
        let slash = std::iter::once(b'/');
        self.namespace.bytes().chain(slash).chain(self.name.bytes())
    }
}

/// The `pods` object of `/api/usage`: `{"namespace/name": Sample, ...}`, sorted by key.
struct PodsJson<'a>(&'a [PodSample]);

impl Serialize for PodsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for p in self.0 {
            map.serialize_entry(&format_args!("{}/{}", p.namespace, p.name), &p.sample)?;
        }
        map.end()
    }
}

impl Report {
    /// A report whose pods are `pods` (sorted by key and encoded here).
    fn new(
        status: UsageStatus,
        timestamp: Option<String>,
        mut pods: Vec<PodSample>,
        nodes: HashMap<Arc<str>, Sample>,
        interval: Duration,
    ) -> Self {
        pods.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        // Two lists (one per namespace scope) never overlap, but a key must not repeat.
        pods.dedup_by(|a, b| a.key().eq(b.key()));
        let (count, size) = (pods.len(), pods.len() * 80);
        Self::with_pods(status, timestamp, nodes, interval, (count, size), |out| {
            // Plain strings and numbers: serializing into a Vec cannot fail.
            let _ = serde_json::to_writer(out, &PodsJson(&pods));
        })
    }

    /// A report that keeps `last`'s pods (a failed poll keeps the last good numbers).
    fn keeping_pods(status: UsageStatus, last: &Self, interval: Duration) -> Self {
        let pods = (last.pod_count, last.pods.len());
        Self::with_pods(
            status,
            last.timestamp.clone(),
            last.nodes.clone(),
            interval,
            pods,
            |out| out.extend_from_slice(&last.pods),
        )
    }

    /// Encodes the body once: the head, then the `pods` object that `write_pods` writes
    /// straight into it (`pods`: how many, and about how many bytes).
    fn with_pods(
        status: UsageStatus,
        timestamp: Option<String>,
        nodes: HashMap<Arc<str>, Sample>,
        interval: Duration,
        (pod_count, pods_size): (usize, usize),
        write_pods: impl FnOnce(&mut Vec<u8>),
    ) -> Self {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Head<'a> {
            status: &'a str,
            message: &'a str,
            timestamp: Option<&'a str>,
            interval_millis: u64,
            nodes: std::collections::BTreeMap<&'a str, Sample>,
        }
        let head = Head {
            status: status.as_str(),
            message: status.message(),
            timestamp: timestamp.as_deref(),
            interval_millis: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            nodes: nodes.iter().map(|(k, v)| (&**k, *v)).collect(),
        };
        let mut json = Vec::with_capacity(pods_size + 64 * nodes.len() + 256);
        // Plain strings and numbers: serializing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut json, &head);
        // `{...head}` becomes `{...head,"pods":{...}}`.
        json.pop();
        json.extend_from_slice(b",\"pods\":");
        let start = json.len();
        write_pods(&mut json);
        let end = json.len();
        json.push(b'}');
        let json = Bytes::from(json);
        Self {
            status,
            timestamp,
            pod_count,
            nodes,
            pods: json.slice(start..end),
            json,
        }
    }
}

/// The last usage report, shared by the poller and the web handlers.
pub struct Usage {
    interval: Duration,
    report: RwLock<Arc<Report>>,
}

impl Usage {
    /// Usage polled every `interval` (zero: off).
    pub fn new(interval: Duration) -> Self {
        let status = if interval.is_zero() {
            UsageStatus::Off
        } else {
            UsageStatus::Waiting
        };
        Self {
            interval,
            report: RwLock::new(Arc::new(Report::new(
                status,
                None,
                Vec::new(),
                HashMap::new(),
                interval,
            ))),
        }
    }

    /// The poll interval (zero: off).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The last report.
    pub fn report(&self) -> Arc<Report> {
        self.report.read().clone()
    }

    /// A node's usage in the last report.
    pub fn node(&self, name: &str) -> Option<Sample> {
        self.report.read().nodes.get(name).copied()
    }

    fn publish(&self, report: Report) {
        let previous = self.report();
        if previous.status != report.status {
            match &report.status {
                UsageStatus::Ok => tracing::info!(
                    pods = report.pod_count,
                    nodes = report.nodes.len(),
                    "usage from metrics.k8s.io available"
                ),
                UsageStatus::Error(m) => tracing::warn!(error = %m, "usage poll failed"),
                other => tracing::info!(
                    status = other.as_str(),
                    reason = other.message(),
                    "no usage"
                ),
            }
        }
        *self.report.write() = Arc::new(report);
    }
}

/// Starts polling `metrics.k8s.io` (pods in `namespaces`, or all; nodes) until shutdown;
/// `None` when the interval is zero.
pub fn spawn(
    client: kube::Client,
    namespaces: &[String],
    usage: Arc<Usage>,
    polls: Family<UsageLabel, Counter>,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if usage.interval.is_zero() {
        return None;
    }
    let pod_apis: Vec<Api<PodMetrics>> = if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    let node_api: Api<NodeMetrics> = Api::all(client);
    let span = tracing::Span::current();
    Some(tokio::spawn(
        async move {
            loop {
                let report = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    r = poll(&pod_apis, &node_api, &usage) => r,
                };
                // Without a metrics API, ask less often: it is rarely installed in a hurry.
                let wait = match report.status {
                    UsageStatus::Ok | UsageStatus::Error(_) => usage.interval,
                    _ => usage.interval.saturating_mul(UNAVAILABLE_BACKOFF),
                };
                let status = report.status.as_str();
                usage.publish(report);
                // A big cluster's metrics list is tens of MB decoded at once; without a
                // trim glibc keeps those pages and the RSS carries them between polls.
                crate::k8s::heap::release_free_memory();
                polls.get_or_create(&UsageLabel { status }).inc();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            tracing::debug!("usage poller stopped");
        }
        .instrument(span),
    ))
}

/// One poll: pods (every scope), then nodes. Nodes are optional: with `--namespace` the
/// ServiceAccount may hold only a namespaced Role.
async fn poll(pod_apis: &[Api<PodMetrics>], node_api: &Api<NodeMetrics>, usage: &Usage) -> Report {
    let list = ListParams::default();
    let mut pods = Vec::new();
    let mut timestamp = None;
    for api in pod_apis {
        match api.list(&list).await {
            Ok(l) => {
                for pm in l.items {
                    let (Some(namespace), Some(name)) = (pm.metadata.namespace, pm.metadata.name)
                    else {
                        continue;
                    };
                    let mut sample = Sample {
                        cpu_millis: 0,
                        memory_bytes: 0,
                    };
                    for c in &pm.containers {
                        let s = c.usage.sample();
                        sample.cpu_millis += s.cpu_millis;
                        sample.memory_bytes += s.memory_bytes;
                    }
                    timestamp = timestamp.or(pm.timestamp);
                    pods.push(PodSample {
                        namespace,
                        name,
                        sample,
                    });
                }
            }
            Err(e) => {
                let status = status_of(&e);
                // Keep the last good numbers through a transient failure.
                return match status {
                    UsageStatus::Error(_) => {
                        Report::keeping_pods(status, &usage.report(), usage.interval)
                    }
                    _ => Report::new(status, None, Vec::new(), HashMap::new(), usage.interval),
                };
            }
        }
    }
    let mut nodes = HashMap::new();
    match node_api.list(&list).await {
        Ok(l) => {
            for nm in l.items {
                if let Some(name) = nm.metadata.name {
                    timestamp = timestamp.or(nm.timestamp);
                    nodes.insert(Arc::from(name.as_str()), nm.usage.sample());
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "node usage not readable; pods only"),
    }
    Report::new(UsageStatus::Ok, timestamp, pods, nodes, usage.interval)
}

/// Parses an interval flag: `15s`, `500ms`, `2m`, or plain seconds; `0` turns usage off.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid interval {s:?}: expected e.g. 15s, 500ms, 1m or 0"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!(
            "invalid interval {s:?}: the unit must be ms, s or m"
        )),
    }
}

/// What a failed list means for the wall.
fn status_of(e: &kube::Error) -> UsageStatus {
    match e {
        kube::Error::Api(s) if s.code == 404 => UsageStatus::Unavailable(
            "metrics API (metrics.k8s.io) not found: install metrics-server to see usage".into(),
        ),
        kube::Error::Api(s) if s.code == 503 => {
            UsageStatus::Unavailable(format!("metrics-server is not answering: {}", s.message))
        }
        kube::Error::Api(s) if s.code == 403 => UsageStatus::Forbidden(format!(
            "podwall needs \"list\" on pods and nodes in API group metrics.k8s.io (deploy/optional/metrics-rbac.yaml): {}",
            s.message
        )),
        other => UsageStatus::Error(format!("listing metrics.k8s.io failed: {other}")),
    }
}

/// A container's, pod's or node's `usage` map.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceUsage {
    /// CPU, e.g. `"12345678n"`.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory, e.g. `"123456Ki"`.
    #[serde(default)]
    pub memory: Option<String>,
}

impl ResourceUsage {
    fn sample(&self) -> Sample {
        let cores = self
            .cpu
            .as_deref()
            .and_then(crate::k8s::quantity::parse)
            .unwrap_or(0.0);
        let bytes = self
            .memory
            .as_deref()
            .and_then(crate::k8s::quantity::parse)
            .unwrap_or(0.0);
        Sample {
            cpu_millis: (cores * 1000.0).round().max(0.0) as u64,
            memory_bytes: bytes.max(0.0) as u64,
        }
    }
}

/// A container's usage in a PodMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Its usage.
    #[serde(default)]
    pub usage: ResourceUsage,
}

/// `metrics.k8s.io/v1beta1` PodMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    /// Name and namespace (nothing else is decoded: a big cluster's list is 100k items).
    #[serde(deserialize_with = "crate::k8s::wire::name_meta")]
    pub metadata: ObjectMeta,
    /// Scrape time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Per-container usage.
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

/// `metrics.k8s.io/v1beta1` NodeMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeMetrics {
    /// Name (nothing else is decoded).
    #[serde(deserialize_with = "crate::k8s::wire::name_meta")]
    pub metadata: ObjectMeta,
    /// Scrape time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The node's usage.
    #[serde(default)]
    pub usage: ResourceUsage,
}

crate::k8s::wire::slim_resource!(
    PodMetrics,
    "metrics.k8s.io",
    "v1beta1",
    "PodMetrics",
    "pods",
    k8s_openapi::NamespaceResourceScope
);
crate::k8s::wire::slim_resource!(
    NodeMetrics,
    "metrics.k8s.io",
    "v1beta1",
    "NodeMetrics",
    "nodes",
    k8s_openapi::ClusterResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_become_millicores_and_bytes() {
        let u = ResourceUsage {
            cpu: Some("123456789n".into()),
            memory: Some("2048Ki".into()),
        };
        assert_eq!(
            u.sample(),
            Sample {
                cpu_millis: 123,
                memory_bytes: 2 * 1024 * 1024
            }
        );
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert!(parse_interval("15h").is_err());
        assert!(parse_interval("fast").is_err());
    }

    #[test]
    fn pods_are_encoded_once_sorted_and_kept_through_a_failed_poll() {
        let sample = |cpu| Sample {
            cpu_millis: cpu,
            memory_bytes: 1024,
        };
        let pod = |namespace: &str, name: &str, cpu| PodSample {
            namespace: namespace.into(),
            name: name.into(),
            sample: sample(cpu),
        };
        let nodes = HashMap::from([(Arc::from("n1"), sample(500))]);
        let interval = Duration::from_secs(15);
        // "a-b/x" sorts before "a/x" by key ('-' < '/'), not by namespace first.
        let good = Report::new(
            UsageStatus::Ok,
            Some("2026-11-26T00:00:00Z".into()),
            vec![pod("a", "x", 1), pod("a-b", "x", 2), pod("a", "x", 3)],
            nodes,
            interval,
        );
        assert_eq!(good.pod_count, 2, "a repeated key is kept once");
        let text = std::str::from_utf8(&good.json).expect("UTF-8");
        let a_b = text.find("\"a-b/x\"").expect("a-b/x");
        let a = text.find("\"a/x\"").expect("a/x");
        assert!(a_b < a, "sorted by key: {text}");
        let body: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(body["status"], "ok");
        assert_eq!(body["intervalMillis"], 15000);
        assert_eq!(body["nodes"]["n1"]["cpuMillis"], 500);
        assert_eq!(body["pods"]["a-b/x"]["cpuMillis"], 2);
        assert_eq!(body["pods"]["a/x"]["memoryBytes"], 1024);
        assert_eq!(body["pods"].as_object().map(|m| m.len()), Some(2));

        let failed = Report::keeping_pods(UsageStatus::Error("boom".into()), &good, interval);
        let after: serde_json::Value = serde_json::from_slice(&failed.json).expect("valid JSON");
        assert_eq!(after["status"], "error");
        assert_eq!(after["message"], "boom");
        assert_eq!(after["pods"], body["pods"], "the last good pods stay");
        assert_eq!(after["nodes"], body["nodes"]);
        assert_eq!(after["timestamp"], "2026-11-26T00:00:00Z");
    }

    #[test]
    fn off_when_interval_is_zero() {
        let usage = Usage::new(Duration::ZERO);
        assert_eq!(usage.report().status, UsageStatus::Off);
        let body: serde_json::Value =
            serde_json::from_slice(&usage.report().json).expect("valid JSON");
        assert_eq!(body["status"], "off");
        assert_eq!(body["intervalMillis"], 0);
    }
}
