//! Fan-out: N concurrent SSE clients on `/api/events` against `podwall serve` and
//! `podwall sim` (separate processes) with the sim churning at R changes/s.
//!
//! Latency is measured with probes: amid the churn, the bench patches a label
//! `podwall-bench/probe=<n>` onto a pod of its own in the sim, noting the time just before
//! the PATCH is sent; every client scans its stream for that label and records when it
//! first sees probe `n`. So a latency covers the sim applying the change, its watch
//! event, podwall's decode, cache, encode and fan-out, and the client's read — and also
//! the PATCH request itself (a few ms), which makes the number a little pessimistic.
//!
//! The same run measures a naive fan-out for comparison: this bench binary, started as
//! `fanout naive-server`, runs podwall's own informer and cache (the library) behind an
//! `/api/events` that serializes every change once per client and writes each change as
//! soon as it is published — what a straightforward SSE server does.
//!
//! `cargo bench --bench fanout` = full scale (10,000 clients, 500 changes/s); plain
//! `cargo test --all-targets` runs a seconds-long smoke. See BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testkit::bench::{Scale, Server, Sim, Workspace, human_bytes, percentile};

use testkit::SimSpec;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// The label the probes set; clients look for it in the JSON views.
const PROBE_LABEL: &str = "podwall-bench/probe";
const PROBE_MARKER: &[u8] = b"\"podwall-bench/probe\":\"";
/// The bench's own pod, whose label carries the probe number.
const PROBE_POD: &str = "podwall-bench-probe";

struct Params {
    clients: usize,
    cluster: SimSpec,
    churn: f64,
    probes_per_sec: f64,
    measure: Duration,
    /// How many connections are opened at once while connecting.
    connect_batch: usize,
    /// Every n-th client decodes its stream and measures latency.
    measure_every: usize,
    /// What the clients send as `Accept-Encoding` (`PODWALL_BENCH_ENCODING=identity`
    /// sends none).
    accept_encoding: Option<&'static str>,
}

impl Params {
    fn of(scale: Scale) -> Self {
        let clients = testkit::setting("PODWALL_BENCH_CLIENTS");
        let accept_encoding = match std::env::var("PODWALL_BENCH_ENCODING").as_deref() {
            Ok("identity") => None,
            _ => Some(testkit::wire::BROWSER_ACCEPT_ENCODING),
        };
        match scale {
            Scale::Full => Self {
                clients: clients.unwrap_or(10_000),
                cluster: SimSpec {
                    nodes: 50,
                    pods: 1_000,
                    churn: 0.0,
                    seed: 7,
                },
                churn: 500.0,
                probes_per_sec: 10.0,
                measure: Duration::from_secs(30),
                connect_batch: 500,
                measure_every: 20,
                accept_encoding,
            },
            Scale::Quick => Self {
                clients: clients.unwrap_or(20),
                cluster: SimSpec {
                    nodes: 4,
                    pods: 40,
                    churn: 0.0,
                    seed: 7,
                },
                churn: 50.0,
                probes_per_sec: 10.0,
                measure: Duration::from_secs(2),
                connect_batch: 20,
                measure_every: 1,
                accept_encoding,
            },
        }
    }
}

/// What one design measured.
#[derive(Debug)]
struct Outcome {
    design: &'static str,
    clients: usize,
    connect: Duration,
    rss_before: u64,
    rss_idle: u64,
    cpu_cores: f64,
    rss_busy: u64,
    probes_sent: usize,
    latencies_ms: Vec<f64>,
    missed: usize,
    bytes_per_sec: f64,
    /// Changes the server's cache published, counted 2 s after the window, per second of it.
    changes_per_sec: f64,
    /// Writes the simulator made per second in the window (its resourceVersion moved).
    sim_writes_per_sec: f64,
    /// Pod watch events the server's informer received, counted like `changes_per_sec`.
    events_per_sec: f64,
    /// Pod lists in the window, counted like `changes_per_sec` (0 when no watch broke).
    relists: f64,
    /// Pod watch requests started in the window (a watch also restarts at its timeout).
    watch_starts: f64,
}

impl Outcome {
    fn idle_bytes_per_client(&self) -> f64 {
        self.rss_idle.saturating_sub(self.rss_before) as f64 / self.clients as f64
    }

    fn print(&self) {
        let p = |q| percentile(&self.latencies_ms, q);
        println!(
            "{:>8} | {:>6} clients | connect+reset {:>6.2} s | idle {:>9}/client (RSS {} -> {}) | \
             {:>5.0} changes/s (sim {:.0} writes/s; {:.0} pod watch events/s, {} re-lists, {} watch restarts) | CPU {:.2} cores | RSS busy {} | delivered {}/s | \
             latency p50 {:.1} ms p90 {:.1} ms p99 {:.1} ms max {:.1} ms ({} samples, {} probes, {} missed)",
            self.design,
            self.clients,
            self.connect.as_secs_f64(),
            human_bytes(self.idle_bytes_per_client()),
            human_bytes(self.rss_before as f64),
            human_bytes(self.rss_idle as f64),
            self.changes_per_sec,
            self.sim_writes_per_sec,
            self.events_per_sec,
            self.relists,
            self.watch_starts,
            self.cpu_cores,
            human_bytes(self.rss_busy as f64),
            human_bytes(self.bytes_per_sec),
            p(50.0),
            p(90.0),
            p(99.0),
            p(100.0),
            self.latencies_ms.len(),
            self.probes_sent,
            self.missed,
        );
    }
}

/// Probe send times, nanoseconds after `base` (0 = not sent).
struct Probes {
    base: Instant,
    sent: Vec<AtomicU64>,
}

impl Probes {
    fn new(capacity: usize) -> Self {
        Self {
            base: Instant::now(),
            sent: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn mark_sent(&self, n: usize) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.sent[n].store(nanos.max(1), Ordering::Release);
    }

    /// Milliseconds since probe `n` was sent, if it was.
    fn latency_ms(&self, n: usize) -> Option<f64> {
        let sent = self.sent.get(n)?.load(Ordering::Acquire);
        (sent != 0).then(|| {
            let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            now.saturating_sub(sent) as f64 / 1e6
        })
    }
}

/// Finds probe numbers in `bytes` (the marker followed by digits and a quote).
fn probes_in(bytes: &[u8], mut found: impl FnMut(usize)) {
    for at in memchr::memmem::find_iter(bytes, PROBE_MARKER) {
        let digits = &bytes[at + PROBE_MARKER.len()..];
        let end = digits.iter().position(|b| !b.is_ascii_digit());
        if let Some(end) = end.filter(|e| *e > 0 && digits[*e] == b'"')
            && let Some(n) = std::str::from_utf8(&digits[..end])
                .ok()
                .and_then(|s| s.parse().ok())
        {
            found(n);
        }
    }
}

/// One client: connect, read the reset, then read until `stop`. Every client reads every
/// byte as fast as it can; a `measured` one also decodes the body (de-chunk, inflate) and
/// scans it for probes, like a browser would. (Decoding 10,000 streams would take more
/// CPU than this machine has next to the server; a sample of clients measures the same
/// latency distribution.)
async fn client(
    addr: std::net::SocketAddr,
    accept_encoding: Option<&'static str>,
    measured: bool,
    probes: Arc<Probes>,
    connected: Arc<AtomicUsize>,
    bytes: Arc<AtomicU64>,
    stop: CancellationToken,
) -> Result<Vec<f64>, String> {
    let mut s = testkit::wire::open_stream(addr, "/api/events", None, accept_encoding)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut body = testkit::wire::Body::default();
    let mut decoded = Vec::new();
    let mut raw = vec![0u8; 16 * 1024];
    while !testkit::wire::has_reset(&decoded) {
        let n = s
            .read(&mut raw)
            .await
            .map_err(|e| format!("reading the reset: {e}"))?;
        if n == 0 {
            return Err("the stream ended before its reset".into());
        }
        body.feed(&raw[..n], &mut decoded)?;
    }
    // The reset is not needed any more (10,000 copies of it would be gigabytes).
    decoded = Vec::new();
    connected.fetch_add(1, Ordering::AcqRel);
    let mut latencies = Vec::new();
    let mut last_probe = None::<usize>;
    // The tail of the previous read is kept so a marker split between reads is found.
    const KEEP: usize = 48;
    let mut counted = 0u64;
    // Made once: a fresh `cancelled()` per read registers and drops a waiter on the token's
    // one lock, which 10,000 clients on two threads contended on.
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let n = tokio::select! {
            read = s.read(&mut raw) => read.map_err(|e| format!("read: {e}"))?,
            () = &mut stopped => 0,
        };
        if n == 0 || stop.is_cancelled() {
            break;
        }
        counted += n as u64;
        if !measured {
            continue;
        }
        body.feed(&raw[..n], &mut decoded)?;
        probes_in(&decoded, |p| {
            if last_probe.is_none_or(|last| p > last) {
                last_probe = Some(p);
                if let Some(ms) = probes.latency_ms(p) {
                    latencies.push(ms);
                }
            }
        });
        let tail = decoded.len().min(KEEP);
        decoded.drain(..decoded.len() - tail);
    }
    bytes.fetch_add(counted, Ordering::Relaxed);
    Ok(latencies)
}

/// The clients' threads, one per core, a single-threaded runtime each: a client's socket
/// is woken, polled and read on one thread, with no work stealing and no wake-ups across
/// threads. On the bench's shared multi-threaded runtime the clients took ~12 % more CPU,
/// which the two cores share with the server, and their own scheduling put a long tail on
/// the measured latency (p99 256–523 ms against 192–244 ms, same server).
struct ClientThreads {
    threads: Vec<ClientThread>,
}

/// One clients' thread, running until this is dropped.
struct ClientThread {
    runtime: tokio::runtime::Handle,
    /// Dropping it ends the thread's `block_on`.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ClientThreads {
    fn start(n: usize) -> Self {
        let threads = (0..n)
            .map(|i| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                let handle = runtime.handle().clone();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                std::thread::Builder::new()
                    .name(format!("clients-{i}"))
                    .spawn(move || {
                        let _ = runtime.block_on(stopped);
                    })
                    .expect("a client thread");
                ClientThread {
                    runtime: handle,
                    _stop: stop,
                }
            })
            .collect();
        Self { threads }
    }

    /// Runs client `i`'s future on its thread.
    fn spawn<F>(&self, i: usize, client: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.threads[i % self.threads.len()].runtime.spawn(client)
    }
}

async fn create_probe_pod(http: &reqwest::Client, sim: &Sim) {
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": PROBE_POD, "namespace": "default", "labels": {PROBE_LABEL: "none"}},
        "spec": {"containers": [{"name": "probe", "image": "registry.k8s.io/pause:3.10"}]}
    });
    let resp = http
        .post(format!("{}/api/v1/namespaces/default/pods", sim.url))
        .json(&pod)
        .send()
        .await
        .expect("create the probe pod");
    assert!(
        resp.status().is_success() || resp.status() == 409,
        "create the probe pod: {}",
        resp.status()
    );
}

async fn send_probe(http: &reqwest::Client, sim: &Sim, probes: &Probes, n: usize) -> bool {
    let patch = serde_json::json!({"metadata": {"labels": {PROBE_LABEL: n.to_string()}}});
    probes.mark_sent(n);
    http.patch(format!(
        "{}/api/v1/namespaces/default/pods/{PROBE_POD}",
        sim.url
    ))
    .header("Content-Type", "application/merge-patch+json")
    .body(patch.to_string())
    .send()
    .await
    .is_ok_and(|r| r.status().is_success())
}

/// Runs one design against `sim`: connect, idle RSS, churn with probes, collect.
async fn measure(
    design: &'static str,
    server: &Server,
    sim: &Sim,
    params: &Params,
    http: &reqwest::Client,
) -> Outcome {
    let rss_before = server.proc.rss();
    let probes = Arc::new(Probes::new(100_000));
    let connected = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let threads = ClientThreads::start(
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
    );
    let mut tasks = Vec::with_capacity(params.clients);
    for i in 0..params.clients {
        tasks.push(threads.spawn(
            i,
            client(
                server.addr,
                params.accept_encoding,
                i % params.measure_every == 0,
                probes.clone(),
                connected.clone(),
                bytes.clone(),
                stop.clone(),
            ),
        ));
        // Connections are opened in batches so the accept queue is not the bottleneck.
        if (i + 1) % params.connect_batch == 0 {
            while connected.load(Ordering::Acquire) + params.connect_batch / 2 < i + 1 {
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "{design}: clients did not connect"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    while connected.load(Ordering::Acquire) < params.clients {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{design}: only {} of {} clients got their reset",
            connected.load(Ordering::Acquire),
            params.clients
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let connect = started.elapsed();
    // Let buffers settle: every reset is written and read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = server.proc.rss();
    bytes.store(0, Ordering::Relaxed);

    // Counts are read while nothing changes: before the churn starts and after it stops.
    // (Read at the end of the window, an overloaded server took long enough to answer that
    // the churn went on meanwhile: the naive server's changes/s came out about doubled.)
    let seq_before = server.metric(http, "podwall_cache_seq").await;
    let watch_before = WatchCounts::read(server, http).await;
    let rv_before = sim_rv(sim, http).await;
    sim.set_churn(http, params.churn).await;
    let cpu_before = server.proc.cpu_seconds();
    let window = Instant::now();
    let mut n = 0;
    let mut sent = 0;
    let interval = Duration::from_secs_f64(1.0 / params.probes_per_sec);
    let mut tick = tokio::time::interval(interval);
    while window.elapsed() < params.measure {
        tick.tick().await;
        if send_probe(http, sim, &probes, n).await {
            sent += 1;
        }
        n += 1;
    }
    sim.set_churn(http, 0.0).await;
    let elapsed = window.elapsed().as_secs_f64();
    let cpu_cores = (server.proc.cpu_seconds() - cpu_before) / elapsed;
    let rss_busy = server.proc.rss();
    // The last probes get time to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rv_after = sim_rv(sim, http).await;
    let seq_after = server.metric(http, "podwall_cache_seq").await;
    let watch_after = WatchCounts::read(server, http).await;
    stop.cancel();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        match task.await {
            Ok(Ok(l)) => latencies.extend(l),
            _ => failures += 1,
        }
    }
    assert_eq!(failures, 0, "{design}: clients failed");
    let delivered = bytes.load(Ordering::Relaxed);
    latencies.sort_by(f64::total_cmp);
    let expected = sent * params.clients.div_ceil(params.measure_every);
    Outcome {
        design,
        clients: params.clients,
        connect,
        rss_before,
        rss_idle,
        cpu_cores,
        rss_busy,
        probes_sent: sent,
        missed: expected.saturating_sub(latencies.len()),
        latencies_ms: latencies,
        bytes_per_sec: delivered as f64 / (elapsed + 2.0),
        changes_per_sec: (seq_after - seq_before) / elapsed,
        sim_writes_per_sec: (rv_after - rv_before) / elapsed,
        events_per_sec: (watch_after.events - watch_before.events) / elapsed,
        relists: watch_after.lists - watch_before.lists,
        watch_starts: watch_after.starts - watch_before.starts,
    }
}

/// The simulator's resourceVersion: one step per write.
async fn sim_rv(sim: &Sim, http: &reqwest::Client) -> f64 {
    sim.state(http).await["store"]["resource_version"]
        .as_f64()
        .unwrap_or(0.0)
}

/// The server's pod informer counters so far, from its `/metrics`.
#[derive(Debug, Clone, Copy)]
struct WatchCounts {
    /// Pod watch events received.
    events: f64,
    /// Pod lists (the first and every re-list).
    lists: f64,
    /// Pod watch requests started.
    starts: f64,
}

impl WatchCounts {
    async fn read(server: &Server, http: &reqwest::Client) -> Self {
        Self {
            events: server
                .metric(http, "podwall_watch_events_total{kind=\"pod\"}")
                .await,
            lists: server
                .metric(http, "podwall_lists_total{kind=\"pod\"}")
                .await,
            starts: server
                .metric(http, "podwall_watch_starts_total{kind=\"pod\"}")
                .await,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("naive-server") {
        naive::serve(&args[2..]);
        return;
    }
    let scale = Scale::detect();
    let params = Params::of(scale);
    // Each process holds one end of every client connection.
    testkit::bench::raise_fd_limit(params.clients as u64 + 200);
    testkit::bench::block_on(run(scale, params));
}

async fn run(scale: Scale, params: Params) {
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let http = &work.http;
    println!(
        "fanout ({}): {} clients on /api/events (Accept-Encoding: {}; every {}th decodes and measures), \
         sim {} nodes / {} pods, churn {}/s, {} probes/s for {:?}",
        scale.name(),
        params.clients,
        params.accept_encoding.unwrap_or("none"),
        params.measure_every,
        params.cluster.nodes,
        params.cluster.pods,
        params.churn,
        params.probes_per_sec,
        params.measure
    );
    let mut outcomes = Vec::new();
    // Each design gets a simulator of its own from the same seed: the same cluster and the
    // same sequence of changes, not the cluster the first design's churn left behind.
    {
        let sim = work.start_sim(params.cluster);
        create_probe_pod(http, &sim).await;
        let server = work.start_server(&sim).await;
        let outcome = measure("podwall", &server, &sim, &params, http).await;
        outcome.print();
        outcomes.push(outcome);
    }
    {
        let sim = work.start_sim(params.cluster);
        create_probe_pod(http, &sim).await;
        let server = naive::start(&sim, &work).await;
        let outcome = measure("naive", &server, &sim, &params, http).await;
        outcome.print();
        outcomes.push(outcome);
    }
    for o in &outcomes {
        assert!(o.probes_sent > 0, "{}: no probe was sent", o.design);
        assert!(
            !o.latencies_ms.is_empty(),
            "{}: no client saw a probe",
            o.design
        );
        assert!(o.changes_per_sec > 0.0, "{}: no change flowed", o.design);
        assert!(o.rss_idle > 0, "{}: no RSS read", o.design);
    }
}

/// The comparison server: podwall's informer and cache, one serialization per client.
mod naive {
    use std::convert::Infallible;
    use std::process::Command;
    use std::sync::Arc;

    use actix_web::{App, HttpResponse, HttpServer, web};
    use bytes::Bytes;
    use podwall::{ApiClient, ApiMetrics, Cache, Diff, Filter, Start};
    use tokio::sync::broadcast::error::RecvError;
    use tokio_util::sync::CancellationToken;

    use testkit::bench::{Server, Sim, Workspace};

    use testkit::free_addr;

    /// Starts this binary as a naive server against `sim` and waits until it synced.
    pub async fn start(sim: &Sim, work: &Workspace) -> Server {
        let addr = free_addr();
        let exe = std::env::current_exe().expect("own path");
        let proc = work.spawn(
            "naive server",
            Command::new(exe)
                .arg("naive-server")
                .arg(addr.to_string())
                .arg(&sim.kubeconfig),
            "naive.log",
        );
        let mut server = Server { proc, addr };
        server.ready(&work.http).await;
        server
    }

    /// `naive-server ADDR KUBECONFIG`: runs until killed.
    pub fn serve(args: &[String]) {
        let [addr, kubeconfig] = args else {
            panic!("usage: naive-server ADDR KUBECONFIG");
        };
        let addr: std::net::SocketAddr = addr.parse().expect("listen address");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .expect("kube config");
            let client = ApiClient::new(config).expect("kube client");
            let cache = Arc::new(NaiveCache::new());
            let api = Arc::new(ApiMetrics::default());
            let token = CancellationToken::new();
            let _informers =
                podwall::spawn_informer(client, &[], cache.clone(), api.clone(), token);
            // podwall's own metrics of this cache and its informers.
            let mut registry = prometheus_client::registry::Registry::with_prefix("podwall");
            api.register(&mut registry);
            cache.metrics().register(&mut registry);
            let registry = web::Data::new(registry);
            let data = web::Data::from(cache);
            HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(registry.clone())
                    .route("/readyz", web::get().to(readyz))
                    .route("/metrics", web::get().to(metrics))
                    .route("/api/events", web::get().to(events))
            })
            .max_connections(100_000)
            .bind(addr)
            .expect("bind")
            .run()
            .await
            .expect("serve");
        });
    }

    /// The naive server encodes nothing ahead: its changes carry no frames.
    type NaiveCache = Cache<()>;

    async fn readyz(cache: web::Data<NaiveCache>) -> HttpResponse {
        match cache.readiness() {
            Ok(()) => HttpResponse::Ok().body("ready"),
            Err(e) => HttpResponse::ServiceUnavailable().body(e),
        }
    }

    /// podwall's own metrics of this cache and its informers.
    async fn metrics(registry: web::Data<prometheus_client::registry::Registry>) -> HttpResponse {
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, &registry) {
            Ok(()) => HttpResponse::Ok().body(text),
            Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
        }
    }

    fn frame(id: String, event: &str, data: String) -> Bytes {
        Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))
    }

    /// Every client serializes every change itself and writes it at once.
    async fn events(cache: web::Data<NaiveCache>) -> HttpResponse {
        let cache = cache.into_inner();
        // Changes first, then the start: what both hold is skipped in the changes.
        let rx = cache.changes();
        let (first, after) = match cache.start(&Filter::default(), None) {
            Start::Reset(snap) => (
                frame(
                    snap.position().to_string(),
                    "reset",
                    serde_json::to_string(&snap).unwrap_or_default(),
                ),
                snap.seq,
            ),
            // Without a resume point or a moment, the start is always a reset.
            Start::Replay(_) | Start::Rewound { .. } => (Bytes::new(), 0),
        };
        let body = futures::stream::unfold((rx, Some(first)), move |(mut rx, first)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, Infallible>(first), (rx, None)));
            }
            loop {
                let change = match rx.recv().await {
                    Ok(change) if change.seq <= after => continue,
                    Ok(change) => change,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                };
                let id = format!("{:016x}-{}", change.epoch.0, change.seq);
                let (event, data) = match &change.diff {
                    Diff::Pod { new: Some(p), .. } => {
                        ("upsert", serde_json::json!({"kind": "Pod", "object": &**p}))
                    }
                    Diff::Node { new: Some(n), .. } => (
                        "upsert",
                        serde_json::json!({"kind": "Node", "object": &**n}),
                    ),
                    Diff::Pod { old: Some(p), .. } => (
                        "delete",
                        serde_json::json!({"kind": "Pod", "namespace": &*p.namespace, "name": p.name}),
                    ),
                    Diff::Node { old: Some(n), .. } => (
                        "delete",
                        serde_json::json!({"kind": "Node", "namespace": null, "name": &*n.name}),
                    ),
                    Diff::Status(s) => ("status", serde_json::json!(s)),
                    _ => continue,
                };
                let bytes = frame(id, event, data.to_string());
                return Some((Ok(bytes), (rx, None)));
            }
        });
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .streaming(body)
    }
}
