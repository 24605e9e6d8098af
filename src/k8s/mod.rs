//! The Kubernetes side: the API client, the slim wire types, the informer that lists and
//! watches pods and nodes into a [`Sink`], and the poller of live usage.
//!
//! It imports nothing of the layers downstream: the state implements [`Sink`].

mod client;
mod events;
mod heap;
mod informer;
mod metrics;
pub mod quantity;
mod scope;
pub mod selector;
mod usage;
mod wire;

pub use client::ApiClient;
pub use events::EventFields;
pub use informer::{EVENTS_RBAC, Sink, WATCHED, spawn as spawn_informer};
pub use metrics::{ApiMetrics, KindLabel};
pub use scope::{Health, Kind, Scope};
pub use usage::{METRICS_RBAC, NodeMetrics, PodMetrics, Usage, spawn as spawn_usage_poller};
pub use wire::{NodeFields, PodFields, StateReason};
