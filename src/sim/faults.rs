//! Injected failures: what the `/_sim/faults/…` endpoints switch on, checked by every API
//! request and every watch stream.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use super::resource::Resource;
use super::status::ApiError;

/// Which error an error fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorKind {
    /// 500 InternalError.
    Internal,
    /// 429 TooManyRequests with Retry-After.
    TooManyRequests,
}

#[derive(Debug, Clone, serde::Serialize)]
struct ErrorFault {
    kind: ErrorKind,
    remaining: Option<u32>,
    #[serde(skip)]
    until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    errors: Option<ErrorFault>,
    forbidden: BTreeSet<Resource>,
}

/// The active faults.
pub struct Faults {
    state: Mutex<State>,
    /// Bumped to cut every open watch.
    cut: watch::Sender<u64>,
    /// True while watch streams must stay silent.
    stall: watch::Sender<bool>,
}

/// A summary for `/_sim/state`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultSummary {
    /// Error fault kind and remaining count, if any.
    pub errors: Option<String>,
    /// Forbidden resources.
    pub forbidden: Vec<&'static str>,
    /// Watches stalled.
    pub stalled: bool,
    /// How many cuts happened.
    pub cuts: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            cut: watch::channel(0).0,
            stall: watch::channel(false).0,
        }
    }

    /// Answers API requests with `kind` errors, `count` times or for `duration`
    /// (both unset: until cleared).
    pub fn fail_requests(&self, kind: ErrorKind, count: Option<u32>, duration: Option<Duration>) {
        self.state.lock().errors = Some(ErrorFault {
            kind,
            remaining: count,
            until: duration.map(|d| Instant::now() + d),
        });
    }

    /// Forbids every verb on `resource`.
    pub fn forbid(&self, resource: Resource) {
        self.state.lock().forbidden.insert(resource);
    }

    /// Cuts every open watch mid-line.
    pub fn cut_watches(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// Stalls (or releases) every watch stream.
    pub fn set_stall(&self, stalled: bool) {
        self.stall.send_replace(stalled);
    }

    /// Clears every fault.
    pub fn clear(&self) {
        *self.state.lock() = State::default();
        self.set_stall(false);
    }

    /// Receivers a watch stream listens to: cuts and stalls.
    pub fn watch_signals(&self) -> (watch::Receiver<u64>, watch::Receiver<bool>) {
        (self.cut.subscribe(), self.stall.subscribe())
    }

    /// What is active.
    pub fn summary(&self) -> FaultSummary {
        let s = self.state.lock();
        FaultSummary {
            errors: s
                .errors
                .as_ref()
                .map(|e| format!("{:?} remaining={:?}", e.kind, e.remaining)),
            forbidden: s.forbidden.iter().map(|r| r.plural()).collect(),
            stalled: *self.stall.borrow(),
            cuts: *self.cut.borrow(),
        }
    }

    /// The injected failure for one API request, if any.
    pub fn check(
        &self,
        resource: Resource,
        verb: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut s = self.state.lock();
        if s.forbidden.contains(&resource) {
            return Err(ApiError::forbidden(resource, verb, namespace, name));
        }
        let Some(fault) = s.errors.as_mut() else {
            return Ok(());
        };
        if fault.until.is_some_and(|u| Instant::now() >= u) || fault.remaining == Some(0) {
            s.errors = None;
            return Ok(());
        }
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        Err(match fault.kind {
            ErrorKind::Internal => ApiError::internal("etcdserver: request timed out"),
            ErrorKind::TooManyRequests => ApiError::too_many_requests(1),
        })
    }
}
