//! Polling until a condition holds. Also included by `tests/browser_support`, which the
//! page benchmark uses without the rest of `tests/common`.

use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it gives `Some`, or panics after `deadline`.
pub async fn eventually_within<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
