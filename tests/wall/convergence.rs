//! The convergence property: the stream applied to its last reset equals /api/snapshot at
//! the same seq — under churn, across cut watches, with and without filters.

use testkit::{DEADLINE, Model, SseClient, Stack};

/// Reads `events` until the model reaches a seq a snapshot was taken at, and compares.
async fn converge(stack: &Stack, events: &mut SseClient, model: &mut Model, query: &str) {
    let start = std::time::Instant::now();
    loop {
        let snap = stack.snapshot(query).await;
        let target = snap["seq"].as_u64().expect("seq");
        while model.seq < target {
            model.apply(&events.next().await);
        }
        if model.seq == target {
            assert_eq!(
                *model,
                Model::from_snapshot(&snap),
                "stream state equals snapshot at seq {target}"
            );
            return;
        }
        // The stream ran past the snapshot under churn: take a newer one.
        assert!(
            start.elapsed() < DEADLINE * 3,
            "never caught the stream and a snapshot at the same seq"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_applied_to_reset_equals_snapshot_under_churn() {
    let stack = Stack::builder().nodes(6).pods(80).churn(30.0).start().await;
    let mut all = stack.sse("/api/events", None).await;
    let mut filtered = stack
        .sse("/api/events?ns=web,payments&label=app", None)
        .await;
    let first = all.next().await;
    assert_eq!(first.event, "reset");
    let mut model = Model::from_snapshot(&first.json());
    let mut fmodel = Model::from_snapshot(&filtered.next().await.json());
    assert!(
        fmodel
            .pods
            .values()
            .all(|p| ["web", "payments"].contains(&p["namespace"].as_str().unwrap_or("")))
    );

    // Let the cluster churn, cutting every watch halfway.
    let mut seen = 0;
    while seen < 60 {
        model.apply(&all.next().await);
        seen += 1;
        if seen == 30 {
            stack.control("faults/cut-watches").await;
        }
    }
    converge(&stack, &mut all, &mut model, "").await;
    converge(
        &stack,
        &mut filtered,
        &mut fmodel,
        "?ns=web,payments&label=app",
    )
    .await;
    assert!(
        model.pods.len() > fmodel.pods.len(),
        "the filter selects a strict subset"
    );
    assert!(
        fmodel
            .pods
            .values()
            .all(|p| ["web", "payments"].contains(&p["namespace"].as_str().unwrap_or("")))
    );
}
