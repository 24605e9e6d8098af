//! Memory per pod (issue 9, item 1): the RSS of `podwall serve` synced against a separate
//! `podwall sim` process with 0, 10k, 50k and 150k pods (about 5 KB of JSON each, ~30 pods
//! per node), and of a stock kube-rs `reflector` `Store<Pod>` against the same simulator
//! in the same run (this binary re-executed in `baseline-reflector` mode). Also the peak
//! RSS (VmHWM) of each during a full re-list forced by a 410 (the simulator's `restart`
//! fault: its resourceVersion jumps, old versions are compacted, watches are cut).
//!
//! `cargo bench --bench memory` runs the full scale; without `--bench` (what
//! `cargo test --all-targets` does) it is a smoke run with a few hundred pods.
//! `PODWALL_BENCH_SCALE=full|quick` overrides; `PODWALL_BENCH_PODS=0,10000` picks the sizes.
//! The baseline's re-list holds two copies of the cluster, so it is measured up to
//! [`BASELINE_RELIST_UP_TO`] pods only (tens of GiB otherwise on a shared machine).

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testkit::bench::{Scale, Sim, Workspace, mib};

use testkit::SimSpec;

use testkit::process::{Memory, Process};

/// The largest cluster the baseline re-lists (at 43 KB/pod, 50k pods peak near 4 GiB).
const BASELINE_RELIST_UP_TO: usize = 50_000;

/// The argument that runs this binary as the baseline.
const BASELINE_MODE: &str = "baseline-reflector";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, kubeconfig] = args.as_slice()
        && mode == BASELINE_MODE
    {
        return testkit::bench::block_on(baseline::run(kubeconfig));
    }
    testkit::bench::block_on(bench(Scale::detect()));
}

/// What one process measured at one cluster size.
struct Measured {
    /// Synced and settled.
    steady: Memory,
    /// After a forced re-list: `hwm_kib` is the peak during it.
    relist: Option<Memory>,
}

async fn bench(scale: Scale) {
    let sizes: Vec<usize> = match std::env::var("PODWALL_BENCH_PODS") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("PODWALL_BENCH_PODS: comma-separated counts")
            })
            .collect(),
        Err(_) if scale == Scale::Full => vec![0, 10_000, 50_000, 150_000],
        Err(_) => vec![0, 300],
    };
    println!("memory per pod ({scale:?}): podwall serve vs a kube-rs reflector Store<Pod>");
    let work = Workspace::create(env!("CARGO_BIN_EXE_podwall"));
    let mut rows = Vec::new();
    for pods in sizes {
        let cluster = SimSpec::quiet(pods);
        let nodes = cluster.nodes;
        let started = Instant::now();
        let sim = work.start_sim(cluster);
        let pod_json = average_pod_json(&sim).await;
        let wall = measure_podwall(&work, &sim, pods).await;
        let base = measure_baseline(&work, &sim, pods);
        let peak = |m: &Measured| m.relist.map_or("–".into(), |r| mib(r.hwm_kib));
        println!(
            "  {pods} pods on {nodes} nodes (~{pod_json} B of JSON each): podwall {} MiB \
             (re-list peak {}), reflector {} MiB (re-list peak {}) ({:.0?})",
            mib(wall.steady.rss_kib),
            peak(&wall),
            mib(base.steady.rss_kib),
            peak(&base),
            started.elapsed()
        );
        rows.push((pods, nodes, wall, base));
    }
    report(&rows);
}

/// Bytes of JSON per pod in a list page.
async fn average_pod_json(sim: &Sim) -> usize {
    let page = testkit::bench::get_ok(&format!("{}/api/v1/pods?limit=200", sim.url))
        .await
        .bytes()
        .await
        .expect("a list body");
    let list: serde_json::Value = serde_json::from_slice(&page).expect("a list");
    let items = list["items"].as_array().map_or(0, Vec::len);
    page.len().checked_div(items).unwrap_or(0)
}

async fn measure_podwall(work: &Workspace, sim: &Sim, pods: usize) -> Measured {
    let http = &work.http;
    let mut serve = work.start_server(sim).await;
    let cached = serve
        .metric(http, "podwall_cache_objects{kind=\"pod\"}")
        .await;
    assert_eq!(cached, pods as f64, "podwall synced every pod");
    let sampled = serve.settled_usage_pods(http).await;
    assert!(
        pods == 0 || sampled > 0,
        "the usage report has pods' samples"
    );
    let steady = serve.proc.settled_memory();
    if pods == 0 {
        return Measured {
            steady,
            relist: None,
        };
    }
    let lists = serve
        .metric(http, "podwall_lists_total{kind=\"pod\"}")
        .await;
    let events = serve
        .metric(http, "podwall_watch_events_total{kind=\"pod\"}")
        .await;
    serve.proc.reset_peak();
    sim.control(http, "faults/restart").await;
    let deadline = Instant::now() + Duration::from_secs(600);
    // The re-list has been applied once every pod came again as an event.
    while serve
        .metric(http, "podwall_lists_total{kind=\"pod\"}")
        .await
        <= lists
        || serve
            .metric(http, "podwall_watch_events_total{kind=\"pod\"}")
            .await
            < events + pods as f64
    {
        serve.proc.assert_alive();
        assert!(Instant::now() < deadline, "podwall did not re-list");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let relist = serve.proc.settled_memory();
    let cached = serve
        .metric(http, "podwall_cache_objects{kind=\"pod\"}")
        .await;
    assert_eq!(cached, pods as f64, "the re-list kept every pod");
    Measured {
        steady,
        relist: Some(relist),
    }
}

fn measure_baseline(work: &Workspace, sim: &Sim, pods: usize) -> Measured {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut proc = work.spawn(
        "the reflector baseline",
        Command::new(exe)
            .arg(BASELINE_MODE)
            .arg(&sim.kubeconfig)
            .stdout(Stdio::piped()),
        "baseline.log",
    );
    let lines = proc.stdout().expect("a stdout pipe");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(lines).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let synced = |proc: &mut Process| {
        let line = rx
            .recv_timeout(Duration::from_secs(600))
            .unwrap_or_else(|_| panic!("the baseline (pid {}) did not sync", proc.pid()));
        let count: usize = line
            .strip_prefix(baseline::SYNCED)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected baseline output {line:?}"));
        assert_eq!(count, pods, "the baseline store holds every pod");
    };
    synced(&mut proc);
    let steady = proc.settled_memory();
    if pods == 0 || pods > BASELINE_RELIST_UP_TO {
        return Measured {
            steady,
            relist: None,
        };
    }
    proc.reset_peak();
    let runtime = tokio::runtime::Handle::current();
    std::thread::scope(|s| {
        s.spawn(|| runtime.block_on(sim.control(&work.http, "faults/restart")));
    });
    synced(&mut proc);
    let relist = proc.settled_memory();
    Measured {
        steady,
        relist: Some(relist),
    }
}

fn report(rows: &[(usize, usize, Measured, Measured)]) {
    let zero = rows.iter().find(|r| r.0 == 0).expect("a 0-pod run");
    let per_pod = |m: &Measured, z: &Measured, pods: usize| {
        (m.steady.rss_kib as f64 - z.steady.rss_kib as f64) * 1024.0 / pods as f64
    };
    println!();
    println!(
        "| pods | nodes | podwall RSS (MiB) | podwall B/pod | reflector RSS (MiB) | reflector B/pod | reflector / podwall |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (pods, nodes, wall, base) in rows {
        let (w, b) = if *pods == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (per_pod(wall, &zero.2, *pods), per_pod(base, &zero.3, *pods))
        };
        assert!(wall.steady.rss_kib > 0 && base.steady.rss_kib > 0);
        println!(
            "| {pods} | {nodes} | {} | {} | {} | {} | {} |",
            mib(wall.steady.rss_kib),
            whole(w),
            mib(base.steady.rss_kib),
            whole(b),
            if w > 0.0 {
                format!("{:.1}×", b / w)
            } else {
                "–".into()
            }
        );
    }
    println!();
    println!(
        "| pods | podwall steady (MiB) | podwall peak in re-list | peak / steady | reflector steady | reflector peak in re-list | peak / steady |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (pods, _, wall, base) in rows {
        let Some(wr) = wall.relist else { continue };
        assert!(wr.hwm_kib >= wr.rss_kib.min(wall.steady.rss_kib) / 2);
        let ratio = |peak: u64, steady: u64| format!("{:.2}", peak as f64 / steady as f64);
        let (base_peak, base_ratio) = base.relist.map_or(("–".into(), "–".into()), |br| {
            (mib(br.hwm_kib), ratio(br.hwm_kib, base.steady.rss_kib))
        });
        println!(
            "| {pods} | {} | {} | {} | {} | {base_peak} | {base_ratio} |",
            mib(wall.steady.rss_kib),
            mib(wr.hwm_kib),
            ratio(wr.hwm_kib, wall.steady.rss_kib),
            mib(base.steady.rss_kib),
        );
    }
}

fn whole(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "–".into()
    }
}

/// The baseline: a stock kube-rs reflector of full `Pod` objects, as its docs show it.
mod baseline {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{WatchStreamExt, reflector, watcher};

    /// What the baseline prints after each complete (re-)list, followed by the store size.
    pub const SYNCED: &str = "synced ";

    /// Runs a reflector against the cluster of `kubeconfig` until killed.
    pub async fn run(kubeconfig: &str) {
        let client = testkit::client_from(std::path::Path::new(kubeconfig)).await;
        let (reader, writer) = reflector::store::<Pod>();
        let stream = reflector(
            writer,
            watcher(kube::Api::<Pod>::all(client), watcher::Config::default()),
        )
        .default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            // Errors (the forced 410) are retried by the watcher itself.
            if let Ok(watcher::Event::InitDone) = event {
                println!("{SYNCED}{}", reader.state().len());
            }
        }
    }
}
