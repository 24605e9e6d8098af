//! Reconnects: what a `Last-Event-ID` resume costs against a full reset, and how fast
//! thousands of clients get their state back after a connect storm or a server restart.
//!
//! 1. Resume vs reset at 50,000 pods: a client reads its reset, disconnects, the sim makes
//!    ~1,000 changes, then the client resumes with its last event id (and reads until it
//!    is at the server's current sequence), against a fresh connection reading a reset of
//!    the same state. Bytes on the wire and time, for `/api/events` and `/events`.
//! 2. Connect storm: N fresh streams opened at once against a synced server; time until
//!    every one has read its complete reset.
//! 3. Restart storm: N connected clients, the server is stopped (SIGTERM) and started
//!    again on the same address; each client reconnects like an EventSource (after the
//!    server's `retry:` hint, with its `Last-Event-ID`) and the time until all have read a
//!    reset of the new epoch is measured.
//!
//! `cargo bench --bench reconnect` = full scale; plain `cargo test --all-targets` runs a
//! seconds-long smoke. See BENCHMARKS.md.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testkit::bench::{Scale, Server, Sim, Workspace, human_bytes, percentile};

use testkit::wire::SseConn;

use testkit::SimSpec;

/// The reconnect delay the server suggests (`retry: 2000`); EventSource waits this long.
const RETRY: Duration = Duration::from_millis(2000);

struct Params {
    resume_cluster: SimSpec,
    /// Changes made while the resuming client is away.
    missed_changes: u64,
    rounds: usize,
    storm_cluster: SimSpec,
    connect_storm: usize,
    restart_storm: usize,
}

impl Params {
    fn of(scale: Scale) -> Self {
        match scale {
            Scale::Full => Self {
                resume_cluster: SimSpec {
                    nodes: 500,
                    pods: 50_000,
                    churn: 0.0,
                    seed: 3,
                },
                missed_changes: 1_000,
                rounds: 3,
                storm_cluster: SimSpec {
                    nodes: 50,
                    pods: 1_000,
                    churn: 0.0,
                    seed: 5,
                },
                connect_storm: 2_000,
                restart_storm: 5_000,
            },
            Scale::Quick => Self {
                resume_cluster: SimSpec {
                    nodes: 4,
                    pods: 60,
                    churn: 0.0,
                    seed: 3,
                },
                missed_changes: 20,
                rounds: 1,
                storm_cluster: SimSpec {
                    nodes: 4,
                    pods: 40,
                    churn: 0.0,
                    seed: 5,
                },
                connect_storm: 20,
                restart_storm: 20,
            },
        }
    }
}

fn main() {
    let scale = Scale::detect();
    let params = Params::of(scale);
    testkit::bench::raise_fd_limit((params.restart_storm as u64) * 2 + 200);
    testkit::bench::block_on(run(scale, params));
}

async fn run(scale: Scale, params: Params) {
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let http = &work.http;
    println!("reconnect ({})", scale.name());
    {
        let sim = work.start_sim(params.resume_cluster);
        let server = work.start_server(&sim).await;
        for accept in ENCODINGS {
            for path in ["/api/events", "/events"] {
                resume_vs_reset(&sim, &server, http, &params, path, accept).await;
            }
        }
    }
    let sim = work.start_sim(params.storm_cluster);
    let mut server = work.start_server(&sim).await;
    for accept in ENCODINGS {
        let connect = storm(server.addr, params.connect_storm, accept).await;
        report_storm(
            &format!("connect storm ({})", encoding_name(accept)),
            params.storm_cluster,
            &connect,
            None,
        );
        restart_storm(&sim, &mut server, &work, &params, accept).await;
    }
}

/// Each measurement runs for a client that accepts no encoding (a tool) and for one that
/// sends a browser's `Accept-Encoding` (the server then compresses).
const ENCODINGS: [Option<&str>; 2] = [None, Some(testkit::wire::BROWSER_ACCEPT_ENCODING)];

fn encoding_name(accept: Option<&str>) -> &'static str {
    if accept.is_some() {
        "browser, deflate"
    } else {
        "identity"
    }
}

/// Waits until the server's sequence stops moving; returns it.
async fn settled_seq(server: &Server, http: &reqwest::Client) -> u64 {
    let mut last = server.metric(http, "podwall_cache_seq").await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.metric(http, "podwall_cache_seq").await;
        if now == last {
            return now as u64;
        }
        last = now;
    }
}

/// One read: bytes on the wire and time until `done(decoded body)`, and the body.
async fn timed_read(
    addr: SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
    accept: Option<&str>,
    done: impl FnMut(&[u8]) -> bool,
) -> (usize, Duration, Vec<u8>) {
    let started = Instant::now();
    let mut conn = SseConn::open(addr, path, last_event_id, accept)
        .await
        .expect("connect");
    conn.read_until(done).await.expect("read the stream");
    (conn.wire, started.elapsed(), conn.decoded)
}

async fn resume_vs_reset(
    sim: &Sim,
    server: &Server,
    http: &reqwest::Client,
    params: &Params,
    path: &str,
    accept: Option<&str>,
) {
    let mut resumes = Vec::new();
    let mut resets = Vec::new();
    for _ in 0..params.rounds {
        let seq = settled_seq(server, http).await;
        let (_, _, first) =
            timed_read(server.addr, path, None, accept, testkit::wire::has_reset).await;
        let id = last_id(&first).expect("the reset has an id");
        // The client is away while the sim makes the changes it will miss.
        sim.set_churn(http, 500.0).await;
        while settled_seq_now(server, http).await < seq + params.missed_changes {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sim.set_churn(http, 0.0).await;
        let target = settled_seq(server, http).await;
        let (bytes, time, _) = timed_read(server.addr, path, Some(&id), accept, |buf| {
            testkit::wire::last_seq(buf).is_some_and(|s| s >= target)
        })
        .await;
        resumes.push((bytes, time, target - seq));
        let (bytes, time, _) =
            timed_read(server.addr, path, None, accept, testkit::wire::has_reset).await;
        resets.push((bytes, time));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        percentile(&v, 50.0)
    };
    let resume_bytes = median(resumes.iter().map(|r| r.0 as f64).collect());
    let resume_ms = median(resumes.iter().map(|r| r.1.as_secs_f64() * 1e3).collect());
    let missed = median(resumes.iter().map(|r| r.2 as f64).collect());
    let reset_bytes = median(resets.iter().map(|r| r.0 as f64).collect());
    let reset_ms = median(resets.iter().map(|r| r.1.as_secs_f64() * 1e3).collect());
    println!(
        "{path:>12} ({}) at {} pods: resume after {missed:.0} changes {} in {resume_ms:.1} ms | full reset {} in {reset_ms:.1} ms | resume/reset bytes {:.3} (median of {})",
        encoding_name(accept),
        params.resume_cluster.pods,
        human_bytes(resume_bytes),
        human_bytes(reset_bytes),
        resume_bytes / reset_bytes,
        params.rounds
    );
    assert!(
        resume_bytes > 0.0 && reset_bytes > 0.0,
        "{path}: nothing read"
    );
    assert!(missed > 0.0, "{path}: no change was missed");
}

async fn settled_seq_now(server: &Server, http: &reqwest::Client) -> u64 {
    server.metric(http, "podwall_cache_seq").await as u64
}

/// The last complete `id:` value in `buf`.
fn last_id(buf: &[u8]) -> Option<String> {
    let at = memchr::memmem::rfind(buf, b"id: ")?;
    let line = &buf[at + 4..];
    let end = memchr::memchr(b'\n', line)?;
    String::from_utf8(line[..end].to_vec()).ok()
}

/// Opens `n` streams at once; the time each took to read its complete reset.
async fn storm(addr: SocketAddr, n: usize, accept: Option<&'static str>) -> Vec<Duration> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut conn = SseConn::open(addr, "/api/events", None, accept).await?;
                conn.read_until(testkit::wire::has_reset).await?;
                // Keep the connection, not the reset (thousands of copies).
                conn.decoded = Vec::new();
                Ok::<_, std::io::Error>((started.elapsed(), conn))
            })
        })
        .collect();
    let mut times = Vec::with_capacity(n);
    let mut open = Vec::with_capacity(n);
    for task in tasks {
        let (time, s) = task.await.expect("storm task").expect("storm client");
        times.push(time);
        open.push(s);
    }
    times
}

fn report_storm(what: &str, cluster: SimSpec, times: &[Duration], extra: Option<String>) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{what}: {} clients, {} pods: all reset in {:.0} ms (p50 {:.0} ms, p99 {:.0} ms){}",
        times.len(),
        cluster.pods,
        percentile(&ms, 100.0),
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        extra.unwrap_or_default()
    );
    assert_eq!(times.len(), ms.len());
    assert!(!ms.is_empty(), "{what}: no client");
}

/// A client that reconnects like an EventSource: after its stream ends it waits the
/// retry delay, reconnects with its last event id (again after the delay on failure),
/// and reports when it has read a reset of a different epoch.
async fn eventsource(
    addr: SocketAddr,
    connected: Arc<AtomicUsize>,
    accept: Option<&'static str>,
) -> std::io::Result<(Instant, usize)> {
    let mut conn = SseConn::open(addr, "/api/events", None, accept).await?;
    conn.read_until(testkit::wire::has_reset).await?;
    let id = last_id(&conn.decoded).unwrap_or_default();
    let epoch = id.split('-').next().unwrap_or_default().to_owned();
    connected.fetch_add(1, Ordering::AcqRel);
    // Read until the server goes away.
    conn.decoded = Vec::new();
    conn.drain().await;
    drop(conn);
    let mut attempts = 0;
    loop {
        tokio::time::sleep(RETRY).await;
        attempts += 1;
        let Ok(mut conn) = SseConn::open(addr, "/api/events", Some(&id), accept).await else {
            continue;
        };
        if conn.read_until(testkit::wire::has_reset).await.is_err() {
            continue;
        }
        let new_id = last_id(&conn.decoded).unwrap_or_default();
        if !new_id.starts_with(&epoch) {
            return Ok((Instant::now(), attempts));
        }
    }
}

async fn restart_storm(
    sim: &Sim,
    server: &mut Server,
    work: &Workspace,
    params: &Params,
    accept: Option<&'static str>,
) {
    let n = params.restart_storm;
    let addr = server.addr;
    let connected = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tasks.push(tokio::spawn(eventsource(addr, connected.clone(), accept)));
        // Connect in waves of 500: the storm to measure is the reconnect, not this.
        if (i + 1) % 500 == 0 || i + 1 == n {
            while connected.load(Ordering::Acquire) < i + 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    let rss = server.proc.rss();
    let stopped = Instant::now();
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(server.proc.pid() as i32, libc::SIGTERM);
    }
    while server.proc.running() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            stopped.elapsed() < Duration::from_secs(60),
            "server did not stop"
        );
    }
    let stop_time = stopped.elapsed();
    *server = work.spawn_server(sim, Some(addr));
    server.ready(&work.http).await;
    let ready = stopped.elapsed();
    let mut times = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    for task in tasks {
        let (at, tries) = task.await.expect("client task").expect("client");
        times.push(at.duration_since(stopped));
        attempts.push(tries);
    }
    let max_attempts = attempts.iter().max().copied().unwrap_or(0);
    report_storm(
        &format!("restart storm ({})", encoding_name(accept)),
        params.storm_cluster,
        &times,
        Some(format!(
            "; from SIGTERM: old server gone after {:.0} ms, new one ready after {:.0} ms; at most {max_attempts} connect attempts per client; RSS before restart {}",
            stop_time.as_secs_f64() * 1e3,
            ready.as_secs_f64() * 1e3,
            human_bytes(rss as f64),
        )),
    );
}
