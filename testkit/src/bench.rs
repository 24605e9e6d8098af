//! What the benchmarks share: the scale switch, the runtime, `podwall sim` and `podwall
//! serve` as separate processes in a scratch directory (measured from `/proc`, see
//! [`crate::process`]), and how reports write numbers.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::process::Process;
use crate::{SimSpec, free_addr, metric_value};

/// How long a process gets to serve or become ready: a 150k-pod simulator takes minutes
/// to generate its cluster, and a server as long to sync it, on a busy 2-core machine.
const STARTUP_DEADLINE: Duration = Duration::from_secs(900);

/// Where a bench starts its processes: a scratch directory for kubeconfigs and logs (kept
/// when `PODWALL_BENCH_KEEP` is set), and the HTTP client it talks to them with.
pub struct Workspace {
    /// The scratch directory.
    pub dir: tempfile::TempDir,
    /// One client for the whole run (its connections are pooled).
    pub http: reqwest::Client,
    /// The podwall binary to measure.
    bin: OsString,
}

impl Workspace {
    /// Creates a fresh scratch directory (says where it is when it is kept) for runs of
    /// `podwall`, the bench's `env!("CARGO_BIN_EXE_podwall")`; `PODWALL_BENCH_BIN`
    /// overrides it (e.g. a copy of an older build, for before/after numbers).
    pub fn create(podwall: &str) -> Self {
        let mut dir = tempfile::Builder::new()
            .prefix("podwall-bench-")
            .tempdir()
            .expect("a temporary directory");
        if std::env::var_os("PODWALL_BENCH_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("logs in {}", dir.path().display());
        }
        Self {
            dir,
            http: reqwest::Client::new(),
            bin: std::env::var_os("PODWALL_BENCH_BIN").unwrap_or_else(|| podwall.into()),
        }
    }

    /// Starts `command` logging into the scratch file `log`, with `RUST_LOG=warn`
    /// (`PODWALL_BENCH_LOG` overrides): the faults the benches inject make expected errors.
    pub fn spawn(&self, what: &str, command: &mut Command, log: &str) -> Process {
        let level = std::env::var("PODWALL_BENCH_LOG").unwrap_or_else(|_| "warn".into());
        Process::spawn_logging_to(what, command.env("RUST_LOG", level), &self.log(log))
    }

    /// Starts a simulator of `spec` and waits until it serves.
    pub fn start_sim(&self, spec: SimSpec) -> Sim {
        Sim::start(self, spec)
    }

    /// Starts a server against `sim` and waits until it has synced.
    pub async fn start_server(&self, sim: &Sim) -> Server {
        let mut server = self.spawn_server(sim, None);
        server.ready(&self.http).await;
        server
    }

    /// Starts a server against `sim` on `addr` (a free port when `None`); does not wait.
    pub fn spawn_server(&self, sim: &Sim, addr: Option<SocketAddr>) -> Server {
        self.spawn_server_at(&sim.kubeconfig, addr)
    }

    /// Starts a server against the cluster of `kubeconfig` on `addr` (a free port when
    /// `None`); does not wait.
    pub fn spawn_server_at(
        &self,
        kubeconfig: &std::path::Path,
        addr: Option<SocketAddr>,
    ) -> Server {
        let args = [OsString::from("--kubeconfig"), kubeconfig.into()];
        Server::spawn(self, &args, addr)
    }

    /// Starts a server showing every one of `sims` as a cluster of its own (`c1`, `c2`,
    /// …), with `flags` added; does not wait (readiness is per cluster, `/api/clusters`).
    pub fn spawn_clusters_server(&self, sims: &[Sim], flags: &[&str]) -> Server {
        let mut args: Vec<OsString> = flags.iter().map(OsString::from).collect();
        for (i, sim) in sims.iter().enumerate() {
            let mut cluster = OsString::from(format!("c{}=", i + 1));
            cluster.push(&sim.kubeconfig);
            args.extend([OsString::from("--cluster"), cluster]);
        }
        Server::spawn(self, &args, None)
    }

    /// The path of a log file in the scratch directory.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `podwall sim` in its own process.
pub struct Sim {
    /// The process.
    pub proc: Process,
    /// Its base URL.
    pub url: String,
    /// A kubeconfig pointing at it.
    pub kubeconfig: PathBuf,
}

impl Sim {
    /// Starts a simulator of `spec` on a port of its choosing, logging into the
    /// workspace, and waits until its kubeconfig names its URL (written once it listens).
    fn start(work: &Workspace, spec: SimSpec) -> Self {
        // Several simulators may run from one directory, one after another or together.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let kubeconfig = work.log(&format!("sim-{n}.kubeconfig"));
        let mut proc = work.spawn(
            "podwall sim",
            Command::new(&work.bin)
                .args(["sim", "--listen", "127.0.0.1:0"])
                .args(["--nodes", &spec.nodes.to_string()])
                .args(["--pods", &spec.pods.to_string()])
                .args(["--churn", &spec.churn.to_string()])
                .args(["--seed", &spec.seed.to_string()])
                .arg("--kubeconfig-out")
                .arg(&kubeconfig),
            &format!("sim-{n}.log"),
        );
        let started = Instant::now();
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&kubeconfig)
                && let Some(url) = text.lines().find_map(|l| l.trim().strip_prefix("server: "))
            {
                break url.to_owned();
            }
            proc.assert_alive();
            assert!(
                started.elapsed() < STARTUP_DEADLINE,
                "the simulator did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            proc,
            url,
            kubeconfig,
        }
    }

    /// `GET /_sim/state`.
    pub async fn state(&self, http: &reqwest::Client) -> serde_json::Value {
        // A pooled connection the busy sim just closed fails once; ask again.
        for _ in 0..20 {
            let resp = http.get(format!("{}/_sim/state", self.url)).send().await;
            if let Ok(resp) = resp
                && let Ok(state) = resp.json().await
            {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the sim does not answer /_sim/state");
    }

    /// `POST /_sim/churn?rate=R`.
    pub async fn set_churn(&self, http: &reqwest::Client, rate: f64) {
        self.control(http, &format!("churn?rate={rate}")).await;
    }

    /// POSTs to a `/_sim/` endpoint, e.g. `faults/restart`.
    pub async fn control(&self, http: &reqwest::Client, path: &str) {
        let resp = http
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

/// `podwall serve` (or a server standing in for it) in its own process.
pub struct Server {
    /// The process.
    pub proc: Process,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts a server with `args` (the clusters to show, and any flags) on `addr` (a free
    /// port when `None`), logging into the workspace; does not wait.
    fn spawn(work: &Workspace, args: &[OsString], addr: Option<SocketAddr>) -> Self {
        let addr = addr.unwrap_or_else(free_addr);
        let proc = work.spawn(
            "podwall serve",
            Command::new(&work.bin)
                .arg("serve")
                .args(["--listen", &addr.to_string()])
                .args(args)
                .args(["--max-clients", "100000"]),
            "serve.log",
        );
        Self { proc, addr }
    }

    /// Waits for `/readyz` to answer 200 (it has synced).
    pub async fn ready(&mut self, http: &reqwest::Client) {
        let url = format!("{}/readyz", self.url());
        let started = Instant::now();
        loop {
            if let Ok(resp) = http.get(&url).send().await
                && resp.status() == 200
            {
                return;
            }
            self.proc.assert_alive();
            assert!(
                started.elapsed() < STARTUP_DEADLINE,
                "{} not ready",
                self.proc.what()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value of one `/metrics` sample, e.g. `podwall_cache_objects{kind="pod"}`, 0
    /// when absent.
    pub async fn metric(&self, http: &reqwest::Client, sample: &str) -> f64 {
        let mut text = None;
        // A busy server may reset a pooled connection; ask again.
        for _ in 0..5 {
            let resp = http.get(format!("{}/metrics", self.url())).send().await;
            if let Ok(resp) = resp
                && let Ok(t) = resp.text().await
            {
                text = Some(t);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = text.expect("the server does not answer /metrics");
        metric_value(&text, sample)
    }

    /// Waits for the second good usage poll and returns how many pods the report has a
    /// sample for. The first poll runs while the initial list is decoded, so its report's
    /// pages are mixed with the list's; a server that has run a while holds a later one.
    pub async fn settled_usage_pods(&self, http: &reqwest::Client) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self
            .metric(http, "podwall_usage_polls_total{status=\"ok\"}")
            .await
            < 2.0
        {
            assert!(
                Instant::now() < deadline,
                "fewer than two good usage polls in 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let body: serde_json::Value = get_ok(&format!("{}/api/usage", self.url()))
            .await
            .json()
            .await
            .expect("usage JSON");
        assert_eq!(body["status"], "ok", "{body}");
        body["pods"].as_object().map_or(0, serde_json::Map::len)
    }
}

/// How big a run is: `PODWALL_BENCH_SCALE=full|quick` wins; else `--bench` (passed by
/// `cargo bench`) means full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `cargo bench --bench NAME`: the sizes the issue asks for, the numbers for
    /// BENCHMARKS.md.
    Full,
    /// Without `--bench` (`cargo test --all-targets`): a smoke run in seconds that asserts
    /// that numbers came out, not what they are.
    Quick,
}

impl Scale {
    /// The scale of this run.
    pub fn detect() -> Self {
        match std::env::var("PODWALL_BENCH_SCALE").as_deref() {
            Ok("full") => Self::Full,
            Ok("quick") => Self::Quick,
            _ if std::env::args().any(|a| a == "--bench") => Self::Full,
            _ => Self::Quick,
        }
    }

    /// `full` or `quick`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it) and fails
/// unless `needed` files fit under it.
pub fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    let fds = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            limit.rlim_cur
        } else {
            1024
        }
    };
    assert!(
        needed < fds,
        "open-file limit {fds} too low: this run needs about {needed}"
    );
}

/// Runs a benchmark's async body on a two-worker runtime (the machine has two cores).
pub fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body)
}

/// `GET url`, which must answer 2xx.
pub async fn get_ok(url: &str) -> reqwest::Response {
    reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// p-th percentile (0–100) of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Bytes as KiB/MiB for reports.
pub fn human_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
