//! Events: one stored object seen through core/v1 and `events.k8s.io/v1`, converted the
//! real server's way, each version with its own field labels for field selectors.

use std::collections::BTreeSet;

use futures::StreamExt;
use http::{Method, StatusCode};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::{Value, json};
use testkit::next_within;
use testkit::target::{ApiServer, Target, target};

fn core_path(t: &Target) -> String {
    format!("/api/v1/namespaces/{}/events", t.namespace)
}

fn events_v1_path(t: &Target) -> String {
    format!("/apis/events.k8s.io/v1/namespaces/{}/events", t.namespace)
}

/// A kubelet's event as client-go's legacy recorder writes it, through core/v1.
fn legacy_event(t: &Target, name: &str, pod: &str, kind: &str, reason: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "namespace": t.namespace, "name": pod, "uid": format!("uid-{pod}"),
            "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
        "reason": reason, "message": format!("{reason} for container app in pod {pod}"),
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z",
        "count": 5, "type": kind, "reportingComponent": "kubelet", "reportingInstance": "node-1"
    })
}

/// The scheduler's event as client-go's events.k8s.io recorder writes it.
fn scheduler_event(t: &Target, name: &str, pod: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-cp-0",
        "action": "Scheduling", "reason": "FailedScheduling", "type": "Warning",
        "regarding": {"kind": "Pod", "namespace": t.namespace, "name": pod, "uid": format!("uid-{pod}"), "apiVersion": "v1"},
        "note": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    })
}

async fn create(t: &Target, path: &str, body: Value) -> Value {
    let (code, created) = t
        .raw(Method::POST, path, Some(body), "application/json")
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    created
}

async fn names(t: &Target, path: &str, selector: &str) -> BTreeSet<String> {
    let url = format!("{path}?fieldSelector={}", selector.replace('=', "%3D"));
    let (code, list) = t.raw(Method::GET, &url, None, "application/json").await;
    assert_eq!(code, StatusCode::OK, "{selector}: {list}");
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// An object as the Table kubectl asks for.
async fn get_table(t: &Target, path: &str) -> Value {
    let req = http::Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new().into())
        .expect("request");
    let resp = t.client.send(req).await.expect("answered");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect_bytes().await.expect("body");
    serde_json::from_slice(&body).expect("a Table")
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// An object without its metadata (uid, times, managedFields differ by server).
fn without_metadata(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
    }
    v
}

/// No legacy field in the new API's shape: absent, `null` or `{}`.
fn unset(v: &Value) -> bool {
    v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
}

pub async fn events_are_one_object_in_both_api_versions(on: ApiServer) {
    let t = target(on, "events-convert").await;
    let (core, v1) = (core_path(&t), events_v1_path(&t));

    // Written as core/v1, read as events.k8s.io/v1.
    let sent = legacy_event(&t, "web-1.legacy", "web-1", "Warning", "BackOff");
    create(&t, &core, sent.clone()).await;
    let (code, e) = t
        .raw(
            Method::GET,
            &format!("{v1}/web-1.legacy"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{e}");
    assert_eq!(
        (e["apiVersion"].as_str(), e["kind"].as_str()),
        (Some("events.k8s.io/v1"), Some("Event"))
    );
    assert_eq!(e["regarding"], sent["involvedObject"]);
    assert_eq!(e["note"], sent["message"]);
    assert_eq!(e["deprecatedCount"], 5);
    assert_eq!(e["deprecatedSource"], sent["source"]);
    assert_eq!(e["deprecatedFirstTimestamp"], sent["firstTimestamp"]);
    assert_eq!(e["deprecatedLastTimestamp"], sent["lastTimestamp"]);
    assert_eq!(e["reportingController"], "kubelet");
    assert_eq!(e["reportingInstance"], "node-1");
    assert_eq!(
        (e["type"].as_str(), e["reason"].as_str()),
        (Some("Warning"), Some("BackOff"))
    );
    assert!(e["eventTime"].is_null() && e.get("series").is_none(), "{e}");
    for legacy in [
        "involvedObject",
        "message",
        "count",
        "source",
        "firstTimestamp",
    ] {
        assert!(
            e.get(legacy).is_none(),
            "no {legacy} in events.k8s.io/v1: {e}"
        );
    }
    // Field for field, `null`s included, as the real server writes it.
    assert_eq!(
        without_metadata(&e),
        json!({
            "kind": "Event", "apiVersion": "events.k8s.io/v1", "eventTime": null,
            "reportingController": "kubelet", "reportingInstance": "node-1",
            "reason": "BackOff", "regarding": sent["involvedObject"], "note": sent["message"],
            "type": "Warning", "deprecatedSource": sent["source"],
            "deprecatedFirstTimestamp": sent["firstTimestamp"],
            "deprecatedLastTimestamp": sent["lastTimestamp"], "deprecatedCount": 5
        })
    );

    // Written as events.k8s.io/v1, read as core/v1.
    let sent = scheduler_event(&t, "web-2.new", "web-2");
    create(&t, &v1, sent.clone()).await;
    let (code, c) = t
        .raw(
            Method::GET,
            &format!("{core}/web-2.new"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{c}");
    assert_eq!(
        (c["apiVersion"].as_str(), c["kind"].as_str()),
        (Some("v1"), Some("Event"))
    );
    assert_eq!(c["involvedObject"], sent["regarding"]);
    assert_eq!(c["message"], sent["note"]);
    assert_eq!(c["reportingComponent"], "default-scheduler");
    assert_eq!(c["reportingInstance"], "default-scheduler-cp-0");
    assert_eq!(c["action"], "Scheduling");
    assert_eq!(c["eventTime"], sent["eventTime"]);
    assert!(unset(&c["source"]) && unset(&c["count"]), "{c}");
    assert!(
        unset(&c["firstTimestamp"]) && unset(&c["lastTimestamp"]),
        "{c}"
    );
    assert_eq!(
        without_metadata(&c),
        json!({
            "kind": "Event", "apiVersion": "v1", "involvedObject": sent["regarding"],
            "reason": "FailedScheduling", "message": sent["note"], "source": {},
            "firstTimestamp": null, "lastTimestamp": null, "type": "Warning",
            "eventTime": sent["eventTime"], "action": "Scheduling",
            "reportingComponent": "default-scheduler", "reportingInstance": "default-scheduler-cp-0"
        })
    );

    // A repeat, as the new recorder writes it: a series, seen as such in core/v1.
    let (code, patched) = t
        .raw(
            Method::PATCH,
            &format!("{v1}/web-2.new"),
            Some(
                json!({"series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"}}),
            ),
            "application/merge-patch+json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{patched}");
    assert_eq!(patched["series"]["count"], 2);
    let (_, c) = t
        .raw(
            Method::GET,
            &format!("{core}/web-2.new"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(c["series"]["count"], 2, "{c}");
    assert!(unset(&c["count"]), "{c}");

    // kubectl's Table: the same columns and cells from either version.
    for path in [&core, &v1] {
        let table = get_table(&t, &format!("{path}/web-1.legacy")).await;
        let columns: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            columns,
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
        let cells = &table["rows"][0]["cells"];
        assert_eq!(
            cells.as_array().map(|c| c[1..].to_vec()),
            Some(vec![
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-1"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("BackOff for container app in pod web-1"),
                cells[7].clone(),
                json!(5),
                json!("web-1.legacy"),
            ]),
            "{table}"
        );
    }

    // Both lists hold both events.
    let both = set(&["web-1.legacy", "web-2.new"]);
    assert_eq!(names(&t, &core, "").await, both);
    assert_eq!(names(&t, &v1, "").await, both);
    // Pages of one, through events.k8s.io/v1.
    let (code, first) = t
        .raw(
            Method::GET,
            &format!("{v1}?limit=1"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{first}");
    assert_eq!(first["items"][0]["metadata"]["name"], "web-1.legacy");
    assert_eq!(first["metadata"]["remainingItemCount"], 1, "{first}");
    let token = first["metadata"]["continue"].as_str().unwrap_or_default();
    let (code, second) = t
        .raw(
            Method::GET,
            &format!("{v1}?limit=1&continue={token}"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{second}");
    assert_eq!(second["items"][0]["metadata"]["name"], "web-2.new");
    assert_eq!(second["items"][0]["regarding"]["name"], "web-2");
    assert!(second["metadata"].get("continue").is_none(), "{second}");

    // The strict rules of events.k8s.io/v1: legacy fields are refused on create.
    let mut bad = scheduler_event(&t, "web-3.bad", "web-3");
    bad["deprecatedCount"] = 3.into();
    let (code, status) = t
        .raw(Method::POST, &v1, Some(bad), "application/json")
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["reason"], "Invalid");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Event \"web-3.bad\" is invalid: ")
            && message.contains("count: Invalid value: \"\": needs to be unset"),
        "{status}"
    );

    // Deleted through one version, gone from the other.
    let (code, status) = t
        .raw(
            Method::DELETE,
            &format!("{v1}/web-2.new"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{status}");
    assert_eq!(
        (status["kind"].as_str(), status["status"].as_str()),
        (Some("Status"), Some("Success"))
    );
    let (code, _) = t
        .raw(
            Method::GET,
            &format!("{core}/web-2.new"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    t.finish().await;
}

pub async fn events_field_selectors_follow_each_api_version(on: ApiServer) {
    let t = target(on, "events-select").await;
    let (core, v1) = (core_path(&t), events_v1_path(&t));
    create(
        &t,
        &core,
        legacy_event(&t, "a.backoff", "a", "Warning", "BackOff"),
    )
    .await;
    create(
        &t,
        &core,
        legacy_event(&t, "a.pulled", "a", "Normal", "Pulled"),
    )
    .await;
    create(&t, &v1, scheduler_event(&t, "b.failed", "b")).await;

    // events.k8s.io/v1 labels.
    assert_eq!(
        names(&t, &v1, "type=Warning").await,
        set(&["a.backoff", "b.failed"])
    );
    assert_eq!(names(&t, &v1, "reason=BackOff").await, set(&["a.backoff"]));
    assert_eq!(
        names(&t, &v1, "regarding.name=a").await,
        set(&["a.backoff", "a.pulled"])
    );
    assert_eq!(
        names(&t, &v1, "regarding.kind=Pod,type!=Warning").await,
        set(&["a.pulled"])
    );
    assert_eq!(
        names(&t, &v1, "reportingController=default-scheduler").await,
        set(&["b.failed"])
    );
    assert_eq!(
        names(&t, &v1, "type=Warning,regarding.name=a").await,
        set(&["a.backoff"])
    );
    assert_eq!(
        names(&t, &v1, "metadata.name=a.pulled").await,
        set(&["a.pulled"])
    );

    // core/v1 labels, on the same events.
    assert_eq!(
        names(&t, &core, "involvedObject.name=b").await,
        set(&["b.failed"])
    );
    assert_eq!(
        names(&t, &core, "type=Warning").await,
        set(&["a.backoff", "b.failed"])
    );
    assert_eq!(
        names(&t, &core, "source=kubelet").await,
        set(&["a.backoff", "a.pulled"])
    );
    // `source` falls back to the reporting controller when there is no source.
    assert_eq!(
        names(&t, &core, "source=default-scheduler").await,
        set(&["b.failed"])
    );
    assert_eq!(
        names(&t, &core, "reportingComponent=default-scheduler").await,
        set(&["b.failed"])
    );
    assert_eq!(
        names(
            &t,
            &core,
            "involvedObject.fieldPath=spec.containers{app},reason=Pulled"
        )
        .await,
        set(&["a.pulled"])
    );

    // One version's labels are not the other's: a 400 worded like the real server's.
    for (path, label) in [
        (&v1, "involvedObject.name"),
        (&v1, "source"),
        (&core, "regarding.name"),
        (&core, "note"),
    ] {
        let url = format!("{path}?fieldSelector={label}%3Dx");
        let (code, status) = t.raw(Method::GET, &url, None, "application/json").await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{label}: {status}");
        assert_eq!(status["reason"], "BadRequest");
        assert_eq!(
            status["message"].as_str(),
            Some(format!("field label not supported: {label}").as_str()),
            "{status}"
        );
    }

    // A watch through events.k8s.io/v1 with `type=Warning` sees only the warnings, in
    // that version's shape.
    let (_, list) = t.raw(Method::GET, &v1, None, "application/json").await;
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let api: Api<Event> = Api::namespaced(t.client.clone(), &t.namespace);
    let mut w = api
        .watch(&WatchParams::default().fields("type=Warning"), &from)
        .await
        .expect("watch")
        .boxed();
    create(
        &t,
        &core,
        legacy_event(&t, "c.started", "c", "Normal", "Started"),
    )
    .await;
    create(
        &t,
        &core,
        legacy_event(&t, "c.unhealthy", "c", "Warning", "Unhealthy"),
    )
    .await;
    let seen = loop {
        match next_within(&mut w, "a Warning event")
            .await
            .expect("watch event")
        {
            WatchEvent::Added(e) => break e,
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected watch event: {other:?}"),
        }
    };
    assert_eq!(seen.metadata.name.as_deref(), Some("c.unhealthy"));
    assert_eq!(
        seen.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("c")
    );
    assert_eq!(
        seen.note.as_deref(),
        Some("Unhealthy for container app in pod c")
    );
    assert_eq!(seen.deprecated_count, Some(5));

    // Deleted through core/v1: the events.k8s.io/v1 watch sees it go, in its shape.
    let (code, _) = t
        .raw(
            Method::DELETE,
            &format!("{core}/c.unhealthy"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let gone = loop {
        match next_within(&mut w, "the delete")
            .await
            .expect("watch event")
        {
            WatchEvent::Deleted(e) => break e,
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected watch event: {other:?}"),
        }
    };
    assert_eq!(gone.metadata.name.as_deref(), Some("c.unhealthy"));
    assert_eq!(gone.reason.as_deref(), Some("Unhealthy"));
    drop(w);

    // A core/v1 watch with `involvedObject.name`.
    let (_, list) = t.raw(Method::GET, &core, None, "application/json").await;
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let api: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(t.client.clone(), &t.namespace);
    let mut w = api
        .watch(
            &WatchParams::default().fields("involvedObject.name=d"),
            &from,
        )
        .await
        .expect("watch")
        .boxed();
    create(
        &t,
        &core,
        legacy_event(&t, "c.killing", "c", "Normal", "Killing"),
    )
    .await;
    create(&t, &v1, scheduler_event(&t, "d.failed", "d")).await;
    let seen = loop {
        match next_within(&mut w, "d's event").await.expect("watch event") {
            WatchEvent::Added(e) => break e,
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected watch event: {other:?}"),
        }
    };
    assert_eq!(seen.metadata.name.as_deref(), Some("d.failed"));
    assert_eq!(
        seen.reporting_component.as_deref(),
        Some("default-scheduler")
    );
    assert!(seen.count.is_none() && seen.first_timestamp.is_none());
    drop(w);

    // Across namespaces, narrowed by `metadata.namespace`.
    let everywhere = "/apis/events.k8s.io/v1/events";
    let selector = format!("metadata.namespace={},regarding.name=d", t.namespace);
    assert_eq!(names(&t, everywhere, &selector).await, set(&["d.failed"]));
    t.finish().await;
}

pub async fn events_k8s_io_is_discovered(on: ApiServer) {
    let t = target(on, "events-discovery").await;
    let (code, groups) = t.raw(Method::GET, "/apis", None, "application/json").await;
    assert_eq!(code, StatusCode::OK);
    let group = groups["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == "events.k8s.io"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        group["preferredVersion"]["groupVersion"], "events.k8s.io/v1",
        "{groups}"
    );
    let (code, list) = t
        .raw(
            Method::GET,
            "/apis/events.k8s.io/v1",
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{list}");
    assert_eq!(list["groupVersion"], "events.k8s.io/v1");
    let events = list["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "events"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            events["namespaced"].as_bool(),
            events["kind"].as_str(),
            events["singularName"].as_str()
        ),
        (Some(true), Some("Event"), Some("event")),
        "{list}"
    );
    let verbs: BTreeSet<&str> = events["verbs"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for verb in [
        "create", "delete", "get", "list", "patch", "update", "watch",
    ] {
        assert!(verbs.contains(verb), "{verb}: {list}");
    }
    let (code, core) = t
        .raw(Method::GET, "/api/v1", None, "application/json")
        .await;
    assert_eq!(code, StatusCode::OK);
    let core_events = core["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "events"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(core_events["shortNames"], json!(["ev"]), "{core}");
    assert_eq!(core_events["namespaced"], true);
    t.finish().await;
}
