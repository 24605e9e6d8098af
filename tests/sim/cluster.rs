//! The generated cluster and its churn: exact sizes, realistic objects, determinism.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::{Client, Resource as _};
use podwall::sim::RunningSim;
use testkit::Stack;

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// A quiet simulator (no server) and a client of it.
async fn sim(nodes: usize, pods: usize, seed: u64) -> (Stack, Client) {
    let stack = Stack::sim_only(nodes, pods, seed).await;
    let client = stack.kube();
    (stack, client)
}

/// What must be equal between two clusters built from the same seed (timestamps aside):
/// namespace/name, node, labels, phase, uid — as one JSON value per pod.
fn fingerprint(pods: &[Pod]) -> Vec<serde_json::Value> {
    pods.iter()
        .map(|p| {
            serde_json::json!([
                p.metadata.namespace,
                p.metadata.name,
                p.spec.as_ref().and_then(|s| s.node_name.clone()),
                p.metadata.labels,
                p.status.as_ref().and_then(|s| s.phase.clone()),
                p.metadata.uid,
            ])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_cluster_has_exact_counts_and_realistic_objects() {
    let (stack, client) = sim(20, 500, 11).await;
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes");
    assert_eq!(nodes.items.len(), 20);
    let node_names: BTreeSet<String> = nodes
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let control_planes = nodes
        .items
        .iter()
        .filter(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"))
        })
        .count();
    assert!(control_planes >= 1);
    for n in &nodes.items {
        let status = n.status.as_ref().expect("node status");
        assert!(
            status
                .allocatable
                .as_ref()
                .is_some_and(|a| a.contains_key("cpu")
                    && a.contains_key("memory")
                    && a.contains_key("pods"))
        );
        assert!(
            status
                .conditions
                .as_ref()
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"))
        );
        assert!(status.node_info.is_some() && status.addresses.is_some());
    }

    // Read the raw list to measure object sizes as clients see them.
    let raw = reqwest::get(format!("{}/api/v1/pods", stack.sim().url()))
        .await
        .expect("list")
        .bytes()
        .await
        .expect("body");
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 500);
    let average = raw.len() / pods.items.len();
    assert!(
        (3_000..=6_500).contains(&average),
        "a pod is {average} bytes of JSON on average"
    );

    let mut per_owner_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut states = BTreeSet::new();
    let mut unscheduled = 0;
    for p in &pods.items {
        let owner = p
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.first())
            .expect("every pod has an owner");
        *per_owner_kind.entry(owner.kind.clone()).or_default() += 1;
        assert!(
            p.metadata
                .managed_fields
                .as_ref()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            p.meta()
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("app"))
        );
        match p.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
            Some(node) => assert!(node_names.contains(node), "pod on unknown node {node}"),
            None => unscheduled += 1,
        }
        let status = p.status.as_ref().expect("status");
        states.insert(status.phase.clone().unwrap_or_default());
        for c in status.container_statuses.iter().flatten() {
            if let Some(reason) = c
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
            {
                states.insert(reason);
            }
        }
    }
    assert!(unscheduled >= 1, "a few pods are Pending without a node");
    assert_eq!(
        per_owner_kind.get("DaemonSet"),
        Some(&40),
        "two daemon sets, one pod per node: {per_owner_kind:?}"
    );
    for kind in ["ReplicaSet", "StatefulSet", "Job"] {
        assert!(
            per_owner_kind.contains_key(kind),
            "{kind} pods exist: {per_owner_kind:?}"
        );
    }
    for s in ["Running", "Pending", "Succeeded", "CrashLoopBackOff"] {
        assert!(states.contains(s), "some pod is {s}: {states:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_builds_the_same_cluster() {
    let (_a, ca) = sim(6, 120, 5).await;
    let (_b, cb) = sim(6, 120, 5).await;
    let (_c, cc) = sim(6, 120, 6).await;
    let list = |c: Client| async move {
        Api::<Pod>::all(c)
            .list(&ListParams::default())
            .await
            .expect("pods")
            .items
    };
    let (pa, pb, pc) = (list(ca).await, list(cb).await, list(cc).await);
    assert_eq!(fingerprint(&pa), fingerprint(&pb));
    assert_ne!(
        fingerprint(&pa),
        fingerprint(&pc),
        "another seed gives another cluster"
    );
}

/// (type, resourceVersion, name) of the first `n` pod changes once churn starts.
async fn first_changes(
    client: Client,
    n: usize,
    sim: &RunningSim,
) -> Vec<(String, String, String)> {
    let pods = Api::<Pod>::all(client);
    let rv = pods
        .list(&ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut events = pods
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    sim.handle().set_churn(200.0);
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while out.len() < n {
            let Some(e) = events.next().await else { break };
            let (ty, p) = match e.expect("event") {
                WatchEvent::Added(p) => ("ADDED", p),
                WatchEvent::Modified(p) => ("MODIFIED", p),
                WatchEvent::Deleted(p) => ("DELETED", p),
                _ => continue,
            };
            out.push((
                ty.to_string(),
                p.metadata.resource_version.unwrap_or_default(),
                p.metadata.name.unwrap_or_default(),
            ));
        }
    })
    .await
    .expect("churn produces changes in time");
    sim.handle().set_churn(0.0);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_makes_the_same_changes_for_the_same_seed() {
    let (a, ca) = sim(8, 150, 9).await;
    let (b, cb) = sim(8, 150, 9).await;
    let ea = first_changes(ca, 80, a.sim()).await;
    let eb = first_changes(cb, 80, b.sim()).await;
    assert_eq!(ea, eb);
    let kinds: BTreeSet<&str> = ea.iter().map(|(t, _, _)| t.as_str()).collect();
    assert!(
        kinds.contains("MODIFIED") && kinds.contains("ADDED"),
        "{kinds:?}"
    );
}
