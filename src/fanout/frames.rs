//! The SSE frames of a change, encoded once and shared by every client as `Bytes`: JSON
//! diffs for `/api/events`, rendered HTML fragments for `/events`. A client's filter only
//! decides which of a change's frames it gets: the change itself, a delete (the object
//! left the client's filter), or nothing. A warning's visibility follows its object's
//! (`state::warning_visible`): a filtered client gets the warnings of what it sees.

mod data;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::json;

use crate::render;
use crate::state::{
    Change, Diff, Filter, PodView, Position, Snapshot, WarningView, warning_visible,
};

/// Which encoding a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/api/events`: JSON views.
    Json,
    /// `/events`: rendered HTML fragments keyed by element id.
    Html,
}

/// The lazily encoded frames of one change.
#[derive(Debug, Default)]
pub struct Frames {
    json: OnceLock<Bytes>,
    json_as_delete: OnceLock<Bytes>,
    html: OnceLock<Bytes>,
    html_as_delete: OnceLock<Bytes>,
}

/// What a filter makes of one change.
enum Visible {
    /// Send the change as it is.
    AsIs,
    /// The object left the filter: send a delete.
    AsDelete,
    /// Not visible to this client.
    Skip,
}

fn visibility(diff: &Diff, filter: &Filter) -> Visible {
    let (old, new) = match diff {
        Diff::Pod { old, new } => (
            old.as_ref().is_some_and(|p| filter.matches_pod(p)),
            new.as_ref().is_some_and(|p| filter.matches_pod(p)),
        ),
        Diff::Node { old, new } => (
            old.as_ref().is_some_and(|n| filter.matches_node(n)),
            new.as_ref().is_some_and(|n| filter.matches_node(n)),
        ),
        Diff::Warning { old, new, pod } => {
            let seen = |w: &Option<Arc<WarningView>>, p: &Option<Arc<PodView>>| {
                w.as_ref()
                    .is_some_and(|w| warning_visible(filter, w, p.as_deref()))
            };
            let (was, is) = (seen(old, &pod.0), seen(new, &pod.1));
            // A warning sent again because its pod changed: news only to a filtered
            // client whose view of it changed (an unfiltered one must see every seq).
            let again = matches!((old, new), (Some(o), Some(n)) if Arc::ptr_eq(o, n));
            if again && was && is && !filter.is_empty() {
                return Visible::Skip;
            }
            (was, is)
        }
        Diff::Status(_) | Diff::Events(_) => return Visible::AsIs,
    };
    match (old, new) {
        (_, true) => Visible::AsIs,
        (true, false) if is_delete(diff) => Visible::AsIs,
        (true, false) => Visible::AsDelete,
        (false, false) => Visible::Skip,
    }
}

fn is_delete(diff: &Diff) -> bool {
    matches!(
        diff,
        Diff::Pod { new: None, .. }
            | Diff::Node { new: None, .. }
            | Diff::Warning { new: None, .. }
    )
}

/// The frame of `change` for a client with `filter`, if it should see it.
pub fn frame_for(change: &Change<Frames>, filter: &Filter, format: Format) -> Option<Bytes> {
    let as_delete = match visibility(&change.diff, filter) {
        Visible::Skip => return None,
        Visible::AsIs => false,
        Visible::AsDelete => true,
    };
    let f = &change.encoded;
    let cell = match (format, as_delete) {
        (Format::Json, false) => &f.json,
        (Format::Json, true) => &f.json_as_delete,
        (Format::Html, false) => &f.html,
        (Format::Html, true) => &f.html_as_delete,
    };
    Some(
        cell.get_or_init(|| encode_change(change, format, as_delete))
            .clone(),
    )
}

fn encode_change(change: &Change<Frames>, format: Format, as_delete: bool) -> Bytes {
    let position = Position {
        epoch: change.epoch,
        seq: change.seq,
    };
    let (event, data) = match (&change.diff, format) {
        (Diff::Status(status), Format::Json) => (
            "status",
            serde_json::to_value(status).and_then(|v| json_data(change, v)),
        ),
        (Diff::Status(status), Format::Html) => ("status", serde_json::to_string(status)),
        (Diff::Events(state), Format::Json) => (
            "events",
            json_data(change, json!({"events": state.as_str()})),
        ),
        (Diff::Events(state), Format::Html) => (
            "events",
            serde_json::to_string(&json!({"events": state.as_str()})),
        ),
        (Diff::Warning { old, new, .. }, Format::Json) => match new.as_ref().filter(|_| !as_delete)
        {
            Some(w) => (
                "upsert",
                serde_json::to_string(&data::WarningUpsert {
                    cluster: change.cluster.as_deref(),
                    kind: "Warning",
                    object: w,
                }),
            ),
            None => {
                let w = old.as_ref().or(new.as_ref());
                let name = w.map(|w| w.name());
                (
                    "delete",
                    serde_json::to_string(&data::PodDelete {
                        cluster: change.cluster.as_deref(),
                        kind: "Warning",
                        name: name.as_deref(),
                        namespace: w.map(|w| w.namespace()),
                    }),
                )
            }
        },
        (Diff::Warning { old, new, .. }, Format::Html) => match new.as_ref().filter(|_| !as_delete)
        {
            Some(w) => {
                let html = rendered(render::warning(w));
                (
                    "upsert",
                    serde_json::to_string(&data::HtmlUpsert {
                        html: &html,
                        id: &warning_id(w),
                        parent: WARNINGS_PARENT,
                    }),
                )
            }
            None => {
                let id = old.as_ref().or(new.as_ref()).map(|w| warning_id(w));
                (
                    "delete",
                    serde_json::to_string(&data::HtmlDelete { id: id.as_deref() }),
                )
            }
        },
        (Diff::Pod { old, new }, Format::Json) => match new.as_ref().filter(|_| !as_delete) {
            // Pods, the bulk of the changes, serialize from the borrowed view (no `Value`).
            Some(p) => (
                "upsert",
                serde_json::to_string(&data::PodUpsert {
                    cluster: change.cluster.as_deref(),
                    kind: "Pod",
                    object: p.as_ref().into(),
                }),
            ),
            None => {
                let p = old.as_ref().or(new.as_ref());
                (
                    "delete",
                    serde_json::to_string(&data::PodDelete {
                        cluster: change.cluster.as_deref(),
                        kind: "Pod",
                        name: p.map(|p| &*p.name),
                        namespace: p.map(|p| &*p.namespace),
                    }),
                )
            }
        },
        (Diff::Node { old, new }, Format::Json) => match new.as_ref().filter(|_| !as_delete) {
            Some(n) => (
                "upsert",
                json_data(change, json!({"kind": "Node", "object": n})),
            ),
            None => {
                let name = old.as_ref().or(new.as_ref()).map(|n| &*n.name);
                (
                    "delete",
                    json_data(
                        change,
                        json!({"kind": "Node", "namespace": null, "name": name}),
                    ),
                )
            }
        },
        (Diff::Pod { old, new }, Format::Html) => match new.as_ref().filter(|_| !as_delete) {
            Some(p) => {
                let parent = p
                    .node
                    .as_ref()
                    .map_or_else(|| "unscheduled".to_owned(), |n| format!("node/{n}"));
                let html = rendered(render::pod(p));
                (
                    "upsert",
                    serde_json::to_string(&data::HtmlUpsert {
                        html: &html,
                        id: &pod_id(p),
                        parent: &parent,
                    }),
                )
            }
            None => {
                let id = old.as_ref().or(new.as_ref()).map(|p| pod_id(p));
                (
                    "delete",
                    serde_json::to_string(&data::HtmlDelete { id: id.as_deref() }),
                )
            }
        },
        (Diff::Node { old, new }, Format::Html) => match new.as_ref().filter(|_| !as_delete) {
            Some(n) => {
                let html = rendered(render::node_header(n));
                (
                    "upsert",
                    serde_json::to_string(&json!({"id": format!("node/{}", n.name), "html": html})),
                )
            }
            None => {
                let name = old
                    .as_ref()
                    .or(new.as_ref())
                    .map(|n| n.name.to_string())
                    .unwrap_or_default();
                // Pods may still run there: the page keeps the box, with this header.
                let html = rendered(render::unavailable_node_header(&name));
                (
                    "delete",
                    serde_json::to_string(&json!({"id": format!("node/{name}"), "html": html})),
                )
            }
        },
    };
    frame(
        &position.to_string(),
        event,
        &data.unwrap_or_else(|_| "{}".to_owned()),
    )
}

/// The rendered HTML, or empty (logged) if a template failed; the page then resyncs.
fn rendered(html: Result<String, askama::Error>) -> String {
    html.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot render a fragment");
        String::new()
    })
}

/// The JSON of an `/api/events` event; on a wall of several clusters it names the cluster.
fn json_data(change: &Change<Frames>, mut data: serde_json::Value) -> serde_json::Result<String> {
    if let (Some(cluster), Some(fields)) = (&change.cluster, data.as_object_mut()) {
        fields.insert("cluster".to_owned(), cluster.as_ref().into());
    }
    serde_json::to_string(&data)
}

fn pod_id(p: &PodView) -> String {
    format!("pod/{}/{}", p.namespace, p.name)
}

/// The parent of warning fragments: the page's warnings lane.
const WARNINGS_PARENT: &str = "warnings";

/// `warning/<namespace>/<event name>`, the element id of a lane item.
fn warning_id(w: &WarningView) -> String {
    format!("warning/{}/{}", w.namespace(), w.name())
}

/// Encodes a `reset` frame for a snapshot.
pub fn reset_frame(snap: &Snapshot, format: Format) -> Bytes {
    let data = match format {
        Format::Json => serde_json::to_string(snap),
        Format::Html => serde_json::to_string(&json!({
            "html": rendered(render::wall(snap)),
            "apiserver": snap.apiserver,
            "warnings": rendered(render::warning_items(snap)),
            "events": snap.events.as_str(),
        })),
    };
    frame(
        &snap.position().to_string(),
        "reset",
        &data.unwrap_or_else(|_| "{}".to_owned()),
    )
}

fn frame(id: &str, event: &str, data: &str) -> Bytes {
    // serde_json never emits raw newlines, so one `data:` line carries the whole payload.
    let parts = ["id: ", id, "\nevent: ", event, "\ndata: ", data, "\n\n"];
    // Sized up front: `format!` would grow the buffer a few times for a KB of HTML.
    let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| text.push_str(p));
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Cache, fixtures};

    fn text(b: &Bytes) -> &str {
        std::str::from_utf8(b).expect("frames are UTF-8")
    }

    #[test]
    fn a_filter_turns_leaving_objects_into_deletes() {
        let cache = Cache::<Frames>::new();
        let mut rx = cache.changes();
        let (on_n1, _) = Filter::from_query("node=n1").expect("filter");
        cache.upsert_pod(&fixtures::pods_scope(), fixtures::pod_on("ns", "a", "n2"));
        cache.upsert_pod(&fixtures::pods_scope(), fixtures::pod_on("ns", "a", "n1"));
        cache.upsert_pod(&fixtures::pods_scope(), fixtures::pod_on("ns", "a", "n2"));
        let enter = rx.try_recv().expect("change");
        let arrive = rx.try_recv().expect("change");
        let leave = rx.try_recv().expect("change");
        assert!(frame_for(&enter, &on_n1, Format::Json).is_none());
        let up = frame_for(&arrive, &on_n1, Format::Json).expect("upsert");
        assert!(text(&up).contains("event: upsert"), "{}", text(&up));
        let del = frame_for(&leave, &on_n1, Format::Json).expect("delete");
        assert!(text(&del).contains("event: delete") && text(&del).contains("\"name\":\"a\""));
        let html_del = frame_for(&leave, &on_n1, Format::Html).expect("delete");
        assert!(
            text(&html_del).contains("\"id\":\"pod/ns/a\""),
            "{}",
            text(&html_del)
        );
        // Unfiltered clients share the one upsert frame.
        let all = frame_for(&leave, &Filter::default(), Format::Json).expect("upsert");
        assert!(text(&all).contains("event: upsert"));
        let again = frame_for(&leave, &Filter::default(), Format::Json).expect("upsert");
        assert_eq!(all.as_ptr(), again.as_ptr(), "encoded once, shared");
    }

    #[test]
    fn warnings_are_json_upserts_and_deletes_naming_the_cluster_and_follow_their_pod() {
        use crate::k8s::Sink;
        use kube::runtime::watcher::Event;
        let cache = Cache::<Frames>::new();
        cache.name_cluster("east".into());
        let mut rx = cache.changes();
        let event = fixtures::warning_event("Pod", "ns", "a", "BackOff", "<b>x</b>");
        let fields: crate::k8s::EventFields = serde_json::from_value(event.clone()).expect("event");
        let name = event["metadata"]["name"].as_str().expect("name").to_owned();
        cache.warnings(&fixtures::events_scope(), Event::Apply(fields.clone()));
        let up = rx.try_recv().expect("the warning (no pod yet)");
        let (on_n1, _) = Filter::from_query("node=n1").expect("filter");
        assert!(
            frame_for(&up, &on_n1, Format::Json).is_none(),
            "a pod not known yet hides its warning from a filtered client"
        );
        let json = frame_for(&up, &Filter::default(), Format::Json).expect("upsert");
        let data = text(&json).split("data: ").nth(1).expect("data").trim();
        let v: serde_json::Value = serde_json::from_str(data).expect("json");
        assert!(
            data.starts_with(
                r#"{"cluster":"east","kind":"Warning","object":{"count":1,"lastSeen":"#
            ),
            "{data}"
        );
        assert_eq!(v["object"]["message"], "<b>x</b>");
        assert_eq!(v["object"]["name"], name.as_str());
        assert_eq!(
            v["object"]["regarding"],
            serde_json::json!({"kind": "Pod", "name": "a", "namespace": "ns"})
        );
        let html = frame_for(&up, &Filter::default(), Format::Html).expect("fragment");
        assert!(text(&html).contains(r#""parent":"warnings""#) && !text(&html).contains("<b>"));
        // The pod arrives on n1: its change, then its warning again for the filter.
        cache.upsert_pod(&fixtures::pods_scope(), fixtures::pod_on("ns", "a", "n1"));
        let pod = rx.try_recv().expect("the pod");
        assert!(
            text(&frame_for(&pod, &on_n1, Format::Json).expect("pod"))
                .contains(r#""warning":"BackOff""#)
        );
        let again = rx.try_recv().expect("the warning again");
        assert!(
            frame_for(&again, &on_n1, Format::Json)
                .is_some_and(|f| text(&f).contains("event: upsert"))
        );
        cache.warnings(&fixtures::events_scope(), Event::Delete(fields));
        let gone = rx.try_recv().expect("the delete");
        let del = frame_for(&gone, &on_n1, Format::Json).expect("delete");
        assert!(
            text(&del).contains(&format!(
                r#"data: {{"cluster":"east","kind":"Warning","name":"{name}","namespace":"ns"}}"#
            )),
            "{}",
            text(&del)
        );
    }
}
