//! A scoped screen receives nothing outside its scope on any stream while the cluster
//! churns, and its streams, applied, equal the simulator's state filtered by the scope.
//! `PODWALL_SCOPE_SOAK_SECS` sets how long it churns (default 20 s; the full run
//! is `PODWALL_SCOPE_SOAK_SECS=600 cargo test --test wall scope::`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use testkit::{Model, SseClient, SseEvent, SseItem, Stack};

/// The screen's namespaces.
const SCOPE: [&str; 2] = ["web", "payments"];
const TOKEN: &str = "soak-screen-0123456789abcdef";
/// A label-scoped screen: pods of part-of=data only.
const LABELLED: &str = "soak-labelled-0123456789abcdef";

fn soak_duration() -> Duration {
    let secs = testkit::setting("PODWALL_SCOPE_SOAK_SECS").unwrap_or(20);
    Duration::from_secs(secs)
}

/// The namespaces named in an `/events` or `/api/events` frame: its pods' and warnings'.
fn namespaces_in(data: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for marker in [
        "data-pod=\"",
        "\"id\":\"pod/",
        "\"namespace\":\"",
        "\"id\":\"warning/",
    ] {
        for (i, _) in data.match_indices(marker) {
            let rest = &data[i + marker.len()..];
            let end = rest.find(['/', '"']).unwrap_or(rest.len());
            found.insert(rest[..end].to_owned());
        }
    }
    found
}

/// Opens `path` as the screen holding `token`.
async fn open(stack: &Stack, token: &str, path: &str) -> SseClient {
    let resp = stack.request_as(token, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    SseClient::from_response(resp)
}

/// Every object of `ev` (JSON stream) is inside the namespaces scope.
fn assert_in_scope(ev: &SseEvent, what: &str) {
    if ev.event == "attention" {
        // The screen's rules name what they match: pods of its scope, or nodes.
        for alert in ev.json()["alerts"].as_array().expect("alerts") {
            for object in alert["objects"].as_array().expect("objects") {
                let object = object.as_str().expect("a name");
                if let Some((ns, _)) = object.split_once('/') {
                    assert!(SCOPE.contains(&ns), "{what}: alert names {object}");
                }
            }
        }
        return;
    }
    for ns in namespaces_in(&ev.data) {
        // A Node has no namespace; warnings about nodes live in `default` only when
        // the scope has it, and the team's has not.
        assert!(
            SCOPE.contains(&ns.as_str()),
            "{what}: {ns} out of scope in {}: {}",
            ev.event,
            ev.data
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_screen_receives_nothing_outside_its_scope_under_churn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("screens.json");
    let screens = serde_json::json!({"screens": [
        {"name": "soak", "token": TOKEN, "namespaces": SCOPE, "alert": "crashloop,notready"},
        {"name": "labelled", "token": LABELLED, "labels": "app.kubernetes.io/part-of=data"},
    ]});
    std::fs::write(&file, screens.to_string()).expect("write");
    let stack = Stack::builder()
        .nodes(6)
        .pods(150)
        .churn(25.0)
        .seed(25)
        .config(move |c| c.screens_file(Some(file)))
        .start()
        .await;
    let mut json = open(&stack, TOKEN, "/api/events").await;
    let mut html = open(&stack, TOKEN, "/events?ns=web,data,kube-system").await;
    let mut narrowed = open(&stack, TOKEN, "/api/events?ns=payments,data&problems=0").await;
    let mut labelled = open(&stack, LABELLED, "/api/events").await;
    let mut model = Model::default();
    let mut labelled_model = Model::default();
    let soak = soak_duration();
    let started = Instant::now();
    let mut events = 0usize;
    let mut resumed = 0usize;
    while started.elapsed() < soak {
        // Every stream is read in turn, a little at a time.
        while let SseItem::Event(ev) = json.next_item(Duration::from_millis(50)).await {
            assert_in_scope(&ev, "/api/events");
            model.apply(&ev);
            events += 1;
        }
        while let SseItem::Event(ev) = html.next_item(Duration::from_millis(20)).await {
            assert_in_scope(&ev, "/events");
        }
        while let SseItem::Event(ev) = narrowed.next_item(Duration::from_millis(20)).await {
            for ns in namespaces_in(&ev.data) {
                assert_eq!(ns, "payments", "narrowed: {}", ev.data);
            }
        }
        while let SseItem::Event(ev) = labelled.next_item(Duration::from_millis(20)).await {
            labelled_model.apply(&ev);
            for pod in labelled_model.pods.values() {
                assert_eq!(pod["labels"]["app.kubernetes.io/part-of"], "data", "{pod}");
            }
        }
        // Now and then the page reconnects from where it was, as a browser does.
        if started.elapsed().as_secs() % 7 == 6
            && resumed < started.elapsed().as_secs() as usize / 7
        {
            let last = html.last_id.clone();
            let resp = stack
                .http
                .get(format!("{}/events", stack.url()))
                .bearer_auth(TOKEN)
                .header("Last-Event-ID", last.unwrap_or_default())
                .send()
                .await
                .expect("resume");
            html = SseClient::from_response(resp);
            resumed += 1;
        }
    }
    assert!(events > 10, "the cluster churned: {events} events in scope");
    // Quiet now: the stream must settle on the simulator's state, filtered by the scope.
    stack.control("churn?rate=0").await;
    let pods: Api<Pod> = Api::all(stack.kube());
    let mut last_mismatch = String::new();
    for _ in 0..40 {
        while let SseItem::Event(ev) = json.next_item(Duration::from_millis(200)).await {
            assert_in_scope(&ev, "/api/events");
            model.apply(&ev);
        }
        let listed = pods.list(&Default::default()).await.expect("list pods");
        let want: BTreeMap<String, Option<String>> = listed
            .items
            .iter()
            .filter(|p| SCOPE.contains(&p.metadata.namespace.as_deref().unwrap_or("")))
            .map(|p| {
                let key = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or(""),
                    p.metadata.name.as_deref().unwrap_or("")
                );
                (key, p.spec.as_ref().and_then(|s| s.node_name.clone()))
            })
            .collect();
        let got: BTreeMap<String, Option<String>> = model
            .pods
            .iter()
            .map(|(k, v)| (k.clone(), v["node"].as_str().map(str::to_owned)))
            .collect();
        if got == want {
            eprintln!(
                "scope soak: {events} events in scope over {soak:?}, {resumed} resumes; \
                 the stream equals the simulator's {} pods in scope",
                want.len()
            );
            return;
        }
        last_mismatch = format!("stream {got:?}\nsimulator {want:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the scoped stream never matched the simulator's scoped state:\n{last_mismatch}");
}
