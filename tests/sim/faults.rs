//! SIM-ONLY: the `/_sim/` fault endpoints do what the README says, over real HTTP.

use std::time::Duration;

use futures::StreamExt;
use http::Method;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use testkit::target::target_sim as target;
use testkit::{DEADLINE, eventually, next_within};

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request answered")
}

/// `GET /_sim/state` of the simulator at `base`.
async fn sim_state(base: &str) -> Value {
    get(&format!("{base}/_sim/state"))
        .await
        .json::<Value>()
        .await
        .expect("state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_watches_aborts_streams_mid_line_and_watchers_recover() {
    let t = target("cut").await;
    let base = t.sim_url.clone().expect("sim");
    let url = format!(
        "{base}/api/v1/namespaces/{}/pods?watch=1&resourceVersion=0",
        t.namespace
    );
    let mut body = reqwest::get(&url).await.expect("watch").bytes_stream();
    let mut watcher = watcher(t.pods(), watcher::Config::default())
        .default_backoff()
        .boxed();
    loop {
        if let watcher::Event::InitDone = next_within(&mut watcher, "watcher init")
            .await
            .expect("init")
        {
            break;
        }
    }
    t.sim_control("/_sim/faults/cut-watches").await;
    let mut received = Vec::new();
    let error = loop {
        match next_within(&mut body, "the cut").await {
            Ok(chunk) => received.extend_from_slice(&chunk),
            Err(e) => break e,
        }
    };
    assert!(
        !received.is_empty() && !received.ends_with(b"\n"),
        "a half line precedes the abort: {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        serde_json::from_slice::<Value>(&received).is_err(),
        "the partial line is not valid JSON"
    );
    drop(error);
    // kube-runtime's watcher reports the broken stream, then re-watches and sees new pods.
    t.create_pod("after-cut", json!({}), None).await;
    loop {
        match next_within(&mut watcher, "the pod created after the cut").await {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p))
                if p.metadata.name.as_deref() == Some("after-cut") =>
            {
                break;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_faults_answer_500_then_recover_and_429_carries_retry_after() {
    let t = target("errors").await;
    let base = t.sim_url.clone().expect("sim");
    let list = format!("{base}/api/v1/namespaces/{}/pods", t.namespace);
    t.sim_control("/_sim/faults/errors?code=500&count=2").await;
    for _ in 0..2 {
        let r = get(&list).await;
        assert_eq!(r.status(), 500);
        let s: Value = r.json().await.expect("status");
        assert_eq!(
            (s["kind"].as_str(), s["reason"].as_str()),
            (Some("Status"), Some("InternalError"))
        );
    }
    assert_eq!(
        get(&list).await.status(),
        200,
        "after count errors the API answers again"
    );

    t.sim_control("/_sim/faults/errors?code=429&seconds=600")
        .await;
    let r = get(&list).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    // Control endpoints are never faulted.
    assert_eq!(get(&format!("{base}/_sim/state")).await.status(), 200);
    t.sim_control("/_sim/faults/clear").await;
    assert_eq!(get(&list).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_answers_403_worded_like_rbac() {
    let t = target("forbid").await;
    t.sim_control("/_sim/faults/forbid?resource=pods").await;
    let all: Api<Pod> = Api::all(t.client.clone());
    let err = all
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    let kube::Error::Api(s) = err else {
        panic!("expected a Status, got {err:?}")
    };
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "pods is forbidden: User \"system:serviceaccount:podwall:podwall\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    let (code, status) = t
        .raw(
            Method::GET,
            &format!("/api/v1/namespaces/{}/pods?watch=1", t.namespace),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, 403);
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!(
                "cannot watch resource \"pods\" in API group \"\" in the namespace \"{}\"",
                t.namespace
            )),
        "{status}"
    );
    // Other resources are unaffected.
    let (code, _) = t
        .raw(Method::GET, "/api/v1/nodes", None, "application/json")
        .await;
    assert_eq!(code, 200);
    t.sim_control("/_sim/faults/clear").await;
    all.list(&ListParams::default())
        .await
        .expect("allowed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_keeps_watches_silent_until_cleared() {
    let t = target("stall").await;
    let pods = t.pods();
    let from = t.list_rv().await;
    let mut w = pods
        .watch(&WatchParams::default(), &from)
        .await
        .expect("watch")
        .boxed();
    t.sim_control("/_sim/faults/stall").await;
    t.create_pod("quiet", json!({}), None).await;
    // Nothing may arrive while stalled (this can only pass falsely on a slow machine, never fail).
    assert!(
        tokio::time::timeout(Duration::from_millis(500), w.next())
            .await
            .is_err(),
        "a stalled watch stays silent"
    );
    t.sim_control("/_sim/faults/clear").await;
    match next_within(&mut w, "the event after the stall")
        .await
        .expect("event")
    {
        WatchEvent::Added(p) => assert_eq!(p.metadata.name.as_deref(), Some("quiet")),
        other => panic!("expected ADDED, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_jumps_the_resource_version_and_old_versions_are_gone() {
    let t = target("restart").await;
    let pods = t.pods();
    let before: u64 = t.list_rv().await.parse().expect("rv");
    let mut w = pods
        .watch(&WatchParams::default(), &before.to_string())
        .await
        .expect("watch")
        .boxed();
    t.sim_control("/_sim/faults/restart").await;
    // The open watch is cut: it ends or errors (bookmarks aside) before the deadline.
    loop {
        match tokio::time::timeout(DEADLINE, w.next())
            .await
            .expect("the watch ends after a restart")
        {
            None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let after: u64 = t.list_rv().await.parse().expect("rv");
    assert!(
        after >= before + podwall::sim::RESTART_BUMP,
        "resourceVersion jumps ahead: {before} -> {after}"
    );
    let mut old = pods
        .watch(&WatchParams::default(), &before.to_string())
        .await
        .expect("watch")
        .boxed();
    match next_within(&mut old, "410").await {
        Ok(WatchEvent::Error(s)) => assert_eq!(s.code, 410),
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_rate_changes_at_runtime_and_state_reports_counts() {
    let t = target("churn").await;
    let base = t.sim_url.clone().expect("sim");
    let state = || sim_state(&base);
    let s = state().await;
    assert_eq!(s["store"]["nodes"], 3);
    assert_eq!(s["churn"], 0.0);
    let rv0 = s["store"]["resource_version"].as_u64().expect("rv");
    t.sim_control("/_sim/churn?rate=100").await;
    eventually("churn to change the cluster", || async {
        let rv = state().await["store"]["resource_version"]
            .as_u64()
            .unwrap_or(0);
        (rv > rv0 + 20).then_some(())
    })
    .await;
    t.sim_control("/_sim/churn?rate=0").await;
    let r = reqwest::Client::new()
        .post(format!("{base}/_sim/churn?rate=-1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_falls_out_of_the_history_window_gets_410() {
    let t = target("window").await;
    let base = t.sim_url.clone().expect("sim");
    let state = || sim_state(&base);
    let pods: Api<Pod> = Api::all(t.client.clone());
    let from: u64 = pods
        .list(&ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv")
        .parse()
        .expect("rv");
    let mut w = pods
        .watch(&WatchParams::default(), &from.to_string())
        .await
        .expect("watch")
        .boxed();
    // A stalled watcher does not read; churn as fast as it goes pushes it out of the window.
    t.sim_control("/_sim/faults/stall").await;
    t.sim_control("/_sim/churn?rate=1000000").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let compacted = state().await["store"]["compacted"].as_u64().unwrap_or(0);
        if compacted > from {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "history window never moved past {from}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.sim_control("/_sim/churn?rate=0").await;
    t.sim_control("/_sim/faults/clear").await;
    loop {
        match next_within(&mut w, "the 410").await {
            Ok(WatchEvent::Error(s)) => {
                assert_eq!((s.code, s.reason.as_str()), (410, "Expired"));
                break;
            }
            Err(kube::Error::Api(s)) => {
                assert_eq!(s.code, 410);
                break;
            }
            // Events read before the stall took effect.
            Ok(_) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
}
