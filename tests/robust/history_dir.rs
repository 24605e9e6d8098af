//! `--history-dir`: a real `podwall serve` child process keeps its history on disk; after a
//! graceful restart every moment recorded live is rebuilt as it was, object by object;
//! after `kill -9` every moment taken more than a second before it is; a corrupt tail is cut, never a
//! crash. Moments are named by the event ids of the run that recorded them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::Stack;
use testkit::process::Process;

use super::PODWALL;

async fn serve(kubeconfig: &Path, dir: &Path) -> (Process, String) {
    let process = Process::spawn(
        "podwall",
        Command::new(PODWALL)
            .args(["serve", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(kubeconfig)
            .arg("--history-dir")
            .arg(dir)
            .env("PODWALL_LOG_FORMAT", "json")
            .env("RUST_LOG", "info"),
    );
    let url = process.serving_url(testkit::DEADLINE).await;
    let http = reqwest::Client::new();
    testkit::wait_ready(&http, &url, testkit::DEADLINE, "readyz 200").await;
    (process, url)
}

async fn snapshot(url: &str, query: &str) -> (u16, Value) {
    let (status, body) = testkit::get(
        &reqwest::Client::new(),
        &format!("{url}/api/snapshot{query}"),
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn id_of(snap: &Value) -> String {
    format!("{}-{}", snap["epoch"].as_str().unwrap_or(""), snap["seq"])
}

/// SIGTERM, then waits for the process to finish its shutdown (the last flush).
async fn stop(process: &mut Process) {
    process.signal("TERM");
    let end = Instant::now() + testkit::DEADLINE;
    while process.running() {
        assert!(Instant::now() < end, "podwall did not exit on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process.kill();
}

/// Snapshots while the simulator churns, with when each was taken.
async fn record(url: &str, stack: &Stack, for_how_long: Duration) -> Vec<(Instant, Value)> {
    stack.sim().handle().set_churn(80.0);
    let mut out = Vec::new();
    let end = Instant::now() + for_how_long;
    while Instant::now() < end {
        let (status, snap) = snapshot(url, "").await;
        assert_eq!(status, 200);
        out.push((Instant::now(), snap));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stack.sim().handle().set_churn(0.0);
    out
}

/// Every recorded moment taken before `flushed_by` is rebuilt as it was.
async fn assert_rebuilt(
    url: &str,
    recorded: &[(Instant, Value)],
    flushed_by: Instant,
    what: &str,
) -> usize {
    let mut checked = 0;
    for (taken, live) in recorded.iter().filter(|(t, _)| *t < flushed_by) {
        let (status, past) = snapshot(url, &format!("?at={}", id_of(live))).await;
        assert_eq!(
            status,
            200,
            "{what}: {} taken {:?} ago: {past}",
            id_of(live),
            taken.elapsed()
        );
        assert_eq!(
            past["pods"],
            live["pods"],
            "{what}: pods at {}",
            id_of(live)
        );
        assert_eq!(
            past["nodes"],
            live["nodes"],
            "{what}: nodes at {}",
            id_of(live)
        );
        checked += 1;
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_survives_a_restart_a_kill_and_a_torn_tail() {
    testkit::init();
    // PODWALL_REWIND_SEEDS=N runs N simulator seeds (default 1).
    let seeds: u64 = testkit::setting("PODWALL_REWIND_SEEDS").unwrap_or(1);
    for seed in 0..seeds {
        survives(24 + seed).await;
    }
}

async fn survives(seed: u64) {
    let mut stack = Stack::sim_only(5, 50, seed).await;
    let kubeconfig = stack.kubeconfig();
    let dir = tempfile::tempdir().expect("tempdir");

    // A graceful restart: everything recorded comes back.
    let (mut first, url) = serve(&kubeconfig, dir.path()).await;
    let mut recorded = record(&url, &stack, Duration::from_secs(3)).await;
    stop(&mut first).await;
    let (mut second, url) = serve(&kubeconfig, dir.path()).await;
    let checked = assert_rebuilt(&url, &recorded, Instant::now(), "after a restart").await;
    assert!(checked >= 10, "{checked} moments checked");

    // kill -9: what is older than a second (the flush period) comes back.
    recorded.extend(record(&url, &stack, Duration::from_secs(3)).await);
    second.signal("KILL");
    let killed = Instant::now();
    second.kill();
    let (mut third, url) = serve(&kubeconfig, dir.path()).await;
    let checked = assert_rebuilt(
        &url,
        &recorded,
        killed - Duration::from_secs(1),
        "after kill -9",
    )
    .await;
    assert!(checked >= 20, "{checked} moments checked");
    stop(&mut third).await;

    // A torn, corrupt tail: cut on start, the rest intact.
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("default"))
        .expect("the cluster's folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let newest = files.last().expect("a segment file");
    let mut bytes = std::fs::read(newest).expect("read");
    bytes.extend_from_slice(b"\x30\x00\x00\x00garbage after a crash");
    std::fs::write(newest, bytes).expect("write");
    let (mut fourth, url) = serve(&kubeconfig, dir.path()).await;
    let cut = fourth
        .log_line("the history read back", testkit::DEADLINE, |l| {
            l["message"] == "history read back"
        })
        .await;
    assert_eq!(cut["repaired"], 1, "the torn tail was cut: {cut}");
    let checked = assert_rebuilt(
        &url,
        &recorded,
        killed - Duration::from_secs(1),
        "after a torn tail",
    )
    .await;
    assert!(checked >= 20);
    fourth.assert_alive();
    fourth.kill();
}
