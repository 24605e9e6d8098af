//! Metrics of the cache: what it holds and how far it has counted.

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::k8s::{Kind, KindLabel};

/// What one cache holds.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    /// Objects held, by kind.
    pub objects: Family<KindLabel, Gauge>,
    /// The current sequence number.
    pub seq: Gauge,
    /// Bytes the history holds (records, checkpoints, dictionary).
    pub history_bytes: Gauge,
    /// Changes the history holds.
    pub history_changes: Gauge,
    /// 1 while the history is written to `--history-dir`; 0 after a write failed.
    pub history_persisting: Gauge,
    /// Writes to `--history-dir` that failed (each turns persistence off).
    pub history_disk_errors: prometheus_client::metrics::counter::Counter,
}

impl CacheMetrics {
    /// Adds these metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cache_objects",
            "Objects held in the cache",
            self.objects.clone(),
        );
        registry.register(
            "cache_seq",
            "Current sequence number of the cache",
            self.seq.clone(),
        );
        registry.register(
            "history_bytes",
            "Bytes the history of changes holds (records, checkpoints, dictionary)",
            self.history_bytes.clone(),
        );
        registry.register(
            "history_changes",
            "Changes the history holds",
            self.history_changes.clone(),
        );
        registry.register(
            "history_persisting",
            "1 while the history is written to --history-dir, 0 after a write failed",
            self.history_persisting.clone(),
        );
        registry.register(
            "history_disk_errors",
            "Writes to --history-dir that failed (the history then stays in memory)",
            self.history_disk_errors.clone(),
        );
    }

    pub(super) fn set_history(&self, stats: &super::history::HistoryStats) {
        self.history_bytes
            .set(i64::try_from(stats.bytes).unwrap_or(i64::MAX));
        self.history_changes
            .set(i64::try_from(stats.changes).unwrap_or(i64::MAX));
    }

    pub(super) fn set_objects(&self, kind: Kind, count: usize) {
        self.objects
            .get_or_create(&kind.into())
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}
