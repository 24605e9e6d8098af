//! Helpers of the `robust_*` tests: a stack with a chosen seed and limits, status and
//! metric readers, and podwall run as processes.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use podwall::Config;
use tokio_util::sync::CancellationToken;

use crate::common::{SseClient, Stack};

/// The simulated cluster of a test.
pub struct Cluster {
    pub nodes: usize,
    pub pods: usize,
    pub churn: f64,
    pub seed: u64,
}

/// Starts a simulator and a wall server against it, its configuration changed by
/// `configure`; waits for /readyz.
pub async fn start(cluster: Cluster, configure: impl FnOnce(Config) -> Config) -> Stack {
    crate::common::init();
    let token = CancellationToken::new();
    let sim = crate::common::start_sim(
        cluster.nodes,
        cluster.pods,
        cluster.churn,
        cluster.seed,
        &token,
    )
    .await;
    let server = crate::common::start_server_with(&sim, configure, Vec::new(), &token).await;
    let stack = Stack {
        sim,
        server,
        token,
        http: reqwest::Client::new(),
    };
    stack.wait_ready().await;
    stack
}

/// Resident set size of this process, from /proc (Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

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

/// The value of the first metric line starting with `line_start` in `/metrics` of `base`,
/// 0 when absent.
pub async fn metric(http: &reqwest::Client, base: &str, line_start: &str) -> f64 {
    let Ok(resp) = http.get(format!("{base}/metrics")).send().await else {
        return 0.0;
    };
    let text = resp.text().await.unwrap_or_default();
    crate::common::metric_value(&text, line_start)
}

/// A `podwall` process (sim or serve) whose stderr lines are kept for the test to read.
pub struct Process {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Spawns `podwall args…` with `env`, collecting its stderr.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_podwall"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn podwall");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().push(line);
            }
        });
        Process { child, lines }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// The stderr lines so far that parse as JSON objects (`--log-format json`).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a JSON log line matching `pred`; panics after `deadline` with the log.
    pub async fn log_line(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let end = Instant::now() + deadline;
        loop {
            if let Some(line) = self.json_lines().into_iter().find(|l| pred(l)) {
                return line;
            }
            if Instant::now() > end {
                panic!(
                    "no log line for {what} within {deadline:?}; log:\n{}",
                    self.lines.lock().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A stopped process must be continued to die cleanly; errors: already gone.
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.pid().to_string())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
