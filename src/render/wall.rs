//! The wall as the templates draw it: node boxes holding their pods (pods on unknown
//! nodes get a box too), the unscheduled pods, and the header counts.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::format;
use super::layout::{Grouping, Layout, NodeOrder};
use crate::state::{NodeView, PodView, Snapshot};

/// One node box: a node (or just its name, when its details are unavailable) and its pods.
pub struct NodeBox {
    /// The node name.
    pub name: Arc<str>,
    /// The node's view; `None` when the node is gone or not readable.
    pub view: Option<Arc<NodeView>>,
    /// Pods bound to it.
    pub pods: Vec<Arc<PodView>>,
}

/// The wall: node boxes and the unscheduled area.
pub struct Wall {
    /// Node boxes by name.
    pub nodes: Vec<NodeBox>,
    /// Pods without a node.
    pub unscheduled: Vec<Arc<PodView>>,
}

impl NodeBox {
    /// CPU requested by its pods, in millicores.
    pub fn cpu_requested(&self) -> u64 {
        self.pods.iter().map(|p| p.cpu_request_millis).sum()
    }

    /// Memory requested by its pods, in bytes.
    pub fn memory_requested(&self) -> u64 {
        self.pods.iter().map(|p| p.memory_request_bytes).sum()
    }

    /// More CPU requested than allocatable (the scheduler was bypassed or the node shrank).
    pub fn cpu_over(&self) -> bool {
        self.view
            .as_ref()
            .is_some_and(|v| self.cpu_requested() > v.allocatable_cpu_millis)
    }

    /// More memory requested than allocatable.
    pub fn memory_over(&self) -> bool {
        self.view
            .as_ref()
            .is_some_and(|v| self.memory_requested() > v.allocatable_memory_bytes)
    }

    /// CPU requested, for people.
    pub fn cpu_requested_text(&self) -> String {
        format::cpu(self.cpu_requested())
    }

    /// Memory requested, for people.
    pub fn memory_requested_text(&self) -> String {
        format::bytes(self.memory_requested())
    }

    /// Allocatable CPU, for people ("" without details).
    pub fn cpu_allocatable_text(&self) -> String {
        self.view
            .as_ref()
            .map_or_else(String::new, |v| format::cpu(v.allocatable_cpu_millis))
    }

    /// Allocatable memory, for people ("" without details).
    pub fn memory_allocatable_text(&self) -> String {
        self.view
            .as_ref()
            .map_or_else(String::new, |v| format::bytes(v.allocatable_memory_bytes))
    }

    /// "Ready", "NotReady", with ",SchedulingDisabled" when cordoned, as kubectl prints.
    pub fn state_text(&self) -> String {
        self.view
            .as_ref()
            .map_or_else(String::new, |v| format::node_state(v))
    }

    /// Roles joined for display, `<none>` when there are none.
    pub fn roles_text(&self) -> String {
        self.view
            .as_ref()
            .map_or_else(String::new, |v| format::roles(v))
    }

    /// The role the wall sorts by: `control-plane` first, then the first role, `~` for none
    /// (and `~~` without details: last).
    pub fn sort_role(&self) -> &str {
        let Some(v) = &self.view else { return "~~" };
        if v.roles
            .iter()
            .any(|r| r == "control-plane" || r == "master")
        {
            "!control-plane"
        } else {
            v.roles.first().map_or("~", String::as_str)
        }
    }

    /// The fuller of CPU and memory requests over allocatable (0 without details).
    fn usage(&self) -> f64 {
        let Some(v) = &self.view else { return 0.0 };
        let frac = |used: u64, total: u64| {
            if total == 0 {
                0.0
            } else {
                used as f64 / total as f64
            }
        };
        frac(self.cpu_requested(), v.allocatable_cpu_millis)
            .max(frac(self.memory_requested(), v.allocatable_memory_bytes))
    }
}

impl Wall {
    /// Groups a snapshot's pods under their nodes in the default layout.
    pub fn from_snapshot(snap: &Snapshot) -> Self {
        Self::arranged(snap, Layout::default())
    }

    /// Groups a snapshot's pods under their nodes (pods on unknown nodes get a box too),
    /// ordered as `layout` asks.
    pub fn arranged(snap: &Snapshot, layout: Layout) -> Self {
        let mut boxes: BTreeMap<Arc<str>, NodeBox> = snap
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    NodeBox {
                        name: n.name.clone(),
                        view: Some(n.clone()),
                        pods: Vec::new(),
                    },
                )
            })
            .collect();
        let mut unscheduled = Vec::new();
        for pod in &snap.pods {
            match &pod.node {
                Some(node) => boxes
                    .entry(node.clone())
                    .or_insert_with(|| NodeBox {
                        name: node.clone(),
                        view: None,
                        pods: Vec::new(),
                    })
                    .pods
                    .push(pod.clone()),
                None => unscheduled.push(pod.clone()),
            }
        }
        let mut nodes: Vec<NodeBox> = boxes.into_values().collect();
        match layout.sort {
            NodeOrder::Name => nodes.sort_by_cached_key(|n| natural_key(&n.name)),
            NodeOrder::Role => {
                nodes.sort_by_cached_key(|n| (n.sort_role().to_owned(), natural_key(&n.name)))
            }
            NodeOrder::Usage => nodes.sort_by(|a, b| {
                b.usage()
                    .total_cmp(&a.usage())
                    .then_with(|| natural_key(&a.name).cmp(&natural_key(&b.name)))
            }),
        }
        if layout.group != Grouping::None {
            for node in &mut nodes {
                node.pods
                    .sort_by(|a, b| group_key(a, layout.group).cmp(group_key(b, layout.group)));
            }
        }
        Self { nodes, unscheduled }
    }
}

/// A sort key that orders names like people read them ("worker-2" before "worker-10"):
/// each run of digits is prefixed with its length. The page's script uses the same key.
fn natural_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 8);
    let mut rest = name;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        key.push_str(&rest[..start]);
        let digits = &rest[start..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        key.push_str(&format!("{:03}", end));
        key.push_str(&digits[..end]);
        rest = &digits[end..];
    }
    key.push_str(rest);
    key
}

/// The key a pod is grouped by.
fn group_key(pod: &PodView, group: Grouping) -> &str {
    match group {
        Grouping::None => "",
        Grouping::Namespace => &pod.namespace,
        Grouping::Owner => pod.owner.as_deref().unwrap_or(""),
    }
}

/// Header counts: nodes, pods, and pods by status.
pub struct Counts {
    /// Nodes shown.
    pub nodes: usize,
    /// Pods shown.
    pub pods: usize,
    /// (status, colour class, count), most common first.
    pub by_status: Vec<(String, &'static str, usize)>,
}

impl Counts {
    /// The counts of a snapshot.
    pub fn of(snap: &Snapshot) -> Self {
        let mut by: BTreeMap<&str, (&'static str, usize)> = BTreeMap::new();
        for pod in &snap.pods {
            by.entry(&*pod.status)
                .or_insert((pod.status_class().as_str(), 0))
                .1 += 1;
        }
        let mut by_status: Vec<_> = by
            .into_iter()
            .map(|(s, (c, n))| (s.to_owned(), c, n))
            .collect();
        by_status.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        Self {
            nodes: snap.nodes.len(),
            pods: snap.pods.len(),
            by_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    fn node(name: &str, roles: &[&str]) -> NodeView {
        NodeView {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..fixtures::node(name)
        }
    }

    fn pod(ns: &str, name: &str, node: &str, cpu: u64, owner: &str) -> PodView {
        PodView {
            owner: Some(owner.into()),
            cpu_request_millis: cpu,
            ..fixtures::pod_on(ns, name, node)
        }
    }

    fn snapshot() -> Snapshot {
        fixtures::snapshot(
            vec![
                node("worker-10", &["worker"]),
                node("worker-2", &["worker"]),
                node("cp-0", &["control-plane"]),
                node("edge-1", &[]),
            ],
            vec![
                pod("b", "p1", "worker-2", 1000, "ReplicaSet/z"),
                pod("a", "p2", "worker-2", 500, "ReplicaSet/y"),
                pod("a", "p3", "worker-10", 3000, "ReplicaSet/x"),
                pod("c", "p4", "gone-node", 100, "ReplicaSet/x"),
            ],
        )
    }

    fn order(wall: &Wall) -> Vec<&str> {
        wall.nodes.iter().map(|n| &*n.name).collect()
    }

    #[test]
    fn nodes_sorted_as_asked() {
        let snap = snapshot();
        let by = |sort| {
            Wall::arranged(
                &snap,
                Layout {
                    sort,
                    ..Layout::default()
                },
            )
        };
        assert_eq!(
            order(&by(NodeOrder::Name)),
            ["cp-0", "edge-1", "gone-node", "worker-2", "worker-10"]
        );
        assert_eq!(
            order(&by(NodeOrder::Role)),
            ["cp-0", "worker-2", "worker-10", "edge-1", "gone-node"]
        );
        // worker-10 requests 3000m of 4000m, worker-2 1500m; boxes without details last.
        assert_eq!(
            order(&by(NodeOrder::Usage)),
            ["worker-10", "worker-2", "cp-0", "edge-1", "gone-node"]
        );
    }

    #[test]
    fn pods_grouped_in_their_node() {
        let snap = snapshot();
        let wall = Wall::arranged(
            &snap,
            Layout {
                group: Grouping::Namespace,
                ..Layout::default()
            },
        );
        let w2 = wall
            .nodes
            .iter()
            .find(|n| &*n.name == "worker-2")
            .expect("worker-2");
        let names: Vec<&str> = w2.pods.iter().map(|p| &*p.name).collect();
        assert_eq!(names, ["p2", "p1"]);
        assert_eq!(w2.cpu_requested(), 1500);
        assert!(!w2.cpu_over());
    }

    #[test]
    fn node_names_sort_naturally() {
        let mut names = vec!["worker-10", "worker-2", "control-plane-0", "worker-1a3"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(
            names,
            ["control-plane-0", "worker-1a3", "worker-2", "worker-10"]
        );
    }
}
