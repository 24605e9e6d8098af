//! Shared helpers of the network benchmarks (fanout, reconnect, apiserver_cost; the memory
//! benches use `support`): the scale switch, `podwall sim` and
//! `podwall serve` as separate processes, their CPU and memory from `/proc`, and a bare
//! SSE connection cheap enough to open ten thousand of.

#![allow(dead_code)] // each bench uses a different subset

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod body;
pub use body::Body;

/// How long a process gets to become reachable or ready.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(120);

/// Full scale (`cargo bench --bench NAME` passes `--bench`) or a seconds-long smoke run
/// (what `cargo test --all-targets` runs); `PODWALL_BENCH_SCALE=full|quick` overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A smoke run at tiny scale: asserts that numbers came out, not what they are.
    Quick,
    /// The sizes the issue asks for.
    Full,
}

impl Scale {
    /// The scale of this run.
    pub fn from_env() -> Self {
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

/// Raises this process's open-file limit to its hard limit (children inherit it);
/// returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_cur
}

/// A free loopback port (bound and released; a race with other processes is unlikely).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// The `podwall` binary cargo built for this bench.
pub fn podwall_bin() -> &'static str {
    env!("CARGO_BIN_EXE_podwall")
}

/// A child process, killed when dropped.
pub struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    /// Starts `cmd`, its stderr appended to `log`.
    pub fn spawn(what: &str, mut cmd: Command, log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        // SAFETY: prctl is async-signal-safe; it only marks the child to be killed when
        // the bench dies, so an interrupted bench leaves no servers behind.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self {
            child,
            what: what.to_owned(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// Resident set size now (`VmRSS`), bytes.
    pub fn rss(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:") * 1024
    }

    /// Peak resident set size (`VmHWM`), bytes.
    pub fn peak_rss(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What it is, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A scratch directory for kubeconfigs and logs (kept when `PODWALL_BENCH_KEEP` is set).
pub fn scratch() -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix("podwall-bench-")
        .tempdir()
        .expect("temp dir");
    if std::env::var_os("PODWALL_BENCH_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("logs in {}", dir.path().display());
    }
    dir
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
    /// Starts a simulator of `cluster` and waits until its kubeconfig is written (after it
    /// bound its port, so it serves).
    pub fn start(cluster: Cluster, dir: &Path) -> Self {
        let addr = free_addr();
        let kubeconfig = dir.join(format!("sim-{}.kubeconfig", addr.port()));
        let mut cmd = Command::new(podwall_bin());
        cmd.env("RUST_LOG", "warn")
            .arg("sim")
            .args(["--listen", &addr.to_string()])
            .args(["--nodes", &cluster.nodes.to_string()])
            .args(["--pods", &cluster.pods.to_string()])
            .args(["--churn", &cluster.churn.to_string()])
            .args(["--seed", &cluster.seed.to_string()])
            .arg("--kubeconfig-out")
            .arg(&kubeconfig);
        let proc = Proc::spawn("podwall sim", cmd, &dir.join("sim.log"));
        wait_for(&format!("{} to start", proc.what()), || kubeconfig.exists());
        Self {
            proc,
            url: format!("http://{addr}"),
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
        let resp = http
            .post(format!("{}/_sim/churn?rate={rate}", self.url))
            .send()
            .await
            .expect("set churn");
        assert!(resp.status().is_success(), "set churn: {}", resp.status());
    }
}

/// `podwall serve` in its own process.
pub struct Server {
    /// The process.
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts a server against `sim` on `addr` (a free port when `None`); does not wait.
    pub fn spawn(sim: &Sim, addr: Option<SocketAddr>, dir: &Path) -> Self {
        let addr = addr.unwrap_or_else(free_addr);
        let mut cmd = Command::new(podwall_bin());
        cmd.env("RUST_LOG", "warn")
            .arg("serve")
            .args(["--listen", &addr.to_string()])
            .arg("--kubeconfig")
            .arg(&sim.kubeconfig)
            .args(["--max-clients", "100000"]);
        let proc = Proc::spawn("podwall serve", cmd, &dir.join("serve.log"));
        Self { proc, addr }
    }

    /// Starts a server and waits until `/readyz` says it has synced.
    pub async fn start(sim: &Sim, dir: &Path, http: &reqwest::Client) -> Self {
        let server = Self::spawn(sim, None, dir);
        server.ready(http).await;
        server
    }

    /// Waits for `/readyz` to answer 200.
    pub async fn ready(&self, http: &reqwest::Client) {
        let url = format!("{}/readyz", self.url());
        let started = Instant::now();
        loop {
            if let Ok(resp) = http.get(&url).send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < STARTUP_DEADLINE,
                "podwall serve not ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A number from `/metrics` (`name` followed by a space), 0 when absent.
    pub async fn metric(&self, http: &reqwest::Client, name: &str) -> f64 {
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
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < STARTUP_DEADLINE, "waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Opens an SSE stream on a bare socket (no HTTP client state per connection):
/// `GET path`, with `Last-Event-ID` and `Accept-Encoding` when given.
pub async fn open_stream(
    addr: SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
    accept_encoding: Option<&str>,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let accept = accept_encoding.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: wall\r\n{resume}{accept}\r\n").as_bytes())
        .await?;
    Ok(s)
}

/// Runs a benchmark's async body on a two-worker runtime (the machine has two cores).
pub fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body)
}

/// Whether `buf` holds a complete `reset` event.
pub fn has_reset(buf: &[u8]) -> bool {
    memchr::memmem::find(buf, b"event: reset\n")
        .is_some_and(|at| memchr::memmem::find(&buf[at..], b"\n\n").is_some())
}

/// The sequence number of the last complete event id in `buf` (`id: <epoch>-<seq>`).
pub fn last_seq(buf: &[u8]) -> Option<u64> {
    let at = memchr::memmem::rfind(buf, b"\nid: ")
        .map(|i| i + 1)
        .or_else(|| buf.starts_with(b"id: ").then_some(0))?;
    let line = &buf[at + 4..];
    let end = memchr::memchr(b'\n', line)?;
    let id = std::str::from_utf8(&line[..end]).ok()?;
    id.rsplit_once('-')?.1.parse().ok()
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

/// What Chromium sends as `Accept-Encoding` with an EventSource request.
pub const BROWSER_ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// A bare SSE connection that decodes its body as a browser does (chunked framing, and
/// `deflate` when it asked for it and the server chose it).
pub struct SseConn {
    s: TcpStream,
    body: Body,
    /// The decoded body so far.
    pub decoded: Vec<u8>,
    /// Bytes read off the socket (head and framing included).
    pub wire: usize,
}

impl SseConn {
    /// Opens `path`, resuming after `last_event_id` if given, sending `accept_encoding`.
    pub async fn open(
        addr: SocketAddr,
        path: &str,
        last_event_id: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            s: open_stream(addr, path, last_event_id, accept_encoding).await?,
            body: Body::default(),
            decoded: Vec::new(),
            wire: 0,
        })
    }

    /// Reads until `done(decoded)`; an error when the stream ends first.
    pub async fn read_until(&mut self, mut done: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        while !done(&self.decoded) {
            let n = self.s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.wire += n;
            self.body
                .feed(&chunk[..n], &mut self.decoded)
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// Reads (without decoding) until the server closes the connection.
    pub async fn drain(&mut self) {
        let mut sink = vec![0u8; 16 * 1024];
        while matches!(self.s.read(&mut sink).await, Ok(n) if n > 0) {}
    }
}
