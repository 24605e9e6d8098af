//! Memory per cluster: `podwall serve` against one simulated cluster, then against three
//! (separate `podwall sim` processes), measuring the server's RSS from /proc once every
//! cluster has synced and usage has been polled. The goal (issue 10): each added cluster
//! costs no more than a whole single-cluster server.
//!
//! `cargo bench --bench clusters` runs the full scale (5,000 pods and 100 nodes per
//! cluster); without `--bench` (as `cargo test --all-targets` runs it) a quick smoke at
//! 100 pods. `PODWALL_BENCH_SCALE=full|quick` overrides.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(180);

struct Scale {
    nodes: usize,
    pods: usize,
}

fn scale() -> (&'static str, Scale) {
    let full = match std::env::var("PODWALL_BENCH_SCALE").as_deref() {
        Ok("full") => true,
        Ok("quick") => false,
        _ => std::env::args().any(|a| a == "--bench"),
    };
    if full {
        (
            "full",
            Scale {
                nodes: 100,
                pods: 5000,
            },
        )
    } else {
        (
            "quick",
            Scale {
                nodes: 5,
                pods: 100,
            },
        )
    }
}

/// A child process killed on drop (only the ones this bench started).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn podwall() -> &'static str {
    env!("CARGO_BIN_EXE_podwall")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_sim(dir: &Path, index: usize, scale: &Scale) -> (Proc, PathBuf) {
    let kubeconfig = dir.join(format!("sim-{index}.kubeconfig"));
    let child = Command::new(podwall())
        .args(["sim", "--listen", "127.0.0.1:0", "--churn", "2"])
        .args(["--nodes", &scale.nodes.to_string()])
        .args(["--pods", &scale.pods.to_string()])
        .args(["--seed", &(40 + index).to_string()])
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("podwall sim starts");
    let proc = Proc(child);
    let start = Instant::now();
    while !kubeconfig.exists() {
        assert!(
            start.elapsed() < DEADLINE,
            "sim {index} wrote no kubeconfig"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, kubeconfig)
}

/// (VmRSS, VmHWM) in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts `podwall serve` for `kubeconfigs`, waits until every cluster synced and polled
/// usage, lets it settle, and returns its memory.
async fn measure(kubeconfigs: &[PathBuf], scale: &Scale) -> (u64, u64) {
    let port = free_port();
    let mut cmd = Command::new(podwall());
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--usage-interval", "2s"]);
    for (i, kc) in kubeconfigs.iter().enumerate() {
        cmd.arg("--cluster")
            .arg(format!("c{}={}", i + 1, kc.display()));
    }
    let child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("podwall serve starts");
    let server = Proc(child);
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/clusters");
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < DEADLINE, "clusters never all synced");
        let list: Option<serde_json::Value> = match http.get(&url).send().await {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        let done = list.as_ref().and_then(|l| l.as_array()).is_some_and(|l| {
            l.len() == kubeconfigs.len()
                && l.iter().all(|c| c["ready"] == true && c["usage"] == "ok")
        });
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let a few usage polls and some churn pass, so the numbers are steady state.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let snapshot = format!("http://127.0.0.1:{port}/clusters/c1/api/snapshot");
    let pods = http
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
        pods + 50 >= scale.pods,
        "cluster c1 shows {pods} of {} pods",
        scale.pods
    );
    rss(server.0.id())
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (name, scale) = scale();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sims = Vec::new();
    let mut kubeconfigs = Vec::new();
    for i in 0..3 {
        let (proc, kc) = start_sim(dir.path(), i, &scale);
        sims.push(proc);
        kubeconfigs.push(kc);
    }
    let (one_rss, one_hwm) = measure(&kubeconfigs[..1], &scale).await;
    let (three_rss, three_hwm) = measure(&kubeconfigs, &scale).await;
    let per_added = three_rss.saturating_sub(one_rss) / 2;
    let per_added_hwm = three_hwm.saturating_sub(one_hwm) / 2;
    println!(
        "clusters ({name}: {} nodes, {} pods per cluster, usage every 2 s, churn 2/s)",
        scale.nodes, scale.pods
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
    drop(sims);
}
