//! The last usage report: what `GET /api/usage` answers, encoded once per poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::RwLock;
use serde::Serialize;

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
pub(super) struct PodSample {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) sample: Sample,
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
    pub(super) fn new(
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
    pub(super) fn keeping_pods(status: UsageStatus, last: &Self, interval: Duration) -> Self {
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

    pub(super) fn publish(&self, report: Report) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
