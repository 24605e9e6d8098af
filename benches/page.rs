//! The page in headless Chromium (issue 9.5): time to first render, page bytes and DOM size
//! for 1k/5k/20k pods, and long tasks and animation-frame gaps while the cluster changes
//! 500 times a second. `podwall sim` and `podwall serve` run as separate processes.
//!
//! `cargo bench --bench page` is the full run; without `--bench` (as `cargo test
//! --all-targets` runs it) it is a quick smoke at 200 pods that checks it measured
//! something. `PODWALL_BENCH_SCALE=full|quick` overrides. Goals: first render < 1 s at 5k
//! pods, no long task > 50 ms at 500 changes/s.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::bench::{Server, Sim, Workspace};
use testkit::browser::Browser;
use testkit::eventually_within;

use testkit::SimSpec;

/// One measured scale.
struct Scale {
    pods: usize,
    nodes: usize,
    /// Changes per second asked of the simulator while measuring.
    rate: f64,
    /// How long the page is watched, idle and then under churn.
    window: Duration,
}

/// The scales of a run: 1k/5k/20k pods at 500 changes/s, or a 200-pod smoke.
fn scales(run: testkit::bench::Scale) -> Vec<Scale> {
    if run == testkit::bench::Scale::Quick {
        return vec![Scale {
            pods: 200,
            nodes: 10,
            rate: 50.0,
            window: Duration::from_secs(3),
        }];
    }
    [1_000, 5_000, 20_000]
        .into_iter()
        .map(|pods| Scale {
            pods,
            nodes: pods / 20,
            rate: 500.0,
            window: Duration::from_secs(20),
        })
        .collect()
}

/// `podwall sim` and `podwall serve` for one scale, stopped when dropped.
struct Stack {
    server: Server,
    sim: Sim,
    work: Workspace,
}

impl Stack {
    async fn start(scale: &Scale) -> Stack {
        let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
        let sim = work.start_sim(SimSpec {
            nodes: scale.nodes,
            pods: scale.pods,
            churn: 0.0,
            seed: 1,
        });
        let server = work.start_server(&sim).await;
        Stack { server, sim, work }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    async fn churn(&self, rate: f64) {
        self.sim.set_churn(&self.work.http, rate).await;
    }
}

/// What one watch window recorded.
#[derive(Debug)]
struct Window {
    /// Changes the page applied per second (from its `data-seq`).
    applied_per_s: f64,
    long_tasks: usize,
    longest_task_ms: f64,
    /// Gaps between animation frames over 50 ms (frames dropped at 20 fps or worse).
    frame_gaps: usize,
    longest_gap_ms: f64,
    /// Share of the window the main thread was busy (CDP `TaskDuration`).
    busy: f64,
}

async fn seq(browser: &Browser) -> u64 {
    let v = browser
        .js("return document.getElementById('wall-root').dataset.seq")
        .await;
    v.as_str()
        .and_then(|s| s.rsplit('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn task_seconds(browser: &Browser) -> f64 {
    let m = browser.cdp("Performance.getMetrics", json!({})).await;
    m["value"]["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == "TaskDuration"))
        .and_then(|m| m["value"].as_f64())
        .unwrap_or(0.0)
}

async fn watch(browser: &Browser, stack: &Stack, rate: f64, window: Duration) -> Window {
    browser.js("window.__perf.reset(); return true").await;
    let (seq0, busy0) = (seq(browser).await, task_seconds(browser).await);
    let started = Instant::now();
    if rate > 0.0 {
        stack.churn(rate).await;
    }
    tokio::time::sleep(window).await;
    if rate > 0.0 {
        stack.churn(0.0).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (seq1, busy1) = (seq(browser).await, task_seconds(browser).await);
    let perf = browser.js("return window.__perf").await;
    let durations = |key: &str, at: usize| -> Vec<f64> {
        perf[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        if at == usize::MAX {
                            e.as_f64()
                        } else {
                            e[at].as_f64()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let long = durations("long", 1);
    let gaps = durations("gaps", usize::MAX);
    Window {
        applied_per_s: seq1.saturating_sub(seq0) as f64 / elapsed,
        long_tasks: long.len(),
        longest_task_ms: long.iter().copied().fold(0.0, f64::max),
        frame_gaps: gaps.len(),
        longest_gap_ms: gaps.iter().copied().fold(0.0, f64::max),
        busy: (busy1 - busy0) / elapsed,
    }
}

/// The first render of one scale.
#[derive(Debug)]
struct FirstRender {
    /// First contentful paint, from navigation start.
    fcp_ms: f64,
    /// The page's HTML, as sent (compressed) and as parsed.
    encoded_bytes: f64,
    decoded_bytes: f64,
    elements: u64,
    density: String,
}

async fn first_render(browser: &Browser, stack: &Stack, pods: usize) -> FirstRender {
    browser.open(&format!("{}/?kiosk=1", stack.url())).await;
    // Chromium reports the first contentful paint after the frame is presented, which can
    // be after the page's pods are in the DOM: wait for both.
    eventually_within(
        Duration::from_secs(120),
        "every pod in the DOM and the first paint",
        || async {
            let v = browser
                .js(
                    "return [document.querySelectorAll('#wall [data-pod]').length, \
                     performance.getEntriesByName('first-contentful-paint').length]",
                )
                .await;
            (v[0].as_u64() == Some(pods as u64) && v[1].as_u64().is_some_and(|n| n > 0))
                .then_some(())
        },
    )
    .await;
    let v = browser
        .js("const n = performance.getEntriesByType('navigation')[0]; \
             const p = performance.getEntriesByName('first-contentful-paint')[0]; \
             return [p ? p.startTime : -1, n.encodedBodySize, n.decodedBodySize, \
               document.documentElement.dataset.density]")
        .await;
    FirstRender {
        fcp_ms: v[0].as_f64().unwrap_or(-1.0),
        encoded_bytes: v[1].as_f64().unwrap_or(0.0),
        decoded_bytes: v[2].as_f64().unwrap_or(0.0),
        elements: browser.dom_elements().await,
        density: v[3].as_str().unwrap_or("").to_owned(),
    }
}

fn report_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-page.json")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = Browser::start().await;
    browser.record_performance().await;
    browser.cdp("Performance.enable", json!({})).await;
    browser.viewport(1920, 1080).await;
    let mut rows: Vec<Value> = Vec::new();
    println!(
        "{:>6} {:>5} | {:>7} {:>9} {:>9} {:>8} {:>7} | {:<28} | {:<28}",
        "pods",
        "nodes",
        "FCP ms",
        "gzip KB",
        "HTML B/pod",
        "elements",
        "density",
        "idle: long/max, gaps/max, busy",
        "churn: applied/s, long/max, gaps/max, busy"
    );
    for scale in scales(testkit::bench::Scale::detect()) {
        let stack = Stack::start(&scale).await;
        let first = first_render(&browser, &stack, scale.pods).await;
        // Let the first render's work finish before the idle baseline.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = watch(&browser, &stack, 0.0, scale.window).await;
        let churn = watch(&browser, &stack, scale.rate, scale.window).await;
        let pods_now = browser
            .js("return document.querySelectorAll('#wall [data-pod]').length")
            .await;
        let line = |w: &Window| {
            format!(
                "{:>5.0} {:>3}/{:<5.0} {:>3}/{:<5.0} {:>3.0}%",
                w.applied_per_s,
                w.long_tasks,
                w.longest_task_ms,
                w.frame_gaps,
                w.longest_gap_ms,
                w.busy * 100.0
            )
        };
        println!(
            "{:>6} {:>5} | {:>7.0} {:>9.0} {:>9.0} {:>8} {:>7} | {:<28} | {:<28}",
            scale.pods,
            scale.nodes,
            first.fcp_ms,
            first.encoded_bytes / 1024.0,
            first.decoded_bytes / scale.pods as f64,
            first.elements,
            first.density,
            line(&idle),
            line(&churn)
        );
        // The smoke's checks: it measured a real page, not that it was fast.
        assert!(first.fcp_ms > 0.0, "no first paint recorded: {first:?}");
        assert!(first.decoded_bytes > first.encoded_bytes && first.elements as usize > scale.pods);
        assert!(
            churn.applied_per_s > 0.0,
            "the page applied no changes: {churn:?}"
        );
        assert!(pods_now.as_u64().is_some_and(|n| n > 0));
        rows.push(json!({
            "pods": scale.pods, "nodes": scale.nodes, "fcp_ms": first.fcp_ms,
            "encoded_bytes": first.encoded_bytes, "decoded_bytes": first.decoded_bytes,
            "elements": first.elements, "density": first.density,
            "idle": format!("{idle:?}"), "churn": format!("{churn:?}"),
            "longest_task_ms": churn.longest_task_ms, "rate": scale.rate,
        }));
    }
    let out = report_path();
    if let Err(e) = std::fs::write(
        &out,
        serde_json::to_string_pretty(&rows).unwrap_or_default(),
    ) {
        eprintln!("cannot write {}: {e}", out.display());
    }
    browser.client.close().await.expect("close browser");
}
