//! Restart without loss: podwall stops (its streams end), the cluster changes while it is
//! down, a new podwall starts on the same address against the same API server, and a
//! client resuming with the old `Last-Event-ID` gets a reset with the new epoch and the
//! right state — what a browser's EventSource does, with no page reload.

use testkit::{Model, SseClient, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resuming_client_gets_the_new_epoch_and_the_right_state_after_a_restart() {
    let mut stack = Stack::builder().nodes(3).pods(20).seed(5).start().await;
    let addr = stack.server().addr;
    let mut events = stack.sse("/api/events", None).await;
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    let old_id = reset.id.clone().expect("id");
    let old_epoch = old_id.split_once('-').expect("epoch-seq").0.to_owned();
    let mut model = Model::from_snapshot(&reset.json());
    assert_eq!(model.pods.len(), 20);

    // podwall goes away: the stream ends.
    let first = stack.shutdown_server();
    assert!(
        events.next_within(testkit::DEADLINE).await.is_none(),
        "the stream ends on shutdown"
    );
    // The cluster changes while nobody watches.
    stack.create_pod("default", "born-while-down", None).await;
    let gone = model.pods.keys().next().expect("a pod").clone();
    let (ns, name) = gone.split_once('/').expect("ns/name");
    stack.delete_pod(ns, name).await;

    // A new podwall on the same address, once the old one has let go of it.
    testkit::eventually("the old server stops listening", || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await;
    // The second server binds the same address.
    stack.start_server_without_waiting().await;
    first.stopped().await.expect("first server stopped cleanly");
    stack.wait_ready().await;

    // The browser reconnects with its last id.
    let mut resumed: SseClient = stack.sse("/api/events", Some(&old_id)).await;
    let reset = resumed.next().await;
    assert_eq!(reset.event, "reset", "an old epoch cannot be resumed");
    let new_id = reset.id.clone().expect("id");
    assert_ne!(
        new_id.split_once('-').expect("epoch-seq").0,
        old_epoch,
        "a restart is a new epoch"
    );
    model.apply(&reset);
    assert!(model.pods.contains_key("default/born-while-down"));
    assert!(!model.pods.contains_key(&gone));
    assert_eq!(model, Model::from_snapshot(&stack.snapshot("").await));
}
