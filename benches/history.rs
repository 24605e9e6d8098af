//! History (issue 24): what a stored change costs and how fast a past moment is rebuilt.
//!
//! 1. Bytes per change with the simulator's default churn mix: an in-process simulator
//!    and wall (the real informer and cache), churning until the history holds
//!    `changes` changes after the first sync; bytes of records, checkpoints and
//!    dictionary per change, and the whole history's size (the goal: ≤ 64 B a change,
//!    360,000 changes — an hour at 100/s — within 32 MiB).
//! 2. Rebuild: a cache of `pods` pods (50,000 at full scale) under 100,000 changes
//!    (status flips, restarts, pods replaced), then the wall at random past changes
//!    (`Cache::snapshot_at`), p50/p99/max (the goal: p99 < 200 ms).
//! 3. Warnings, which the default mix has few of: bytes per change of a stream of Warning
//!    events alone (new ones and the same ones seen again), and per status change of a
//!    pod with three warnings (which carries them along).
//!
//! `cargo bench --bench history` runs the full scale; without `--bench` it is a smoke run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::watcher::Event;
use podwall::fixtures::{events_scope, node, pod_on, pods_scope};
use podwall::{
    Cache, EventFields, Filter, HistoryBounds, Labels, Moment, NodeView, Position, Sink,
};
use rand::{Rng, SeedableRng};
use testkit::Stack;
use testkit::bench::{Scale, percentile};

fn main() {
    testkit::bench::block_on(bench(Scale::detect()));
}

async fn bench(scale: Scale) {
    let (changes, pods, rebuilds) = match scale {
        Scale::Full => (360_000, 50_000, 200),
        Scale::Quick => (3_000, 2_000, 20),
    };
    println!("history ({scale:?})");
    bytes_per_change(changes).await;
    tokio::task::spawn_blocking(move || rebuild(pods, rebuilds))
        .await
        .expect("the rebuild ran");
    warnings(changes / 4);
}

async fn bytes_per_change(changes: u64) {
    testkit::init();
    let stack = Stack::builder()
        .nodes(60)
        .pods(3_000)
        .seed(24)
        .start()
        .await;
    let cache = stack.server().cache().clone();
    let start = cache.history_stats().expect("history on");
    let watched = |kind: &'static str| {
        let stack = &stack;
        async move {
            stack
                .metric(&format!("podwall_watch_events_total{{kind=\"{kind}\"}}"))
                .await
        }
    };
    let events_before = (watched("pod").await, watched("event").await);
    let sim = stack.sim().handle();
    // Fast enough to be done in minutes; the mix is the simulator's default.
    sim.set_churn(2_000.0);
    let started = Instant::now();
    let mut peak = start;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cache.history_stats().expect("history on");
        if now.bytes > peak.bytes {
            peak = now;
        }
        if now.changes - start.changes >= changes {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the churn stalled at {} changes",
            now.changes
        );
    }
    sim.set_churn(0.0);
    let end = cache.history_stats().expect("history on");
    let n = end.changes - start.changes;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "  churn: {n} changes after the first sync at {rate:.0}/s, {} segments",
        end.segments
    );
    println!(
        "  per change: {:.1} B of records; {:.1} B with checkpoints and dictionary (goal ≤ 64 B)",
        (end.record_bytes - start.record_bytes) as f64 / n as f64,
        (end.bytes - start.bytes) as f64 / n as f64,
    );
    println!(
        "  the whole history: {} changes (with the first list) in {:.1} MiB (goal at 360,000: ≤ 32 MiB)",
        end.changes,
        end.bytes as f64 / (1 << 20) as f64
    );
    // The mix: the history keeps the warnings too (each a change, and again with its
    // pod's changes).
    let (pods_seen, warnings_seen) = (
        watched("pod").await - events_before.0,
        watched("event").await - events_before.1,
    );
    println!(
        "  watch events meanwhile: {pods_seen:.0} of pods, {warnings_seen:.0} Warning events; {} warnings kept at the end",
        cache.snapshot(&Filter::default()).warnings.len()
    );
    stack.stop().await;
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (as in the ingest
/// bench): a rebuild's cost whatever else the machine runs.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn rebuild(pods: usize, rebuilds: usize) {
    let cache = Cache::<()>::new();
    cache.set_history(HistoryBounds {
        window: Duration::from_secs(7200),
        memory: 1 << 30,
    });
    let scope = pods_scope();
    let nodes = (pods / 40).max(2);
    let node_scope = podwall::Scope {
        kind: podwall::Kind::Node,
        namespace: None,
    };
    for n in 0..nodes {
        cache.upsert_node(&node_scope, node(&format!("worker-{n}")));
    }
    let view = |i: usize, generation: usize| {
        let app = format!("app-{}", i % 300);
        let mut p = pod_on(
            &format!("ns-{}", i % 40),
            &format!("{app}-{generation}-{i:06}"),
            &format!("worker-{}", i % nodes),
        );
        p.owner = Some(Arc::from(format!("ReplicaSet/{app}-{generation}")));
        p.labels = Labels::from_pairs([("app", app.as_str()), ("pod-template-hash", "7d4f9")]);
        p.cpu_request_millis = 100;
        p.memory_request_bytes = 128 << 20;
        p.created = Some(jiff::Timestamp::now());
        p
    };
    for i in 0..pods {
        cache.upsert_pod(&scope, view(i, 0));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
    let mut generation = vec![0usize; pods];
    let statuses = ["Running", "CrashLoopBackOff", "Running", "Error", "Running"];
    let first = cache.position().seq;
    let churn = 100_000;
    let ingest = Instant::now();
    for _ in 0..churn {
        let i = rng.random_range(0..pods);
        let mut p = view(i, generation[i]);
        match rng.random_range(0..10) {
            0 => {
                // Replaced: the old pod goes, a new one comes.
                cache.delete_pod(&p.namespace, &p.name);
                generation[i] += 1;
                p = view(i, generation[i]);
                p.status = Arc::from("Pending");
                p.phase = Arc::from("Pending");
            }
            _ => {
                p.status = Arc::from(statuses[rng.random_range(0..statuses.len())]);
                p.restarts = rng.random_range(0..20);
            }
        }
        cache.upsert_pod(&scope, p);
    }
    let ingest = ingest.elapsed();
    let last = cache.position().seq;
    let stats = cache.history_stats().expect("history on");
    println!(
        "  rebuild: {pods} pods, {nodes} nodes, {} changes in {:.1} MiB, {} segments; recording {:.2} µs/change (with the cache)",
        last - first,
        stats.bytes as f64 / (1 << 20) as f64,
        stats.segments,
        ingest.as_secs_f64() * 1e6 / churn as f64
    );
    let epoch = cache.snapshot(&Filter::default()).epoch;
    let mut times = Vec::with_capacity(rebuilds);
    let mut cpu = Vec::with_capacity(rebuilds);
    for _ in 0..rebuilds {
        let seq = rng.random_range(first..=last);
        let t = Instant::now();
        let c = thread_cpu();
        let (snap, _) = cache
            .snapshot_at(&Filter::default(), &Moment::After(Position { epoch, seq }))
            .expect("inside the window");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push((thread_cpu() - c).as_secs_f64() * 1e3);
        assert_eq!(snap.seq, seq);
        assert!(snap.pods.len() >= pods * 9 / 10);
        let _: &[Arc<NodeView>] = &snap.nodes;
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "  the same, CPU time of the rebuilding thread (load-independent): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&cpu, 50.0),
        percentile(&cpu, 99.0)
    );
    println!(
        "  the wall at a random past change ({rebuilds} moments): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 < 200 ms)",
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        times[times.len() - 1]
    );
}

/// Part 3: `events` Warning events about 2,000 pods (three event names a pod, each seen
/// again and again, counted up), then as many restarts of those pods.
fn warnings(events: u64) {
    let cache = Cache::<()>::new();
    cache.set_history(HistoryBounds {
        window: Duration::from_secs(7200),
        memory: 1 << 30,
    });
    let pods = 2_000u64;
    let name = |i: u64| format!("web-7d9f8b6c5-{i:05x}");
    for i in 0..pods {
        cache.upsert_pod(&pods_scope(), pod_on("shop", &name(i), "worker-0"));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
    let mut count = vec![0u32; (pods * 3) as usize];
    let start = cache.history_stats().expect("history on");
    let first = cache.position().seq;
    let t0 = jiff::Timestamp::now().as_second();
    for step in 0..events {
        let pod = rng.random_range(0..pods);
        let which = rng.random_range(0..3u64);
        let slot = (pod * 3 + which) as usize;
        count[slot] += 1;
        let reason = ["BackOff", "Unhealthy", "FailedMount"][which as usize];
        let e: EventFields = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{}.{:x}", name(pod), 0x18ee_8ee0_0000_0000 + slot as u64), "namespace": "shop"},
            "regarding": {"kind": "Pod", "namespace": "shop", "name": name(pod)},
            "reason": reason, "note": format!("{reason}: back-off restarting failed container"),
            "type": "Warning",
            "series": {"count": count[slot], "lastObservedTime": jiff::Timestamp::from_second(t0 + (step / 100) as i64).expect("time").to_string()},
        }))
        .expect("an event");
        cache.warnings(&events_scope(), Event::Apply(e));
    }
    let mid = cache.history_stats().expect("history on");
    let after_events = cache.position().seq;
    // Each a real change: a restart more.
    let mut restarts = vec![0u32; pods as usize];
    for _ in 0..events {
        let pod = rng.random_range(0..pods);
        restarts[pod as usize] += 1;
        let mut p = pod_on("shop", &name(pod), "worker-0");
        p.status = Arc::from("CrashLoopBackOff");
        p.restarts = restarts[pod as usize];
        cache.upsert_pod(&pods_scope(), p);
    }
    let end = cache.history_stats().expect("history on");
    let last = cache.position().seq;
    let kept = cache.snapshot(&Filter::default()).warnings.len();
    println!(
        "  warnings: {events} events about {pods} pods ({kept} kept) made {} changes: {:.1} B of records a change",
        after_events - first,
        (mid.record_bytes - start.record_bytes) as f64 / (after_events - first) as f64
    );
    println!(
        "  then {events} restarts of those pods made {} changes (the pod's, and its warnings again): {:.1} B of records a pod update, {:.1} B a change",
        last - after_events,
        (end.record_bytes - mid.record_bytes) as f64 / events as f64,
        (end.record_bytes - mid.record_bytes) as f64 / (last - after_events) as f64
    );
}
