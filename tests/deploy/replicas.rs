//! Several replicas behind one Service: each has its own informer and epoch, so a browser
//! that reconnects to another replica with its `Last-Event-ID` gets a `reset` carrying
//! that replica's full state — never a replay of someone else's sequence numbers.

use testkit::{Model, Stack, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_to_another_replica_gets_a_reset() {
    let first = Stack::builder().nodes(3).pods(20).start().await;
    // A second replica watching the same API server.
    let second = first.another_server().await;
    let second_url = second.url();

    let mut events = first.sse("/api/events", None).await;
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    let last_id = reset.id.clone().expect("reset has an id");
    let mut seen = Model::from_snapshot(&reset.json());

    // Same cluster, same content, different epoch.
    let snapshot_of_second = eventually("second replica synced", || async {
        let resp = first
            .http
            .get(format!("{second_url}/api/snapshot"))
            .send()
            .await
            .ok()?;
        let snap: serde_json::Value = resp.json().await.ok()?;
        (snap["pods"].as_array()?.len() == 20).then_some(snap)
    })
    .await;
    let first_epoch = last_id.split('-').next().expect("epoch");
    assert_ne!(snapshot_of_second["epoch"].as_str(), Some(first_epoch));

    // The browser's stream moves to the second replica (as a Service may route it).
    let resp = first
        .http
        .get(format!("{second_url}/api/events"))
        .header("Last-Event-ID", &last_id)
        .send()
        .await
        .expect("SSE connect");
    assert_eq!(resp.status(), 200);
    let mut moved = testkit::SseClient::from_response(resp);
    let again = moved.next().await;
    assert_eq!(again.event, "reset", "a foreign epoch cannot be resumed");
    assert_ne!(again.id.as_deref(), Some(last_id.as_str()));
    let after_move = Model::from_snapshot(&again.json());
    // Both replicas show the same cluster; only positions differ.
    seen.seq = after_move.seq;
    assert_eq!(seen, after_move);
}
