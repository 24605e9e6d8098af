//! podwall: a live wall-screen view of a Kubernetes cluster.
//!
//! # Layout
//!
//! One folder per layer; a change flows down this list, and a module imports only from
//! the layers above its own (a test, `tests/layers.rs`, keeps the rule):
//!
//! ```text
//! k8s/      the Kubernetes side: API client, slim wire types, the informer (list+watch
//!   │       per scope, into a Sink), the metrics.k8s.io usage poller
//!   ▼
//! state/    views of pods and nodes, the cache (numbered changes, a ring of recent
//!   │       ones, readiness), interning, filters; implements the informer's Sink
//!   ▼
//! render/   what the wall looks like: askama templates over views (page, fragments)
//!   ▼
//! fanout/   changes to bytes on every client's wire: frames encoded once, batches per
//!   │       tick, shared compression, one SSE body per client
//!   ▼
//! web/      HTTP: routes, handlers, auth, assets, several clusters on one server
//!   ▼
//! app/      the one wiring place: Config → start → Running; logging, signals; the demo
//!
//! sim/      a simulated kube-apiserver (feature `sim`), which only shares the
//!           Kubernetes syntaxes of k8s/ (selectors, quantities)
//! ```
//!
//! `main.rs` turns flags into a [`Config`] and reports errors; `docs/architecture.md`
//! follows one pod change from the watch to the page.

mod app;
mod fanout;
mod k8s;
mod render;
#[cfg(feature = "sim")]
pub mod sim;
mod state;
mod web;

#[cfg(feature = "sim")]
pub use app::demo;
pub use app::{
    ClusterConfig, Config, DEFAULT_CLUSTER_NAME, Error, KubeSource, LogFormat, Running,
    WallOptions, cancel_on_signal, init_logging, start,
};
pub use fanout::{COALESCE, Format, Frames, KEEP_ALIVE, StreamMetrics, frame_for};
pub use k8s::quantity;
pub use k8s::selector;
pub use k8s::{
    ApiClient, ApiMetrics, EVENTS_RBAC, EventFields, Kind, METRICS_RBAC, NodeFields, NodeMetrics,
    PodFields, PodMetrics, Scope, Sink, WATCHED, spawn_informer,
};
pub use render::format;
#[cfg(any(test, feature = "fixtures"))]
pub use state::fixtures;
pub use state::{
    CHANNEL_CAPACITY, Cache, Change, DEFAULT_HISTORY_MEMORY, DEFAULT_HISTORY_WINDOW, Diff, Epoch,
    EventsState, Filter, HistoryBounds, HistoryError, HistoryStats, Labels, LastRestart,
    MAX_MESSAGE, MESSAGE_LIMIT, Mark, Moment, NodeCondition, NodeView, PodView, Position, RECENT,
    RING_CAPACITY, Snapshot, Start, Taint, WARNINGS_SWEEP, WarningView, parse_memory,
};
pub use web::{AuthToken, ClusterLink, LinkTemplate};
