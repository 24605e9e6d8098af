//! What the benchmarks share: the scale switch, `podwall sim` / `podwall serve` as
//! separate processes, and their memory and CPU time from `/proc`.

#![allow(dead_code)] // Each bench uses a different part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The podwall binary to measure: `PODWALL_BENCH_BIN` (e.g. a copy of an older build, for
/// before/after numbers), else the one cargo built for this bench.
pub fn podwall() -> String {
    std::env::var("PODWALL_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_podwall").into())
}

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `cargo bench --bench NAME`: the numbers for BENCHMARKS.md.
    Full,
    /// Without `--bench` (`cargo test --all-targets`): a smoke run in seconds.
    Quick,
}

impl Scale {
    /// `PODWALL_BENCH_SCALE=full|quick` wins; else `--bench` (passed by `cargo bench`) = full.
    pub fn detect() -> Self {
        match std::env::var("PODWALL_BENCH_SCALE").as_deref() {
            Ok("full") => Self::Full,
            Ok("quick") => Self::Quick,
            _ if std::env::args().any(|a| a == "--bench") => Self::Full,
            _ => Self::Quick,
        }
    }
}

/// A child process killed (by its own id) when dropped.
pub struct Proc {
    child: Child,
    what: &'static str,
}

impl Proc {
    /// Spawns `command` with `RUST_LOG=error` (`PODWALL_BENCH_LOG` overrides): the faults
    /// the benches inject make expected warnings.
    pub fn spawn(what: &'static str, command: &mut Command) -> Self {
        let child = command
            .env(
                "RUST_LOG",
                std::env::var("PODWALL_BENCH_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self { child, what }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout, when spawned with a pipe.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Fails loudly when the process died.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.what);
        }
    }

    /// Memory of the process now.
    pub fn memory(&self) -> Memory {
        Memory::of(self.pid())
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Resets the peak (VmHWM) to the current RSS, so the next peak is of what follows.
    pub fn reset_peak(&self) {
        // "5" to clear_refs resets the peak RSS (proc(5)); we own the process.
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .unwrap_or_else(|e| panic!("cannot reset the peak RSS of {}: {e}", self.what));
    }

    /// Waits until the RSS stops moving (two samples 500 ms apart within 1%).
    pub fn settled_memory(&mut self) -> Memory {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.memory();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            self.assert_alive();
            let now = self.memory();
            let delta = now.rss_kib.abs_diff(last.rss_kib);
            if delta * 100 <= now.rss_kib || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS.
    pub rss_kib: u64,
    /// VmHWM: the peak RSS (since start or the last [`Proc::reset_peak`]).
    pub hwm_kib: u64,
}

impl Memory {
    /// Reads `/proc/PID/status`.
    pub fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Self {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }
}

/// User + system CPU time of a process, from `/proc/PID/stat` (clock ticks of 10 ms).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/stat: {e}"));
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // USER_HZ is 100 on every Linux ABI podwall targets.
    Duration::from_millis(ticks * 10)
}

/// A `podwall sim` process and the kubeconfig it wrote.
pub struct Sim {
    /// The process.
    pub proc: Proc,
    /// Its base URL.
    pub url: String,
    /// A kubeconfig pointing at it.
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// Starts `podwall sim` with a generated cluster and waits until it serves.
    pub fn start(nodes: usize, pods: usize, churn: f64) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        let proc = Proc::spawn(
            "podwall sim",
            Command::new(podwall())
                .args(["sim", "--listen", "127.0.0.1:0", "--seed", "1"])
                .args(["--nodes", &nodes.to_string(), "--pods", &pods.to_string()])
                .args(["--churn", &churn.to_string()])
                .arg("--kubeconfig-out")
                .arg(&kubeconfig)
                // Cut watches are logged as errors by the HTTP layer.
                .stderr(Stdio::null()),
        );
        let mut sim = Self {
            proc,
            url: String::new(),
            kubeconfig,
            _dir: dir,
        };
        // The kubeconfig is written once the simulator listens.
        let deadline = Instant::now() + Duration::from_secs(900);
        sim.url = loop {
            if let Ok(text) = std::fs::read_to_string(&sim.kubeconfig)
                && let Some(url) = text.lines().find_map(|l| l.trim().strip_prefix("server: "))
            {
                break url.to_owned();
            }
            sim.proc.assert_alive();
            assert!(Instant::now() < deadline, "the simulator did not start");
            std::thread::sleep(Duration::from_millis(100));
        };
        sim
    }

    /// POSTs to a `/_sim/` endpoint, e.g. `faults/restart`.
    pub async fn control(&self, path: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/_sim/{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /_sim/{path}: {e}"));
        assert!(
            resp.status().is_success(),
            "POST /_sim/{path}: {}",
            resp.status()
        );
    }
}

/// A `podwall serve` process.
pub struct Serve {
    /// The process.
    pub proc: Proc,
    /// Its base URL.
    pub url: String,
}

impl Serve {
    /// Starts `podwall serve` against `kubeconfig` and waits until `/readyz` answers 200.
    pub async fn start(kubeconfig: &Path) -> Self {
        let port = free_port();
        let mut serve = Self {
            proc: Proc::spawn(
                "podwall serve",
                Command::new(podwall())
                    .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                    .arg("--kubeconfig")
                    .arg(kubeconfig),
            ),
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        let http = reqwest::Client::new();
        loop {
            let ready = http.get(format!("{}/readyz", serve.url)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return serve;
            }
            serve.proc.assert_alive();
            assert!(
                Instant::now() < deadline,
                "podwall serve did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the second good usage poll and returns how many pods the report has a
    /// sample for. The first poll runs while the initial list is decoded, so its report's
    /// pages are mixed with the list's; a server that has run a while holds a later one.
    pub async fn settled_usage_pods(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self
            .metric("podwall_usage_polls_total{status=\"ok\"}")
            .await
            < 2
        {
            assert!(
                Instant::now() < deadline,
                "fewer than two good usage polls in 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let body: serde_json::Value = get_ok(&format!("{}/api/usage", self.url))
            .await
            .json()
            .await
            .expect("usage JSON");
        assert_eq!(body["status"], "ok", "{body}");
        body["pods"].as_object().map_or(0, serde_json::Map::len)
    }

    /// The value of one metric sample, e.g. `podwall_watch_events_total{kind="pod"}`.
    pub async fn metric(&self, sample: &str) -> u64 {
        let text = get_ok(&format!("{}/metrics", self.url))
            .await
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .find_map(|l| l.strip_prefix(sample))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }
}

/// `GET url`, which must answer 2xx.
pub async fn get_ok(url: &str) -> reqwest::Response {
    reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
