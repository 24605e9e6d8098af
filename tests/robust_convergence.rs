//! The convergence property under random faults, per seed: a simulator churning hard
//! (pods and nodes added, changed, rebound, deleted), random API server faults (cut
//! watches, compaction → 410, 500/429 bursts, restart with a new history, stalled
//! streams, 403), and SSE clients that disconnect and resume with `Last-Event-ID` at
//! random moments. After the churn stops and faults clear:
//! - `/api/snapshot` equals the simulator's own truth, object by object (listed with a
//!   real kube client and put through the same view derivation);
//! - every client's state (its last reset plus the diffs it applied) equals the snapshot.
//!
//! Seeds: 6 by default; `PODWALL_SOAK_SEEDS=200` for a soak, `PODWALL_SEED=n` to replay
//! one. `PODWALL_CHURN_SECS` changes how long each seed churns (default 3). The seed
//! fixes the cluster, the churn, the fault schedule and client behaviour; thread timing
//! still varies between runs, so a replay explores the same schedule, not the same
//! interleaving.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Model, SseClient, SseEvent, Stack};
use kube::Api;
use podwall::server::{KubeSource, ServeConfig};
use podwall::sim::{ErrorKind, Resource, SimConfig, SimHandle};
use podwall::slim::{NodeFields, PodFields};
use podwall::view::{NodeView, PodView};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long the system gets to settle after the churn stops (watch backoff can reach
/// tens of seconds after a burst of errors).
const SETTLE: Duration = Duration::from_secs(90);

/// Queries of the clients: most unfiltered (so every change is visible and sequence
/// gaps are errors), some filtered.
const CLIENT_QUERIES: [&str; 5] = ["", "", "", "?ns=web,payments", "?q=a&node=worker"];

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("PODWALL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let count = std::env::var("PODWALL_SOAK_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6u64);
    (1..=count).collect()
}

fn churn_time() -> Duration {
    let secs = std::env::var("PODWALL_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Prints the seed when a check panics, so the failure can be replayed.
struct SeedReport(u64);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "convergence failed for seed {0}; replay with PODWALL_SEED={0} cargo test --test robust_convergence -- --nocapture",
                self.0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_and_the_snapshot_converge_to_the_truth_under_random_faults() {
    common::init();
    let mut totals = Totals::default();
    let started = Instant::now();
    for seed in seeds() {
        let report = SeedReport(seed);
        let stats = run_seed(seed).await;
        eprintln!("seed {seed}: {stats:?}");
        totals.add(&stats);
        drop(report);
    }
    eprintln!("all seeds in {:?}: {totals:?}", started.elapsed());
    assert!(
        totals.faults > 0 && totals.resumes > 0,
        "faults and resumes happened"
    );
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
        self.pods += o.pods;
        self.nodes += o.nodes;
        self.settle_ms = self.settle_ms.max(o.settle_ms);
    }
}

async fn start_stack(seed: u64) -> Stack {
    let token = CancellationToken::new();
    let sim = podwall::sim::start(
        SimConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            nodes: 6,
            pods: 60,
            churn: 0.0,
            seed,
        },
        token.clone(),
    )
    .await
    .expect("sim starts");
    let server = podwall::server::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            namespaces: Vec::new(),
            kube: KubeSource::Config(sim.kube_config()),
            auth_token: None,
        },
        token.clone(),
    )
    .await
    .expect("server starts");
    let stack = Stack {
        sim,
        server,
        token,
        http: reqwest::Client::new(),
    };
    stack.wait_ready().await;
    stack
}

async fn run_seed(seed: u64) -> Totals {
    let stack = start_stack(seed).await;
    let sim = stack.sim.handle();
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

    let seq_before = stack.server.cache.position().seq;
    sim.set_churn(400.0);
    let faults = inject_faults(&sim, &mut rng, churn_time()).await;
    sim.set_churn(0.0);
    sim.clear();
    stop.cancel();
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
        changes: stack.server.cache.position().seq - seq_before,
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
    totals
}

/// Injects random faults until `duration` has passed; returns how many.
async fn inject_faults(sim: &SimHandle, rng: &mut ChaCha8Rng, duration: Duration) -> u64 {
    let end = Instant::now() + duration;
    let mut count = 0;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        count += 1;
        match rng.random_range(0..8) {
            0 | 1 => sim.cut_watches(),
            2 => {
                sim.compact();
                sim.cut_watches();
            }
            3 => sim.fail_requests(ErrorKind::Internal, Some(rng.random_range(1..4)), None),
            4 => sim.fail_requests(
                ErrorKind::TooManyRequests,
                Some(rng.random_range(1..4)),
                None,
            ),
            5 => sim.restart(),
            6 => {
                // Changes made during a stall reach the wall only through a resume or re-list.
                sim.stall();
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..600))).await;
                // Often the history is gone by then too: only a re-list sees deletions.
                match rng.random_range(0..3) {
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
                sim.forbid(if rng.random_bool(0.5) {
                    Resource::Pods
                } else {
                    Resource::Nodes
                });
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..400))).await;
                sim.clear();
            }
        }
    }
    count
}

/// Waits until `/api/snapshot` equals the simulator's truth and the API server status
/// is ok again; returns that snapshot.
async fn settle(stack: &Stack, seed: u64) -> podwall::cache::Snapshot {
    let start = Instant::now();
    loop {
        let truth = truth(stack).await;
        let snap = stack.snapshot("").await;
        let wall = Objects::from_snapshot(&snap);
        if let Some(truth) = &truth
            && *truth == wall
            && snap["apiserver"]["apiserver"] == "ok"
        {
            return stack
                .server
                .cache
                .snapshot(&podwall::filter::Filter::default());
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
    fn from_snapshot(snap: &Value) -> Self {
        let m = Model::from_snapshot(snap);
        Self {
            pods: m.pods,
            nodes: m.nodes,
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
        let mut sse = self
            .connect(&stack.url())
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let start = Instant::now();
        loop {
            let snap = stack.snapshot(self.query).await;
            let want = Model::from_snapshot(&snap);
            let same = self.model.pods == want.pods && self.model.nodes == want.nodes;
            if same && (!self.unfiltered() || self.model.seq == want.seq) {
                return;
            }
            if start.elapsed() > common::DEADLINE {
                let mine = Objects {
                    pods: self.model.pods.clone(),
                    nodes: self.model.nodes.clone(),
                };
                panic!(
                    "seed {seed}: client {:?} at seq {} differs from /api/snapshot at seq {}: {}",
                    self.query,
                    self.model.seq,
                    want.seq,
                    Objects::from_snapshot(&snap).diff(&mine, "snapshot", "client")
                );
            }
            if let Some(ev) = sse.next_within(Duration::from_millis(300)).await {
                self.apply(&ev)
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            }
        }
    }
}
