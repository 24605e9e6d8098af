//! Robustness: API server trouble and outages, slow and hostile clients, hostile input,
//! restarts, and convergence under random faults. One test binary (see tests/README.md).
//! What an idle client costs in memory is measured in a binary of its own
//! (`tests/robust_memory.rs`): no other test's allocations may skew it.

mod apiserver;
mod clients;
mod convergence;
mod history_dir;
mod input;
mod outage;
mod parsers;
mod restart;

use std::time::{Duration, Instant};

use testkit::SseClient;

/// The binary under test (only the package's own targets see its path).
const PODWALL: &str = env!("CARGO_BIN_EXE_podwall");

/// Reads until a `status` event whose `apiserver` is `state`, within `deadline`; returns
/// its message.
pub async fn status_within(events: &mut SseClient, state: &str, deadline: Duration) -> String {
    status_where(events, state, |_| true, deadline).await
}

/// Like [`status_within`], for a status whose message also satisfies `pred`.
pub async fn status_where(
    events: &mut SseClient,
    state: &str,
    pred: impl Fn(&str) -> bool,
    deadline: Duration,
) -> String {
    let end = Instant::now() + deadline;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let ev = events
            .next_within(left)
            .await
            .unwrap_or_else(|| panic!("no such status {state} within {deadline:?}"));
        if ev.event == "status" && ev.json()["apiserver"] == state {
            let message = ev.json()["message"].as_str().unwrap_or("").to_owned();
            if pred(&message) {
                return message;
            }
        }
    }
}
