//! `meta.k8s.io/v1` Table rendering — what `kubectl get` asks for (`Accept: …;as=Table`)
//! so it can print READY, STATUS, RESTARTS like against a real cluster. Columns follow
//! `pkg/printers/internalversion/printers.go`.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Value, json};

use super::resource::Resource;

/// Whether the client asked for a Table.
pub fn wants_table(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

fn column(name: &str, kind: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": kind, "format": format, "description": "", "priority": priority})
}

fn columns(resource: Resource) -> Value {
    match resource {
        Resource::Pods => json!([
            column("Name", "string", 0),
            column("Ready", "string", 0),
            column("Status", "string", 0),
            column("Restarts", "string", 0),
            column("Age", "string", 0),
            column("IP", "string", 1),
            column("Node", "string", 1),
        ]),
        Resource::Nodes => json!([
            column("Name", "string", 0),
            column("Status", "string", 0),
            column("Roles", "string", 0),
            column("Age", "string", 0),
            column("Version", "string", 0),
        ]),
        Resource::Namespaces => json!([
            column("Name", "string", 0),
            column("Status", "string", 0),
            column("Age", "string", 0)
        ]),
        // `eventColumnDefinitions`; the server always prints the wide row.
        Resource::Events => json!([
            column("Last Seen", "string", 0),
            column("Type", "string", 0),
            column("Reason", "string", 0),
            column("Object", "string", 0),
            column("Subobject", "string", 1),
            column("Source", "string", 1),
            column("Message", "string", 0),
            column("First Seen", "string", 1),
            column("Count", "string", 1),
            column("Name", "string", 1),
        ]),
    }
}

/// A Table of `objects`; `with_columns` is false for watch events after the first.
pub fn table(resource: Resource, objects: &[Value], list_meta: Value, with_columns: bool) -> Value {
    let rows: Vec<Value> = objects.iter().map(|o| row(resource, o)).collect();
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "rows": rows});
    if with_columns {
        t["columnDefinitions"] = columns(resource);
    }
    t
}

fn row(resource: Resource, o: &Value) -> Value {
    let meta = &o["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let age = age(meta["creationTimestamp"].as_str());
    let cells = match resource {
        Resource::Pods => {
            let (ready, status, restarts) = pod_summary(o);
            let ip = o["status"]["podIP"].as_str().unwrap_or("<none>");
            let node = o["spec"]["nodeName"].as_str().unwrap_or("<none>");
            json!([name, ready, status, restarts, age, ip, node])
        }
        Resource::Nodes => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            let mut status = if ready {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            };
            if o["spec"]["unschedulable"] == true {
                status.push_str(",SchedulingDisabled");
            }
            let roles: Vec<&str> = meta["labels"]
                .as_object()
                .map(|l| {
                    l.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .collect()
                })
                .unwrap_or_default();
            let roles = if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            };
            let version = o["status"]["nodeInfo"]["kubeletVersion"]
                .as_str()
                .unwrap_or_default();
            json!([name, status, roles, age, version])
        }
        Resource::Namespaces => {
            json!([name, o["status"]["phase"].as_str().unwrap_or("Active"), age])
        }
        Resource::Events => event_cells(o, name),
    };
    let partial =
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta});
    json!({"cells": cells, "object": partial})
}

/// READY, STATUS and RESTARTS as kubectl's `printPod` computes them.
fn pod_summary(o: &Value) -> (String, String, String) {
    let statuses = o["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = o["spec"]["containers"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let mut reason = o["status"]["reason"]
        .as_str()
        .or(o["status"]["phase"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    for c in statuses.iter().rev() {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str() {
            reason = r.to_string();
        } else if let Some(r) = c["state"]["terminated"]["reason"].as_str() {
            reason = r.to_string();
        }
    }
    if !o["metadata"]["deletionTimestamp"].is_null() {
        reason = "Terminating".into();
    }
    (format!("{ready}/{total}"), reason, restarts.to_string())
}

/// `printEvent`: LAST SEEN from the series or lastTimestamp, COUNT 1 for a singleton of
/// the new API, OBJECT as `kind/name` in lower case.
fn event_cells(o: &Value, name: &str) -> Value {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let first_time = text(&o["firstTimestamp"]).or_else(|| text(&o["eventTime"]));
    let first = age(first_time.as_deref());
    let mut last = match text(&o["lastTimestamp"]) {
        Some(t) => age(Some(&t)),
        None => first.clone(),
    };
    let mut count = o["count"].as_i64().unwrap_or(0);
    if o["series"].is_object() {
        last = age(o["series"]["lastObservedTime"].as_str());
        count = o["series"]["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let involved = &o["involvedObject"];
    let kind = involved["kind"].as_str().unwrap_or_default().to_lowercase();
    let target = match involved["name"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    // `formatEventSource`: component (or reporting controller), then host/instance.
    let component = text(&o["source"]["component"])
        .filter(|c| !c.is_empty())
        .or_else(|| text(&o["reportingComponent"]))
        .unwrap_or_default();
    let host = text(&o["source"]["host"])
        .filter(|h| !h.is_empty())
        .or_else(|| text(&o["reportingInstance"]))
        .unwrap_or_default();
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    json!([
        last,
        o["type"].as_str().unwrap_or_default(),
        o["reason"].as_str().unwrap_or_default(),
        target,
        involved["fieldPath"].as_str().unwrap_or_default(),
        source,
        o["message"].as_str().unwrap_or_default().trim(),
        first,
        count,
        name
    ])
}

/// kubectl's short human durations (`duration.HumanDuration`, simplified).
fn age(created: Option<&str>) -> String {
    let Some(ts) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let s = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match s {
        s if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => format!("{d}d{}h", h % 24),
        _ => format!("{d}d"),
    }
}
