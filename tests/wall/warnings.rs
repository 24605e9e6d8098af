//! Warning events from the events watch to the page: the snapshot, `/api/events` (kind
//! `Warning`), the HTML fragments of the lane, the pod and node views' `warning`, filtered
//! clients, expiry, deletion with the object, and a refused or absent events API.
//!
//! Most tests hand events over where the events watch does (`Stack::warn` calls the
//! cache's `Sink::warnings`; everything after it runs as in production, real HTTP out), so
//! they choose exactly what arrives; two go through the simulator's `events.k8s.io/v1`
//! with the real kube client (a created warning, a 403).

use std::time::Duration;

use podwall::fixtures::warning_event;
use serde_json::Value;
use testkit::{SseClient, Stack, eventually};

/// A pod of the snapshot: (namespace, name, node).
fn some_pod(snap: &Value) -> (String, String, Option<String>) {
    let p = &snap["pods"][0];
    (
        p["namespace"].as_str().expect("ns").to_owned(),
        p["name"].as_str().expect("name").to_owned(),
        p["node"].as_str().map(str::to_owned),
    )
}

/// Reads until the `Warning` upsert whose object is `name` (the event's name).
async fn warning_upsert(events: &mut SseClient, name: &str) -> Value {
    events
        .until(&format!("Warning upsert {name}"), |e| {
            e.event == "upsert"
                && e.json()["kind"] == "Warning"
                && e.json()["object"]["name"] == name
        })
        .await
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_reaches_the_snapshot_the_json_stream_the_pod_and_the_page_escaped() {
    let stack = Stack::builder().nodes(2).pods(8).start().await;
    let snap = stack.snapshot("").await;
    assert_eq!(snap["warnings"], serde_json::json!([]));
    let (ns, pod, _) = some_pod(&snap);
    let other_ns = if ns == "zz-nobody" {
        "zz-other"
    } else {
        "zz-nobody"
    };
    let mut all = stack.sse("/api/events", None).await;
    let mut mine = stack.sse(&format!("/api/events?ns={ns}"), None).await;
    let mut others = stack.sse(&format!("/api/events?ns={other_ns}"), None).await;
    let mut html = stack.sse("/events", None).await;
    for s in [&mut all, &mut mine, &mut others, &mut html] {
        assert_eq!(s.next().await.event, "reset");
    }

    let hostile = "Back-off <script>alert(\"x\")</script> restarting & failing";
    let event = warning_event("Pod", &ns, &pod, "BackOff", hostile);
    let event_name = event["metadata"]["name"].as_str().expect("name").to_owned();
    stack.warn(&event);

    // JSON: the pod's view carries the reason, then the warning itself, message intact.
    let pod_upsert = all
        .until("the pod's upsert with its warning", |e| {
            e.event == "upsert"
                && e.json()["kind"] == "Pod"
                && e.json()["object"]["name"] == pod.as_str()
        })
        .await;
    assert_eq!(pod_upsert.json()["object"]["warning"], "BackOff");
    let up = warning_upsert(&mut all, &event_name).await;
    let object = &up["object"];
    assert_eq!(
        object["message"], hostile,
        "JSON carries the text as it is, encoded"
    );
    assert_eq!(object["reason"], "BackOff");
    assert_eq!(object["namespace"], ns.as_str());
    assert_eq!(object["count"], 1);
    assert_eq!(
        object["regarding"],
        serde_json::json!({"kind": "Pod", "namespace": ns, "name": pod})
    );
    assert!(
        object["lastSeen"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(up.get("cluster").is_none());

    // A client filtered to the pod's namespace sees it; one filtered elsewhere does not.
    warning_upsert(&mut mine, &event_name).await;
    let leaked = others.next_within(Duration::from_millis(800)).await;
    assert!(
        leaked
            .as_ref()
            .is_none_or(|e| e.json()["kind"] != "Warning"),
        "a client that cannot see the pod got its warning: {leaked:?}"
    );

    // The snapshot: the warning, the pod's reason; a filter elsewhere hides both.
    let snap = stack.snapshot("").await;
    assert_eq!(snap["warnings"][0]["name"], event_name.as_str());
    let filtered = stack.snapshot(&format!("?ns={other_ns}")).await;
    assert_eq!(filtered["warnings"], serde_json::json!([]));

    // HTML: the lane's fragment, escaped; the page renders the lane with the item.
    let frag = html
        .until("the lane's fragment", |e| {
            e.event == "upsert" && e.json()["parent"] == "warnings"
        })
        .await
        .json();
    let item = frag["html"].as_str().expect("html");
    assert_eq!(frag["id"], format!("warning/{ns}/{event_name}"));
    assert!(!item.contains("<script>"), "{item}");
    assert!(item.contains("&#60;script&#62;"), "{item}");
    assert!(item.contains("BackOff") && item.contains(&format!("data-name=\"{pod}\"")));
    let (_, page) = stack.get("/").await;
    assert!(page.contains("id=\"warnings\""));
    assert!(page.contains(&format!("id=\"warning/{ns}/{event_name}\"")));
    assert!(!page.contains("<script>alert"));
    let (_, hidden) = stack.get("/?warnings=0").await;
    assert!(hidden.contains("class=\"warnings hidden\""));
    let (status, _) = stack.get("/?warnings=perhaps").await;
    assert_eq!(status, 400);

    // The same event again, counted: one upsert with the new count.
    let mut again = event.clone();
    again["series"] =
        serde_json::json!({"count": 4, "lastObservedTime": jiff::Timestamp::now().to_string()});
    stack.warn(&again);
    let up = warning_upsert(&mut all, &event_name).await;
    assert_eq!(up["object"]["count"], 4);

    // Deleted: a JSON delete, the pod's reason gone.
    stack.unwarn(&again);
    let del = all
        .until("the Warning delete", |e| {
            e.event == "delete" && e.json()["kind"] == "Warning"
        })
        .await
        .json();
    assert_eq!(
        del,
        serde_json::json!({"kind": "Warning", "namespace": ns, "name": event_name})
    );
    let snap = stack.snapshot("").await;
    assert_eq!(snap["warnings"], serde_json::json!([]));
    let view = snap["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["name"] == pod.as_str())
        .expect("the pod");
    assert!(view.get("warning").is_none(), "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_takes_its_warnings_and_an_early_warning_waits_for_its_pod() {
    let stack = Stack::builder().nodes(2).pods(4).start().await;
    let node = stack.snapshot("").await["nodes"][0]["name"]
        .as_str()
        .expect("a node")
        .to_owned();
    let mut all = stack.sse("/api/events", None).await;
    let mut on_node = stack.sse(&format!("/api/events?node={node}"), None).await;
    all.next().await;
    on_node.next().await;

    // The warning comes before its pod: kept, shown unfiltered, not yet to a filter that
    // needs the pod; when the pod arrives on the node, the filtered client gets it.
    let early = warning_event(
        "Pod",
        "default",
        "early-bird",
        "FailedMount",
        "volume not ready",
    );
    let early_name = early["metadata"]["name"].as_str().expect("name").to_owned();
    stack.warn(&early);
    warning_upsert(&mut all, &early_name).await;
    let filtered = stack.snapshot(&format!("?node={node}")).await;
    assert_eq!(filtered["warnings"], serde_json::json!([]));
    stack.create_pod("default", "early-bird", Some(&node)).await;
    warning_upsert(&mut on_node, &early_name).await;
    let snap = stack.snapshot(&format!("?node={node}")).await;
    assert_eq!(snap["warnings"][0]["name"], early_name.as_str());
    let pod = snap["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["name"] == "early-bird")
        .expect("the pod")
        .clone();
    assert_eq!(
        pod["warning"], "FailedMount",
        "the view joins its warning on arrival"
    );

    // The pod goes: so does its warning, for both clients.
    stack.delete_pod("default", "early-bird").await;
    for s in [&mut all, &mut on_node] {
        let del = s
            .until("the Warning delete", |e| {
                e.event == "delete" && e.json()["kind"] == "Warning"
            })
            .await;
        assert_eq!(del.json()["name"], early_name.as_str());
    }
    assert_eq!(stack.snapshot("").await["warnings"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_expire_and_a_nodes_warning_follows_the_node_filter() {
    let stack = Stack::builder()
        .nodes(2)
        .pods(2)
        .each_cluster(|c| c.warnings_max_age(Duration::from_secs(2)))
        .start()
        .await;
    let snap = stack.snapshot("").await;
    let node = snap["nodes"][0]["name"].as_str().expect("node").to_owned();
    let other = snap["nodes"][1]["name"].as_str().expect("node").to_owned();
    let event = warning_event("Node", "", &node, "NodeNotReady", "Node is not ready");
    stack.warn(&event);
    let snap = stack.snapshot(&format!("?node={node}")).await;
    assert_eq!(snap["warnings"][0]["regarding"]["kind"], "Node");
    assert_eq!(snap["warnings"][0]["regarding"]["namespace"], Value::Null);
    assert_eq!(snap["nodes"][0]["warning"], "NodeNotReady");
    let elsewhere = stack.snapshot(&format!("?node={other}")).await;
    assert_eq!(elsewhere["warnings"], serde_json::json!([]));

    let mut all = stack.sse("/api/events", None).await;
    all.next().await;
    // Kept to the second: past the 2 s maximum age by a whole second.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // The app sweeps every WARNINGS_SWEEP; the test does not wait for it.
    stack.server().cache().expire_warnings();
    all.until("the expiry's delete", |e| {
        e.event == "delete" && e.json()["kind"] == "Warning"
    })
    .await;
    let node_upsert = all
        .until("the node without its warning", |e| {
            e.event == "upsert" && e.json()["kind"] == "Node"
        })
        .await;
    assert!(node_upsert.json()["object"].get("warning").is_none());
    eventually("the snapshot without warnings", || async {
        (stack.snapshot("").await["warnings"] == serde_json::json!([])).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_events_api_the_wall_is_ready_and_the_apiserver_ok() {
    // The simulator does not serve events.k8s.io (yet): the watch gets 404.
    let stack = Stack::builder().nodes(2).pods(4).start().await;
    let snap = eventually("the events state settles", || async {
        let snap = stack.snapshot("").await;
        (snap["events"] != "starting").then_some(snap)
    })
    .await;
    assert_eq!(
        snap["apiserver"]["apiserver"], "ok",
        "{}",
        snap["apiserver"]
    );
    assert!(
        ["unavailable", "ok"].contains(&snap["events"].as_str().unwrap_or("")),
        "{}",
        snap["events"]
    );
    let (status, _) = stack.get("/readyz").await;
    assert_eq!(status, 200);
    if snap["events"] == "unavailable" {
        let (_, page) = stack.get("/").await;
        assert!(
            page.contains("events not served by this API server"),
            "the lane says so"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_events_keep_the_wall_working_and_say_so_quietly() {
    let mut stack = Stack::builder().nodes(2).pods(4).no_server().start().await;
    stack.control("faults/forbid?resource=events").await;
    stack.start_server().await;
    let snap = eventually("events forbidden", || async {
        let snap = stack.snapshot("").await;
        (snap["events"] == "forbidden").then_some(snap)
    })
    .await;
    assert_eq!(snap["apiserver"]["apiserver"], "ok");
    let (status, _) = stack.get("/readyz").await;
    assert_eq!(status, 200);
    let (_, page) = stack.get("/").await;
    assert!(page.contains("events not permitted"));
    assert!(
        page.contains("banner-api hidden"),
        "the API server banner stays hidden"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_created_in_the_simulator_reaches_the_wall() {
    use k8s_openapi::api::events::v1::Event;
    let stack = Stack::builder().nodes(2).pods(4).start().await;
    let (ns, pod, _) = some_pod(&stack.snapshot("").await);
    let mut all = stack.sse("/api/events", None).await;
    all.next().await;
    let json = warning_event("Pod", &ns, &pod, "Unhealthy", "Readiness probe failed: 503");
    let name = json["metadata"]["name"].as_str().expect("name").to_owned();
    let event: Event = serde_json::from_value(json).expect("event");
    let api: kube::Api<Event> = kube::Api::namespaced(stack.kube(), &ns);
    api.create(&Default::default(), &event)
        .await
        .expect("create the event");
    let up = warning_upsert(&mut all, &name).await;
    assert_eq!(up["object"]["reason"], "Unhealthy");
    // A Normal event is filtered out by the API server (fieldSelector type=Warning).
    let mut normal = warning_event("Pod", &ns, &pod, "Pulled", "pulled");
    normal["type"] = "Normal".into();
    let normal: Event = serde_json::from_value(normal).expect("event");
    api.create(&Default::default(), &normal)
        .await
        .expect("create the event");
    api.delete(&name, &Default::default())
        .await
        .expect("delete the event");
    let del = all
        .until("the delete", |e| {
            e.event == "delete" && e.json()["kind"] == "Warning"
        })
        .await;
    assert_eq!(del.json()["name"], name.as_str());
    let snap = stack.snapshot("").await;
    assert!(
        snap["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .all(|w| w["reason"] != "Pulled")
    );
}

/// The optional manifest grants exactly what the events watch asks for.
#[test]
fn events_rbac_manifest_matches_the_watch() {
    super::assert_optional_rbac(
        "deploy/optional/events-rbac.yaml",
        "events.k8s.io",
        podwall::EVENTS_RBAC,
    );
}
