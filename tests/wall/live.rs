//! The wall follows the cluster: pods appear, move when bound, vanish; nodes come and go.
//! Real HTTP against the server, real kube client against the in-process simulator.

use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use testkit::{Stack, eventually};

/// The `<section …>` of the page's box holding `data-pod="<key>"`, if any.
fn section_holding(page: &str, key: &str) -> Option<String> {
    let marker = format!("data-pod=\"{key}\"");
    let at = page.find(&marker)?;
    let start = page[..at].rfind("<section")?;
    Some(
        page[start..at]
            .split('>')
            .next()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_pod_appears_on_the_stream_and_the_page_then_vanishes() {
    let stack = Stack::builder().nodes(3).pods(20).start().await;
    let mut events = stack.sse("/api/events", None).await;
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    let reset_pods = reset.json()["pods"].as_array().map(Vec::len);
    assert_eq!(reset_pods, Some(20), "the reset carries the whole cluster");

    let node = reset.json()["nodes"][0]["name"]
        .as_str()
        .expect("a node")
        .to_owned();
    let created = Instant::now();
    stack.create_pod("default", "probe-live", Some(&node)).await;
    let ev = events
        .until("upsert of probe-live", |e| {
            e.event == "upsert" && e.json()["object"]["name"] == "probe-live"
        })
        .await;
    let latency = created.elapsed();
    eprintln!("measured: create → /api/events upsert latency {latency:?}");
    let object = &ev.json()["object"];
    assert_eq!(object["namespace"], "default");
    assert_eq!(object["node"], node.as_str());
    assert_eq!(object["cpuRequestMillis"], 100);
    assert_eq!(object["memoryRequestBytes"], 64 * 1024 * 1024);

    let (status, page) = stack.get("/").await;
    assert_eq!(status, 200);
    let holder = section_holding(&page, "default/probe-live").expect("pod block on the page");
    assert!(
        holder.contains(&format!("data-node=\"{node}\"")),
        "block inside its node box: {holder}"
    );

    stack.delete_pod("default", "probe-live").await;
    let ev = events
        .until("delete of probe-live", |e| {
            e.event == "delete" && e.json()["name"] == "probe-live"
        })
        .await;
    assert_eq!(ev.json()["kind"], "Pod");
    assert_eq!(ev.json()["namespace"], "default");
    let (_, page) = stack.get("/").await;
    assert!(
        !page.contains("data-pod=\"default/probe-live\""),
        "deleted pod left the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_moves_a_pending_pod_from_unscheduled_to_its_node() {
    let stack = Stack::builder().nodes(2).pods(4).start().await;
    let mut events = stack.sse("/api/events", None).await;
    let reset = events.next().await;
    let node = reset.json()["nodes"][1]["name"]
        .as_str()
        .expect("a node")
        .to_owned();

    stack.create_pod("default", "probe-pending", None).await;
    let ev = events
        .until("upsert of probe-pending", |e| {
            e.event == "upsert" && e.json()["object"]["name"] == "probe-pending"
        })
        .await;
    assert!(
        ev.json()["object"]["node"].is_null(),
        "unscheduled first: {}",
        ev.data
    );
    let (_, page) = stack.get("/").await;
    let holder = section_holding(&page, "default/probe-pending").expect("pending pod on the page");
    assert!(
        holder.contains("data-unscheduled"),
        "pending pod in the unscheduled area: {holder}"
    );

    let pods: Api<Pod> = Api::namespaced(stack.kube(), "default");
    let binding = serde_json::json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "probe-pending"}, "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    // The simulator may schedule it first; either way the pod must move to a node.
    let bound: Result<serde_json::Value, _> = pods
        .create_subresource("binding", "probe-pending", &PostParams::default(), &binding)
        .await;
    let ev = events
        .until("upsert of probe-pending on a node", |e| {
            e.event == "upsert"
                && e.json()["object"]["name"] == "probe-pending"
                && !e.json()["object"]["node"].is_null()
        })
        .await;
    let on = ev.json()["object"]["node"]
        .as_str()
        .expect("node name")
        .to_owned();
    if bound.is_ok() {
        assert_eq!(on, node);
    }
    let (_, page) = stack.get("/").await;
    let holder = section_holding(&page, "default/probe-pending").expect("bound pod on the page");
    assert!(
        holder.contains(&format!("data-node=\"{on}\"")),
        "bound pod in its node box: {holder}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_going_away_removes_its_box() {
    let stack = Stack::builder().nodes(2).pods(0).start().await;
    let nodes: Api<Node> = Api::all(stack.kube());
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "probe-node", "labels": {"node-role.kubernetes.io/worker": ""}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]}
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    eventually("the new node's box", || async {
        let (_, page) = stack.get("/").await;
        page.contains("data-node=\"probe-node\"").then_some(())
    })
    .await;
    let (_, page) = stack.get("/").await;
    assert!(page.contains(">worker<"), "role shown");

    nodes
        .delete("probe-node", &DeleteParams::default())
        .await
        .expect("delete node");
    eventually("the node's box to vanish", || async {
        let (_, page) = stack.get("/").await;
        (!page.contains("data-node=\"probe-node\"")).then_some(())
    })
    .await;
    let snap = stack.snapshot("").await;
    // Only walls of several clusters name the cluster: one cluster's JSON is as before.
    assert!(snap.get("cluster").is_none(), "{snap}");
    assert!(
        snap["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["name"] != "probe-node")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_node_without_details_stay_visible() {
    let stack = Stack::builder().nodes(2).pods(0).start().await;
    stack
        .create_pod("default", "probe-orphan", Some("no-such-node"))
        .await;
    let page = eventually("the orphan pod on the page", || async {
        let (_, page) = stack.get("/").await;
        page.contains("data-pod=\"default/probe-orphan\"")
            .then_some(page)
    })
    .await;
    let holder = section_holding(&page, "default/probe-orphan").expect("orphan pod block");
    assert!(holder.contains("data-node=\"no-such-node\""), "{holder}");
    assert!(page.contains("node details unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_stream_sends_rendered_fragments_keyed_by_element_id() {
    let stack = Stack::builder().nodes(2).pods(3).start().await;
    let mut events = stack.sse("/events", None).await;
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    let html = reset.json()["html"].as_str().expect("wall html").to_owned();
    assert_eq!(html.matches("data-pod=").count(), 3);
    assert!(html.contains("id=\"unscheduled\""));

    let node = stack.snapshot("").await["nodes"][0]["name"]
        .as_str()
        .expect("node")
        .to_owned();
    stack.create_pod("default", "frag-probe", Some(&node)).await;
    let up = events
        .until("pod fragment", |e| {
            e.event == "upsert" && e.json()["id"] == "pod/default/frag-probe"
        })
        .await;
    let d = up.json();
    assert_eq!(d["parent"], format!("node/{node}").as_str());
    let block = d["html"].as_str().expect("block html");
    assert!(
        block.contains("data-pod=\"default/frag-probe\"") && block.contains("data-status=\""),
        "{block}"
    );
    stack.delete_pod("default", "frag-probe").await;
    let del = events
        .until("pod delete", |e| {
            e.event == "delete" && e.json()["id"] == "pod/default/frag-probe"
        })
        .await;
    assert!(del.id.is_some());
}

/// A browser sends `Accept-Encoding: gzip, deflate, br, zstd` with its EventSource
/// request; the stream then comes compressed (shared segments, see `src/deflate.rs`) and
/// carries exactly the events an uncompressed stream does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_accepting_deflate_gets_the_same_events_compressed() {
    let stack = Stack::builder().nodes(3).pods(20).start().await;
    let node = stack.snapshot("").await["nodes"][0]["name"]
        .as_str()
        .expect("a node")
        .to_owned();
    let filtered = format!("/events?node={node}");
    for path in ["/api/events", "/events", &filtered] {
        let url = format!("{}{path}", stack.url());
        let plain = stack.http.get(&url).send().await.expect("SSE connect");
        assert_eq!(plain.headers().get("content-encoding"), None);
        let compressed = stack
            .http
            .get(&url)
            .header("Accept-Encoding", "gzip, deflate, br, zstd")
            .send()
            .await
            .expect("SSE connect");
        assert_eq!(compressed.status(), 200);
        assert_eq!(
            compressed
                .headers()
                .get("content-encoding")
                .map(|v| v.as_bytes()),
            Some(&b"deflate"[..]),
            "{path}"
        );
        assert_eq!(
            compressed.headers().get("vary").map(|v| v.as_bytes()),
            Some(&b"Accept-Encoding"[..])
        );
        let mut plain = testkit::SseClient::from_response(plain);
        let mut compressed = testkit::SseClient::inflating(compressed);
        let name = format!("probe-deflate-{}", path.len());
        stack.create_pod("default", &name, Some(&node)).await;
        let mut streams = Vec::new();
        for client in [&mut plain, &mut compressed] {
            let mut events = Vec::new();
            client
                .until(&format!("the upsert of {name} on {path}"), |e| {
                    events.push((e.id.clone(), e.event.clone(), e.data.clone()));
                    e.event == "upsert" && e.data.contains(&name)
                })
                .await;
            streams.push(events);
        }
        assert_eq!(streams[0].len(), streams[1].len(), "{path}");
        assert_eq!(streams[0], streams[1], "{path}: the same events");
        assert_eq!(streams[0][0].1, "reset");
    }
}
