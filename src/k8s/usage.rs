//! Live CPU and memory usage: polls `metrics.k8s.io/v1beta1` (PodMetrics, NodeMetrics)
//! on an interval and keeps the last report beside the cache, keyed like it.
//!
//! Usage is not part of the watch-based views on purpose: it changes every scrape for
//! every pod, and folding it into the diff stream would turn a quiet cluster into a
//! flood. The page fetches [`Report::json`] instead, encoded once per poll.
//!
//! Without metrics-server (404), with it down (503) or without RBAC on it (403), the
//! wall works as before: the status says why there is no usage, logged once per change.

mod metrics_api;
mod report;

use std::collections::HashMap;
use std::sync::Arc;

use kube::Api;
use kube::api::ListParams;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use metrics_api::{NodeMetrics, PodMetrics};
use report::PodSample;
pub use report::{Report, Sample, Usage, UsageStatus};

use super::metrics::{ApiMetrics, UsageLabel};

/// What podwall asks of `metrics.k8s.io` (resource, verbs); granted by the optional
/// manifest `deploy/optional/metrics-rbac.yaml`.
pub const METRICS_RBAC: &[(&str, &[&str])] = &[("pods", &["list"]), ("nodes", &["list"])];

/// While the metrics API is missing or forbidden, polls come this many intervals apart.
const UNAVAILABLE_BACKOFF: u32 = 4;

/// Starts polling `metrics.k8s.io` (pods in `namespaces`, or all; nodes) until shutdown;
/// `None` when the interval is zero.
pub fn spawn(
    client: kube::Client,
    namespaces: &[String],
    usage: Arc<Usage>,
    metrics: Arc<ApiMetrics>,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if usage.interval().is_zero() {
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
                    UsageStatus::Ok | UsageStatus::Error(_) => usage.interval(),
                    _ => usage.interval().saturating_mul(UNAVAILABLE_BACKOFF),
                };
                let status = report.status.as_str();
                usage.publish(report);
                // A big cluster's metrics list is tens of MB decoded at once; without a
                // trim glibc keeps those pages and the RSS carries them between polls.
                super::heap::release_free_memory();
                metrics
                    .usage_polls
                    .get_or_create(&UsageLabel { status })
                    .inc();
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
                        Report::keeping_pods(status, &usage.report(), usage.interval())
                    }
                    _ => Report::new(status, None, Vec::new(), HashMap::new(), usage.interval()),
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
    Report::new(UsageStatus::Ok, timestamp, pods, nodes, usage.interval())
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
