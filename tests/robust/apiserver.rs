//! API server trouble is visible: 500, 429 and 403 show as a `status` event, a metric by code,
//! and a `/readyz` that stays 200 but says the data is stale; an unreachable API server
//! before the first sync keeps `/readyz` at 503 with the reason and counts `unreachable`.

use std::time::Duration;

use podwall::sim::{ErrorKind, Resource};
use testkit::{SseClient, Stack, eventually};

/// How long recovery may take: the watcher's backoff grows while errors last.
const RECOVERY: Duration = Duration::from_secs(45);

/// Reads until a status event whose `apiserver` is `state`; returns its message.
async fn status(events: &mut SseClient, state: &str) -> String {
    super::status_within(events, state, RECOVERY).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_show_as_status_events_metrics_and_a_stale_readyz() {
    let stack = Stack::builder().nodes(2).pods(6).seed(3).start().await;
    let mut events = stack.sse("/api/events", None).await;
    assert_eq!(events.next().await.event, "reset");
    let sim = stack.sim().handle();

    // 429 reaches the wall because podwall turns kube's own client retries off (they
    // would hide a 429 burst for minutes); the watcher's backoff retries after reporting.
    for (kind, code, secs) in [
        (ErrorKind::Internal, "500", 1),
        (ErrorKind::TooManyRequests, "429", 1),
    ] {
        // Only a live watch can be cut: wait until a change flows through.
        let name = format!("live-before-{code}");
        stack.create_pod("default", &name, None).await;
        events
            .until("the change on the stream", |ev| {
                ev.event == "upsert" && ev.data.contains(&name)
            })
            .await;
        // A burst, not an outage: the watcher's backoff stays short.
        sim.fail_requests(kind, None, Some(Duration::from_secs(secs)));
        sim.cut_watches();
        let message = status(&mut events, "reconnecting").await;
        assert!(message.contains(code), "status names the {code}: {message}");
        let (status_code, body) = stack.get("/readyz").await;
        assert_eq!(status_code, 200, "stays ready with stale data");
        assert!(body.contains("stale") && body.contains(code), "{body}");
        // Counted under the watch that met it: pods, nodes or the Warning events.
        let mut errors = 0.0;
        for kind in ["pod", "node", "event"] {
            errors += stack
                .metric(&format!(
                    "podwall_apiserver_errors_total{{kind=\"{kind}\",code=\"{code}\"}}"
                ))
                .await;
        }
        assert!(errors >= 1.0, "{code} counted");
        status(&mut events, "ok").await;
    }

    stack.create_pod("default", "live-before-403", None).await;
    events
        .until("the change on the stream", |ev| {
            ev.event == "upsert" && ev.data.contains("live-before-403")
        })
        .await;
    sim.forbid(Resource::Pods);
    sim.cut_watches();
    let message = status(&mut events, "forbidden").await;
    assert!(
        message.contains("\"list\" and \"watch\" on pods"),
        "names the missing permission: {message}"
    );
    sim.clear();
    status(&mut events, "ok").await;
    let (_, body) = stack.get("/readyz").await;
    assert_eq!(body.trim(), "ready");

    // An API server that cannot be reached at all (a closed port): not ready, and why.
    let nowhere = Stack::builder()
        .kube(testkit::nowhere())
        .no_wait()
        .start()
        .await;
    let (code, body) = eventually("readyz explains the unreachable API server", || async {
        let resp = stack
            .http
            .get(format!("{}/readyz", nowhere.url()))
            .send()
            .await
            .ok()?;
        let code = resp.status().as_u16();
        let body = resp.text().await.ok()?;
        body.contains("reconnecting").then_some((code, body))
    })
    .await;
    assert_eq!(code, 503, "never synced: not ready ({body})");
    let (_, metrics) = testkit::get(&stack.http, &format!("{}/metrics", nowhere.url())).await;
    let unreachable = metrics.lines().any(|l| {
        l.starts_with("podwall_apiserver_errors_total{kind=\"pod\",code=\"unreachable\"}")
    });
    assert!(unreachable, "unreachable counted");
    assert!(
        stack.metric("podwall_lists_total{kind=\"pod\"}").await >= 1.0,
        "lists counted"
    );
}
