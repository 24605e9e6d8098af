//! What podwall's tests and benchmarks share, in one place:
//!
//! ```text
//! stack          Stack::builder(): simulators and a wall server in this process
//! sse            an EventSource-like client, and the model a /api/events client builds
//! wire           bare-socket SSE (cheap enough for 10,000 clients), chunked + deflate
//! browser        headless Chromium through chromedriver
//! process        podwall (or a helper) as a child process: logs, signals, memory
//! control_plane  a real kube-apiserver + etcd through scripts/test-control-plane
//! kwok           a big cluster of the real controllers and KWOK (scripts/test-kwok),
//!                and the working day driven on it
//! target         an API server to run conformance tests against: simulator or real
//! bench          the benchmarks' scale, runtime, and processes in a scratch directory
//! ```
//!
//! Only the package's own targets see `CARGO_BIN_EXE_podwall`, so whatever runs the
//! binary takes its path as an argument.

#![warn(missing_docs)]

pub mod bench;
pub mod browser;
pub mod control_plane;
pub mod hook;
mod inflate;
pub mod kwok;
pub mod process;
pub mod sse;
pub mod stack;
pub mod target;
pub mod tls;
pub mod wire;

use std::time::{Duration, Instant};

pub use inflate::inflate_into;
pub use sse::{Model, SseClient, SseEvent, SseItem, pod_key};
pub use stack::{SimSpec, Stack, StackBuilder};

/// The generous "eventually" deadline of the tests (busy 2-core machines).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The deadline for a real API server: restarts and re-lists take a few seconds more.
pub const SLOW_DEADLINE: Duration = Duration::from_secs(60);

/// Process-wide test setup: logging, and one rustls crypto provider (the dev-dependencies
/// enable two, and rustls refuses to guess).
pub fn init() {
    podwall::init_logging(podwall::LogFormat::Text);
    install_crypto();
}

/// Installs ring as the process's rustls provider (kube uses it); later calls do nothing.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The repository root (podwall's package directory).
pub fn repo() -> std::path::PathBuf {
    // This crate lives one folder below it.
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ has a parent")
        .to_path_buf()
}

/// A setting from the environment: `None` when `name` is unset; a value that does not
/// parse fails the run, naming the variable (a typo must not quietly mean the default).
pub fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!(
            "{name}={value:?} is not a valid {}",
            std::any::type_name::<T>()
        ),
    }
}

/// A free loopback port.
pub fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A loopback address that was free a moment ago (bound and released; a race with other
/// processes is unlikely), for a process that must be told its address in advance.
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind(loopback())
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// An API server address nothing listens on (the discard port).
pub fn nowhere() -> podwall::KubeSource {
    podwall::KubeSource::Config(kube::Config::new(
        "http://127.0.0.1:9".parse().expect("static URI"),
    ))
}

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

/// Polls `check` until it gives `Some`, or panics after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// The next item of `stream`, failing the test after [`DEADLINE`] or when it ends.
pub async fn next_within<S: futures::Stream + Unpin>(stream: &mut S, what: &str) -> S::Item {
    use futures::StreamExt;
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("stream ended while waiting for {what}"))
}

/// GET `url`, returning status and body.
pub async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let resp = http.get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// GET `url`, returning status and the body as JSON (null when it is not JSON).
pub async fn get_json(http: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let resp = http.get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// The JSON snapshot of the wall at `base`, with `query` (e.g. `?ns=web`).
pub async fn snapshot(http: &reqwest::Client, base: &str, query: &str) -> serde_json::Value {
    let (status, body) = get(http, &format!("{base}/api/snapshot{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("snapshot JSON")
}

/// Polls `<base>/readyz` until it answers 200, or panics with `what` after `deadline`.
pub async fn wait_ready(http: &reqwest::Client, base: &str, deadline: Duration, what: &str) {
    let url = format!("{base}/readyz");
    wait_until_answers(http, &url, 200, deadline, what).await;
}

/// Polls `url` until it answers `status`, or panics after `deadline`.
pub async fn wait_for_status(http: &reqwest::Client, url: &str, status: u16, deadline: Duration) {
    let what = format!("{url} to answer {status}");
    wait_until_answers(http, url, status, deadline, &what).await;
}

async fn wait_until_answers(
    http: &reqwest::Client,
    url: &str,
    status: u16,
    deadline: Duration,
    what: &str,
) {
    eventually_within(deadline, what, || async {
        http.get(url)
            .send()
            .await
            .ok()
            .filter(|r| r.status() == status)
            .map(|_| ())
    })
    .await;
}

/// The value of the first line of a `/metrics` text that starts with `line_start`
/// (e.g. `podwall_lists_total{kind="pod"}`), 0 when absent.
pub fn metric_value(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The value of the first metric line starting with `line_start` in `/metrics` of `base`,
/// 0 when absent or when the server does not answer.
pub async fn metric(http: &reqwest::Client, base: &str, line_start: &str) -> f64 {
    let Ok(resp) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    let text = resp.text().await.unwrap_or_default();
    metric_value(&text, line_start)
}

/// Runs `command` to its end; returns its stdout, or fails the test with its stderr,
/// naming it `what`.
pub async fn stdout_of(command: &mut tokio::process::Command, what: &str) -> String {
    let out = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A kube client from a kubeconfig file (its CA included: rustls verifies the server).
pub async fn client_from(kubeconfig: &std::path::Path) -> kube::Client {
    install_crypto();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig is readable");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig is usable");
    kube::Client::try_from(config).expect("client")
}

/// A unique suffix for names shared across tests on one server.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{}", nanos, N.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_metric_is_read_by_its_line_start_and_is_zero_when_absent() {
        let text =
            "# HELP x\npodwall_lists_total{kind=\"pod\"} 3\npodwall_lists_total{kind=\"node\"} 1\n";
        assert_eq!(
            super::metric_value(text, "podwall_lists_total{kind=\"pod\"}"),
            3.0
        );
        assert_eq!(super::metric_value(text, "podwall_watch_starts_total"), 0.0);
    }
}
