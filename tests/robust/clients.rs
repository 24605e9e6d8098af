//! Slow and hostile clients: `--max-clients`, connect storms, clients that vanish.

use std::time::{Duration, Instant};

use testkit::{DEADLINE, SseClient, Stack, eventually_within};
use tokio::io::AsyncWriteExt;

/// A vanished client is noticed on the next write that fails: at worst the second
/// keep-alive ping after it left.
const RELEASE_DEADLINE: Duration = Duration::from_secs(2 * 15 + 10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_clients_a_stream_gets_503_with_retry_after() {
    let stack = Stack::builder()
        .nodes(2)
        .pods(6)
        .seed(11)
        .config(|c| c.max_clients(2))
        .start()
        .await;
    let first = stack.sse("/api/events", None).await;
    let _second = stack.sse("/events", None).await;
    let refused = stack.request("/api/events").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let body = refused.text().await.expect("body");
    assert!(body.contains("too many clients"), "{body}");
    // Pages and snapshots are not limited, only streams.
    assert_eq!(stack.get("/api/snapshot").await.0, 200);
    assert_eq!(stack.get("/").await.0, 200);
    let (_, metrics) = stack.get("/metrics").await;
    assert!(
        metrics.contains("podwall_sse_clients_rejected_total 1"),
        "{metrics}"
    );
    drop(first);
    eventually_within(RELEASE_DEADLINE, "a freed slot is usable again", || async {
        let resp = stack
            .http
            .get(format!("{}/api/events", stack.url()))
            .send()
            .await
            .ok()?;
        (resp.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_storm_of_2000_streams_does_not_starve_a_watching_client() {
    let stack = Stack::builder()
        .nodes(4)
        .pods(40)
        .churn(20.0)
        .seed(11)
        .start()
        .await;
    let mut watcher = stack.sse("/api/events", None).await;
    let reset = watcher.next().await;
    assert_eq!(reset.event, "reset");
    let storm_start = stack.server().cache().position().seq;

    // 2,000 connections opened as fast as the loopback takes them, each reading its reset.
    let url = format!("{}/api/events", stack.url());
    let started = Instant::now();
    // One pooled client: HTTP/1.1 opens one connection per concurrent stream.
    let http = reqwest::Client::new();
    let storm: Vec<_> = (0..2000)
        .map(|_| {
            let url = url.clone();
            let http = http.clone();
            tokio::spawn(async move {
                let resp = http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("connect: {e:?}"))?;
                if resp.status() != 200 {
                    return Err(format!("status {}", resp.status()));
                }
                let mut sse = SseClient::from_response(resp);
                match sse.next_within(DEADLINE * 3).await {
                    Some(first) if first.event == "reset" => Ok(sse),
                    other => Err(format!("first event {other:?}")),
                }
            })
        })
        .collect();
    // Meanwhile the watching client keeps receiving changes.
    watcher
        .event_after(storm_start, "a change during the storm")
        .await;
    let mut connected = Vec::new();
    let mut failures = std::collections::BTreeMap::<String, usize>::new();
    for task in storm {
        match task.await.expect("storm task") {
            Ok(sse) => connected.push(sse),
            Err(e) => *failures.entry(e).or_default() += 1,
        }
    }
    assert!(failures.is_empty(), "storm failures: {failures:?}");
    let storm_time = started.elapsed();
    assert_eq!(connected.len(), 2000, "every storm client got its reset");
    let after = stack.server().cache().position().seq;
    watcher.event_after(after, "a change after the storm").await;
    // And the storm clients get the live changes too.
    for sse in connected.iter_mut().step_by(97) {
        sse.event_after(after, "a change on a storm client").await;
    }
    let (_, metrics) = stack.get("/metrics").await;
    assert!(
        metrics.contains("podwall_sse_clients 2001"),
        "all 2001 counted: {}",
        metrics
            .lines()
            .find(|l| l.starts_with("podwall_sse_clients "))
            .unwrap_or("")
    );
    eprintln!("2000 streams connected and reset in {storm_time:?}");
    drop(connected);
    eventually_within(
        RELEASE_DEADLINE,
        "vanished clients are released",
        || async { (stack.server().stream_metrics().clients.get() == 1).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_connect_and_vanish_are_released() {
    let stack = Stack::builder().nodes(2).pods(6).seed(11).start().await;
    let addr = stack.server().addr;
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Half send a full request and vanish; half vanish mid-request.
        let req: &[u8] = if i % 2 == 0 {
            b"GET /api/events HTTP/1.1\r\nHost: wall\r\n\r\n"
        } else {
            b"GET /api/eve"
        };
        s.write_all(req).await.expect("request");
        drop(s);
    }
    eventually_within(
        RELEASE_DEADLINE,
        "every vanished client released",
        || async { (stack.server().stream_metrics().clients.get() == 0).then_some(()) },
    )
    .await;
    // And the server still serves.
    let mut sse = stack.sse("/api/events", None).await;
    assert_eq!(sse.next().await.event, "reset");
}
