//! The numbered changes of a cache and where a client stands in them: a change and its
//! diff, the stream position (`<epoch>-<seq>`), a snapshot, and the API server's health
//! as clients see it.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::view::{NodeView, PodView};
use super::warnings::WarningView;

/// The API server connection's state, as clients read it in `"apiserver"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiState {
    /// Every watch is current.
    Ok,
    /// A watch failed transiently and retries with backoff.
    Reconnecting,
    /// 403: the ServiceAccount lacks a permission.
    Forbidden,
    /// Anything else.
    Error,
}

impl ApiState {
    /// The word clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Reconnecting => "reconnecting",
            Self::Forbidden => "forbidden",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health of the connection to the API server, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiStatus {
    /// How the watches are.
    #[serde(rename = "apiserver")]
    pub state: ApiState,
    /// What is wrong, empty when ok.
    pub message: String,
}

impl ApiStatus {
    /// All is well.
    pub fn ok() -> Self {
        Self {
            state: ApiState::Ok,
            message: String::new(),
        }
    }
}

/// How the optional Warning events watch is doing, as clients read it in `"events"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventsState {
    /// Not listed yet.
    Starting,
    /// Warnings flow.
    Ok,
    /// A failure, retrying with backoff.
    Reconnecting,
    /// 403: the ServiceAccount may not list events (`deploy/optional/events-rbac.yaml`).
    Forbidden,
    /// 404: the API server does not serve `events.k8s.io/v1`.
    Unavailable,
}

impl EventsState {
    /// The word clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ok => "ok",
            Self::Reconnecting => "reconnecting",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "unavailable",
        }
    }
}

/// What one change did.
#[derive(Debug)]
pub enum Diff {
    /// A pod appeared, changed or went away (`new` is `None` on delete).
    Pod {
        old: Option<Arc<PodView>>,
        new: Option<Arc<PodView>>,
    },
    /// A node appeared, changed or went away.
    Node {
        old: Option<Arc<NodeView>>,
        new: Option<Arc<NodeView>>,
    },
    /// The API server health changed.
    Status(ApiStatus),
    /// A kept warning appeared, changed or went away (`new` is `None` when it went).
    Warning {
        old: Option<Arc<WarningView>>,
        new: Option<Arc<WarningView>>,
        /// For a warning about a pod: the pod before and after this change (the same
        /// unless the pod itself changed), `None` while unknown. A filtered client sees
        /// the warning when it sees the pod.
        pod: (Option<Arc<PodView>>, Option<Arc<PodView>>),
    },
    /// The Warning events watch changed state.
    Events(EventsState),
}

/// One numbered change, shared by every client.
///
/// `E` is what the fan-out encodes of the change (its frames), once, on first use. It
/// travels with the change so that every client and every replay from the ring share
/// it, while the state layer knows nothing of encodings: the fan-out names the type.
#[derive(Debug)]
pub struct Change<E> {
    /// The cache epoch it belongs to.
    pub epoch: Epoch,
    /// Its sequence number.
    pub seq: u64,
    /// What changed.
    pub diff: Diff,
    /// When it entered the cache (for the fan-out latency metric).
    pub published: std::time::Instant,
    /// The cluster's name, on walls of several clusters (JSON events then carry it).
    pub cluster: Option<Arc<str>>,
    /// What the fan-out encoded of it (see above).
    pub encoded: E,
}

/// Random per cache build: resuming across epochs is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A position in the stream: `<epoch>-<seq>`, the SSE event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The epoch.
    pub epoch: Epoch,
    /// The sequence number.
    pub seq: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl Position {
    /// Parses an event id; `None` when it is not one of ours.
    pub fn parse(s: &str) -> Option<Self> {
        let (epoch, seq) = s.trim().split_once('-')?;
        // Digits only: `from_str_radix` and `parse` would also take a leading `+`.
        if epoch.len() != 16
            || !epoch.bytes().all(|b| b.is_ascii_hexdigit())
            || seq.is_empty()
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self {
            epoch: Epoch(u64::from_str_radix(epoch, 16).ok()?),
            seq: seq.parse().ok()?,
        })
    }
}

/// A filtered copy of the state at one sequence number (views are shared, not cloned).
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The epoch, hex.
    #[serde(serialize_with = "display")]
    pub epoch: Epoch,
    /// The sequence number of the last change included.
    pub seq: u64,
    /// Nodes, by name.
    pub nodes: Vec<Arc<NodeView>>,
    /// Pods, by namespace and name.
    pub pods: Vec<Arc<PodView>>,
    /// Kept warnings the filter lets through, newest first.
    pub warnings: Vec<Arc<WarningView>>,
    /// API server health.
    pub apiserver: ApiStatus,
    /// The Warning events watch's state.
    pub events: EventsState,
    /// The cluster's name, on walls of several clusters only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Arc<str>>,
}

fn display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Snapshot {
    /// The position of this snapshot.
    pub fn position(&self) -> Position {
        Position {
            epoch: self.epoch,
            seq: self.seq,
        }
    }
}

/// Where a new subscriber starts.
pub enum Start<E> {
    /// From a full (filtered) snapshot.
    Reset(Snapshot),
    /// From the changes it missed, in order.
    Replay(Vec<Arc<Change<E>>>),
    /// From the state at a past moment and the kept changes since (`?since=`): the
    /// client then stands at `through`, the cache's seq when it started.
    Rewound {
        /// The state at the moment.
        reset: Snapshot,
        /// The kept changes after it, in order.
        changes: Vec<Arc<Change<E>>>,
        /// The cache's seq when the rewind was taken.
        through: u64,
    },
}
