//! Prometheus metrics of the informer, cache and hub.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::cache::Kind;

/// Label of per-kind series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// "pod" or "node".
    pub kind: &'static str,
}

/// Label of API server errors: the resource and the HTTP status (or `unreachable`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiErrorLabel {
    /// "pod" or "node".
    pub kind: &'static str,
    /// "403", "410", "429", "500", …, or "unreachable" when no HTTP answer came.
    pub code: String,
}

/// Label of usage polls: how the poll of `metrics.k8s.io` ended ("ok", "unavailable",
/// "forbidden", "error").
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UsageLabel {
    /// The usage status after the poll.
    pub status: &'static str,
}

/// Upper bounds (seconds) of the fan-out latency buckets: 100 µs to ~1.6 s.
fn fanout_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 15,
    ))
}

/// All metrics; cheap to clone handles are shared by the parts that update them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Watch events received from the API server, by kind.
    pub events_ingested: Family<KindLabel, Counter>,
    /// Objects held in the cache, by kind.
    pub cache_objects: Family<KindLabel, Gauge>,
    /// The cache's current sequence number.
    pub seq: Gauge,
    /// Connected SSE clients.
    pub clients: Gauge,
    /// SSE connections refused because `--max-clients` were connected.
    pub clients_rejected: Counter,
    /// SSE frames written to clients.
    pub frames_sent: Counter,
    /// Changes a lagging client never got as diffs (it got a reset instead).
    pub frames_dropped: Counter,
    /// Clients that fell behind the shared channel and were reset.
    pub lagged_clients: Counter,
    /// Clients disconnected for lagging again soon after a reset.
    pub slow_client_disconnects: Counter,
    /// Reset events sent (fresh connections, failed resumes, lagging clients).
    pub resets_sent: Counter,
    /// Seconds from a change entering the cache to its frame leaving for a client.
    pub fanout_latency: Histogram,
    /// Errors from the watch streams (each one restarts the watch after a backoff), by kind.
    pub watch_errors: Family<KindLabel, Counter>,
    /// Watch requests the API server accepted, by kind: the first, then every restart
    /// (after the server ends a watch at its timeout, a cut, or an error).
    pub watch_starts: Family<KindLabel, Counter>,
    /// Full lists of a resource: the first one, and re-lists after 410 Gone or a restart.
    pub lists: Family<KindLabel, Counter>,
    /// API server errors by resource and HTTP status.
    pub api_errors: Family<ApiErrorLabel, Counter>,
    /// Polls of `metrics.k8s.io` for live usage, by how they ended.
    pub usage_polls: Family<UsageLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("podwall");
        let m = Self {
            registry: Registry::default(),
            events_ingested: Family::default(),
            cache_objects: Family::default(),
            seq: Gauge::default(),
            clients: Gauge::default(),
            clients_rejected: Counter::default(),
            frames_sent: Counter::default(),
            frames_dropped: Counter::default(),
            lagged_clients: Counter::default(),
            slow_client_disconnects: Counter::default(),
            resets_sent: Counter::default(),
            fanout_latency: fanout_histogram(),
            watch_errors: Family::default(),
            watch_starts: Family::default(),
            lists: Family::default(),
            api_errors: Family::default(),
            usage_polls: Family::default(),
        };
        registry.register(
            "watch_events",
            "Watch events received from the API server",
            m.events_ingested.clone(),
        );
        registry.register(
            "cache_objects",
            "Objects held in the cache",
            m.cache_objects.clone(),
        );
        registry.register(
            "cache_seq",
            "Current sequence number of the cache",
            m.seq.clone(),
        );
        registry.register("sse_clients", "Connected SSE clients", m.clients.clone());
        registry.register(
            "sse_clients_rejected",
            "SSE connections refused because --max-clients were connected",
            m.clients_rejected.clone(),
        );
        registry.register(
            "sse_frames",
            "SSE frames written to clients",
            m.frames_sent.clone(),
        );
        registry.register(
            "sse_frames_dropped",
            "Changes lagging clients skipped (they got a reset instead)",
            m.frames_dropped.clone(),
        );
        registry.register(
            "sse_lagged_clients",
            "Clients that fell behind and were reset",
            m.lagged_clients.clone(),
        );
        registry.register(
            "sse_slow_client_disconnects",
            "Clients disconnected for lagging again soon after a reset",
            m.slow_client_disconnects.clone(),
        );
        registry.register(
            "sse_resets",
            "Reset events sent to clients",
            m.resets_sent.clone(),
        );
        registry.register(
            "fanout_latency_seconds",
            "Time from a change entering the cache to its frame leaving for a client",
            m.fanout_latency.clone(),
        );
        registry.register(
            "watch_errors",
            "Errors from the watch streams; each restarts the watch after a backoff",
            m.watch_errors.clone(),
        );
        registry.register(
            "watch_starts",
            "Watch requests the API server accepted: the first, then every restart",
            m.watch_starts.clone(),
        );
        registry.register(
            "lists",
            "Full lists: the first, then re-lists after 410 Gone or an API server restart",
            m.lists.clone(),
        );
        registry.register(
            "apiserver_errors",
            "API server errors by resource and HTTP status (or unreachable)",
            m.api_errors.clone(),
        );
        registry.register(
            "usage_polls",
            "Polls of metrics.k8s.io for live usage, by the status they left",
            m.usage_polls.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// The Prometheus text exposition of all metrics.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Counts one failure of a watch on `kind` (it restarts after a backoff), by HTTP
    /// status; returns the `code` label it was counted under.
    pub fn record_watch_error(&self, kind: Kind, error: &kube::runtime::watcher::Error) -> String {
        use kube::runtime::watcher::Error as E;
        let code = match error {
            E::InitialListFailed(kube::Error::Api(s))
            | E::WatchStartFailed(kube::Error::Api(s))
            | E::WatchFailed(kube::Error::Api(s))
            | E::WatchError(s) => s.code.to_string(),
            E::NoResourceVersion => "no-resource-version".to_owned(),
            _ => "unreachable".to_owned(),
        };
        let label = kind.label();
        self.watch_errors.get_or_create(&label).inc();
        self.api_errors
            .get_or_create(&ApiErrorLabel {
                kind: label.kind,
                code: code.clone(),
            })
            .inc();
        code
    }
}
