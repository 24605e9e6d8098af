//! podwall on a big cluster driven by the real Kubernetes controllers (issue 22), next
//! to the simulator at the same counts, in one run:
//!
//! 1. `scripts/test-kwok` starts etcd, kube-apiserver, kube-controller-manager,
//!    kube-scheduler and KWOK with `PODWALL_BIG_NODES` fake nodes (default 1,000);
//!    `testkit::kwok::Workload` creates namespaces, Deployments, StatefulSets, a
//!    DaemonSet, Jobs and troubled pods, about `PODWALL_BIG_PODS` pods (default 50,000),
//!    and waits until the controllers and KWOK have brought them all up.
//! 2. `podwall serve` (its own process, its own read-only identity and FlowSchema) syncs:
//!    the time from start to `/readyz`, and its RSS.
//! 3. The working day runs (rollouts, scaling, a node gone silent and its pods evicted,
//!    a drain, unschedulable pods) while the bench patches a probe label onto a pod of its
//!    own four times a second, noting the time just before each write; one `/api/events`
//!    client notes when each probe arrives: write → SSE latency, p50 and p99.
//! 4. Requests podwall made, per minute, from the API server's own `/metrics`
//!    (`apiserver_flowcontrol_dispatched_requests_total{flow_schema="podwall"}`), with 1
//!    and then with `PODWALL_BIG_PAGES` open pages (default 500 `/events` streams).
//! 5. A forced re-list: etcd compacted, the API server restarted; the time until podwall
//!    has listed again and is ready, and its peak RSS across it.
//!
//! Then the same against `podwall sim` with the same nodes and pods, churning at the rate
//! of pod changes the real run showed, its re-list forced by `/_sim/faults/restart`; the
//! sim counts requests itself (`/_sim/state` → `traffic`).
//!
//! `cargo bench --bench big_cluster` (not part of `cargo test`: it needs
//! `scripts/test-kwok build` and, at full size, most of an hour). Smaller:
//! `PODWALL_BIG_NODES=100 PODWALL_BIG_PODS=10000 cargo bench --bench big_cluster`.
//! Results and what they mean: BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use parking_lot::Mutex;
use serde_json::json;
use testkit::bench::{Server, Workspace, block_on, percentile};
use testkit::kwok::{Day, KwokCluster, Workload, settle};
use testkit::{SimSpec, SseClient};
use tokio_util::sync::CancellationToken;

/// The probe pod and the label each probe writes.
const PROBE_NS: &str = "podwall-probe";
const PROBE_POD: &str = "probe";
const PROBE_LABEL: &str = "podwall-bench/probe";
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// The sim's churn before it is matched to the real run's rate of changes.
const SIM_START_RATE: f64 = 10.0;

struct Params {
    nodes: usize,
    pods: usize,
    pages: usize,
    /// Each measuring window (1 page, then many).
    window: Duration,
}

impl Params {
    fn from_env() -> Self {
        use testkit::setting;
        Self {
            nodes: setting("PODWALL_BIG_NODES").unwrap_or(1_000),
            pods: setting("PODWALL_BIG_PODS").unwrap_or(50_000),
            pages: setting("PODWALL_BIG_PAGES").unwrap_or(500),
            window: Duration::from_secs(setting("PODWALL_BIG_WINDOW_SECS").unwrap_or(60)),
        }
    }
}

/// What one run measured against one API server.
#[derive(Debug, Default)]
struct Outcome {
    first_sync: Duration,
    /// `/api/snapshot` after the sync: pods, warnings, JSON bytes.
    snapshot: (usize, usize, usize),
    requests_to_sync: f64,
    watches_1: f64,
    watches_many: f64,
    rss_synced_kib: u64,
    peak_sync_kib: u64,
    latency_ms: Vec<f64>,
    probes_sent: usize,
    changes_per_s: f64,
    requests_per_min_1: f64,
    requests_per_min_many: f64,
    relist: Duration,
    server_back: Duration,
    peak_relist_kib: u64,
    rss_after_relist_kib: u64,
}

/// The probes: how many were written, those not seen yet (by number, with the time just
/// before their write), and the latencies of those seen.
#[derive(Default)]
struct Probes {
    written: usize,
    unseen: BTreeMap<usize, Instant>,
    latency_ms: Vec<f64>,
}

/// The API server podwall runs against, as the bench sees it.
enum Target<'a> {
    Real(&'a KwokCluster, kube::Client),
    Sim(&'a testkit::bench::Sim),
}

impl Target<'_> {
    /// Requests podwall has made so far, by the server's own count.
    async fn podwall_requests(&self, http: &reqwest::Client) -> f64 {
        match self {
            Target::Real(kwok, client) => {
                kwok.apiserver_metric(
                    client,
                    "apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"podwall\"",
                    "",
                )
                .await
            }
            // The bench's own probe writes are the sim's only writes; podwall only reads.
            Target::Sim(sim) => {
                let t = &sim.state(http).await["traffic"];
                ["lists", "watches", "gets"]
                    .iter()
                    .map(|k| t[k].as_f64().unwrap_or(0.0))
                    .sum()
            }
        }
    }

    /// Watches open on the server, everyone's (the difference podwall makes is measured).
    async fn open_watches(&self, http: &reqwest::Client) -> f64 {
        match self {
            Target::Real(kwok, client) => {
                kwok.apiserver_metric(client, "apiserver_longrunning_requests{", "verb=\"WATCH\"")
                    .await
            }
            Target::Sim(sim) => sim.state(http).await["traffic"]["openWatches"]
                .as_f64()
                .unwrap_or(0.0),
        }
    }

    /// Forces every watcher to re-list.
    async fn force_relist(&self, http: &reqwest::Client) {
        match self {
            Target::Real(kwok, _) => {
                kwok.run(&["compact"]).await;
                kwok.run(&["restart-apiserver"]).await;
            }
            Target::Sim(sim) => sim.control(http, "faults/restart").await,
        }
    }
}

fn main() {
    let params = Params::from_env();
    block_on(async {
        let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
        let http = work.http.clone();
        eprintln!(
            "big cluster: {} nodes, ~{} pods, {} pages, {:?} windows",
            params.nodes, params.pods, params.pages, params.window
        );

        // ---- the real control plane, its controllers and KWOK ----
        let t0 = Instant::now();
        // A 1,000-node KWOK on two busy cores renews leases late enough, now and then, for
        // a 20 s grace period to mark nodes NotReady and evict their pods; production's is
        // 50 s. The silent node of the working day takes a minute to notice.
        let grace = std::env::var("PODWALL_KWOK_GRACE").unwrap_or_else(|_| "60".into());
        let kwok = KwokCluster::start_with(params.nodes, &[("PODWALL_KWOK_GRACE", &grace)]).await;
        let cluster_up = t0.elapsed();
        let client = kwok.client().await;
        let workload = Workload::sized(params.nodes, params.pods);
        let t1 = Instant::now();
        workload.create(&client).await;
        let phases = settle(&client, workload.pods(), Duration::from_secs(90 * 60)).await;
        let settled = t1.elapsed();
        let components = kwok.rss().await;
        eprintln!(
            "cluster up in {cluster_up:.0?}; {} pods settled in {settled:.0?}: {phases:?}; RSS KiB {components:?}",
            workload.pods()
        );
        create_probe_pod(&client).await;
        let kubeconfig = kwok.podwall_kubeconfig().await;
        let stop_day = CancellationToken::new();
        let day = working_day(&kwok, &client, &workload, stop_day.clone());
        let target = Target::Real(&kwok, client.clone());
        let measured = measure(
            &work,
            &kubeconfig,
            &target,
            &client,
            &params,
            &http,
            None,
            &stop_day,
        );
        let (real, steps) = tokio::join!(measured, day);
        let components_after = kwok.rss().await;
        let pods_now: usize = kwok.kubectl_statuses().await.values().sum();
        drop(target);
        drop(kwok);

        // ---- the simulator at the same counts, churning at the real run's rate ----
        let sim = work.start_sim(SimSpec {
            nodes: params.nodes,
            pods: pods_now,
            churn: SIM_START_RATE,
            seed: 22,
        });
        let sim_client = testkit::client_from(&sim.kubeconfig).await;
        create_probe_pod(&sim_client).await;
        let target = Target::Sim(&sim);
        let simulated = measure(
            &work,
            &sim.kubeconfig,
            &target,
            &sim_client,
            &params,
            &http,
            Some(real.changes_per_s),
            &CancellationToken::new(),
        )
        .await;

        report(
            &params,
            &workload,
            &phases,
            cluster_up,
            settled,
            &components,
            &components_after,
            &steps,
            pods_now,
            &real,
            &simulated,
        );
    });
}

/// The probe pod, in a namespace of its own (created through the API like any pod).
async fn create_probe_pod(client: &kube::Client) {
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": PROBE_NS}})).expect("namespace");
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": PROBE_POD, "labels": {PROBE_LABEL: "none"}},
        "spec": {"containers": [{"name": "probe", "image": "registry.example/probe:1"}]},
    }))
    .expect("pod");
    let _ = Api::<Pod>::namespaced(client.clone(), PROBE_NS)
        .create(&PostParams::default(), &pod)
        .await;
}

/// Runs podwall against `kubeconfig` and measures it (module docs, steps 2-5); cancels
/// `churn_done` before forcing the re-list.
#[allow(clippy::too_many_arguments)]
async fn measure(
    work: &Workspace,
    kubeconfig: &std::path::Path,
    target: &Target<'_>,
    client: &kube::Client,
    params: &Params,
    http: &reqwest::Client,
    match_rate: Option<f64>,
    churn_done: &CancellationToken,
) -> Outcome {
    let mut out = Outcome::default();
    let requests_before = target.podwall_requests(http).await;
    let watches_before = target.open_watches(http).await;
    let started = Instant::now();
    let mut server = work.spawn_server_at(kubeconfig, None);
    server.ready(http).await;
    out.first_sync = started.elapsed();
    out.requests_to_sync = target.podwall_requests(http).await - requests_before;
    out.peak_sync_kib = server.proc.memory().hwm_kib;
    out.rss_synced_kib = server.proc.settled_memory().rss_kib;
    // What the views hold, to explain the memory: the snapshot podwall serves.
    let body = testkit::bench::get_ok(&format!("{}/api/snapshot", server.url()))
        .await
        .bytes()
        .await
        .expect("the snapshot");
    let snap: serde_json::Value = serde_json::from_slice(&body).expect("snapshot JSON");
    let count = |k: &str| snap[k].as_array().map_or(0, Vec::len);
    out.snapshot = (count("pods"), count("warnings"), body.len());
    eprintln!(
        "podwall synced in {:.1?}, RSS {} MiB (peak {} MiB)",
        out.first_sync,
        out.rss_synced_kib / 1024,
        out.peak_sync_kib / 1024
    );

    let probes = Arc::new(Mutex::new(Probes::default()));
    let changes = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen(
        SseClient::open(http, &format!("{}/api/events", server.url()), None).await,
        probes.clone(),
        changes.clone(),
        stop.clone(),
    ));
    let prober = probe(client.clone(), probes.clone(), stop.clone());
    let windows = async {
        if let (Target::Sim(sim), Some(goal)) = (target, match_rate) {
            // The sim's churn rate counts its own steps, not the changes a client sees:
            // measure the ratio and set the rate that gives the real run's changes/s,
            // twice (the ratio is not quite constant).
            let probes = 1.0 / PROBE_EVERY.as_secs_f64();
            let mut rate = SIM_START_RATE;
            for _ in 0..2 {
                let n0 = changes.load(Ordering::Relaxed);
                let t = Instant::now();
                tokio::time::sleep(Duration::from_secs(15)).await;
                let seen =
                    (changes.load(Ordering::Relaxed) - n0) as f64 / t.elapsed().as_secs_f64();
                let next = rate * (goal - probes).max(0.5) / (seen - probes).max(0.5);
                eprintln!("sim: {seen:.1} changes/s at churn {rate:.1}; churn set to {next:.1}");
                rate = next;
                sim.set_churn(http, rate).await;
            }
        }
        let c0 = target.podwall_requests(http).await;
        let n0 = changes.load(Ordering::Relaxed);
        let t = Instant::now();
        tokio::time::sleep(params.window).await;
        let minutes = t.elapsed().as_secs_f64() / 60.0;
        out.requests_per_min_1 = (target.podwall_requests(http).await - c0) / minutes;
        out.watches_1 = target.open_watches(http).await - watches_before;
        out.changes_per_s =
            (changes.load(Ordering::Relaxed) - n0) as f64 / t.elapsed().as_secs_f64();
        let pages = open_pages(&server, params.pages).await;
        let c1 = target.podwall_requests(http).await;
        let t = Instant::now();
        tokio::time::sleep(params.window).await;
        out.requests_per_min_many =
            (target.podwall_requests(http).await - c1) / (t.elapsed().as_secs_f64() / 60.0);
        out.watches_many = target.open_watches(http).await - watches_before;
        pages.cancel();
    };
    tokio::join!(prober, async {
        windows.await;
        stop.cancel();
    });
    // The working day stops before the API server does (its writes would fail).
    churn_done.cancel();
    let _ = listener.await;
    {
        let p = probes.lock();
        out.probes_sent = p.written;
        out.latency_ms = p.latency_ms.clone();
    }
    out.latency_ms.sort_by(f64::total_cmp);

    // The forced re-list: podwall's own counter of full lists says when it happened.
    let lists = r#"podwall_lists_total{kind="pod"}"#;
    let lists_before = server.metric(http, lists).await;
    server.proc.reset_peak();
    let t = Instant::now();
    target.force_relist(http).await;
    out.server_back = t.elapsed();
    relisted(&mut server, http, lists, lists_before).await;
    out.relist = t.elapsed();
    out.peak_relist_kib = server.proc.memory().hwm_kib;
    out.rss_after_relist_kib = server.proc.settled_memory().rss_kib;
    eprintln!(
        "re-listed {:.1?} after the forced re-list began; peak {} MiB",
        out.relist,
        out.peak_relist_kib / 1024
    );
    out
}

/// Waits until podwall has listed pods again and is ready.
async fn relisted(server: &mut Server, http: &reqwest::Client, lists: &str, before: f64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while server.metric(http, lists).await <= before {
        assert!(
            Instant::now() < deadline,
            "podwall did not re-list in 10 min"
        );
        server.proc.assert_alive();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.ready(http).await;
}

/// Reads one `/api/events` stream: counts pod changes, notes when each probe arrives.
async fn listen(
    mut events: SseClient,
    probes: Arc<Mutex<Probes>>,
    changes: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    let marker = format!("\"{PROBE_LABEL}\":\"");
    loop {
        let ev = tokio::select! {
            ev = events.next_within(Duration::from_secs(1)) => ev,
            () = stop.cancelled() => return,
        };
        let Some(ev) = ev else { continue };
        if ev.event == "upsert" || ev.event == "delete" {
            changes.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(at) = ev.data.find(&marker) {
            let digits: String = ev.data[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                let now = Instant::now();
                let mut p = probes.lock();
                if let Some(sent) = p.unseen.remove(&n) {
                    let ms = now.duration_since(sent).as_secs_f64() * 1000.0;
                    p.latency_ms.push(ms);
                }
            }
        }
    }
}

/// Patches the probe label every [`PROBE_EVERY`] until `stop`.
async fn probe(client: kube::Client, probes: Arc<Mutex<Probes>>, stop: CancellationToken) {
    let api = Api::<Pod>::namespaced(client, PROBE_NS);
    let mut n = 0usize;
    let mut tick = tokio::time::interval(PROBE_EVERY);
    while !stop.is_cancelled() {
        tick.tick().await;
        n += 1;
        let patch = json!({"metadata": {"labels": {PROBE_LABEL: n.to_string()}}});
        probes.lock().unseen.insert(n, Instant::now());
        let written = api
            .patch(PROBE_POD, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .is_ok();
        let mut p = probes.lock();
        if written {
            p.written += 1;
        } else {
            p.unseen.remove(&n);
        }
    }
}

/// Opens `n` `/events` streams (the page's own) and keeps reading them until cancelled.
async fn open_pages(server: &Server, n: usize) -> CancellationToken {
    let stop = CancellationToken::new();
    for _ in 0..n {
        let conn = testkit::wire::SseConn::open(
            server.addr,
            "/events",
            None,
            Some(testkit::wire::BROWSER_ACCEPT_ENCODING),
        )
        .await;
        let Ok(mut conn) = conn else {
            panic!("could not open a page stream");
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = conn.drain() => {}
                () = stop.cancelled() => {}
            }
        });
    }
    stop
}

/// The working day on the real cluster until `stop`: a step every 15 s, in a cycle.
async fn working_day(
    kwok: &KwokCluster,
    client: &kube::Client,
    workload: &Workload,
    stop: CancellationToken,
) -> Vec<String> {
    let mut day = Day::new(client.clone());
    let mut steps = Vec::new();
    let mut silent: Option<String> = None;
    for i in 0usize.. {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(15)) => {}
            () = stop.cancelled() => break,
        }
        let (ns, name, replicas) = &workload.deployments[i % workload.deployments.len()];
        let what = match i % 6 {
            0 => day.rollout(ns, name).await.what,
            1 => day.scale(ns, name, replicas + replicas / 10).await.what,
            2 => {
                let node = format!("kwok-node-{:04}", 1 + (i * 7) % workload.nodes);
                kwok.silence(&node).await;
                silent = Some(node.clone());
                format!("silence {node}")
            }
            3 => {
                day.drain(&format!("kwok-node-{:04}", 2 + (i * 11) % workload.nodes))
                    .await
                    .what
            }
            4 => day.scale(ns, name, *replicas).await.what,
            _ => match silent.take() {
                Some(node) => {
                    kwok.revive(&node).await;
                    format!("revive {node}")
                }
                None => continue,
            },
        };
        eprintln!("day: {what}");
        steps.push(what);
    }
    steps
}

#[allow(clippy::too_many_arguments)]
fn report(
    params: &Params,
    workload: &Workload,
    phases: &BTreeMap<String, usize>,
    cluster_up: Duration,
    settled: Duration,
    components: &BTreeMap<String, u64>,
    components_after: &BTreeMap<String, u64>,
    steps: &[String],
    pods_now: usize,
    real: &Outcome,
    sim: &Outcome,
) {
    let mib = |kib: u64| format!("{:.0} MiB", kib as f64 / 1024.0);
    let p = |o: &Outcome, q: f64| {
        if o.latency_ms.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0} ms", percentile(&o.latency_ms, q))
        }
    };
    println!();
    println!(
        "## big_cluster: {} nodes, {} pods ({} at the end), {} pages",
        params.nodes,
        workload.pods(),
        pods_now,
        params.pages
    );
    println!("cluster up {cluster_up:.0?}, pods settled in {settled:.0?}: {phases:?}");
    let rss = |of: &BTreeMap<String, u64>| {
        of.iter()
            .map(|(k, v)| format!("{k} {}", mib(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("components RSS after settling: {}", rss(components));
    println!("components RSS at the end:     {}", rss(components_after));
    println!("working day: {}", steps.join("; "));
    println!();
    println!("| podwall | real control plane + KWOK | simulator |");
    println!("|---|---|---|");
    // One line per measure: the real run's value, then the simulator's.
    let row = |what: &str, value: &dyn Fn(&Outcome) -> String| {
        println!("| {what} | {} | {} |", value(real), value(sim));
    };
    let pages = params.pages;
    row("first sync (start → /readyz)", &|o| {
        format!("{:.1?}", o.first_sync)
    });
    row("RSS synced (peak while syncing)", &|o| {
        format!("{} ({})", mib(o.rss_synced_kib), mib(o.peak_sync_kib))
    });
    row(
        "/api/snapshot after the sync: pods, warnings, bytes per pod",
        &|o| {
            let (pods, warnings, bytes) = o.snapshot;
            format!("{pods}, {warnings}, {}", bytes / pods.max(1))
        },
    );
    row("pod changes/s seen under churn", &|o| {
        format!("{:.1}", o.changes_per_s)
    });
    row("write → /api/events p50", &|o| p(o, 0.50));
    row("write → /api/events p99", &|o| p(o, 0.99));
    row("probes seen / sent", &|o| {
        format!("{} / {}", o.latency_ms.len(), o.probes_sent)
    });
    row("requests to sync (lists, watches)", &|o| {
        format!("{:.0}", o.requests_to_sync)
    });
    row("watches held, 1 page", &|o| format!("{:.0}", o.watches_1));
    row(&format!("watches held, {pages} pages"), &|o| {
        format!("{:.0}", o.watches_many)
    });
    row("requests/min, 1 page", &|o| {
        format!("{:.1}", o.requests_per_min_1)
    });
    row(&format!("requests/min, {pages} pages"), &|o| {
        format!("{:.1}", o.requests_per_min_many)
    });
    row(
        "forced re-list: API server back / podwall re-listed and ready",
        &|o| format!("{:.1?} / {:.1?}", o.server_back, o.relist),
    );
    row("peak RSS across the re-list", &|o| mib(o.peak_relist_kib));
    row("RSS after the re-list", &|o| mib(o.rss_after_relist_kib));
}
