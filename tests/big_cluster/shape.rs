//! The shape of a pod watch stream: what the simulator must look like to a watcher, taken
//! from the real controllers (issue 22, "the simulator learns what it missed").
//!
//! A stream is reduced to what does not depend on timing or sizes: for each pod that
//! started in the window, the path of its states from ADDED to Running (one state per
//! event, repeats included: they are writes too); for each pod deleted in it, the path from
//! its deletion mark to DELETED; and whether its metadata has what a controller writes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{WatchEvent, WatchParams};

/// One event's view of a pod: what a watcher (and the wall) can tell apart.
pub fn state(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "terminating".into();
    }
    let status = pod.status.as_ref();
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first());
    let waiting = container
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.clone());
    let ready = container.is_some_and(|c| c.ready);
    match (phase.as_str(), waiting) {
        ("Pending" | "", _) if !bound => "unbound".into(),
        ("Pending" | "", None) => "bound".into(),
        ("Pending", Some(reason)) => reason,
        ("Running", _) if ready => "running+ready".into(),
        ("Running", _) => "running".into(),
        (other, _) => other.to_lowercase(),
    }
}

/// What a window of a pod watch looked like.
#[derive(Debug, Default)]
pub struct Shape {
    /// start path → pods that took it (ADDED … first running+ready).
    pub starts: BTreeMap<Vec<String>, usize>,
    /// deletion path → pods that took it (first "terminating" … DELETED).
    pub deletions: BTreeMap<Vec<String>, usize>,
    /// Metadata traits of the pods added in the window, → how many had each.
    pub metadata: BTreeMap<&'static str, usize>,
    /// Pods added in the window.
    pub added: usize,
}

impl Shape {
    /// The most common start path.
    pub fn usual_start(&self) -> Option<&Vec<String>> {
        self.starts.iter().max_by_key(|(_, n)| **n).map(|(p, _)| p)
    }

    /// The most common deletion path.
    pub fn usual_deletion(&self) -> Option<&Vec<String>> {
        self.deletions
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(p, _)| p)
    }

    /// The metadata traits every added pod had.
    pub fn universal_metadata(&self) -> BTreeSet<&'static str> {
        self.metadata
            .iter()
            .filter(|(_, n)| **n == self.added)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Watches the pods of ReplicaSets in `namespace` (all when `None`) for `window`, from
/// now, and reduces what it saw. Pods that existed before the window only count for
/// deletions.
pub async fn record(client: &kube::Client, namespace: Option<&str>, window: Duration) -> Shape {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let rv = api
        .list_metadata(&Default::default())
        .await
        .expect("list pods")
        .metadata
        .resource_version
        .expect("a list has a resourceVersion");
    let mut stream = api
        .watch(
            &WatchParams::default().timeout(window.as_secs() as u32 + 5),
            &rv,
        )
        .await
        .expect("watch pods")
        .boxed();
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deleting: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut shape = Shape::default();
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        let Ok(Ok(Some(event))) = next else { break };
        let (kind, pod) = match event {
            WatchEvent::Added(p) => ("ADDED", p),
            WatchEvent::Modified(p) => ("MODIFIED", p),
            WatchEvent::Deleted(p) => ("DELETED", p),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error: {e:?}"),
        };
        // Deployments' pods only: the sim's other workloads start differently on purpose
        // (DaemonSet pods are bound at creation, Jobs complete).
        if !testkit::kwok::owned_by(&pod, "ReplicaSet") {
            continue;
        }
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default()
        );
        let now = state(&pod);
        if kind == "ADDED" {
            shape.added += 1;
            for (trait_, has) in metadata_traits(&pod) {
                if has {
                    *shape.metadata.entry(trait_).or_insert(0) += 1;
                }
            }
            paths.insert(key.clone(), vec![now.clone()]);
        } else if kind == "MODIFIED"
            && let Some(path) = paths.get_mut(&key)
        {
            path.push(now.clone());
        }
        if kind == "MODIFIED"
            && now == "running+ready"
            && let Some(mut path) = paths.remove(&key)
        {
            // A container with a readiness probe runs unready until the probe passes: a
            // write the kubelet makes and KWOK, which has no prober, does not (the sim's
            // pods declare probes, the workload's do not). It is not counted.
            let probed = pod
                .spec
                .as_ref()
                .is_some_and(|s| s.containers.iter().any(|c| c.readiness_probe.is_some()));
            if probed && path.len() >= 2 && path[path.len() - 2] == "running" {
                path.remove(path.len() - 2);
            }
            *shape.starts.entry(path).or_insert(0) += 1;
        }
        if now == "terminating" && kind != "DELETED" {
            deleting.entry(key.clone()).or_default().push(now.clone());
        }
        if kind == "DELETED" {
            paths.remove(&key);
            if let Some(mut path) = deleting.remove(&key) {
                path.push("deleted".into());
                *shape.deletions.entry(path).or_insert(0) += 1;
            }
        }
    }
    shape
}

/// What a controller-made pod carries: is each trait there?
fn metadata_traits(pod: &Pod) -> [(&'static str, bool); 5] {
    let m = &pod.metadata;
    let generated = m.generate_name.as_deref().is_some_and(|g| {
        m.name.as_deref().is_some_and(|n| {
            n.strip_prefix(g).is_some_and(|suffix| {
                suffix.len() == 5
                    && suffix
                        .chars()
                        .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
            })
        })
    });
    let controller = m
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.block_owner_deletion == Some(true));
    let hash = m
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key("pod-template-hash"));
    let scheduled_condition_later = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_none_or(|c| c.is_empty());
    let uid = m.uid.as_deref().is_some_and(|u| u.len() == 36);
    [
        ("name = generateName + 5 random characters", generated),
        ("a controller owner reference", controller),
        ("pod-template-hash label", hash),
        ("added without conditions", scheduled_condition_later),
        ("a 36-character uid", uid),
    ]
}
