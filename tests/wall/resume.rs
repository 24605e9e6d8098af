//! Resuming with Last-Event-ID, resets across epochs, and re-lists after 410 Gone.

use testkit::{Model, Stack, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resume_gets_only_the_missed_changes() {
    let stack = Stack::builder().nodes(2).pods(6).start().await;
    let mut first = stack.sse("/api/events", None).await;
    let reset = first.next().await;
    assert_eq!(reset.event, "reset");
    let last_id = reset.id.clone().expect("reset has an id");
    let model = Model::from_snapshot(&reset.json());
    drop(first);

    stack.create_pod("default", "missed-1", None).await;
    stack.create_pod("default", "missed-2", None).await;
    eventually("both pods in the cache", || async {
        let snap = stack.snapshot("?q=missed-").await;
        (snap["pods"].as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .await;

    for resumed in [
        stack.sse("/api/events", Some(&last_id)).await,
        stack
            .sse(&format!("/api/events?lastEventId={last_id}"), None)
            .await,
    ] {
        let mut resumed = resumed;
        let ev = resumed.next().await;
        assert_ne!(
            ev.event, "reset",
            "a resume inside the ring replays, it does not reset"
        );
        assert_eq!(
            ev.seq(),
            model.seq + 1,
            "the replay starts right after the last seen event"
        );
        let mut m = model.clone();
        m.apply(&ev);
        let target = stack.snapshot("").await;
        while m.seq < target["seq"].as_u64().expect("seq") {
            let ev = resumed.next().await;
            assert_ne!(ev.event, "reset");
            m.apply(&ev);
        }
        assert!(m.pods.contains_key("default/missed-1") && m.pods.contains_key("default/missed-2"));
        if m.seq == target["seq"].as_u64().expect("seq") {
            assert_eq!(m, Model::from_snapshot(&target));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_or_unknown_event_id_gets_a_reset() {
    let stack = Stack::builder().nodes(1).pods(2).start().await;
    for id in ["0000000000000000-1", "garbage", "ffffffffffffffff-999999"] {
        let mut s = stack.sse("/api/events", Some(id)).await;
        let ev = s.next().await;
        assert_eq!(ev.event, "reset", "Last-Event-ID {id:?}");
        assert_eq!(ev.json()["pods"].as_array().map(Vec::len), Some(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_and_410_relist_rebuild_the_state() {
    relist_rebuilds_the_state(&["faults/compact", "faults/cut-watches"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_restart_with_a_new_history_rebuilds_the_state() {
    relist_rebuilds_the_state(&["faults/restart"]).await;
}

/// Stalls the watches, changes the cluster (only a re-list can see it), applies `faults`
/// (which must make the watcher's resume fail with 410), and checks the wall converges.
async fn relist_rebuilds_the_state(faults: &[&'static str]) {
    let stack = Stack::builder().nodes(3).pods(12).start().await;
    let mut events = stack.sse("/api/events", None).await;
    let mut model = Model::from_snapshot(&events.next().await.json());
    let victim = model.pods.keys().next().expect("a pod").clone();
    let (ns, name) = victim.split_once('/').expect("ns/name");

    // Stall the watches so the next changes are only seen by the re-list, then drop the
    // history so the watcher's resume gets 410 Gone.
    stack.control("faults/stall").await;
    stack.delete_pod(ns, name).await;
    stack.create_pod("default", "after-compaction", None).await;
    for fault in faults {
        stack.control(fault).await;
    }
    stack.control("faults/clear").await;

    let truth: std::collections::BTreeSet<String> = {
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(stack.kube());
        let list = pods.list(&Default::default()).await.expect("list pods");
        list.items
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or(""),
                    p.metadata.name.as_deref().unwrap_or("")
                )
            })
            .collect()
    };
    eventually(
        "the wall to match the simulator after the re-list",
        || async {
            let snap = stack.snapshot("").await;
            let wall: std::collections::BTreeSet<String> = snap["pods"]
                .as_array()
                .expect("pods")
                .iter()
                .map(testkit::pod_key)
                .collect();
            (wall == truth).then_some(())
        },
    )
    .await;
    let (_, metrics) = stack.get("/metrics").await;
    let pod_errors = metrics
        .lines()
        .find(|l| l.starts_with("podwall_watch_errors_total{kind=\"pod\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(pod_errors >= 1.0, "the pod watch saw the 410: {metrics}");
    // The stream, applied in order, converges on the same state.
    let snap = stack.snapshot("").await;
    while model.seq < snap["seq"].as_u64().expect("seq") {
        model.apply(&events.next().await);
    }
    assert_eq!(model, Model::from_snapshot(&snap));
    assert!(!model.pods.contains_key(&victim));
    assert!(model.pods.contains_key("default/after-compaction"));
}
