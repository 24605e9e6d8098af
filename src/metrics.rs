//! Prometheus metrics of the informer, cache and hub.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label of per-kind series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// "pod" or "node".
    pub kind: &'static str,
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
    /// SSE frames written to clients.
    pub frames_sent: Counter,
    /// Clients that fell behind the shared channel and were reset.
    pub lagged_clients: Counter,
    /// Reset events sent (fresh connections, failed resumes, lagging clients).
    pub resets_sent: Counter,
    /// Errors from the watch streams.
    pub watch_errors: Family<KindLabel, Counter>,
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
            frames_sent: Counter::default(),
            lagged_clients: Counter::default(),
            resets_sent: Counter::default(),
            watch_errors: Family::default(),
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
            "sse_frames",
            "SSE frames written to clients",
            m.frames_sent.clone(),
        );
        registry.register(
            "sse_lagged_clients",
            "Clients that fell behind and were reset",
            m.lagged_clients.clone(),
        );
        registry.register(
            "sse_resets",
            "Reset events sent to clients",
            m.resets_sent.clone(),
        );
        registry.register(
            "watch_errors",
            "Errors from the watch streams",
            m.watch_errors.clone(),
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
}
