//! Trouble as a real cluster shows it: the pod and node states (conditions, container
//! states, taints) and the events the components record with them. The churn generator
//! and the control endpoints (`/_sim/pods/…`, `/_sim/nodes/…`) both go through here; a
//! trouble started from a control endpoint goes on (its events repeat with a growing
//! count, a crash loop's restarts grow) until it is ended.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::SimContext;
use super::cluster::{self, PodState, Termination};
use super::recorder::{Involved, NewEvent, Reporter};
use super::resource::Resource;
use super::status::ApiError;
use super::store::{Key, Stored, now_rfc3339};

/// How often an ongoing trouble's events repeat.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(10);

/// The scheduler's `reportingInstance` (its pod's host).
const SCHEDULER_INSTANCE: &str = "default-scheduler-control-plane-0";

/// A pod's trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodTrouble {
    /// Pending, no node fits: PodScheduled False Unschedulable, FailedScheduling.
    Unschedulable,
    /// CrashLoopBackOff, lastState terminated, BackOff.
    CrashLoop(Termination),
    /// ImagePullBackOff / ErrImagePull, Failed and BackOff.
    ImagePullBackOff,
    /// CreateContainerConfigError (a missing secret), Failed.
    ConfigError,
    /// Running but not ready, Unhealthy.
    ReadinessFailing,
    /// Evicted by the kubelet under memory pressure, Evicted.
    Evicted,
}

impl PodTrouble {
    /// The control path segment, e.g. `crash-loop`.
    pub fn parse(segment: &str, reason: Option<&str>) -> Result<Self, ApiError> {
        Ok(match segment {
            "unschedulable" => PodTrouble::Unschedulable,
            "crash-loop" => PodTrouble::CrashLoop(match reason {
                None => Termination::Error,
                Some(r) => Termination::parse(r).ok_or_else(|| {
                    ApiError::bad_request(format!("reason must be Error or OOMKilled, not {r:?}"))
                })?,
            }),
            "image-pull-backoff" => PodTrouble::ImagePullBackOff,
            "config-error" => PodTrouble::ConfigError,
            "readiness-failing" => PodTrouble::ReadinessFailing,
            "evict" => PodTrouble::Evicted,
            other => {
                return Err(ApiError::bad_request(format!(
                    "pod trouble must be unschedulable, crash-loop, image-pull-backoff, config-error, readiness-failing or evict, not {other:?}"
                )));
            }
        })
    }
}

/// A node's trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTrouble {
    /// MemoryPressure True, `node.kubernetes.io/memory-pressure:NoSchedule`.
    MemoryPressure,
    /// DiskPressure True, `node.kubernetes.io/disk-pressure:NoSchedule`.
    DiskPressure,
    /// PIDPressure True, `node.kubernetes.io/pid-pressure:NoSchedule`.
    PidPressure,
    /// NetworkUnavailable True, `node.kubernetes.io/network-unavailable:NoSchedule`.
    NetworkUnavailable,
    /// Ready False, `node.kubernetes.io/not-ready` NoSchedule and NoExecute.
    NotReady,
    /// An OOM kill on the node (an event only, from node-problem-detector).
    OomKill,
}

/// A condition as the kubelet writes it: type, status, reason, message.
type ConditionText = (&'static str, &'static str, &'static str, &'static str);

impl NodeTrouble {
    /// The control path segment, e.g. `disk-pressure`.
    pub fn parse(segment: &str) -> Result<Self, ApiError> {
        Ok(match segment {
            "memory-pressure" => NodeTrouble::MemoryPressure,
            "disk-pressure" => NodeTrouble::DiskPressure,
            "pid-pressure" => NodeTrouble::PidPressure,
            "network-unavailable" => NodeTrouble::NetworkUnavailable,
            "not-ready" => NodeTrouble::NotReady,
            "oom-kill" => NodeTrouble::OomKill,
            other => {
                return Err(ApiError::bad_request(format!(
                    "node trouble must be memory-pressure, disk-pressure, pid-pressure, network-unavailable, not-ready or oom-kill, not {other:?}"
                )));
            }
        })
    }

    /// The condition with the trouble, and without it.
    fn conditions(self) -> Option<(ConditionText, ConditionText)> {
        Some(match self {
            NodeTrouble::MemoryPressure => (
                (
                    "MemoryPressure",
                    "True",
                    "KubeletHasInsufficientMemory",
                    "kubelet has insufficient memory available",
                ),
                (
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
            ),
            NodeTrouble::DiskPressure => (
                (
                    "DiskPressure",
                    "True",
                    "KubeletHasDiskPressure",
                    "kubelet has disk pressure",
                ),
                (
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
            ),
            NodeTrouble::PidPressure => (
                (
                    "PIDPressure",
                    "True",
                    "KubeletHasInsufficientPID",
                    "kubelet has insufficient PID available",
                ),
                (
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
            ),
            NodeTrouble::NetworkUnavailable => (
                (
                    "NetworkUnavailable",
                    "True",
                    "NoRouteCreated",
                    "Node created without a route",
                ),
                (
                    "NetworkUnavailable",
                    "False",
                    "RouteCreated",
                    "RouteController created a route",
                ),
            ),
            NodeTrouble::NotReady => (
                (
                    "Ready",
                    "False",
                    "KubeletNotReady",
                    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                ),
                (
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                ),
            ),
            NodeTrouble::OomKill => return None,
        })
    }

    /// The taints the node lifecycle controller keeps while the trouble lasts.
    fn taints(self) -> &'static [(&'static str, &'static str)] {
        match self {
            NodeTrouble::MemoryPressure => &[("node.kubernetes.io/memory-pressure", "NoSchedule")],
            NodeTrouble::DiskPressure => &[("node.kubernetes.io/disk-pressure", "NoSchedule")],
            NodeTrouble::PidPressure => &[("node.kubernetes.io/pid-pressure", "NoSchedule")],
            NodeTrouble::NetworkUnavailable => {
                &[("node.kubernetes.io/network-unavailable", "NoSchedule")]
            }
            NodeTrouble::NotReady => &[
                ("node.kubernetes.io/not-ready", "NoSchedule"),
                ("node.kubernetes.io/not-ready", "NoExecute"),
            ],
            NodeTrouble::OomKill => &[],
        }
    }

    /// The kubelet's status-change reason when the trouble starts and ends, and what
    /// its eviction manager is reclaiming.
    fn kubelet_events(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            NodeTrouble::MemoryPressure => Some((
                "NodeHasInsufficientMemory",
                "NodeHasSufficientMemory",
                "memory",
            )),
            NodeTrouble::DiskPressure => Some((
                "NodeHasDiskPressure",
                "NodeHasNoDiskPressure",
                "ephemeral-storage",
            )),
            NodeTrouble::PidPressure => {
                Some(("NodeHasInsufficientPID", "NodeHasSufficientPID", "pids"))
            }
            _ => None,
        }
    }
}

/// Sets a node condition the kubelet's way: a heartbeat now, the transition time only
/// when the status changes.
pub fn set_node_condition(node: &mut Value, (kind, status, reason, message): ConditionText) {
    let now = now_rfc3339();
    if !node["status"]["conditions"].is_array() {
        node["status"]["conditions"] = json!([]);
    }
    let Some(conds) = node["status"]["conditions"].as_array_mut() else {
        return;
    };
    let fresh = json!({"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
    match conds.iter_mut().find(|c| c["type"] == kind) {
        Some(c) if c["status"] == status => {
            c["lastHeartbeatTime"] = now.into();
            c["reason"] = reason.into();
            c["message"] = message.into();
        }
        Some(c) => *c = fresh,
        None => conds.push(fresh),
    }
}

/// Adds a taint (key and effect) unless present; NoExecute taints carry `timeAdded`.
pub fn add_taint(node: &mut Value, key: &str, effect: &str) {
    if !node["spec"]["taints"].is_array() {
        node["spec"]["taints"] = json!([]);
    }
    if let Some(t) = node["spec"]["taints"].as_array_mut()
        && !t.iter().any(|x| x["key"] == key && x["effect"] == effect)
    {
        let mut taint = json!({"key": key, "effect": effect});
        if effect == "NoExecute" {
            taint["timeAdded"] = now_rfc3339().into();
        }
        t.push(taint);
    }
}

/// Removes every taint with `key`.
pub fn remove_taint(node: &mut Value, key: &str) {
    if let Some(t) = node["spec"]["taints"].as_array_mut() {
        t.retain(|x| x["key"] != key);
    }
    if node["spec"]["taints"]
        .as_array()
        .is_some_and(|t| t.is_empty())
        && let Some(spec) = node["spec"].as_object_mut()
    {
        spec.remove("taints");
    }
}

/// Who asked for a trouble: the churn (its events are rate-limited) or a control
/// request (recorded always, and repeated until ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The churn generator.
    Churn,
    /// A control endpoint or [`super::SimHandle`] method.
    Control,
}

/// The ongoing troubles started by control requests, by pod.
#[derive(Default)]
pub struct Ongoing(Mutex<BTreeMap<Key, PodTrouble>>);

fn first_container(pod: &Value) -> (String, String) {
    let c = &pod["spec"]["containers"][0];
    (
        c["name"].as_str().unwrap_or("app").to_string(),
        c["image"].as_str().unwrap_or_default().to_string(),
    )
}

impl SimContext {
    fn emit(&self, origin: Origin, event: NewEvent) {
        match origin {
            Origin::Churn => self.record_churn(event),
            Origin::Control => self.record(event),
        };
    }

    /// The scheduler's message for the cluster as it is now.
    pub(super) fn unschedulable_message(&self) -> String {
        let (_, nodes) = self.store.snapshot(Resource::Nodes, None);
        let control_plane = nodes
            .iter()
            .filter(|n| {
                n.index
                    .label("node-role.kubernetes.io/control-plane")
                    .is_some()
            })
            .count();
        cluster::unschedulable_message(nodes.len(), control_plane)
    }

    /// Puts a pod into `trouble` (its status, and the events that go with it).
    pub(super) fn pod_trouble(
        &self,
        namespace: &str,
        name: &str,
        trouble: PodTrouble,
        origin: Origin,
    ) -> Result<Arc<Stored>, ApiError> {
        let message = match trouble {
            PodTrouble::Unschedulable => self.unschedulable_message(),
            _ => String::new(),
        };
        let stored = self
            .store
            .update(Resource::Pods, namespace, name, None, |mut v| {
                let scheduled = v["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty());
                if !v["metadata"]["deletionTimestamp"].is_null() {
                    return Err(ApiError::bad_request(format!(
                        "pod {name:?} is terminating"
                    )));
                }
                if trouble != PodTrouble::Unschedulable && !scheduled {
                    return Err(ApiError::bad_request(format!(
                        "pod {name:?} is not scheduled: only unschedulable applies"
                    )));
                }
                match trouble {
                    PodTrouble::Unschedulable => cluster::set_unschedulable(&mut v, &message),
                    PodTrouble::CrashLoop(how) => {
                        cluster::set_pod_state(&mut v, PodState::CrashLoopBackOff);
                        cluster::set_last_termination(&mut v, how);
                    }
                    PodTrouble::ImagePullBackOff => {
                        cluster::set_pod_state(&mut v, PodState::ImagePullBackOff)
                    }
                    PodTrouble::ConfigError => {
                        cluster::set_pod_state(&mut v, PodState::CreateContainerConfigError)
                    }
                    PodTrouble::ReadinessFailing => {
                        cluster::set_pod_state(&mut v, PodState::Running { ready: false })
                    }
                    PodTrouble::Evicted => cluster::set_pod_state(&mut v, PodState::Evicted),
                }
                Ok(v)
            })?;
        self.pod_trouble_events(&stored.decode(), trouble, origin, true);
        if origin == Origin::Control {
            let mut ongoing = self.troubles.0.lock();
            match trouble {
                PodTrouble::Evicted => ongoing.remove(&stored.index.key()),
                _ => ongoing.insert(stored.index.key(), trouble),
            };
        }
        Ok(stored)
    }

    /// The events of a pod's trouble; `first` for its start (a repeat records fewer).
    pub(super) fn pod_trouble_events(
        &self,
        pod: &Value,
        trouble: PodTrouble,
        origin: Origin,
        first: bool,
    ) {
        let (container, image) = first_container(pod);
        let c = Some(container.as_str());
        let kubelet = |kind, reason, message| NewEvent::kubelet(pod, c, kind, reason, message);
        match trouble {
            PodTrouble::Unschedulable => {
                let message = pod["status"]["conditions"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|x| x["type"] == "PodScheduled"))
                    .and_then(|x| x["message"].as_str())
                    .unwrap_or_default()
                    .to_string();
                self.emit(
                    origin,
                    NewEvent {
                        involved: Involved::pod(pod, None),
                        kind: "Warning",
                        reason: "FailedScheduling",
                        message,
                        reporter: Reporter::Series {
                            controller: "default-scheduler",
                            instance: SCHEDULER_INSTANCE.into(),
                            action: "Scheduling",
                        },
                    },
                );
            }
            PodTrouble::CrashLoop(how) => {
                let message = format!(
                    "Back-off restarting failed container {container} in pod {}",
                    cluster::pod_ref(pod)
                );
                self.emit(origin, kubelet("Warning", "BackOff", message));
                if first && how == Termination::OomKilled {
                    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
                    self.emit(origin, oom_killing(node, &container));
                }
            }
            PodTrouble::ImagePullBackOff => {
                if first {
                    self.image_pull_failed(pod, origin);
                }
                // The kubelet reports pull back-offs as Normal, the resulting error as Warning.
                let back_off = format!("Back-off pulling image \"{image}\"");
                self.emit(origin, kubelet("Normal", "BackOff", back_off));
                self.emit(
                    origin,
                    kubelet("Warning", "Failed", "Error: ImagePullBackOff".into()),
                );
            }
            PodTrouble::ConfigError => {
                let message = format!(
                    "Error: secret \"{}\" not found",
                    cluster::missing_secret(pod)
                );
                self.emit(origin, kubelet("Warning", "Failed", message));
            }
            PodTrouble::ReadinessFailing => {
                let message =
                    "Readiness probe failed: HTTP probe failed with statuscode: 503".to_string();
                self.emit(origin, kubelet("Warning", "Unhealthy", message));
            }
            PodTrouble::Evicted => {
                let message = pod["status"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.emit(
                    origin,
                    NewEvent::kubelet(pod, None, "Warning", "Evicted", message),
                );
                let stopping = format!("Stopping container {container}");
                self.emit(origin, kubelet("Normal", "Killing", stopping));
            }
        }
    }

    /// The kubelet's events of a failed image pull (before it backs off).
    pub(super) fn image_pull_failed(&self, pod: &Value, origin: Origin) {
        let (container, image) = first_container(pod);
        let c = Some(container.as_str());
        let kubelet = |kind, reason, message| NewEvent::kubelet(pod, c, kind, reason, message);
        let pulling = format!("Pulling image \"{image}\"");
        self.emit(origin, kubelet("Normal", "Pulling", pulling));
        let failed = format!(
            "Failed to pull image \"{image}\": {}",
            cluster::pull_error(&image)
        );
        self.emit(origin, kubelet("Warning", "Failed", failed));
        let error = "Error: ErrImagePull".to_string();
        self.emit(origin, kubelet("Warning", "Failed", error));
    }

    /// Ends a pod's trouble: scheduled (if it was not) and Running, Ready.
    pub(super) fn pod_healthy(&self, namespace: &str, name: &str) -> Result<Arc<Stored>, ApiError> {
        self.troubles
            .0
            .lock()
            .remove(&(namespace.to_string(), name.to_string()));
        let node = self.schedulable_node();
        let mut assigned = None;
        let stored = self
            .store
            .update(Resource::Pods, namespace, name, None, |mut v| {
                if v["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
                    let Some(node) = &node else {
                        return Err(ApiError::bad_request("no schedulable node for the pod"));
                    };
                    v["spec"]["nodeName"] = node.clone().into();
                    v["status"]["startTime"] = now_rfc3339().into();
                    assigned = Some(node.clone());
                }
                cluster::set_pod_state(&mut v, PodState::Running { ready: true });
                Ok(v)
            })?;
        if let Some(node) = assigned {
            let pod = stored.decode();
            let message = format!("Successfully assigned {namespace}/{name} to {node}");
            self.record(NewEvent {
                involved: Involved::pod(&pod, None),
                kind: "Normal",
                reason: "Scheduled",
                message,
                reporter: Reporter::Series {
                    controller: "default-scheduler",
                    instance: SCHEDULER_INSTANCE.into(),
                    action: "Binding",
                },
            });
        }
        Ok(stored)
    }

    /// A Ready worker without `spec.unschedulable`, the first by name.
    fn schedulable_node(&self) -> Option<String> {
        let (_, nodes) = self.store.snapshot(Resource::Nodes, None);
        nodes
            .iter()
            .filter(|n| {
                n.index
                    .label("node-role.kubernetes.io/control-plane")
                    .is_none()
            })
            .filter(|n| n.index.field("spec.unschedulable").as_deref() != Some("true"))
            .find(|n| {
                n.decode()["status"]["conditions"]
                    .as_array()
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
            .map(|n| n.index.name.clone())
    }

    /// Starts (`on`) or ends a node's trouble: condition, taints, events.
    pub(super) fn node_trouble(
        &self,
        name: &str,
        trouble: NodeTrouble,
        on: bool,
        origin: Origin,
    ) -> Result<Arc<Stored>, ApiError> {
        let stored = match trouble.conditions() {
            None => self
                .store
                .get(Resource::Nodes, "", name)
                .ok_or_else(|| ApiError::not_found(Resource::Nodes, name))?,
            Some((with, without)) => {
                self.store
                    .update(Resource::Nodes, "", name, None, |mut v| {
                        set_node_condition(&mut v, if on { with } else { without });
                        for (key, effect) in trouble.taints() {
                            if on {
                                add_taint(&mut v, key, effect);
                            } else {
                                remove_taint(&mut v, key);
                            }
                        }
                        Ok(v)
                    })?
            }
        };
        let node = stored.decode();
        let status_change = |reason: &'static str| {
            NewEvent::node_kubelet(
                &node,
                "Normal",
                reason,
                format!("Node {name} status is now: {reason}"),
            )
        };
        match trouble {
            NodeTrouble::OomKill => self.emit(origin, oom_killing(name, "app")),
            NodeTrouble::NotReady if on => {
                // The node lifecycle controller's: Normal about the node, Warning per pod.
                self.emit(
                    origin,
                    NewEvent {
                        involved: Involved::node(&node),
                        kind: "Normal",
                        reason: "NodeNotReady",
                        message: format!("Node {name} status is now: NodeNotReady"),
                        reporter: Reporter::Legacy {
                            component: "node-controller",
                            host: String::new(),
                        },
                    },
                );
                // Finding the node's pods scans them all: only when asked for, not in churn
                // (150k pods).
                let (_, pods) = match origin {
                    Origin::Control => self.store.snapshot(Resource::Pods, None),
                    Origin::Churn => (0, Vec::new()),
                };
                for pod in pods
                    .iter()
                    .filter(|p| p.index.field("spec.nodeName").as_deref() == Some(name))
                    .take(20)
                {
                    let pod = pod.decode();
                    self.emit(
                        origin,
                        NewEvent {
                            involved: Involved::pod(&pod, None),
                            kind: "Warning",
                            reason: "NodeNotReady",
                            message: "Node is not ready".into(),
                            reporter: Reporter::Legacy {
                                component: "node-controller",
                                host: String::new(),
                            },
                        },
                    );
                }
            }
            NodeTrouble::NotReady => self.emit(origin, status_change("NodeReady")),
            _ => {
                if let Some((start, end, resource)) = trouble.kubelet_events() {
                    if on {
                        self.emit(origin, status_change(start));
                        let reclaim = format!("Attempting to reclaim {resource}");
                        self.emit(
                            origin,
                            NewEvent::node_kubelet(
                                &node,
                                "Warning",
                                "EvictionThresholdMet",
                                reclaim,
                            ),
                        );
                    } else {
                        self.emit(origin, status_change(end));
                    }
                }
            }
        }
        Ok(stored)
    }

    /// Repeats the events of every ongoing trouble (a crash loop also restarts again);
    /// forgets the troubles of pods that are gone.
    pub(super) fn repeat_troubles(&self) {
        let ongoing: Vec<(Key, PodTrouble)> = self
            .troubles
            .0
            .lock()
            .iter()
            .map(|(k, t)| (k.clone(), *t))
            .collect();
        for ((ns, name), trouble) in ongoing {
            let pod = match trouble {
                PodTrouble::CrashLoop(how) => self
                    .store
                    .update(Resource::Pods, &ns, &name, None, |mut v| {
                        cluster::set_pod_state(&mut v, PodState::CrashLoopBackOff);
                        cluster::set_last_termination(&mut v, how);
                        Ok(v)
                    })
                    .ok(),
                _ => self.store.get(Resource::Pods, &ns, &name),
            };
            match pod {
                Some(pod) => {
                    self.pod_trouble_events(&pod.decode(), trouble, Origin::Control, false)
                }
                None => {
                    self.troubles.0.lock().remove(&(ns, name));
                }
            }
        }
    }
}

impl SimContext {
    /// The events of the generated cluster's troubled pods (a bounded few), as if the
    /// scheduler and the kubelets had been at it for a while.
    pub(super) fn record_generated_trouble(&self, model: &cluster::ClusterModel) {
        for (ns, name) in &model.troubled {
            let Some(pod) = self.store.get(Resource::Pods, ns, name) else {
                continue;
            };
            let pod = pod.decode();
            let trouble = if pod["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            {
                let how =
                    pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"]
                        .as_str()
                        .and_then(Termination::parse)
                        .unwrap_or(Termination::Error);
                PodTrouble::CrashLoop(how)
            } else {
                PodTrouble::Unschedulable
            };
            // Bounded by TROUBLED_AT_START, so not rate-limited.
            self.pod_trouble_events(&pod, trouble, Origin::Control, true);
        }
    }
}

/// node-problem-detector's kernel monitor reporting an OOM kill on `node`.
fn oom_killing(node: &str, process: &str) -> NewEvent {
    NewEvent {
        involved: Involved::node_by_name(node),
        kind: "Warning",
        reason: "OOMKilling",
        message: format!(
            "Memory cgroup out of memory: Killed process 48213 ({process}) total-vm:1349816kB, anon-rss:1048312kB, file-rss:10120kB, shmem-rss:0kB, UID:0 pgtables:2404kB oom_score_adj:999"
        ),
        reporter: Reporter::Legacy {
            component: "kernel-monitor",
            host: node.to_string(),
        },
    }
}

/// Repeats ongoing troubles every [`REPEAT_INTERVAL`] until shutdown.
pub async fn repeat(ctx: Arc<SimContext>) {
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + REPEAT_INTERVAL,
        REPEAT_INTERVAL,
    );
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = every.tick() => ctx.repeat_troubles(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_taints_come_and_go_by_key() {
        let mut node = json!({"spec": {}, "status": {}});
        for (key, effect) in NodeTrouble::NotReady.taints() {
            add_taint(&mut node, key, effect);
            add_taint(&mut node, key, effect);
        }
        let taints = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(taints.len(), 2);
        assert!(taints[0].get("timeAdded").is_none());
        assert!(taints[1]["timeAdded"].is_string());
        remove_taint(&mut node, "node.kubernetes.io/not-ready");
        assert!(node["spec"].get("taints").is_none());
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_stays() {
        let mut node = json!({"status": {}});
        let with = NodeTrouble::DiskPressure.conditions().map(|c| c.0);
        let Some(with) = with else {
            panic!("disk pressure has a condition")
        };
        set_node_condition(&mut node, with);
        let first = node["status"]["conditions"][0]["lastTransitionTime"].clone();
        set_node_condition(&mut node, with);
        assert_eq!(node["status"]["conditions"][0]["lastTransitionTime"], first);
        assert_eq!(
            node["status"]["conditions"][0]["reason"],
            "KubeletHasDiskPressure"
        );
    }

    #[test]
    fn trouble_names_parse() {
        assert_eq!(
            PodTrouble::parse("crash-loop", Some("OOMKilled")).ok(),
            Some(PodTrouble::CrashLoop(Termination::OomKilled))
        );
        assert!(PodTrouble::parse("crash-loop", Some("Segfault")).is_err());
        assert!(PodTrouble::parse("bogus", None).is_err());
        assert_eq!(
            NodeTrouble::parse("disk-pressure").ok(),
            Some(NodeTrouble::DiskPressure)
        );
        assert!(NodeTrouble::parse("sad").is_err());
    }
}
