//! The convergence property under random faults, per seed: a simulator churning hard
//! (pods and nodes added, changed, rebound, deleted), random API server faults (cut
//! watches, compaction → 410, 500/429 bursts, restart with a new history, stalled
//! streams, 403), and SSE clients that disconnect and resume with `Last-Event-ID` at
//! random moments. Warning events come and go meanwhile (about pods, nodes, other objects
//! and pods not seen yet; handed to the cache as its events watch would, until the
//! simulator serves events). After the churn stops and faults clear:
//! - `/api/snapshot` equals the simulator's own truth, object by object (listed with a
//!   real kube client and put through the same view derivation);
//! - every client's state (its last reset plus the diffs it applied), warnings included,
//!   equals the snapshot.
//!
//! Every third seed (1, 4, 7, …) also runs the ring phase after its faults: at ten times
//! the churn, one client stays away until more than the ring's 4,096 changes have passed
//! and must get a `reset` when it resumes.
//!
//! Every injected fault is logged with its seed and step (`tracing` at info, and printed
//! with the whole schedule when a seed fails), so a failure can be replayed from its log.
//!
//! Seeds: 6 by default; `PODWALL_SOAK_SEEDS=200` for a soak, `PODWALL_SEED=n` to replay
//! one. `PODWALL_CHURN_SECS` changes how long each seed churns (default 3). The seed
//! fixes the cluster, the churn, the fault schedule and client behaviour; thread timing
//! still varies between runs, so a replay explores the same schedule, not the same
//! interleaving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Api;
use parking_lot::Mutex;
use podwall::RING_CAPACITY;
use podwall::sim::{ErrorKind, Resource, SimHandle};
use podwall::{NodeFields, PodFields};
use podwall::{NodeView, PodView};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use testkit::{Model, SseClient, SseEvent, Stack};
use tokio_util::sync::CancellationToken;

/// How long the system gets to settle after the churn stops (watch backoff can reach
/// tens of seconds after a burst of errors).
const SETTLE: Duration = Duration::from_secs(90);

/// Queries of the clients: most unfiltered (so every change is visible and sequence
/// gaps are errors), some filtered.
const CLIENT_QUERIES: [&str; 5] = ["", "", "", "?ns=web,payments", "?q=a&node=worker"];

fn seeds() -> Vec<u64> {
    if let Some(seed) = testkit::setting("PODWALL_SEED") {
        return vec![seed];
    }
    let count: u64 = testkit::setting("PODWALL_SOAK_SEEDS").unwrap_or(6);
    (1..=count).collect()
}

fn churn_time() -> Duration {
    let secs = testkit::setting::<f64>("PODWALL_CHURN_SECS")
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Churn of the ring phase: ten times the normal, so 4,096 changes pass in seconds.
const RING_CHURN: f64 = 4000.0;

/// How long the ring phase may take to push the ring past the sleeping client.
const RING_DEADLINE: Duration = Duration::from_secs(60);

/// Whether `seed` runs the ring phase (a property of the seed, so a replay does too).
fn ring_phase_for(seed: u64) -> bool {
    seed % 3 == 1
}

/// The faults injected so far in one seed, one line each with seed and step.
#[derive(Clone, Default)]
struct FaultLog(Arc<Mutex<Vec<String>>>);

impl FaultLog {
    /// Records (and logs) fault `step` of `seed`.
    fn record(&self, seed: u64, step: u64, started: Instant, fault: &str) {
        let at_ms = started.elapsed().as_millis() as u64;
        tracing::info!(seed, step, at_ms, fault, "injected fault");
        self.0.lock().push(format!(
            "seed={seed} step={step} at_ms={at_ms} fault={fault}"
        ));
    }
}

/// Prints the seed and its fault schedule when a check panics, so the failure can be
/// replayed.
struct SeedReport(u64, FaultLog);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("faults of seed {}:\n{}", self.0, self.1.0.lock().join("\n"));
            eprintln!(
                "convergence failed for seed {0}; replay with PODWALL_SEED={0} cargo test --test robust convergence:: -- --nocapture",
                self.0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_and_the_snapshot_converge_to_the_truth_under_random_faults() {
    testkit::init();
    let mut totals = Totals::default();
    let started = Instant::now();
    for seed in seeds() {
        let log = FaultLog::default();
        let report = SeedReport(seed, log.clone());
        let stats = run_seed(seed, &log).await;
        eprintln!("seed {seed}: {stats:?}");
        totals.add(&stats);
        drop(report);
    }
    eprintln!("all seeds in {:?}: {totals:?}", started.elapsed());
    assert!(
        totals.faults > 0 && totals.resumes > 0,
        "faults and resumes happened"
    );
    if seeds().iter().any(|s| ring_phase_for(*s)) {
        assert!(totals.ring_resets > 0, "the ring phase ran: {totals:?}");
    }
}

/// What one seed exercised.
#[derive(Debug, Default)]
struct Totals {
    seeds: u64,
    faults: u64,
    changes: u64,
    events: u64,
    resumes: u64,
    resets: u64,
    /// Resumes from beyond the ring answered with a reset.
    ring_resets: u64,
    pods: usize,
    nodes: usize,
    settle_ms: u128,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.seeds += o.seeds;
        self.faults += o.faults;
        self.changes += o.changes;
        self.events += o.events;
        self.resumes += o.resumes;
        self.resets += o.resets;
        self.ring_resets += o.ring_resets;
        self.pods += o.pods;
        self.nodes += o.nodes;
        self.settle_ms = self.settle_ms.max(o.settle_ms);
    }
}

async fn run_seed(seed: u64, log: &FaultLog) -> Totals {
    let stack = Stack::builder().nodes(6).pods(60).seed(seed).start().await;
    let sim = stack.sim().handle();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stop = CancellationToken::new();
    let clients: Vec<_> = CLIENT_QUERIES
        .iter()
        .map(|q| {
            let client = Client::new(q);
            let url = stack.url();
            let rng = ChaCha8Rng::seed_from_u64(rng.random());
            tokio::spawn(client.run(url, rng, stop.clone()))
        })
        .collect();

    let seq_before = stack.server().cache().position().seq;
    let started = Instant::now();
    let mut step = 0;
    sim.set_churn(400.0);
    let warner = {
        let cache = stack.server().cache().clone();
        let rng = ChaCha8Rng::seed_from_u64(rng.random());
        tokio::spawn(warn_randomly(cache, rng, stop.clone()))
    };
    inject_faults(
        &sim,
        &mut rng,
        churn_time(),
        (seed, &mut step, started, log),
    )
    .await;
    let ring = if ring_phase_for(seed) {
        Some(ring_phase(&stack, &sim, &mut rng, seed).await)
    } else {
        None
    };
    let faults = step;
    sim.set_churn(0.0);
    sim.clear();
    stop.cancel();
    warner.await.expect("warnings task");
    let mut clients_done = Vec::new();
    for c in clients {
        match c.await.expect("client task") {
            Ok(c) => clients_done.push(c),
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }

    let settle_start = Instant::now();
    let snap = settle(&stack, seed).await;
    let settle_ms = settle_start.elapsed().as_millis();
    let mut totals = Totals {
        seeds: 1,
        faults,
        changes: stack.server().cache().position().seq - seq_before,
        pods: snap.pods.len(),
        nodes: snap.nodes.len(),
        settle_ms,
        ..Totals::default()
    };
    for c in clients_done {
        totals.events += c.events;
        totals.resumes += c.resumes;
        totals.resets += c.resets;
        c.converge(&stack, seed).await;
    }
    if let Some(sleeper) = ring {
        totals.ring_resets += 1;
        totals.events += sleeper.events;
        totals.resumes += sleeper.resumes;
        totals.resets += sleeper.resets;
        sleeper.converge(&stack, seed).await;
    }
    totals
}

/// Warning events every few milliseconds until `stop`: about a pod of the cache (some of
/// them later deleted with their event or with the pod), a node, a Deployment, a pod not
/// seen yet.
async fn warn_randomly(
    cache: Arc<podwall::Cache<podwall::Frames>>,
    mut rng: ChaCha8Rng,
    stop: CancellationToken,
) {
    use podwall::Sink;
    use podwall::fixtures::{events_scope, warning_event};
    let mut sent: Vec<Value> = Vec::new();
    while !stop.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..60))).await;
        let snap = cache.snapshot(&podwall::Filter::default());
        let event = match rng.random_range(0..5) {
            0 | 1 if !snap.pods.is_empty() => {
                let p = &snap.pods[rng.random_range(0..snap.pods.len())];
                warning_event(
                    "Pod",
                    &p.namespace,
                    &p.name,
                    "BackOff",
                    "Back-off restarting",
                )
            }
            2 if !snap.nodes.is_empty() => {
                let n = &snap.nodes[rng.random_range(0..snap.nodes.len())];
                warning_event("Node", "", &n.name, "NodeNotReady", "Node is not ready")
            }
            3 => warning_event("Deployment", "web", "web", "FailedCreate", "quota exceeded"),
            _ => warning_event(
                "Pod",
                "web",
                &format!("later-{}", rng.random_range(0..20)),
                "FailedScheduling",
                "0/6 nodes are available",
            ),
        };
        let feed = |e: &Value, delete: bool| {
            let fields: podwall::EventFields = serde_json::from_value(e.clone()).expect("event");
            let event = if delete {
                kube::runtime::watcher::Event::Delete(fields)
            } else {
                kube::runtime::watcher::Event::Apply(fields)
            };
            cache.warnings(&events_scope(), event);
        };
        feed(&event, false);
        sent.push(event);
        if rng.random_bool(0.3) && !sent.is_empty() {
            let gone = sent.swap_remove(rng.random_range(0..sent.len()));
            feed(&gone, true);
        }
    }
}

/// Where fault steps are counted and logged: seed, step counter, start, log.
type Steps<'a> = (u64, &'a mut u64, Instant, &'a FaultLog);

/// At [`RING_CHURN`], right after the faults: a client away for more than the ring's worth
/// of changes resumes and must get a reset; returns it, ready to converge.
async fn ring_phase(stack: &Stack, sim: &SimHandle, rng: &mut ChaCha8Rng, seed: u64) -> Client {
    let url = stack.url();
    let mut sleeper = Client::new("");
    let mut sse = sleeper
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    for _ in 0..rng.random_range(1..20) {
        match sse.next_within(Duration::from_millis(200)).await {
            Some(ev) => sleeper
                .apply(&ev)
                .unwrap_or_else(|e| panic!("seed {seed}: sleeper: {e}")),
            None => break,
        }
    }
    drop(sse);
    assert!(
        sleeper.last_id.is_some(),
        "seed {seed}: the sleeper got its reset"
    );
    let away_from = sleeper.model.seq;

    sim.set_churn(RING_CHURN);
    let target = away_from + RING_CAPACITY as u64 + 64;
    let phase_start = Instant::now();
    while stack.server().cache().position().seq < target {
        assert!(
            phase_start.elapsed() < RING_DEADLINE,
            "seed {seed}: {} changes did not pass within {RING_DEADLINE:?} (seq {} of {target})",
            target - away_from,
            stack.server().cache().position().seq
        );
        // No faults here: they would hold the watch in backoff while the ring should fill.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.set_churn(400.0);

    // The sleeper's position left the ring long ago: it must start over.
    let mut sse = sleeper
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let ev = sse.next().await;
    assert_eq!(
        ev.event, "reset",
        "seed {seed}: a resume from seq {away_from}, more than {RING_CAPACITY} changes ago, gets a reset"
    );
    sleeper
        .apply(&ev)
        .unwrap_or_else(|e| panic!("seed {seed}: sleeper: {e}"));

    sleeper
}

/// Injects random faults until `duration` has passed, counting and logging each step.
async fn inject_faults(
    sim: &SimHandle,
    rng: &mut ChaCha8Rng,
    duration: Duration,
    steps: Steps<'_>,
) {
    let (seed, step, started, log) = steps;
    let end = Instant::now() + duration;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        *step += 1;
        let record = |fault: &str| log.record(seed, *step, started, fault);
        match rng.random_range(0..8) {
            0 | 1 => {
                record("cut-watches");
                sim.cut_watches();
            }
            2 => {
                record("compact+cut");
                sim.compact();
                sim.cut_watches();
            }
            3 => {
                let count = rng.random_range(1..4);
                record(&format!("errors code=500 count={count}"));
                sim.fail_requests(ErrorKind::Internal, Some(count), None);
            }
            4 => {
                let count = rng.random_range(1..4);
                record(&format!("errors code=429 count={count}"));
                sim.fail_requests(ErrorKind::TooManyRequests, Some(count), None);
            }
            5 => {
                record("restart");
                sim.restart();
            }
            6 => {
                // Changes made during a stall reach the wall only through a resume or re-list.
                let stall_ms = rng.random_range(100..600);
                // Often the history is gone by then too: only a re-list sees deletions.
                let after = rng.random_range(0..3);
                record(&format!(
                    "stall ms={stall_ms} then={}",
                    ["compact+cut", "restart", "clear"][after]
                ));
                sim.stall();
                tokio::time::sleep(Duration::from_millis(stall_ms)).await;
                match after {
                    0 => {
                        sim.compact();
                        sim.cut_watches();
                    }
                    1 => sim.restart(),
                    _ => {}
                }
                sim.clear();
            }
            _ => {
                let resource = if rng.random_bool(0.5) {
                    Resource::Pods
                } else {
                    Resource::Nodes
                };
                let forbid_ms = rng.random_range(100..400);
                record(&format!(
                    "forbid resource={} ms={forbid_ms}",
                    resource.plural()
                ));
                sim.forbid(resource);
                tokio::time::sleep(Duration::from_millis(forbid_ms)).await;
                sim.clear();
            }
        }
    }
}

/// Waits until `/api/snapshot` equals the simulator's truth and the API server status
/// is ok again; returns that snapshot.
async fn settle(stack: &Stack, seed: u64) -> podwall::Snapshot {
    let start = Instant::now();
    loop {
        let truth = truth(stack).await;
        let snap = stack.snapshot("").await;
        let wall = Objects::from_snapshot(&snap);
        if let Some(truth) = &truth
            && *truth == wall
            && snap["apiserver"]["apiserver"] == "ok"
        {
            return stack.server().cache().snapshot(&podwall::Filter::default());
        }
        if start.elapsed() > SETTLE {
            let diff = truth.as_ref().map_or_else(
                || "truth unavailable".to_owned(),
                |t| t.diff(&wall, "truth", "wall"),
            );
            panic!(
                "seed {seed}: /api/snapshot did not converge to the simulator's truth within {SETTLE:?} (apiserver {}): {diff}",
                snap["apiserver"]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Objects keyed by identity, as JSON views.
#[derive(Debug, PartialEq, Eq)]
struct Objects {
    pods: BTreeMap<String, Value>,
    nodes: BTreeMap<String, Value>,
}

impl Objects {
    /// The views without `warning`: the simulator's truth knows no warnings (the
    /// clients' models are compared with the snapshot, warnings included).
    fn from_snapshot(snap: &Value) -> Self {
        let m = Model::from_snapshot(snap);
        let strip = |views: BTreeMap<String, Value>| {
            views
                .into_iter()
                .map(|(k, mut v)| {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("warning");
                    }
                    (k, v)
                })
                .collect()
        };
        Self {
            pods: strip(m.pods),
            nodes: strip(m.nodes),
        }
    }

    /// Up to ten differences, `self` being `a` and `other` being `b`.
    fn diff(&self, other: &Objects, a_name: &str, b_name: &str) -> String {
        let mut out = Vec::new();
        for (what, a, b) in [
            ("pod", &self.pods, &other.pods),
            ("node", &self.nodes, &other.nodes),
        ] {
            for (k, v) in a {
                match b.get(k) {
                    None => out.push(format!("{what} {k} missing in {b_name}")),
                    Some(w) if w != v => {
                        out.push(format!("{what} {k}: {a_name} {v}, {b_name} {w}"))
                    }
                    _ => {}
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{what} {k} in {b_name} but not in {a_name}"));
            }
        }
        out.truncate(10);
        out.join("\n")
    }
}

/// The simulator's own state, put through the wall's view derivation; `None` while the
/// simulator refuses (a fault still clearing).
async fn truth(stack: &Stack) -> Option<Objects> {
    let client = stack.kube();
    let pods = Api::<PodFields>::all(client.clone())
        .list(&Default::default())
        .await
        .ok()?;
    let nodes = Api::<NodeFields>::all(client)
        .list(&Default::default())
        .await
        .ok()?;
    Some(Objects {
        pods: pods
            .items
            .iter()
            .filter_map(|p| PodView::from_fields(p).ok())
            .map(|v| (v.key(), json(&v)))
            .collect(),
        nodes: nodes
            .items
            .iter()
            .filter_map(|n| NodeView::from_fields(n).ok())
            .map(|v| (v.name.to_string(), json(&v)))
            .collect(),
    })
}

fn json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("views serialize")
}

/// One SSE client of `/api/events` that comes and goes.
struct Client {
    query: &'static str,
    model: Model,
    last_id: Option<String>,
    events: u64,
    resumes: u64,
    resets: u64,
}

impl Client {
    fn new(query: &'static str) -> Self {
        Self {
            query,
            model: Model::default(),
            last_id: None,
            events: 0,
            resumes: 0,
            resets: 0,
        }
    }

    fn unfiltered(&self) -> bool {
        self.query.is_empty()
    }

    async fn connect(&mut self, url: &str) -> Result<SseClient, String> {
        let mut req = reqwest::Client::new().get(format!("{url}/api/events{}", self.query));
        if let Some(id) = &self.last_id {
            req = req.header("Last-Event-ID", id);
            self.resumes += 1;
        }
        let resp = req.send().await.map_err(|e| format!("connect: {e}"))?;
        if resp.status() != 200 {
            return Err(format!("connect: status {}", resp.status()));
        }
        Ok(SseClient::from_response(resp))
    }

    /// Applies one event, checking ids: same epoch as the last reset, and for unfiltered
    /// clients no gap in the sequence.
    fn apply(&mut self, ev: &SseEvent) -> Result<(), String> {
        let id = ev.id.clone().ok_or_else(|| "event without id".to_owned())?;
        let (epoch, _) = id
            .split_once('-')
            .ok_or_else(|| format!("id {id:?} is not <epoch>-<seq>"))?;
        self.events += 1;
        if ev.event == "reset" {
            self.resets += 1;
        } else {
            let last_epoch = self
                .last_id
                .as_deref()
                .and_then(|l| l.split_once('-'))
                .map(|(e, _)| e);
            if last_epoch != Some(epoch) {
                return Err(format!(
                    "{} {id} follows {:?} without a reset",
                    ev.event, self.last_id
                ));
            }
            let expected = self.model.seq + 1;
            if (self.unfiltered() && ev.seq() != expected) || ev.seq() < expected {
                return Err(format!(
                    "client {:?}: {} {id} after seq {} (gap or repeat)",
                    self.query, ev.event, self.model.seq
                ));
            }
        }
        self.model.apply(ev);
        self.last_id = Some(id);
        Ok(())
    }

    /// Connects, reads for a random while, disconnects, waits a random while; until `stop`.
    async fn run(
        mut self,
        url: String,
        mut rng: ChaCha8Rng,
        stop: CancellationToken,
    ) -> Result<Self, String> {
        while !stop.is_cancelled() {
            let mut sse = self.connect(&url).await?;
            let session_end =
                tokio::time::Instant::now() + Duration::from_millis(rng.random_range(20..800));
            loop {
                let left = session_end.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() || stop.is_cancelled() {
                    break;
                }
                match sse.next_within(left).await {
                    Some(ev) => self.apply(&ev)?,
                    None => break,
                }
            }
            drop(sse);
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))) => {}
            }
        }
        Ok(self)
    }

    /// Resumes once more and reads until the state equals `/api/snapshot` (for unfiltered
    /// clients at the same seq).
    async fn converge(mut self, stack: &Stack, seed: u64) {
        let sse = self
            .connect(&stack.url())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        self.converge_on(sse, stack, seed).await;
    }

    /// Reads `sse` until the state equals `/api/snapshot` (see [`Client::converge`]).
    async fn converge_on(mut self, mut sse: SseClient, stack: &Stack, seed: u64) {
        let start = Instant::now();
        loop {
            let snap = stack.snapshot(self.query).await;
            let want = Model::from_snapshot(&snap);
            let same = self.model.pods == want.pods
                && self.model.nodes == want.nodes
                && self.model.warnings == want.warnings;
            if same && (!self.unfiltered() || self.model.seq == want.seq) {
                return;
            }
            if start.elapsed() > testkit::DEADLINE {
                let mine = Objects {
                    pods: self.model.pods.clone(),
                    nodes: self.model.nodes.clone(),
                };
                panic!(
                    "seed {seed}: client {:?} at seq {} differs from /api/snapshot at seq {}: {}\nwarnings: client {:?}, snapshot {:?}",
                    self.query,
                    self.model.seq,
                    want.seq,
                    Objects::from_snapshot(&snap).diff(&mine, "snapshot", "client"),
                    self.model.warnings.keys().collect::<Vec<_>>(),
                    want.warnings.keys().collect::<Vec<_>>()
                );
            }
            if let Some(ev) = sse.next_within(Duration::from_millis(300)).await {
                self.apply(&ev)
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            }
        }
    }
}
