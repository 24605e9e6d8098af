//! HTTP contract: filters, readiness, headers, escaping, health and metrics.

mod common;

use std::time::Duration;

use common::{Stack, eventually};
use podwall::KubeSource;
use podwall::sim::SimConfig;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filters_are_400_with_a_message() {
    let stack = Stack::start(1, 1, 0.0).await;
    for path in ["/api/snapshot", "/api/events", "/events"] {
        let resp = stack
            .http
            .get(format!("{}{path}?label=app%3D%3D%3Dx", stack.url()))
            .send()
            .await
            .expect("GET");
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
    let stack = Stack::start(3, 30, 0.0).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_until_the_first_sync_then_200() {
    common::init();
    // Reserve a port, free it: the API server is not there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let api: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let token = CancellationToken::new();
    let _cancel = token.clone().drop_guard();
    let config = kube::Config::new(format!("http://{api}").parse().expect("uri"));
    let server = podwall::start(
        common::serve_config(KubeSource::Config(config)),
        token.clone(),
    )
    .await
    .expect("server starts without an API server");
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/readyz", server.url()))
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
        http.get(format!("{}/healthz", server.url()))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    let mut events = common_sse(&http, &format!("{}/api/events", server.url())).await;
    let status = events
        .until("a reconnecting status", |e| e.event == "status")
        .await;
    assert_eq!(
        status.json()["apiserver"],
        "reconnecting",
        "{}",
        status.data
    );

    let _sim = podwall::sim::start(
        SimConfig {
            listen: api,
            nodes: 2,
            pods: 5,
            churn: 0.0,
            seed: 3,
            ..SimConfig::default()
        },
        token.clone(),
    )
    .await
    .expect("sim starts on the reserved port");
    // The watcher retries with exponential backoff: allow it a few rounds.
    common::wait_ready(
        &http,
        &server.url(),
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
    common::init();
    let token = CancellationToken::new();
    let _cancel = token.clone().drop_guard();
    let sim = common::start_sim(2, 3, 0.0, 5, &token).await;
    let http = reqwest::Client::new();
    let forbid = http
        .post(format!("{}/_sim/faults/forbid?resource=pods", sim.url()))
        .send()
        .await
        .expect("forbid");
    assert!(forbid.status().is_success());
    let server = common::start_server(&sim, Vec::new(), &token).await;
    let mut events = common_sse(&http, &format!("{}/api/events", server.url())).await;
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
        .get(format!("{}/readyz", server.url()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await.expect("body").contains("pods"));

    let clear = http
        .post(format!("{}/_sim/faults/clear", sim.url()))
        .send()
        .await
        .expect("clear");
    assert!(clear.status().is_success());
    common::wait_ready(
        &http,
        &server.url(),
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
    common::init();
    let token = CancellationToken::new();
    let _cancel = token.clone().drop_guard();
    let sim = common::start_sim(2, 10, 0.0, 9, &token).await;
    let http = reqwest::Client::new();
    let forbid = http
        .post(format!("{}/_sim/faults/forbid?resource=nodes", sim.url()))
        .send()
        .await
        .expect("forbid");
    assert!(forbid.status().is_success());
    let server = common::start_server(&sim, vec!["default".to_owned()], &token).await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(
        kube::Client::try_from(sim.kube_config()).expect("client"),
        "default",
    );
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ns-probe", "namespace": "default"},
        "spec": {"nodeName": "worker-0", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    pods.create(&Default::default(), &pod)
        .await
        .expect("create pod");
    common::wait_ready(
        &http,
        &server.url(),
        Duration::from_secs(20),
        "namespaced mode never became ready",
    )
    .await;
    let page = eventually("the pod on the page", || async {
        let page = http
            .get(server.url())
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        page.contains("data-pod=\"default/ns-probe\"")
            .then_some(page)
    })
    .await;
    assert!(page.contains("data-node=\"worker-0\"") && page.contains("node details unavailable"));
    let snap: serde_json::Value = http
        .get(format!("{}/api/snapshot", server.url()))
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("json");
    assert_eq!(snap["nodes"].as_array().map(Vec::len), Some(0));
    assert!(
        snap["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .all(|p| p["namespace"] == "default")
    );
}

async fn common_sse(http: &reqwest::Client, url: &str) -> common::SseClient {
    let resp = http.get(url).send().await.expect("SSE");
    assert_eq!(resp.status(), 200);
    common::SseClient::from_response(resp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_escaping_health_and_metrics() {
    let stack = Stack::start(2, 3, 0.0).await;
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
    common::init();
    let token = CancellationToken::new();
    let _cancel = token.clone().drop_guard();
    let sim = common::start_sim(1, 2, 0.0, 1, &token.child_token()).await;
    let server_token = token.child_token();
    let server = common::start_server(&sim, Vec::new(), &server_token).await;
    let http = reqwest::Client::new();
    let mut stream = common_sse(&http, &format!("{}/api/events", server.url())).await;
    assert_eq!(stream.next().await.event, "reset");
    let url = server.url();

    server_token.cancel();
    // Changes already in flight may still arrive; then the stream must end, not hang.
    let cancelled = std::time::Instant::now();
    while stream
        .next_within(common::DEADLINE.saturating_sub(cancelled.elapsed()))
        .await
        .is_some()
    {}
    assert!(
        cancelled.elapsed() < common::DEADLINE,
        "the open stream ends on shutdown"
    );
    tokio::time::timeout(common::DEADLINE, server.stopped())
        .await
        .expect("the server stops within the deadline")
        .expect("and stops cleanly");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "nothing listens any more"
    );
}
