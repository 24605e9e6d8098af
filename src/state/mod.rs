//! The state: what podwall knows of one cluster. Compact views of pods and nodes, the
//! kept Warning events, the cache that numbers every change and keeps a ring of recent
//! ones, and the filters a client reads it through.

mod attention;
mod bounds;
mod cache;
mod change;
mod filter;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod history;
mod intern;
mod metrics;
mod view;
mod warnings;

pub use attention::{Alert, RuleError, Rules, Tracker, Transition};
pub use bounds::Bounds;
pub use cache::{CHANNEL_CAPACITY, Cache, RING_CAPACITY, WARNINGS_SWEEP};
pub use change::{
    ApiState, ApiStatus, Change, Diff, Epoch, EventsState, Position, Snapshot, Start,
};
pub use filter::{Filter, FilterError, FilterParams};
#[cfg(test)]
pub use history::StatusChange;
pub use history::{
    DEFAULT_MEMORY as DEFAULT_HISTORY_MEMORY, DEFAULT_WINDOW as DEFAULT_HISTORY_WINDOW,
    HistoryBounds, HistoryError, HistoryStats, Mark, Moment, MomentError, Touched, now_ms,
    parse_memory, parse_span,
};
pub(crate) use view::rfc3339;
pub use view::{
    Labels, LastRestart, MAX_MESSAGE, NodeCondition, NodeView, PodView, RECENT, Ready, StatusClass,
    Taint,
};
pub use warnings::{DEFAULT_MAX_AGE, MESSAGE_LIMIT, WarningView, visible as warning_visible};
