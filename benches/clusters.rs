//! Memory per cluster: `podwall serve` against one simulated cluster, then against three
//! (separate `podwall sim` processes), measuring the server's RSS from /proc once every
//! cluster has synced and usage has been polled. The goal (issue 10): each added cluster
//! costs no more than a whole single-cluster server.
//!
//! `cargo bench --bench clusters` runs the full scale (5,000 pods and 100 nodes per
//! cluster); without `--bench` (as `cargo test --all-targets` runs it) a quick smoke at
//! 100 pods. `PODWALL_BENCH_SCALE=full|quick` overrides.

use std::time::{Duration, Instant};

use testkit::bench::{Scale, Sim, Workspace};

use testkit::SimSpec;

use testkit::process::Memory;

const DEADLINE: Duration = Duration::from_secs(180);

/// Each simulated cluster: full, 100 nodes and 5,000 pods; quick, 5 and 100.
fn cluster_of(scale: Scale, index: usize) -> SimSpec {
    let (nodes, pods) = match scale {
        Scale::Full => (100, 5_000),
        Scale::Quick => (5, 100),
    };
    SimSpec {
        nodes,
        pods,
        churn: 2.0,
        seed: 40 + index as u64,
    }
}

/// Starts `podwall serve` for `sims`, waits until every cluster synced and polled usage
/// and the first shows its `pods`, lets it settle, and returns its memory.
async fn measure(work: &Workspace, sims: &[Sim], pods: usize) -> Memory {
    let server = work.spawn_clusters_server(sims, &["--usage-interval", "2s"]);
    let http = &work.http;
    let url = format!("{}/api/clusters", server.url());
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < DEADLINE, "clusters never all synced");
        let list: Option<serde_json::Value> = match http.get(&url).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        let done = list.as_ref().and_then(|l| l.as_array()).is_some_and(|l| {
            l.len() == sims.len() && l.iter().all(|c| c["ready"] == true && c["usage"] == "ok")
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let a few usage polls and some churn pass, so the numbers are steady state.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let snapshot = format!("{}/clusters/c1/api/snapshot", server.url());
    let shown = http
        .get(&snapshot)
        .send()
        .await
        .expect("snapshot")
        .json::<serde_json::Value>()
        .await
        .expect("snapshot JSON")["pods"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        shown + 50 >= pods,
        "cluster c1 shows {shown} of {pods} pods"
    );
    server.proc.memory()
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    testkit::bench::block_on(run(Scale::detect()));
}

async fn run(scale: Scale) {
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let sims: Vec<Sim> = (0..3)
        .map(|i| work.start_sim(cluster_of(scale, i)))
        .collect();
    let cluster = cluster_of(scale, 0);
    let one = measure(&work, &sims[..1], cluster.pods).await;
    let three = measure(&work, &sims, cluster.pods).await;
    let (one_rss, one_hwm) = (one.rss_kib, one.hwm_kib);
    let (three_rss, three_hwm) = (three.rss_kib, three.hwm_kib);
    let per_added = three_rss.saturating_sub(one_rss) / 2;
    let per_added_hwm = three_hwm.saturating_sub(one_hwm) / 2;
    println!(
        "clusters ({}: {} nodes, {} pods per cluster, usage every 2 s, churn 2/s)",
        scale.name(),
        cluster.nodes,
        cluster.pods
    );
    println!("  1 cluster : VmRSS {one_rss:>8} KiB   VmHWM {one_hwm:>8} KiB");
    println!("  3 clusters: VmRSS {three_rss:>8} KiB   VmHWM {three_hwm:>8} KiB");
    println!(
        "  each added cluster: VmRSS +{per_added} KiB, VmHWM +{per_added_hwm} KiB ({:.0}% of the single-cluster server)",
        100.0 * per_added as f64 / one_rss.max(1) as f64
    );
    assert!(one_rss > 0 && three_rss > 0, "RSS measured");
    assert!(
        three_rss > one_rss / 2,
        "three clusters measured after one: {three_rss} vs {one_rss} KiB"
    );
    println!(
        "  goal (each added cluster within a single-cluster server's RSS): {}",
        if per_added <= one_rss {
            "met"
        } else {
            "NOT met"
        }
    );
}
