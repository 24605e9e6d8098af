//! API server cost: requests made and watches held against one `podwall sim` by 1 and by
//! 1,000 browsers, for four designs measured one after the other on the same sim:
//!
//! - `podwall`: one `podwall serve` (one list+watch per resource); browsers hold `/events`.
//! - `k8bit`: every browser lists and watches pods and nodes itself (K8bit's design: the
//!   page talks to the API server through `kubectl proxy`).
//! - `poll/browser`: every browser lists pods and nodes every 5 s (a stateless dashboard
//!   backend whose pages poll).
//! - `poll/server`: one backend lists pods and nodes every 5 s and pushes to browsers
//!   (kube-ops-view's design); its API cost does not depend on browsers by construction,
//!   so it runs once.
//!
//! The numbers come from the sim's own counters (`/_sim/state` → `traffic`).
//! `cargo bench --bench apiserver_cost` = full scale; plain `cargo test --all-targets`
//! runs a seconds-long smoke. See BENCHMARKS.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::bench::{Scale, Sim, Workspace};

use testkit::SimSpec;
use tokio::task::JoinSet;

struct Params {
    cluster: SimSpec,
    browsers: [usize; 2],
    warmup: Duration,
    window: Duration,
    poll_every: Duration,
}

impl Params {
    fn of(scale: Scale) -> Self {
        match scale {
            Scale::Full => Self {
                cluster: SimSpec {
                    nodes: 20,
                    pods: 300,
                    churn: 10.0,
                    seed: 9,
                },
                browsers: [1, browsers().unwrap_or(1_000)],
                warmup: Duration::from_secs(10),
                window: Duration::from_secs(20),
                poll_every: Duration::from_secs(5),
            },
            Scale::Quick => Self {
                cluster: SimSpec {
                    nodes: 3,
                    pods: 20,
                    churn: 10.0,
                    seed: 9,
                },
                browsers: [1, 5],
                warmup: Duration::from_secs(1),
                window: Duration::from_secs(2),
                poll_every: Duration::from_millis(500),
            },
        }
    }
}

/// `PODWALL_BENCH_BROWSERS`: the larger number of browsers.
fn browsers() -> Option<usize> {
    testkit::setting("PODWALL_BENCH_BROWSERS")
}

/// The sim's traffic counters.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    requests: u64,
    lists: u64,
    watches: u64,
    open_watches: u64,
}

impl Usage {
    async fn of(sim: &Sim, http: &reqwest::Client) -> Self {
        let state = sim.state(http).await;
        let n = |k: &str| state["traffic"][k].as_u64().unwrap_or(0);
        Self {
            requests: n("requests"),
            lists: n("lists"),
            watches: n("watches"),
            open_watches: n("openWatches"),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            requests: self.requests - before.requests,
            lists: self.lists - before.lists,
            watches: self.watches - before.watches,
            open_watches: self.open_watches,
        }
    }
}

/// One row of the result table.
struct Row {
    design: &'static str,
    browsers: usize,
    setup: Usage,
    steady: Usage,
    window: Duration,
}

impl Row {
    fn per_minute(&self) -> f64 {
        self.steady.requests as f64 * 60.0 / self.window.as_secs_f64()
    }

    fn print(&self) {
        println!(
            "{:>13} | {:>5} browsers | warm-up: {:>5} requests ({} lists, {} watches) | steady: {:>8.1} requests/min ({} lists, {} watches in {:?}) | {:>5} watches held",
            self.design,
            self.browsers,
            self.setup.requests,
            self.setup.lists,
            self.setup.watches,
            self.per_minute(),
            self.steady.lists,
            self.steady.watches,
            self.window,
            self.steady.open_watches,
        );
    }
}

fn main() {
    let scale = Scale::detect();
    let params = Params::of(scale);
    testkit::bench::raise_fd_limit((params.browsers[1] as u64) * 6 + 200);
    testkit::bench::block_on(run(scale, params));
}

async fn run(scale: Scale, params: Params) {
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let http = &work.http;
    println!(
        "apiserver_cost ({}): sim {} nodes / {} pods, churn {}/s, window {:?}, polling every {:?}",
        scale.name(),
        params.cluster.nodes,
        params.cluster.pods,
        params.cluster.churn,
        params.window,
        params.poll_every
    );
    let sim = work.start_sim(params.cluster);
    let mut rows = Vec::new();

    {
        let before = Usage::of(&sim, http).await;
        let server = work.start_server(&sim).await;
        let started = Usage::of(&sim, http).await.since(before);
        println!(
            "podwall serve start-up: {} requests ({} lists, {} watches)",
            started.requests, started.lists, started.watches
        );
        for &browsers in &params.browsers {
            let mut set = JoinSet::new();
            let row = measure("podwall", browsers, &sim, http, &params, || {
                for _ in 0..browsers {
                    set.spawn(hold_stream(server.addr));
                }
            })
            .await;
            rows.push(row);
            set.shutdown().await;
        }
    }
    settle_watches(&sim, http, 0).await;

    for &browsers in &params.browsers {
        let mut set = JoinSet::new();
        let url = sim.url.clone();
        let row = measure("k8bit", browsers, &sim, http, &params, || {
            for _ in 0..browsers {
                set.spawn(k8bit_browser(url.clone()));
            }
        })
        .await;
        rows.push(row);
        set.shutdown().await;
        settle_watches(&sim, http, 0).await;
    }

    for &browsers in &params.browsers {
        let mut set = JoinSet::new();
        let url = sim.url.clone();
        let every = params.poll_every;
        let row = measure("poll/browser", browsers, &sim, http, &params, || {
            for _ in 0..browsers {
                set.spawn(poller(url.clone(), every));
            }
        })
        .await;
        rows.push(row);
        set.shutdown().await;
    }

    {
        let mut set = JoinSet::new();
        let url = sim.url.clone();
        let every = params.poll_every;
        let row = measure("poll/server", 1, &sim, http, &params, || {
            set.spawn(poller(url.clone(), every));
        })
        .await;
        rows.push(row);
        set.shutdown().await;
    }

    for design in ["podwall", "k8bit", "poll/browser"] {
        let of = |b: usize| {
            rows.iter()
                .find(|r| r.design == design && r.browsers == b)
                .expect("measured")
        };
        let (one, many) = (of(params.browsers[0]), of(params.browsers[1]));
        println!(
            "{design:>13}: {} -> {} browsers: steady requests/min {:.1} -> {:.1}, watches held {} -> {}",
            one.browsers,
            many.browsers,
            one.per_minute(),
            many.per_minute(),
            one.steady.open_watches,
            many.steady.open_watches,
        );
    }
    let podwall = |b| {
        rows.iter()
            .find(|r| r.design == "podwall" && r.browsers == b)
            .expect("podwall measured")
    };
    assert_eq!(
        podwall(params.browsers[1]).steady.open_watches,
        podwall(params.browsers[0]).steady.open_watches,
        "podwall holds the same watches whatever the number of browsers"
    );
    assert!(
        rows.iter().any(|r| r.steady.requests > 0),
        "no request counted"
    );
}

/// Starts `browsers` with `start`, waits for their first requests, then counts a window.
async fn measure(
    design: &'static str,
    browsers: usize,
    sim: &Sim,
    http: &reqwest::Client,
    params: &Params,
    start: impl FnOnce(),
) -> Row {
    let before = Usage::of(sim, http).await;
    start();
    // Warm-up: every browser connects (and lists, for the designs that do).
    tokio::time::sleep(params.warmup).await;
    let window_start = Usage::of(sim, http).await;
    let setup = window_start.since(before);
    tokio::time::sleep(params.window).await;
    let steady = Usage::of(sim, http).await.since(window_start);
    let row = Row {
        design,
        browsers,
        setup,
        steady,
        window: params.window,
    };
    row.print();
    row
}

/// Waits until only `expected` watches remain open at the sim.
async fn settle_watches(sim: &Sim, http: &reqwest::Client, expected: u64) {
    let started = Instant::now();
    while Usage::of(sim, http).await.open_watches > expected
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A podwall browser: holds `/events` open and reads it.
async fn hold_stream(addr: SocketAddr) {
    if let Ok(mut conn) = testkit::wire::SseConn::open(addr, "/events", None, None).await {
        conn.drain().await;
    }
}

/// A K8bit browser: lists, then watches from the list's version, pods and nodes.
async fn k8bit_browser(url: String) {
    let http = reqwest::Client::new();
    let mut watches = Vec::new();
    for resource in ["pods", "nodes"] {
        let Some(rv) = list(&http, &url, resource).await else {
            return;
        };
        let watch = format!("{url}/api/v1/{resource}?watch=1&resourceVersion={rv}");
        let Ok(resp) = http.get(watch).send().await else {
            return;
        };
        watches.push(resp);
    }
    // Read both watch streams until they end.
    let reads = watches
        .into_iter()
        .map(|mut resp| async move { while let Ok(Some(_)) = resp.chunk().await {} });
    futures::future::join_all(reads).await;
}

/// Lists a resource; its resourceVersion.
async fn list(http: &reqwest::Client, url: &str, resource: &str) -> Option<String> {
    let body: Value = http
        .get(format!("{url}/api/v1/{resource}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_owned)
}

/// A poller: lists pods and nodes every `every`.
async fn poller(url: String, every: Duration) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for resource in ["pods", "nodes"] {
            let _ = list(&http, &url, resource).await;
        }
    }
}
