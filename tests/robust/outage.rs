//! Outages of the API server, with podwall and the simulator as separate processes (so
//! the simulator can be frozen and killed): each incident is a `status` event within a
//! bound, a metric, and a structured log line (`--log-format json`, fields not prose).
//!
//! - cut watches → `incident="watch_restart"`; a restart with a new history (410) →
//!   `incident="relist"`;
//! - a network partition without FIN (the simulator frozen with SIGSTOP: connections stay
//!   open, nothing answers) → `reconnecting` once the read timeout passes (the watch
//!   timeout plus 3 s; the test shortens the watch timeout to 3 s with
//!   `PODWALL_WATCH_TIMEOUT`); thawed → `ok`;
//! - the API server killed right after that recovery → `reconnecting` at once, not after
//!   a backoff left over from the partition.

use std::process::Command;
use std::time::{Duration, Instant};

use testkit::process::Process;
use testkit::{SseClient, eventually_within, metric};

use super::{PODWALL, status_where, status_within};

/// The watch timeout the server under test runs with.
const WATCH_TIMEOUT_SECS: u64 = 3;

/// Generous bound for noticing a partition: the read timeout (watch timeout + 3 s) plus
/// room for a busy machine.
const PARTITION_NOTICED: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS + 3 + 20);

/// Recovery includes the watcher's backoff, which grows while the outage lasts.
const RECOVERY: Duration = Duration::from_secs(60);

/// A killed API server is seen at the next read: no timeout involved.
const STOP_NOTICED: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_are_status_events_metrics_and_structured_log_lines_within_bounds() {
    testkit::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("sim.kubeconfig");
    let kubeconfig_arg = kubeconfig.to_str().expect("utf-8 path");
    let mut sim = Process::spawn(
        "podwall sim",
        Command::new(PODWALL)
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--nodes",
                "2",
                "--pods",
                "6",
            ])
            .args(["--churn", "0", "--kubeconfig-out", kubeconfig_arg])
            .env("RUST_LOG", "warn"),
    );
    eventually_within(Duration::from_secs(30), "the sim's kubeconfig", || async {
        kubeconfig.exists().then_some(())
    })
    .await;
    let sim_url = std::fs::read_to_string(&kubeconfig)
        .expect("kubeconfig")
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_owned))
        .expect("server in kubeconfig");

    let timeout = WATCH_TIMEOUT_SECS.to_string();
    let wall = Process::spawn(
        "podwall serve",
        Command::new(PODWALL)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--kubeconfig",
                kubeconfig_arg,
            ])
            .args(["--log-format", "json"])
            .env("PODWALL_WATCH_TIMEOUT", &timeout)
            .env("RUST_LOG", "info,kube_client=off,actix_server=warn"),
    );
    let base = wall.serving_url(Duration::from_secs(30)).await;
    let http = reqwest::Client::new();
    testkit::wait_ready(&http, &base, Duration::from_secs(30), "readyz 200").await;
    let resp = http
        .get(format!("{base}/api/events"))
        .send()
        .await
        .expect("SSE");
    let mut events = SseClient::from_response(resp);
    assert_eq!(events.next().await.event, "reset");

    // Incidents the watcher handles by itself: a cut, a history gone.
    let post = |fault: &'static str| {
        let http = http.clone();
        let url = format!("{sim_url}/_sim/faults/{fault}");
        async move {
            let resp = http.post(url).send().await.expect("sim fault");
            assert!(resp.status().is_success(), "{fault}: {}", resp.status());
        }
    };
    post("cut-watches").await;
    let restart = wall
        .log_line("a watch_restart incident", testkit::DEADLINE * 2, |l| {
            l["incident"] == "watch_restart"
        })
        .await;
    assert!(
        restart["scope"].is_string() && restart["watches"].as_u64() >= Some(2),
        "fields, not prose: {restart}"
    );
    // A restored etcd: every version the watcher holds is gone (410).
    post("restart").await;
    let relist = wall
        .log_line("a relist incident", testkit::DEADLINE * 2, |l| {
            l["incident"] == "relist"
        })
        .await;
    assert!(relist["lists"].as_u64() >= Some(2), "{relist}");
    // The 410 showed as `reconnecting` until the re-list; let that clear first.
    status_within(&mut events, "ok", RECOVERY).await;

    // A partition without FIN: the frozen process keeps every socket open.
    sim.signal("STOP");
    let frozen = Instant::now();
    // (Statuses of the re-list above may still be queued: look for the timeout's.)
    let message = status_where(
        &mut events,
        "reconnecting",
        |m| m.contains("timed out"),
        PARTITION_NOTICED,
    )
    .await;
    eprintln!("partition noticed after {:?}: {message}", frozen.elapsed());
    let (code, body) = testkit::get(&http, &format!("{base}/readyz")).await;
    assert_eq!(code, 200, "stays ready with stale data: {body}");
    assert!(body.contains("stale"), "{body}");
    let error = wall
        .log_line("an apiserver_error incident", testkit::DEADLINE, |l| {
            l["incident"] == "apiserver_error" && l["code"] == "unreachable"
        })
        .await;
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("timed out")),
        "{error}"
    );
    sim.signal("CONT");
    status_within(&mut events, "ok", RECOVERY).await;
    // Every watch start is counted: the first, the one after the cut, the one after the
    // re-list, the one after the partition. ("ok" comes with the list, a moment before
    // its watch opens: wait for that, or the kill below may come first.)
    eventually_within(
        RECOVERY,
        "the pod watch open again after the partition",
        || async {
            let starts = metric(&http, &base, "podwall_watch_starts_total{kind=\"pod\"}").await;
            (starts >= 3.0).then_some(())
        },
    )
    .await;

    // Killed right after the recovery: seen at once.
    assert!(sim.running(), "the sim runs until it is killed");
    sim.kill();
    let killed = Instant::now();
    let message = status_where(
        &mut events,
        "reconnecting",
        |m| m.contains("refused") || m.contains("reset"),
        STOP_NOTICED,
    )
    .await;
    eprintln!("stop noticed after {:?}: {message}", killed.elapsed());

    assert!(
        metric(
            &http,
            &base,
            "podwall_apiserver_errors_total{kind=\"pod\",code=\"unreachable\"}"
        )
        .await
            >= 1.0,
        "unreachable counted"
    );
}
