//! The convergence property: the stream applied to its last reset equals /api/snapshot at
//! the same seq — under churn, across cut watches, with and without filters, with Warning
//! events about pods, nodes, other objects and pods not seen yet coming and going.

use podwall::fixtures::warning_event;
use serde_json::Value;
use testkit::{DEADLINE, Model, SseClient, Stack};

/// Warnings about what the model holds at step `seen`: a pod, a node, a Deployment, a pod
/// that does not exist (yet); every fourth step deletes the last one.
fn warn_now(stack: &Stack, model: &Model, seen: usize, sent: &mut Vec<Value>) {
    let pods: Vec<&Value> = model.pods.values().collect();
    let pod = pods[seen % pods.len()];
    let (ns, name) = (
        pod["namespace"].as_str().unwrap_or("default"),
        pod["name"].as_str().unwrap_or("p"),
    );
    let node = model.nodes.keys().nth(seen % model.nodes.len().max(1));
    let event = match seen % 4 {
        0 => warning_event(
            "Pod",
            ns,
            name,
            "BackOff",
            "Back-off restarting failed container",
        ),
        1 => warning_event(
            "Node",
            "",
            node.map_or("n", String::as_str),
            "NodeNotReady",
            "Node is not ready",
        ),
        2 => warning_event(
            "Deployment",
            ns,
            "web",
            "ReplicaSetCreateError",
            "quota <exceeded>",
        ),
        _ => warning_event(
            "Pod",
            "web",
            &format!("later-{seen}"),
            "FailedScheduling",
            "0/6 nodes are available",
        ),
    };
    stack.warn(&event);
    sent.push(event);
    if seen % 4 == 3
        && let Some(last) = sent.first().cloned()
    {
        stack.unwarn(&last);
        sent.remove(0);
    }
}

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

    // Let the cluster churn, cutting every watch halfway, warnings coming and going.
    let mut seen = 0;
    let mut sent = Vec::new();
    while seen < 60 {
        model.apply(&all.next().await);
        seen += 1;
        if seen == 30 {
            stack.control("faults/cut-watches").await;
        }
        if seen % 5 == 0 {
            warn_now(&stack, &model, seen / 5, &mut sent);
        }
    }
    assert!(
        !model.warnings.is_empty(),
        "warnings reached the stream's model"
    );
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
        model.warnings.len() > fmodel.warnings.len(),
        "the filter selects a strict subset of the warnings: {} vs {}",
        model.warnings.len(),
        fmodel.warnings.len()
    );
    assert!(
        fmodel
            .pods
            .values()
            .all(|p| ["web", "payments"].contains(&p["namespace"].as_str().unwrap_or("")))
    );
}
