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
//!
//! `cargo bench --bench history` runs the full scale; without `--bench` it is a smoke run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use podwall::fixtures::{node, pod_on, pods_scope};
use podwall::{Cache, Filter, HistoryBounds, Labels, Moment, NodeView, Position};
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
