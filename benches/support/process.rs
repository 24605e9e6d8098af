//! `podwall sim`, `podwall serve` and other helpers of a bench as separate processes, and
//! their memory and CPU time from `/proc`.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::get_ok;
use super::metrics_text::metric_value;

/// How long a process gets to serve or become ready: a 150k-pod simulator takes minutes
/// to generate its cluster, and a server as long to sync it, on a busy 2-core machine.
const STARTUP_DEADLINE: Duration = Duration::from_secs(900);

/// The podwall binary to measure: `PODWALL_BENCH_BIN` (e.g. a copy of an older build, for
/// before/after numbers), else the one cargo built for this bench.
pub fn podwall() -> String {
    std::env::var("PODWALL_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_podwall").into())
}

/// A free loopback address (bound and released; a race with other processes is unlikely).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A child process, killed (by its own id) when dropped or when the bench dies.
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// Starts `command` with stdin closed, its stderr appended to `log`, and `RUST_LOG=warn`
    /// (`PODWALL_BENCH_LOG` overrides): the faults the benches inject make expected errors.
    pub fn spawn(what: &str, command: &mut Command, log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        // SAFETY: prctl is async-signal-safe; it only marks the child to be killed when
        // the bench dies, so an interrupted bench leaves no servers behind.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .env(
                "RUST_LOG",
                std::env::var("PODWALL_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self {
            child,
            what: what.to_owned(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout, when spawned with a pipe.
    pub fn stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Fails loudly when the process died.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.what);
        }
    }

    /// Kills it and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Memory of the process now.
    pub fn memory(&self) -> Memory {
        Memory::of(self.pid())
    }

    /// Resident set size now (`VmRSS`), bytes.
    pub fn rss(&self) -> u64 {
        self.memory().rss_kib * 1024
    }

    /// User + system CPU seconds used so far (`/proc/PID/stat` fields 14 and 15).
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name may contain spaces; fields are counted after its `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // Fields 14 and 15 of the whole line are 11 and 12 after the name (state is 0).
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        (ticks(11) + ticks(12)) as f64 / hz
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
        self.kill();
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

/// Where a bench starts its processes: a scratch directory for kubeconfigs and logs (kept
/// when `PODWALL_BENCH_KEEP` is set), and the HTTP client it talks to them with.
pub struct Workspace {
    /// The scratch directory.
    pub dir: tempfile::TempDir,
    /// One client for the whole run (its connections are pooled).
    pub http: reqwest::Client,
}

impl Workspace {
    /// Creates a fresh scratch directory; says where it is when it is kept.
    pub fn create() -> Self {
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
        }
    }

    /// Starts a simulator of `cluster` and waits until it serves.
    pub fn start_sim(&self, cluster: Cluster) -> Sim {
        Sim::start(cluster, self.dir.path())
    }

    /// Starts a server against `sim` and waits until it has synced.
    pub async fn start_server(&self, sim: &Sim) -> Server {
        let mut server = self.spawn_server(sim, None);
        server.ready(&self.http).await;
        server
    }

    /// Starts a server against `sim` on `addr` (a free port when `None`); does not wait.
    pub fn spawn_server(&self, sim: &Sim, addr: Option<SocketAddr>) -> Server {
        let kubeconfig = [
            OsString::from("--kubeconfig"),
            sim.kubeconfig.clone().into(),
        ];
        Server::spawn(&kubeconfig, addr, self.dir.path())
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
        Server::spawn(&args, None, self.dir.path())
    }

    /// The path of a log file in the scratch directory.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The cluster a benchmark simulates.
#[derive(Debug, Clone, Copy)]
pub struct Cluster {
    /// Nodes.
    pub nodes: usize,
    /// Pods.
    pub pods: usize,
    /// Changes per second.
    pub churn: f64,
    /// Seed.
    pub seed: u64,
}

impl Cluster {
    /// `pods` pods, about 30 a node (at least 3 nodes), no churn, seed 1: a quiet cluster
    /// of the sizes the memory and ingest benches name by their pods.
    pub fn quiet(pods: usize) -> Self {
        Self {
            nodes: (pods / 30).max(3),
            pods,
            churn: 0.0,
            seed: 1,
        }
    }
}

/// `podwall sim` in its own process.
pub struct Sim {
    /// The process.
    pub proc: Proc,
    /// Its base URL.
    pub url: String,
    /// A kubeconfig pointing at it.
    pub kubeconfig: PathBuf,
}

impl Sim {
    /// Starts a simulator of `cluster` on a port of its choosing, logging into `dir`, and
    /// waits until its kubeconfig names its URL (written once it listens).
    fn start(cluster: Cluster, dir: &Path) -> Self {
        // Several simulators may run from one directory, one after another or together.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let kubeconfig = dir.join(format!("sim-{n}.kubeconfig"));
        let mut proc = Proc::spawn(
            "podwall sim",
            Command::new(podwall())
                .args(["sim", "--listen", "127.0.0.1:0"])
                .args(["--nodes", &cluster.nodes.to_string()])
                .args(["--pods", &cluster.pods.to_string()])
                .args(["--churn", &cluster.churn.to_string()])
                .args(["--seed", &cluster.seed.to_string()])
                .arg("--kubeconfig-out")
                .arg(&kubeconfig),
            &dir.join(format!("sim-{n}.log")),
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
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts a server with `args` (the clusters to show, and any flags) on `addr` (a free
    /// port when `None`), logging into `dir`; does not wait.
    fn spawn(args: &[OsString], addr: Option<SocketAddr>, dir: &Path) -> Self {
        let addr = addr.unwrap_or_else(free_addr);
        let proc = Proc::spawn(
            "podwall serve",
            Command::new(podwall())
                .arg("serve")
                .args(["--listen", &addr.to_string()])
                .args(args)
                .args(["--max-clients", "100000"]),
            &dir.join("serve.log"),
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
                self.proc.what
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
