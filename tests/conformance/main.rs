//! API conformance: behaviour podwall and common clients rely on, pinned against the
//! simulator (`sim::*`) and against a real kube-apiserver with the very same code
//! (`real::*`, ignored unless asked for: they need `PODWALL_CONFORMANCE_KUBECONFIG`, which
//! `scripts/test-all` sets before it runs them with `--ignored`). Tests that disrupt the
//! server (compaction) get a real control plane of their own.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{Stream, StreamExt};
use http::{Method, StatusCode};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, VersionMatch, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use serde_json::json;
use testkit::target::{ApiServer, Target, target, target_private};
use testkit::{DEADLINE, eventually, next_within};

mod events;
use events::{
    events_are_one_object_in_both_api_versions, events_field_selectors_follow_each_api_version,
    events_k8s_io_is_discovered,
};

/// Each test twice: against the simulator, and (ignored unless asked for) against a real
/// kube-apiserver.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod sim {
            use testkit::target::ApiServer;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(ApiServer::Sim).await;
                }
            )*
        }

        mod real {
            use testkit::target::ApiServer;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs a real kube-apiserver (PODWALL_CONFORMANCE_KUBECONFIG; scripts/test-all runs it)"]
                async fn $test() {
                    super::$test(ApiServer::Real).await;
                }
            )*
        }
    };
}

on_both!(
    watch_resume_delivers_every_change_once_in_order,
    compacted_history_is_gone_for_list_continue_and_watch,
    label_and_field_selectors_filter_lists,
    selectors_filter_watches_with_added_and_deleted_on_match_changes,
    pages_are_consistent_at_the_first_page_version_under_concurrent_writes,
    watch_sends_bookmarks_when_asked,
    send_initial_events_ends_with_the_initial_events_end_bookmark,
    paged_watcher_lists_everything_then_follows_changes,
    graceful_delete_marks_terminating_then_deletes,
    write_errors_have_the_apiserver_codes_and_reasons,
    malformed_list_requests_are_400_with_a_message,
    merge_patch_status_and_binding_subresources,
    watch_ends_after_timeout_seconds,
    deleting_a_namespace_terminates_it_and_its_pods,
    field_validation_rejects_or_drops_unknown_fields,
    events_are_one_object_in_both_api_versions,
    events_field_selectors_follow_each_api_version,
    events_k8s_io_is_discovered,
);

fn name_of(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

fn rv_of(p: &Pod) -> u64 {
    p.metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("numeric resourceVersion")
}

/// (type, name, rv) of a watch event, for comparing streams.
fn summary(e: &WatchEvent<Pod>) -> (&'static str, String, u64) {
    match e {
        WatchEvent::Added(p) => ("ADDED", name_of(p), rv_of(p)),
        WatchEvent::Modified(p) => ("MODIFIED", name_of(p), rv_of(p)),
        WatchEvent::Deleted(p) => ("DELETED", name_of(p), rv_of(p)),
        WatchEvent::Bookmark(b) => (
            "BOOKMARK",
            String::new(),
            b.metadata.resource_version.parse().unwrap_or(0),
        ),
        WatchEvent::Error(s) => panic!("unexpected watch error: {s:?}"),
    }
}

/// Reads `n` non-bookmark events.
async fn take_events<S>(stream: &mut S, n: usize) -> Vec<(&'static str, String, u64)>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<Pod>>> + Unpin,
{
    let mut out = Vec::new();
    while out.len() < n {
        let e = next_within(stream, "a watch event")
            .await
            .expect("watch event");
        if !matches!(e, WatchEvent::Bookmark(_)) {
            out.push(summary(&e));
        }
    }
    out
}

async fn label(t: &Target, name: &str, labels: serde_json::Value) -> Pod {
    t.pods()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": labels}})),
        )
        .await
        .expect("patch")
}

/// Names of the pods a kube-runtime watcher delivers in its initial list (Init … InitDone).
async fn initial_names<S>(stream: &mut S) -> BTreeSet<String>
where
    S: Stream<Item = Result<watcher::Event<Pod>, watcher::Error>> + Unpin,
{
    let mut init = BTreeSet::new();
    loop {
        match next_within(stream, "watcher init")
            .await
            .expect("watcher event")
        {
            watcher::Event::Init => {}
            watcher::Event::InitApply(p) => {
                init.insert(name_of(&p));
            }
            watcher::Event::InitDone => return init,
            other => panic!("unexpected watcher event during init: {other:?}"),
        }
    }
}

fn api_error(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error status, got {other:?}"),
    }
}

async fn watch_resume_delivers_every_change_once_in_order(on: ApiServer) {
    let t = target(on, "watch-resume").await;
    let pods = t.pods();
    let start = t.list_rv().await;
    let mut reference = pods
        .watch(&WatchParams::default(), &start)
        .await
        .expect("watch")
        .boxed();
    t.create_pod("a", json!({"step": "1"}), None).await;
    t.create_pod("b", json!({"step": "1"}), None).await;
    label(&t, "a", json!({"step": "2"})).await;
    label(&t, "b", json!({"step": "2"})).await;
    label(&t, "a", json!({"step": "3"})).await;

    let mut first = pods
        .watch(&WatchParams::default(), &start)
        .await
        .expect("watch")
        .boxed();
    let first_part = take_events(&mut first, 5).await;
    drop(first);
    let resume_from = first_part.last().expect("five events").2;

    label(&t, "b", json!({"step": "3"})).await;
    pods.delete("a", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete a");
    t.create_pod("c", json!({"step": "1"}), None).await;
    label(&t, "c", json!({"step": "2"})).await;

    let mut resumed = pods
        .watch(&WatchParams::default(), &resume_from.to_string())
        .await
        .expect("watch")
        .boxed();
    let second_part = take_events(&mut resumed, 5).await;
    assert!(
        second_part[0].2 > resume_from,
        "a resumed watch must start after its resourceVersion"
    );

    let all = take_events(&mut reference, 10).await;
    let joined: Vec<_> = first_part
        .iter()
        .chain(second_part.iter())
        .cloned()
        .collect();
    assert_eq!(
        joined, all,
        "list-then-resume must equal one unbroken watch"
    );
    let kinds: Vec<(&str, &str)> = all.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            ("ADDED", "a"),
            ("ADDED", "b"),
            ("MODIFIED", "a"),
            ("MODIFIED", "b"),
            ("MODIFIED", "a"),
            ("MODIFIED", "b"),
            // Every pod delete, even with grace period 0, first writes deletionTimestamp
            // (the pod strategy's CheckGracefulDelete always takes the graceful path),
            // then removes the pod: MODIFIED, then DELETED.
            ("MODIFIED", "a"),
            ("DELETED", "a"),
            ("ADDED", "c"),
            ("MODIFIED", "c")
        ]
    );
    assert!(
        all.windows(2).all(|w| w[0].2 < w[1].2),
        "resourceVersions rise strictly: {all:?}"
    );
    t.finish().await;
}

/// On a real server this runs on a control plane of its own with the watch cache off:
/// with it on, a resumed watch is still served from the cache's event window after a
/// compaction and exact lists see the compaction only after up to ~15 s
/// (tests/kube-apiserver/README.md, "Compaction and 410 Gone").
async fn compacted_history_is_gone_for_list_continue_and_watch(on: ApiServer) {
    let t = target_private(on, "compacted", &[("PODWALL_KUBE_WATCH_CACHE", "false")]).await;
    for n in ["a", "b", "c"] {
        t.create_pod(n, json!({}), None).await;
    }
    let pods = t.pods();
    let page = pods
        .list(&ListParams::default().limit(1))
        .await
        .expect("first page");
    let old_rv = page.metadata.resource_version.clone().expect("rv");
    let token = page.metadata.continue_.clone().expect("continue token");
    t.create_pod("d", json!({}), None).await;
    t.compact().await;

    let e = api_error(
        pods.list(&ListParams::default().limit(1).continue_token(&token))
            .await
            .expect_err("continue must be 410"),
    );
    assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}");
    let exact = ListParams::default()
        .at(&old_rv)
        .matching(VersionMatch::Exact);
    let e = api_error(pods.list(&exact).await.expect_err("exact list must be 410"));
    assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}");
    // The watch cache says "too old resource version: RV (NOW)"; a list served by etcd
    // (watch cache off) says "The resourceVersion for the provided list is too old."
    // (apiserver storage/etcd3 interpretListError). Both are 410 Expired.
    assert!(
        e.message
            .starts_with(&format!("too old resource version: {old_rv} ("))
            || e.message == "The resourceVersion for the provided list is too old.",
        "{}",
        e.message
    );

    let mut w = pods
        .watch(&WatchParams::default(), &old_rv)
        .await
        .expect("watch opens")
        .boxed();
    match next_within(&mut w, "the 410 event").await {
        Ok(WatchEvent::Error(s)) => assert_eq!((s.code, s.reason.as_str()), (410, "Expired")),
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // A watch from the current version still works.
    let now = t.list_rv().await;
    let mut w = pods
        .watch(&WatchParams::default(), &now)
        .await
        .expect("watch")
        .boxed();
    t.create_pod("e", json!({}), None).await;
    assert_eq!(take_events(&mut w, 1).await[0].1, "e");
    // An open watch would hold up a private control plane's shutdown.
    drop(w);
    t.finish().await;
}

async fn label_and_field_selectors_filter_lists(on: ApiServer) {
    let t = target(on, "selectors-list").await;
    t.create_pod("a", json!({"app": "web", "tier": "fe"}), None)
        .await;
    t.create_pod("b", json!({"app": "web", "tier": "db"}), None)
        .await;
    t.create_pod("c", json!({"app": "api"}), None).await;
    let names = |l: kube::core::ObjectList<Pod>| l.items.iter().map(name_of).collect::<Vec<_>>();
    let pods = t.pods();
    let l = pods
        .list(&ListParams::default().labels("app=web,tier!=db"))
        .await
        .expect("list");
    assert_eq!(names(l), vec!["a"]);
    let l = pods
        .list(&ListParams::default().labels("app in (web,api)"))
        .await
        .expect("list");
    assert_eq!(names(l), vec!["a", "b", "c"]);
    let l = pods
        .list(&ListParams::default().labels("!tier"))
        .await
        .expect("list");
    assert_eq!(names(l), vec!["c"]);
    let l = pods
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .expect("list");
    assert_eq!(names(l), vec!["b"]);
    let l = pods
        .list(
            &ListParams::default()
                .fields("metadata.name!=b")
                .labels("app=web"),
        )
        .await
        .expect("list");
    assert_eq!(names(l), vec!["a"]);
    t.finish().await;
}

async fn selectors_filter_watches_with_added_and_deleted_on_match_changes(on: ApiServer) {
    let t = target(on, "selectors-watch").await;
    t.create_pod("a", json!({"app": "web"}), None).await;
    t.create_pod("b", json!({"app": "web"}), None).await;
    t.create_pod("c", json!({"app": "api"}), None).await;
    let from = t.list_rv().await;
    let pods = t.pods();
    let mut w = pods
        .watch(&WatchParams::default().labels("app=web"), &from)
        .await
        .expect("watch")
        .boxed();
    label(&t, "c", json!({"app": "web"})).await; // starts matching
    label(&t, "a", json!({"app": "other"})).await; // stops matching
    label(&t, "b", json!({"extra": "x"})).await; // still matches
    label(&t, "a", json!({"more": "y"})).await; // never seen: does not match before or after
    t.create_pod("d", json!({"app": "web"}), None).await;
    let got: Vec<(&str, String)> = take_events(&mut w, 4)
        .await
        .into_iter()
        .map(|(k, n, _)| (k, n))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ADDED", "c".into()),
            ("DELETED", "a".into()),
            ("MODIFIED", "b".into()),
            ("ADDED", "d".into())
        ]
    );
    // Field selectors filter watches too.
    let from = t.list_rv().await;
    let mut w = pods
        .watch(&WatchParams::default().fields("metadata.name=b"), &from)
        .await
        .expect("watch")
        .boxed();
    label(&t, "a", json!({"z": "1"})).await;
    label(&t, "b", json!({"z": "1"})).await;
    let got = take_events(&mut w, 1).await;
    assert_eq!((got[0].0, got[0].1.as_str()), ("MODIFIED", "b"));
    t.finish().await;
}

async fn pages_are_consistent_at_the_first_page_version_under_concurrent_writes(on: ApiServer) {
    let t = target(on, "pagination").await;
    let original: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
    for n in &original {
        t.create_pod(n, json!({"set": "orig"}), None).await;
    }
    let pods = t.pods();
    let first = pods
        .list(&ListParams::default().limit(5))
        .await
        .expect("page 1");
    let rv = first.metadata.resource_version.clone().expect("rv");
    assert_eq!(first.metadata.remaining_item_count, Some(7));
    let mut seen: Vec<String> = first.items.iter().map(name_of).collect();
    // Writes between pages must not show up in the paged list.
    pods.delete("p11", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    pods.delete("p07", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    for n in ["p05a", "p99", "a00"] {
        t.create_pod(n, json!({"set": "new"}), None).await;
    }
    label(&t, "p06", json!({"set": "changed"})).await;
    let mut token = first.metadata.continue_.clone();
    let mut pages = 1;
    while let Some(tok) = token {
        let page = pods
            .list(&ListParams::default().limit(5).continue_token(&tok))
            .await
            .expect("next page");
        assert_eq!(
            page.metadata.resource_version.as_deref(),
            Some(rv.as_str()),
            "every page is read at the first page's version"
        );
        for p in &page.items {
            if name_of(p) == "p06" {
                assert_eq!(
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("set"))
                        .map(String::as_str),
                    Some("orig")
                );
            }
        }
        seen.extend(page.items.iter().map(name_of));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        pages += 1;
    }
    assert_eq!(
        seen, original,
        "the pages together are the list at the first version, in order"
    );
    assert_eq!(pages, 3);
    t.finish().await;
}

async fn watch_sends_bookmarks_when_asked(on: ApiServer) {
    let t = target(on, "bookmarks").await;
    t.create_pod("a", json!({}), None).await;
    let from = t.list_rv().await;
    let mut w = t
        .pods()
        .watch(
            &WatchParams {
                bookmarks: true,
                ..Default::default()
            },
            &from,
        )
        .await
        .expect("watch")
        .boxed();
    // The real apiserver sends bookmarks about once a minute; the simulator every 2 s.
    let deadline = if t.is_sim() {
        DEADLINE
    } else {
        Duration::from_secs(90)
    };
    let bookmark = tokio::time::timeout(deadline, async {
        while let Some(e) = w.next().await {
            if let Ok(WatchEvent::Bookmark(b)) = e {
                return Some(b);
            }
        }
        None
    })
    .await
    .expect("a bookmark within the deadline")
    .expect("stream stays open");
    let brv: u64 = bookmark
        .metadata
        .resource_version
        .parse()
        .expect("bookmark rv");
    assert!(
        brv >= from.parse::<u64>().expect("rv"),
        "bookmark rv {brv} must not go back before {from}"
    );
    assert_eq!(bookmark.types.kind, "Pod");
    t.finish().await;
}

async fn send_initial_events_ends_with_the_initial_events_end_bookmark(on: ApiServer) {
    let t = target(on, "initial-events").await;
    for n in ["a", "b", "c"] {
        t.create_pod(n, json!({}), None).await;
    }
    let mut w = t
        .pods()
        .watch(&WatchParams::streaming_lists(), "")
        .await
        .expect("watch")
        .boxed();
    let mut added = BTreeSet::new();
    loop {
        match next_within(&mut w, "initial events").await.expect("event") {
            WatchEvent::Added(p) => {
                added.insert(name_of(&p));
            }
            WatchEvent::Bookmark(b) => {
                if b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str)
                    == Some("true")
                {
                    break;
                }
            }
            other => panic!("unexpected event before the initial-events-end bookmark: {other:?}"),
        }
    }
    assert_eq!(
        added,
        BTreeSet::from(["a".to_string(), "b".into(), "c".into()])
    );
    // kube-runtime's streaming-list watcher understands the same protocol.
    let stream = watcher(t.pods(), watcher::Config::default().streaming_lists());
    let mut stream = stream.boxed();
    let init = initial_names(&mut stream).await;
    assert_eq!(init, added);
    t.finish().await;
}

async fn paged_watcher_lists_everything_then_follows_changes(on: ApiServer) {
    let t = target(on, "paged-watcher").await;
    let names: BTreeSet<String> = (0..7).map(|i| format!("w{i}")).collect();
    for n in &names {
        t.create_pod(n, json!({}), None).await;
    }
    let mut stream = watcher(t.pods(), watcher::Config::default().page_size(2)).boxed();
    let init = initial_names(&mut stream).await;
    assert_eq!(init, names);
    t.create_pod("late", json!({}), None).await;
    loop {
        if let watcher::Event::Apply(p) = next_within(&mut stream, "the new pod")
            .await
            .expect("watcher event")
        {
            assert_eq!(name_of(&p), "late");
            break;
        }
    }
    t.finish().await;
}

async fn graceful_delete_marks_terminating_then_deletes(on: ApiServer) {
    let t = target(on, "graceful-delete").await;
    let node = t.some_node().await;
    let pod = t.create_pod("g", json!({}), Some(&node)).await;
    let pods = t.pods();
    let mut w = pods
        .watch(&WatchParams::default(), &rv_of(&pod).to_string())
        .await
        .expect("watch")
        .boxed();
    let deleted = pods
        .delete("g", &DeleteParams::default().grace_period(2))
        .await
        .expect("delete");
    let terminating = deleted
        .left()
        .expect("a graceful delete returns the Terminating pod");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(2));
    let mut saw_marked = false;
    loop {
        match next_within(&mut w, "the pod's deletion")
            .await
            .expect("event")
        {
            WatchEvent::Modified(p) if p.metadata.deletion_timestamp.is_some() => {
                if !saw_marked {
                    // A real apiserver keeps a bound pod Terminating until its kubelet
                    // confirms with a grace-0 delete; do the kubelet's part. The
                    // simulator may have finished the deletion already.
                    match pods
                        .delete("g", &DeleteParams::default().grace_period(0))
                        .await
                    {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => panic!("the kubelet's delete failed: {e:?}"),
                    }
                }
                saw_marked = true;
            }
            WatchEvent::Modified(_) | WatchEvent::Bookmark(_) => {}
            WatchEvent::Deleted(p) => {
                assert_eq!(name_of(&p), "g");
                break;
            }
            other => panic!("unexpected event: {other:?}"),
        }
    }
    assert!(
        saw_marked,
        "MODIFIED with deletionTimestamp comes before DELETED"
    );
    let e = api_error(pods.get("g").await.expect_err("gone"));
    assert_eq!(e.code, 404);
    t.finish().await;
}

async fn write_errors_have_the_apiserver_codes_and_reasons(on: ApiServer) {
    let t = target(on, "write-errors").await;
    let pods = t.pods();
    let pod = t.create_pod("x", json!({"v": "1"}), None).await;

    // 409 AlreadyExists.
    let again: Pod = serde_json::from_value(
        json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "m", "image": "i"}]}}),
    )
    .expect("pod");
    let e = api_error(
        pods.create(&PostParams::default(), &again)
            .await
            .expect_err("exists"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    // 409 Conflict on a stale resourceVersion.
    label(&t, "x", json!({"v": "2"})).await;
    let mut stale = pod.clone();
    stale.metadata.labels = Some([("v".to_string(), "3".to_string())].into());
    let e = api_error(
        pods.replace("x", &PostParams::default(), &stale)
            .await
            .expect_err("stale"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    // The current version is accepted.
    let mut fresh = pods.get("x").await.expect("get");
    fresh.metadata.labels = Some([("v".to_string(), "3".to_string())].into());
    let replaced = pods
        .replace("x", &PostParams::default(), &fresh)
        .await
        .expect("replace");
    assert!(rv_of(&replaced) > rv_of(&fresh));

    // 404 NotFound, also for a pod in a namespace that does not exist.
    let e = api_error(pods.get("nope").await.expect_err("missing"));
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    let elsewhere: kube::Api<Pod> =
        kube::Api::namespaced(t.client.clone(), &format!("missing-{}", testkit::unique()));
    let e = api_error(
        elsewhere
            .create(&PostParams::default(), &again)
            .await
            .expect_err("no namespace"),
    );
    assert_eq!(e.code, 404);

    // 422 Invalid with field causes.
    let bad: Pod = serde_json::from_value(
        json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}),
    )
    .expect("pod");
    let e = api_error(
        pods.create(&PostParams::default(), &bad)
            .await
            .expect_err("invalid"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert!(
        causes
            .iter()
            .any(|c| c.field == "metadata.name" && c.reason == "FieldValueInvalid"),
        "{causes:?}"
    );
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.containers" && c.reason == "FieldValueRequired"),
        "{causes:?}"
    );
    t.finish().await;
}

async fn malformed_list_requests_are_400_with_a_message(on: ApiServer) {
    let t = target(on, "bad-requests").await;
    let base = format!("/api/v1/namespaces/{}/pods", t.namespace);
    let (code, status) = t
        .raw(
            Method::GET,
            &format!("{base}?labelSelector=app%20in%20(web"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    assert_eq!(status["kind"], "Status");
    assert!(!status["message"].as_str().unwrap_or_default().is_empty());
    let (code, status) = t
        .raw(
            Method::GET,
            &format!("{base}?fieldSelector=spec.bogus%3Dx"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("field label not supported"),
        "{status}"
    );
    let (code, status) = t
        .raw(
            Method::GET,
            &format!("{base}?resourceVersion=abc"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    let (code, status) = t
        .raw(
            Method::POST,
            &base,
            Some(json!("not an object")),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    t.finish().await;
}

async fn merge_patch_status_and_binding_subresources(on: ApiServer) {
    let t = target(on, "subresources").await;
    let pods = t.pods();
    t.create_pod("s", json!({}), None).await;
    let node = t.some_node().await;
    let (code, body) = t
        .raw(
            Method::POST,
            &format!("/api/v1/namespaces/{}/pods/s/binding", t.namespace),
            Some(json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "s"}, "target": {"kind": "Node", "name": node}})),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let bound = eventually("the binding", || async {
        pods.get("s")
            .await
            .ok()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()).is_some())
    })
    .await;
    assert_eq!(bound.spec.and_then(|s| s.node_name), Some(node));
    // Labels patched on the main resource; status only through the status subresource.
    let patched = pods
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"k": "v"}}, "status": {"phase": "Failed"}}),
            ),
        )
        .await
        .expect("patch");
    assert_eq!(
        patched
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("k"))
            .map(String::as_str),
        Some("v")
    );
    assert_ne!(
        patched.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed"),
        "status is ignored on the main resource"
    );
    t.finish().await;
}

async fn watch_ends_after_timeout_seconds(on: ApiServer) {
    let t = target(on, "watch-timeout").await;
    let from = t.list_rv().await;
    let params = WatchParams::default().timeout(1);
    let mut w = t.pods().watch(&params, &from).await.expect("watch").boxed();
    let ended = tokio::time::timeout(DEADLINE, async {
        while let Some(e) = w.next().await {
            e.expect("a clean end, not an error");
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the watch closes by itself after timeoutSeconds"
    );
    t.finish().await;
}

async fn deleting_a_namespace_terminates_it_and_its_pods(on: ApiServer) {
    use k8s_openapi::api::core::v1::Namespace;
    let t = target(on, "ns-delete").await;
    t.create_pod("inside", json!({}), None).await;
    let namespaces: kube::Api<Namespace> = kube::Api::all(t.client.clone());
    let deleted = namespaces
        .delete(&t.namespace, &DeleteParams::default())
        .await
        .expect("delete");
    if let Some(ns) = deleted.left() {
        assert!(ns.metadata.deletion_timestamp.is_some());
        assert_eq!(
            ns.status.and_then(|s| s.phase).as_deref(),
            Some("Terminating")
        );
    }
    if !t.is_sim() {
        // The test control plane runs no namespace controller; do its part: delete the
        // content, then drop the "kubernetes" finalizer through the finalize subresource.
        t.pods()
            .delete("inside", &DeleteParams::default().grace_period(0))
            .await
            .expect("the controller's pod delete");
        let mut ns = serde_json::to_value(namespaces.get(&t.namespace).await.expect("get"))
            .expect("namespace JSON");
        ns["spec"]["finalizers"] = json!([]);
        let (code, body) = t
            .raw(
                Method::PUT,
                &format!("/api/v1/namespaces/{}/finalize", t.namespace),
                Some(ns),
                "application/json",
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let deadline = DEADLINE;
    let gone = tokio::time::timeout(deadline, async {
        loop {
            match namespaces.get(&t.namespace).await {
                Err(kube::Error::Api(s)) if s.code == 404 => return,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "the namespace goes away");
    let e = api_error(t.pods().get("inside").await.expect_err("its pods are gone"));
    assert_eq!(e.code, 404);
}

async fn field_validation_rejects_or_drops_unknown_fields(on: ApiServer) {
    let t = target(on, "field-validation").await;
    let base = format!("/api/v1/namespaces/{}/pods", t.namespace);
    let pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"foo": 1, "containers": [{"name": "m", "image": "i"}]}})
    };

    let (code, status) = t
        .raw(
            Method::POST,
            &format!("{base}?fieldValidation=Strict"),
            Some(pod("strict")),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.foo\""
    );

    let (code, created) = t
        .raw(
            Method::POST,
            &format!("{base}?fieldValidation=Ignore"),
            Some(pod("ignored")),
            "application/json",
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert!(created["spec"].get("foo").is_none(), "{created}");
    assert_eq!(created["spec"]["containers"][0]["image"], "i");

    // A patch that adds an unknown field: 422 Invalid on `patch`, not 400.
    let (code, status) = t
        .raw(
            Method::PATCH,
            &format!("{base}/ignored?fieldValidation=Strict"),
            Some(json!({"spec": {"bar": 1}})),
            "application/merge-patch+json",
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["causes"][0]["field"], "patch");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(" \"\" is invalid: patch: Invalid value: ")
            && message.ends_with(": strict decoding error: unknown field \"spec.bar\""),
        "{message}"
    );

    // Directives are case-sensitive.
    let (code, status) = t
        .raw(
            Method::PATCH,
            &format!("{base}/ignored?fieldValidation=strict"),
            Some(json!({"metadata": {"labels": {"a": "b"}}})),
            "application/merge-patch+json",
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
    );
    assert_eq!(status["details"]["kind"], "PatchOptions");
    assert_eq!(status["details"]["causes"][0]["field"], "fieldValidation");
    t.finish().await;
}
