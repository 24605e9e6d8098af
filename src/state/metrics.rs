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
    }

    pub(super) fn set_objects(&self, kind: Kind, count: usize) {
        self.objects
            .get_or_create(&kind.into())
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}
