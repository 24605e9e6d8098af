//! Metrics of the event streams: clients, frames, resets, lag and fan-out latency.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// What the streams of one cache did.
#[derive(Debug)]
pub struct StreamMetrics {
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
}

impl Default for StreamMetrics {
    fn default() -> Self {
        Self {
            clients: Gauge::default(),
            clients_rejected: Counter::default(),
            frames_sent: Counter::default(),
            frames_dropped: Counter::default(),
            lagged_clients: Counter::default(),
            slow_client_disconnects: Counter::default(),
            resets_sent: Counter::default(),
            // 100 µs to ~1.6 s.
            fanout_latency: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
        }
    }
}

impl StreamMetrics {
    /// Adds these metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("sse_clients", "Connected SSE clients", self.clients.clone());
        registry.register(
            "sse_clients_rejected",
            "SSE connections refused because --max-clients were connected",
            self.clients_rejected.clone(),
        );
        registry.register(
            "sse_frames",
            "SSE frames written to clients",
            self.frames_sent.clone(),
        );
        registry.register(
            "sse_frames_dropped",
            "Changes lagging clients skipped (they got a reset instead)",
            self.frames_dropped.clone(),
        );
        registry.register(
            "sse_lagged_clients",
            "Clients that fell behind and were reset",
            self.lagged_clients.clone(),
        );
        registry.register(
            "sse_slow_client_disconnects",
            "Clients disconnected for lagging again soon after a reset",
            self.slow_client_disconnects.clone(),
        );
        registry.register(
            "sse_resets",
            "Reset events sent to clients",
            self.resets_sent.clone(),
        );
        registry.register(
            "fanout_latency_seconds",
            "Time from a change entering the cache to its frame leaving for a client",
            self.fanout_latency.clone(),
        );
    }
}
