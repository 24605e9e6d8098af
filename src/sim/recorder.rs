//! Recording events as the cluster's components do: the kubelet, the node controller and
//! node-problem-detector through client-go's legacy recorder (core/v1 `source`, `count`,
//! `firstTimestamp`/`lastTimestamp`), the scheduler through the `events.k8s.io` recorder
//! (`eventTime`, `series`, `action`). A repeat of the same event raises its count, like
//! the recorders' aggregation; the simulator's own (churn) events are rate-limited, so a
//! 150k-pod churn cannot flood the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::SimContext;
use super::events::canonical_core;
use super::resource::Resource;
use super::store::{Key, Stored, now_rfc3339};

/// Churn events per second at most, on average.
const CHURN_EVENTS_PER_SEC: f64 = 20.0;

/// Churn events in one burst at most.
const CHURN_EVENT_BURST: f64 = 100.0;

/// Aggregation keys remembered at most (then forgotten at once; a repeat after that
/// starts a new event, as after a recorder's cache eviction).
const SEEN_LIMIT: usize = 20_000;

/// What an event is about (`involvedObject` / `regarding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Involved {
    /// `Pod`, `Node`.
    pub kind: &'static str,
    /// The object's namespace ("" for nodes).
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The object's uid.
    pub uid: String,
    /// The object's resourceVersion when the event was made ("" when not given).
    pub resource_version: String,
    /// `spec.containers{name}` for an event about one container.
    pub field_path: Option<String>,
}

impl Involved {
    /// A pod, from its stored JSON; `container` for a container's event.
    pub fn pod(pod: &Value, container: Option<&str>) -> Self {
        let meta = &pod["metadata"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Self {
            kind: "Pod",
            namespace: s(&meta["namespace"]),
            name: s(&meta["name"]),
            uid: s(&meta["uid"]),
            resource_version: s(&meta["resourceVersion"]),
            field_path: container.map(|c| format!("spec.containers{{{c}}}")),
        }
    }

    /// A node, from its stored JSON.
    pub fn node(node: &Value) -> Self {
        let meta = &node["metadata"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Self {
            kind: "Node",
            namespace: String::new(),
            name: s(&meta["name"]),
            uid: s(&meta["uid"]),
            resource_version: String::new(),
            field_path: None,
        }
    }

    /// A node as the kubelet and node-problem-detector name it: its name doubles as its
    /// uid.
    pub fn node_by_name(name: &str) -> Self {
        Self {
            kind: "Node",
            namespace: String::new(),
            name: name.to_string(),
            uid: name.to_string(),
            resource_version: String::new(),
            field_path: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut v =
            json!({"kind": self.kind, "name": self.name, "uid": self.uid, "apiVersion": "v1"});
        if !self.namespace.is_empty() {
            v["namespace"] = self.namespace.clone().into();
        }
        if !self.resource_version.is_empty() {
            v["resourceVersion"] = self.resource_version.clone().into();
        }
        if let Some(f) = &self.field_path {
            v["fieldPath"] = f.clone().into();
        }
        v
    }
}

/// Who reports an event, and through which recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    /// client-go's `tools/record` (kubelet, node-controller, kernel-monitor): `source`.
    Legacy {
        /// `source.component`, e.g. `kubelet`.
        component: &'static str,
        /// `source.host` (the node), may be empty.
        host: String,
    },
    /// client-go's `tools/events` (the scheduler): `reportingController`, `action`.
    Series {
        /// `reportingController`, e.g. `default-scheduler`.
        controller: &'static str,
        /// `reportingInstance`.
        instance: String,
        /// `action`, e.g. `Scheduling`.
        action: &'static str,
    },
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What it is about.
    pub involved: Involved,
    /// `Normal` or `Warning`.
    pub kind: &'static str,
    /// A CamelCase reason, e.g. `BackOff`.
    pub reason: &'static str,
    /// The message.
    pub message: String,
    /// Who reports it.
    pub reporter: Reporter,
}

impl NewEvent {
    /// A kubelet event about a pod (or one of its containers).
    pub fn kubelet(
        pod: &Value,
        container: Option<&str>,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) -> Self {
        let host = pod["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Self {
            involved: Involved::pod(pod, container),
            kind,
            reason,
            message,
            reporter: Reporter::Legacy {
                component: "kubelet",
                host,
            },
        }
    }

    /// A kubelet event about its node (the kubelet names its node by name as uid).
    pub fn node_kubelet(
        node: &Value,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) -> Self {
        let name = node["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Self {
            involved: Involved::node_by_name(&name),
            kind,
            reason,
            message,
            reporter: Reporter::Legacy {
                component: "kubelet",
                host: name,
            },
        }
    }

    fn aggregation_key(&self) -> String {
        let (component, host) = match &self.reporter {
            Reporter::Legacy { component, host } => (*component, host.as_str()),
            Reporter::Series {
                controller,
                instance,
                ..
            } => (*controller, instance.as_str()),
        };
        let i = &self.involved;
        format!(
            "{component}\u{0}{host}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            i.kind,
            i.namespace,
            i.name,
            i.uid,
            i.field_path.as_deref().unwrap_or_default(),
            self.kind,
            self.reason,
            self.message
        )
    }

    /// The namespace the event lives in: the object's, `default` for cluster objects.
    fn namespace(&self) -> String {
        if self.involved.namespace.is_empty() {
            "default".into()
        } else {
            self.involved.namespace.clone()
        }
    }
}

/// A `metav1.MicroTime` as the API writes it.
pub fn now_micro() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}.{:06}Z",
        now.strftime("%Y-%m-%dT%H:%M:%S"),
        now.subsec_microsecond()
    )
}

/// The recorders' shared memory: which events exist, and the churn's budget.
pub struct Recorder {
    seen: Mutex<HashMap<String, Key>>,
    budget: Mutex<(Instant, f64)>,
    serial: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            budget: Mutex::new((Instant::now(), CHURN_EVENT_BURST)),
            serial: AtomicU64::new(0),
        }
    }
}

impl Recorder {
    /// Takes one token of the churn's event budget (refilled over time).
    fn allow(&self) -> bool {
        let mut b = self.budget.lock();
        let now = Instant::now();
        let refill = now.duration_since(b.0).as_secs_f64() * CHURN_EVENTS_PER_SEC;
        b.0 = now;
        b.1 = (b.1 + refill).min(CHURN_EVENT_BURST);
        if b.1 >= 1.0 {
            b.1 -= 1.0;
            true
        } else {
            false
        }
    }

    /// A fresh event name: `<object>.<hex nanoseconds>`, as client-go makes them.
    fn name_for(&self, involved: &str) -> String {
        let nanos = jiff::Timestamp::now().as_nanosecond();
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        format!("{involved}.{:x}", nanos as u64 + serial)
    }
}

impl SimContext {
    /// Records an event for the churn: dropped when over the churn's event budget.
    pub(super) fn record_churn(&self, event: NewEvent) -> Option<Arc<Stored>> {
        if !self.recorder.allow() {
            return None;
        }
        self.record(event)
    }

    /// Records an event: a repeat of a stored one raises its count (or its series).
    pub(super) fn record(&self, event: NewEvent) -> Option<Arc<Stored>> {
        let key = event.aggregation_key();
        let known = self.recorder.seen.lock().get(&key).cloned();
        if let Some((ns, name)) = known {
            let updated = self
                .store
                .update(Resource::Events, &ns, &name, None, |mut v| {
                    repeat(&mut v, &event.reporter);
                    Ok(v)
                });
            if let Ok(stored) = updated {
                self.written(Resource::Events, &stored);
                return Some(stored);
            }
        }
        let namespace = event.namespace();
        let name = self.recorder.name_for(&event.involved.name);
        let value = first(&event, &namespace, &name);
        let stored = self.store.create(Resource::Events, value).ok()?;
        self.written(Resource::Events, &stored);
        let mut seen = self.recorder.seen.lock();
        if seen.len() >= SEEN_LIMIT {
            seen.clear();
        }
        seen.insert(key, (namespace, name));
        Some(stored)
    }
}

/// The first occurrence of an event.
fn first(e: &NewEvent, namespace: &str, name: &str) -> Value {
    let mut v = json!({
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": e.involved.to_json(),
        "reason": e.reason, "message": e.message, "type": e.kind,
    });
    match &e.reporter {
        Reporter::Legacy { component, host } => {
            let now = now_rfc3339();
            let mut source = json!({"component": component});
            if !host.is_empty() {
                source["host"] = host.clone().into();
            }
            v["source"] = source;
            v["firstTimestamp"] = now.clone().into();
            v["lastTimestamp"] = now.into();
            v["count"] = 1.into();
            v["reportingComponent"] = (*component).into();
            v["reportingInstance"] = host.clone().into();
        }
        Reporter::Series {
            controller,
            instance,
            action,
        } => {
            v["eventTime"] = now_micro().into();
            v["action"] = (*action).into();
            v["reportingComponent"] = (*controller).into();
            v["reportingInstance"] = instance.clone().into();
        }
    }
    canonical_core(v)
}

/// A repeat: the legacy recorder patches `count` and `lastTimestamp`, the new one
/// keeps a `series`.
fn repeat(v: &mut Value, reporter: &Reporter) {
    match reporter {
        Reporter::Legacy { .. } => {
            let count = v["count"].as_i64().unwrap_or(1);
            v["count"] = (count + 1).into();
            v["lastTimestamp"] = now_rfc3339().into();
        }
        Reporter::Series { .. } => {
            let count = v["series"]["count"].as_i64().unwrap_or(1);
            v["series"] = json!({"count": count + 1, "lastObservedTime": now_micro()});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(reporter: Reporter) -> NewEvent {
        NewEvent {
            involved: Involved::node_by_name("worker-1"),
            kind: "Warning",
            reason: "OOMKilling",
            message: "Memory cgroup out of memory".into(),
            reporter,
        }
    }

    #[test]
    fn legacy_events_count_and_series_events_keep_a_series() {
        let legacy = event(Reporter::Legacy {
            component: "kernel-monitor",
            host: "worker-1".into(),
        });
        let mut v = first(&legacy, "default", "worker-1.1");
        assert_eq!(
            (v["count"].as_i64(), v["source"]["component"].as_str()),
            (Some(1), Some("kernel-monitor"))
        );
        assert_eq!(v["involvedObject"]["uid"], "worker-1");
        repeat(&mut v, &legacy.reporter);
        repeat(&mut v, &legacy.reporter);
        assert_eq!(v["count"], 3);
        let series = event(Reporter::Series {
            controller: "default-scheduler",
            instance: "default-scheduler-cp".into(),
            action: "Scheduling",
        });
        let mut v = first(&series, "default", "p.1");
        assert!(v["firstTimestamp"].is_null() && v.get("count").is_none());
        assert_eq!(v["source"], json!({}));
        repeat(&mut v, &series.reporter);
        assert_eq!(v["series"]["count"], 2);
        repeat(&mut v, &series.reporter);
        assert_eq!(v["series"]["count"], 3);
        assert!(
            v["eventTime"]
                .as_str()
                .is_some_and(|t| t.len() == "2026-01-01T00:00:00.000000Z".len())
        );
    }

    #[test]
    fn different_messages_are_different_events() {
        let a = event(Reporter::Legacy {
            component: "kubelet",
            host: "n".into(),
        });
        let mut b = a.clone();
        b.message = "other".into();
        assert_ne!(a.aggregation_key(), b.aggregation_key());
        assert_eq!(a.aggregation_key(), a.clone().aggregation_key());
    }
}
