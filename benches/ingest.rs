//! Ingest (issue 9, item 2): watch events per second per core through podwall's path for
//! one change — decode the watch line into the slim types, build the view, apply it to
//! the cache, encode the hub's shared frames (the `/api/events` JSON and the `/events`
//! HTML, as when both kinds of client are connected) — timed by the thread's CPU time,
//! not wall time. The events are MODIFIED lines of the simulator's own pods (~5 KB of
//! JSON each), each a real change (the restart count moves, or a label when a pending pod
//! has no container status).
//!
//! Then the latency from a change in the simulator to its diff leaving the hub: a
//! separate `podwall sim` and `podwall serve`, a label patched through the simulator's
//! API, timed until the `/api/events` client on localhost holds the upsert. The changes
//! are isolated (`hub::COALESCE` + 50 ms apart): the hub sends the first change after a
//! quiet spell at once and holds later ones for its next tick, so back-to-back changes
//! would measure the tick, not the pipeline.
//!
//! `cargo bench --bench ingest` runs the full scale; without `--bench` it is a smoke run.

use std::time::{Duration, Instant};

use kube::api::WatchEvent;
use podwall::{Cache, Filter, Format, Frames, PodFields, PodView, frame_for};
use serde_json::Value;
use testkit::bench::{Scale, Sim, Workspace};

use testkit::{SimSpec, SseClient};

fn main() {
    testkit::bench::block_on(bench(Scale::detect()));
}

async fn bench(scale: Scale) {
    let (pods, rounds, samples) = match scale {
        Scale::Full => (10_000, 20, 300),
        Scale::Quick => (200, 3, 10),
    };
    let cluster = SimSpec::quiet(pods);
    println!(
        "ingest ({scale:?}): {pods} pods on {} nodes, {rounds} rounds of MODIFIED",
        cluster.nodes
    );
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let sim = work.start_sim(cluster);
    let objects = list_pods(&sim).await;
    assert_eq!(objects.len(), pods, "the simulator listed every pod");
    let (without, with) = tokio::task::spawn_blocking(move || {
        // Alternated, so both see the same machine (issue 24: history must not slow it).
        let without = history_off(&objects, rounds);
        let with = history_on(&objects, rounds);
        (without, with)
    })
    .await
    .expect("the pipeline ran");
    println!("  without history (--history 0):");
    without.print();
    println!("  with history (the default):");
    with.print();
    println!(
        "  history's cost on the full path: {:+.1} % CPU per event",
        (with.full.as_secs_f64() / with.events as f64)
            / (without.full.as_secs_f64() / without.events as f64)
            * 100.0
            - 100.0
    );
    let latency = change_to_hub_latency(&work, &sim, samples).await;
    latency.print();
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("run time in schedstat");
    Duration::from_nanos(ns)
}

async fn list_pods(sim: &Sim) -> Vec<Value> {
    let list: Value = testkit::bench::get_ok(&format!("{}/api/v1/pods", sim.url))
        .await
        .json()
        .await
        .expect("a pod list");
    match list {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// CPU time per stage, over `events` events.
struct Throughput {
    events: usize,
    bytes: usize,
    decode: Duration,
    full: Duration,
    frame_bytes: usize,
}

impl Throughput {
    fn print(&self) {
        let per_sec = |d: Duration| self.events as f64 / d.as_secs_f64();
        println!(
            "  {} events, {:.0} B of JSON each, {:.0} B of frames each",
            self.events,
            self.bytes as f64 / self.events as f64,
            self.frame_bytes as f64 / self.events as f64
        );
        println!(
            "  decode alone: {:.0} events/s/core ({:.2} µs/event)",
            per_sec(self.decode),
            self.decode.as_secs_f64() * 1e6 / self.events as f64
        );
        println!(
            "  decode → view → cache → JSON + HTML frames: {:.0} events/s/core ({:.2} µs/event)",
            per_sec(self.full),
            self.full.as_secs_f64() * 1e6 / self.events as f64
        );
        assert!(self.events > 0 && self.full > Duration::ZERO && self.frame_bytes > 0);
    }
}

/// The watch lines of one round: every pod MODIFIED, its restart count set to `round`.
fn round_lines(objects: &[Value], round: usize) -> Vec<Vec<u8>> {
    objects
        .iter()
        .map(|pod| {
            let mut pod = pod.clone();
            if let Some(cs) = pod.pointer_mut("/status/containerStatuses/0/restartCount") {
                *cs = Value::from(round);
            } else if let Some(Value::Object(labels)) = pod.pointer_mut("/metadata/labels") {
                // A pod without container statuses yet (Pending) changes a label instead.
                labels.insert("bench-round".into(), Value::from(round.to_string()));
            }
            if let Some(rv) = pod.pointer_mut("/metadata/resourceVersion") {
                *rv = Value::from(format!("{}", 1_000_000 + round));
            }
            // `type` first, as the API server writes it: serde then decodes the object
            // straight into the slim types instead of buffering it (`json!` sorts keys).
            let object = serde_json::to_string(&pod).expect("a pod");
            format!("{{\"type\":\"MODIFIED\",\"object\":{object}}}\n").into_bytes()
        })
        .collect()
}

/// The pipeline with the cache's history off (today's path before issue 24); a function
/// of its own, for `callgrind --toggle-collect='ingest::history_off'`.
#[inline(never)]
fn history_off(objects: &[Value], rounds: usize) -> Throughput {
    pipeline(objects, rounds, false)
}

/// The pipeline with the default history (`callgrind --toggle-collect='ingest::history_on'`).
#[inline(never)]
fn history_on(objects: &[Value], rounds: usize) -> Throughput {
    pipeline(objects, rounds, true)
}

fn pipeline(objects: &[Value], rounds: usize, history: bool) -> Throughput {
    let cache = Cache::<Frames>::new();
    if !history {
        cache.set_history(podwall::HistoryBounds {
            window: Duration::ZERO,
            ..podwall::HistoryBounds::default()
        });
    }
    let pods = podwall::fixtures::pods_scope();
    let filter = Filter::default();
    // Round 0 fills the cache (like the initial list); it is not counted.
    let mut t = Throughput {
        events: 0,
        bytes: 0,
        decode: Duration::ZERO,
        full: Duration::ZERO,
        frame_bytes: 0,
    };
    let mut rx = cache.changes();
    for round in 0..=rounds {
        let lines = round_lines(objects, round);
        let started = thread_cpu();
        for line in &lines {
            let event: WatchEvent<PodFields> = serde_json::from_slice(line).expect("a watch event");
            std::hint::black_box(&event);
        }
        let decoded = thread_cpu();
        let mut frame_bytes = 0;
        for line in &lines {
            let event: WatchEvent<PodFields> = serde_json::from_slice(line).expect("a watch event");
            let (WatchEvent::Added(pod) | WatchEvent::Modified(pod)) = event else {
                panic!("a MODIFIED event")
            };
            let view = PodView::from_fields(&pod).expect("a pod view");
            cache.upsert_pod(&pods, view);
            // What the fan-out does once per change for its clients (one of each format).
            while let Ok(change) = rx.try_recv() {
                for format in [Format::Json, Format::Html] {
                    frame_bytes += frame_for(&change, &filter, format).map_or(0, |f| f.len());
                }
            }
        }
        let done = thread_cpu();
        if round > 0 {
            t.events += lines.len();
            t.bytes += lines.iter().map(Vec::len).sum::<usize>();
            t.decode += decoded - started;
            t.full += done - decoded;
            t.frame_bytes += frame_bytes;
        }
    }
    assert_eq!(cache.position().seq as usize, objects.len() * (rounds + 1));
    t
}

/// Latency samples from a change in the simulator to the client holding its diff.
struct Latency(Vec<Duration>);

impl Latency {
    fn print(&self) {
        let mut s = self.0.clone();
        s.sort();
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        println!(
            "  isolated sim change → diff at the client (localhost), {} changes {:?} apart: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            s.len(),
            PROBE_GAP,
            at(0.5),
            at(0.99),
            s[s.len() - 1]
        );
    }
}

/// Quiet time after each latency sample: past the hub's coalescing tick, so the next
/// change is sent at once and the sample measures the pipeline alone.
const PROBE_GAP: Duration = podwall::COALESCE.saturating_add(Duration::from_millis(50));

async fn change_to_hub_latency(work: &Workspace, sim: &Sim, samples: usize) -> Latency {
    let serve = work.start_server(sim).await;
    let http = &work.http;
    let first: Value = http
        .get(format!("{}/api/v1/pods?limit=1", sim.url))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET a pod")
        .json()
        .await
        .expect("a pod list");
    let meta = &first["items"][0]["metadata"];
    let (ns, name) = (
        meta["namespace"].as_str().expect("namespace"),
        meta["name"].as_str().expect("name"),
    );
    let events = http
        .get(format!("{}/api/events", serve.url()))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /api/events");
    let mut events = SseClient::from_response(events);
    let mut next_event = async || {
        events
            .next_within(Duration::from_secs(30))
            .await
            .expect("an event within 30 s")
    };
    // Skip the reset (the retry hint carries no event).
    while next_event().await.event != "reset" {}
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        // Quiet first (the reset, or the last sample, was a write to this client).
        tokio::time::sleep(PROBE_GAP).await;
        let marker = format!("\"bench-seq\":\"{i}\"");
        let sent = Instant::now();
        let patched = http
            .patch(format!("{}/api/v1/namespaces/{ns}/pods/{name}", sim.url))
            .header("content-type", "application/merge-patch+json")
            .body(format!(
                r#"{{"metadata":{{"labels":{{"bench-seq":"{i}"}}}}}}"#
            ))
            .send()
            .await
            .expect("PATCH a pod");
        assert!(patched.status().is_success(), "PATCH: {}", patched.status());
        loop {
            let event = next_event().await;
            if event.event == "upsert" && event.data.contains(&marker) {
                latencies.push(sent.elapsed());
                break;
            }
        }
    }
    Latency(latencies)
}
