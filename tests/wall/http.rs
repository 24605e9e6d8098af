//! HTTP contract: filters, readiness, headers, escaping, health and metrics.

use std::time::Duration;

use testkit::{DEADLINE, Stack, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filters_are_400_with_a_message() {
    let stack = Stack::builder().nodes(1).pods(1).start().await;
    for path in ["/api/snapshot", "/api/events", "/events"] {
        let resp = stack.request(&format!("{path}?label=app%3D%3D%3Dx")).await;
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.expect("JSON error");
        let msg = body["error"].as_str().expect("error message");
        assert!(msg.starts_with("label:"), "{path}: {msg}");
    }
    let (status, body) = stack.get("/?ns=Not_A_Namespace").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<html") && body.contains("Not_A_Namespace"),
        "{body}"
    );
    let (status, _) = stack.get("/api/snapshot?ns=default&unknown=ignored").await;
    assert_eq!(status, 200, "unknown parameters are ignored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_pods() {
    let stack = Stack::builder().nodes(3).pods(30).start().await;
    let all = stack.snapshot("").await;
    let pods = all["pods"].as_array().expect("pods");
    let some = &pods[0];
    let ns = some["namespace"].as_str().expect("ns");
    let by_ns = stack.snapshot(&format!("?ns={ns}")).await;
    let want = pods.iter().filter(|p| p["namespace"] == ns).count();
    assert_eq!(by_ns["pods"].as_array().map(Vec::len), Some(want));
    let name = some["name"].as_str().expect("name");
    let by_q = stack.snapshot(&format!("?q={name}")).await;
    assert!(
        by_q["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .all(|p| p["name"].as_str().unwrap_or("").contains(name))
    );
    let node = all["nodes"][0]["name"].as_str().expect("node");
    let by_node = stack.snapshot(&format!("?node={node}")).await;
    assert_eq!(by_node["nodes"].as_array().map(Vec::len), Some(1));
    assert!(
        by_node["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .all(|p| p["node"] == node)
    );
    let (_, page) = stack.get(&format!("/?ns={ns}")).await;
    assert_eq!(page.matches("data-pod=").count(), want);
}

/// `ns=!a`, `status=<class>` and `problems=1` on the JSON snapshot, against the same
/// snapshot unfiltered; a status class that does not exist is a 400 naming the classes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_out_namespaces_status_classes_and_problems() {
    let stack = Stack::builder().nodes(3).pods(60).start().await;
    let all = stack.snapshot("").await;
    let pods = all["pods"].as_array().expect("pods");
    let names = |snap: &serde_json::Value| -> Vec<String> {
        snap["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .map(|p| format!("{}/{}", p["namespace"], p["name"]))
            .collect()
    };
    let without = stack.snapshot("?ns=!kube-system,!web").await;
    let want: Vec<String> = pods
        .iter()
        .filter(|p| p["namespace"] != "kube-system" && p["namespace"] != "web")
        .map(|p| format!("{}/{}", p["namespace"], p["name"]))
        .collect();
    assert!(want.len() < pods.len(), "the cluster has pods in both");
    assert_eq!(names(&without), want);
    let running = stack.snapshot("?status=ok").await;
    let want: Vec<String> = pods
        .iter()
        .filter(|p| {
            p["status"] == "Running"
                && p["ready"]
                    .as_str()
                    .is_some_and(|r| r.split_once('/').is_some_and(|(a, b)| a == b && b != "0"))
        })
        .map(|p| format!("{}/{}", p["namespace"], p["name"]))
        .collect();
    assert_eq!(names(&running), want);
    let not_running = stack.snapshot("?status=!ok").await;
    assert_eq!(names(&not_running).len() + want.len(), pods.len());
    // Every node of this quiet cluster is Ready and schedulable: problems=1 lists none.
    let problems = stack.snapshot("?problems=1").await;
    assert_eq!(problems["nodes"], serde_json::json!([]));
    for p in problems["pods"].as_array().expect("pods") {
        assert!(
            !(p["status"] == "Running"
                && names(&running).contains(&format!("{}/{}", p["namespace"], p["name"])))
                || p.get("lastRestart").is_some(),
            "{p}"
        );
    }
    let counts: serde_json::Value = stack
        .request("/api/counts?problems=1")
        .await
        .json()
        .await
        .expect("counts");
    let shown = problems["pods"].as_array().map_or(0, Vec::len);
    assert_eq!(
        counts,
        serde_json::json!({"pods": shown, "folded": pods.len() - shown})
    );
    let counts: serde_json::Value = stack
        .request("/api/counts?ns=!kube-system,!web")
        .await
        .json()
        .await
        .expect("counts");
    assert_eq!(
        counts,
        serde_json::json!({"pods": names(&without).len(), "folded": 0})
    );
    let resp = stack.request("/api/snapshot?status=sad").await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("JSON error");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("notready")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_until_the_first_sync_then_200() {
    // The API server's port is reserved, but it is not there yet.
    let mut stack = Stack::builder()
        .nodes(2)
        .pods(5)
        .seed(3)
        .sim_later()
        .no_wait()
        .start()
        .await;
    let http = stack.http.clone();
    let url = stack.url();
    let resp = http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status(), 503);
    let reason = resp.text().await.expect("body");
    assert!(
        reason.contains("waiting for first sync of")
            && reason.contains("pods")
            && reason.contains("nodes"),
        "{reason}"
    );
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    let mut events = stack.sse("/api/events", None).await;
    let status = events
        .until("a reconnecting status", |e| e.event == "status")
        .await;
    assert_eq!(
        status.json()["apiserver"],
        "reconnecting",
        "{}",
        status.data
    );

    stack.start_sim().await;
    // The watcher retries with exponential backoff: allow it a few rounds.
    testkit::wait_ready(
        &http,
        &url,
        Duration::from_secs(40),
        "not ready after the API server came up",
    )
    .await;
    let ok = events
        .until("an ok status", |e| {
            e.event == "status" && e.json()["apiserver"] == "ok"
        })
        .await;
    assert_eq!(ok.json()["message"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_resource_is_reported_and_recovers() {
    let mut stack = Stack::sim_only(2, 3, 5).await;
    let http = stack.http.clone();
    stack.control("faults/forbid?resource=pods").await;
    stack.start_server_without_waiting().await;
    let mut events = stack.sse("/api/events", None).await;
    let status = events
        .until("a forbidden status", |e| {
            e.event == "status" && e.json()["apiserver"] == "forbidden"
        })
        .await;
    let msg = status.json()["message"].as_str().unwrap_or("").to_owned();
    assert!(
        msg.contains("\"list\"") && msg.contains("pods"),
        "names the missing permission: {msg}"
    );
    let resp = http
        .get(format!("{}/readyz", stack.url()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await.expect("body").contains("pods"));

    stack.control("faults/clear").await;
    testkit::wait_ready(
        &http,
        &stack.url(),
        Duration::from_secs(40),
        "not ready after the permission came back",
    )
    .await;
    events
        .until("an ok status", |e| {
            e.event == "status" && e.json()["apiserver"] == "ok"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_mode_without_node_access_still_shows_pods() {
    let mut stack = Stack::builder()
        .nodes(2)
        .pods(10)
        .seed(9)
        .namespaces(["default"])
        .no_server()
        .start()
        .await;
    let http = stack.http.clone();
    stack.control("faults/forbid?resource=nodes").await;
    stack.start_server_without_waiting().await;
    stack
        .create_pod("default", "ns-probe", Some("worker-0"))
        .await;
    testkit::wait_ready(
        &http,
        &stack.url(),
        Duration::from_secs(20),
        "namespaced mode never became ready",
    )
    .await;
    let page = eventually("the pod on the page", || async {
        let page = http.get(stack.url()).send().await.ok()?.text().await.ok()?;
        page.contains("data-pod=\"default/ns-probe\"")
            .then_some(page)
    })
    .await;
    assert!(page.contains("data-node=\"worker-0\"") && page.contains("node details unavailable"));
    let snap = stack.snapshot("").await;
    assert_eq!(snap["nodes"].as_array().map(Vec::len), Some(0));
    assert!(
        snap["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .all(|p| p["namespace"] == "default")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_escaping_health_and_metrics() {
    let stack = Stack::builder().nodes(2).pods(3).start().await;
    let resp = stack
        .http
        .get(format!(
            "{}/?q=%3Cscript%3Ealert(1)%3C/script%3E",
            stack.url()
        ))
        .send()
        .await
        .expect("GET /");
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        h.get("referrer-policy").and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    let page = resp.text().await.expect("page");
    assert!(
        !page.contains("<script>alert"),
        "reflected filter is escaped"
    );
    assert!(page.contains("alert(1)"), "the filter is shown, escaped");
    assert!(
        !page.contains("<script>")
            && page.contains("<script src=\"/static/wall.js\" defer></script>"),
        "no inline script"
    );

    // A hostile owner reference kind (the simulator does not validate it).
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(stack.kube(), "default");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "hostile", "namespace": "default", "ownerReferences": [{"apiVersion": "v1",
            "kind": "<script>alert(2)</script>", "name": "x\"><img src=x onerror=alert(3)>", "uid": "u", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    pods.create(&Default::default(), &pod)
        .await
        .expect("create hostile pod");
    let page = eventually("the hostile pod on the page", || async {
        let (_, page) = stack.get("/").await;
        page.contains("data-pod=\"default/hostile\"")
            .then_some(page)
    })
    .await;
    assert!(
        !page.contains("<script>alert(2)") && !page.contains("<img src=x"),
        "owner is escaped"
    );
    assert!(page.contains("alert(2)"));
    let mut html_events = stack.sse("/events?lastEventId=none", None).await;
    let reset = html_events.next().await;
    assert_eq!(reset.event, "reset");
    let html = reset.json()["html"].as_str().expect("html").to_owned();
    assert!(
        html.contains("data-pod=\"default/hostile\"") && !html.contains("<img src=x"),
        "fragment escaped"
    );

    let (status, body) = stack.get("/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, metrics) = stack.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "podwall_cache_objects",
        "podwall_watch_events_total",
        "podwall_cache_seq",
        "podwall_sse_clients",
        "podwall_sse_frames_total",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
    let (_, css) = stack.get("/static/wall.css").await;
    assert!(css.contains(".pod"));
    let (_, js) = stack.get("/static/wall.js").await;
    assert!(js.contains("EventSource"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_and_stops_the_server() {
    let mut stack = Stack::builder()
        .nodes(1)
        .pods(2)
        .seed(1)
        .no_wait()
        .start()
        .await;
    let http = stack.http.clone();
    let mut stream = stack.sse("/api/events", None).await;
    assert_eq!(stream.next().await.event, "reset");
    let url = stack.url();

    let server = stack.shutdown_server();
    // Changes already in flight may still arrive; then the stream must end, not hang.
    let cancelled = std::time::Instant::now();
    while stream
        .next_within(DEADLINE.saturating_sub(cancelled.elapsed()))
        .await
        .is_some()
    {}
    assert!(
        cancelled.elapsed() < DEADLINE,
        "the open stream ends on shutdown"
    );
    tokio::time::timeout(DEADLINE, server.stopped())
        .await
        .expect("the server stops within the deadline")
        .expect("and stops cleanly");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "nothing listens any more"
    );
}
