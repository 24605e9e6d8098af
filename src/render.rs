//! HTML rendering with askama: the whole page and the fragments `/events` sends.
//!
//! Page and fragments use the same templates (`pod.html`, `node_header.html`,
//! `node.html`, `wall.html`), so a live-updated page looks exactly like a fresh one.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;

use crate::cache::{ApiStatus, Snapshot};
use crate::filter::{FilterParams, Grouping, Layout, NodeOrder};
use crate::view::{self, NodeView, PodView};

/// Up to this many pods the page draws large blocks (a small cluster fills the wall).
const LARGE_UP_TO: usize = 400;
/// Above this many pods the page starts with small blocks; above [`DOTS_AT`], dots.
const SMALL_AT: usize = 1500;
/// Above this many pods the page starts with pods as dots.
const DOTS_AT: usize = 5000;
/// The sizes a page starts at, each with the most pods it is chosen for; above the last,
/// [`DENSEST`]. The page reads them too (`data-density-steps`), to follow the pod count.
const DENSITY_STEPS: [(&str, usize); 3] = [
    ("large", LARGE_UP_TO),
    ("normal", SMALL_AT),
    ("small", DOTS_AT),
];
/// The size beyond the last step, and the size of `compact=1`.
const DENSEST: &str = "dots";

/// The size a page of `pods` pods starts at.
fn density(pods: usize, compact: bool) -> &'static str {
    if compact {
        return DENSEST;
    }
    DENSITY_STEPS
        .iter()
        .find(|(_, up_to)| pods <= *up_to)
        .map_or(DENSEST, |(name, _)| name)
}

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
        view::cpu_text(self.cpu_requested())
    }

    /// Memory requested, for people.
    pub fn memory_requested_text(&self) -> String {
        view::bytes_text(self.memory_requested())
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
            NodeOrder::Role => nodes.sort_by_cached_key(|n| {
                let role = n.view.as_ref().map_or("~~", |v| v.sort_role()).to_owned();
                (role, natural_key(&n.name))
            }),
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
    fn of(snap: &Snapshot) -> Self {
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

/// What the page shows around the wall.
pub struct PageContext<'a> {
    /// The query parameters, to refill the filter form.
    pub params: &'a FilterParams,
    /// The layout options.
    pub layout: Layout,
    /// Why the first sync is not complete yet, while it runs.
    pub syncing: Option<String>,
    /// A malformed filter's message; the page then shows no wall.
    pub error: Option<String>,
    /// `data-*` attributes on `#wall-root` for the overlay script (usage, links).
    pub overlay: &'a [(&'static str, String)],
    /// Framed by the multi-cluster overview, which shows the title, clock and legend once
    /// for all its walls: the page hides its own.
    pub framed: bool,
    /// The page's ES modules (paths under `/static/`), preloaded while the page parses.
    pub modules: &'a [&'static str],
}

/// A query parameter's value for the form (empty when absent).
fn form_value(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// The full page.
#[derive(Template)]
#[template(path = "page.html")]
struct Page<'a> {
    seq: String,
    ctx: &'a PageContext<'a>,
    density: &'static str,
    counts: Counts,
    apiserver: &'a ApiStatus,
    wall: Wall,
}

/// The filter's values, for the form and the summary line.
impl Page<'_> {
    fn ns(&self) -> &str {
        form_value(&self.ctx.params.ns)
    }
    fn label(&self) -> &str {
        form_value(&self.ctx.params.label)
    }
    fn node(&self) -> &str {
        form_value(&self.ctx.params.node)
    }
    fn q(&self) -> &str {
        form_value(&self.ctx.params.q)
    }
    fn filtered(&self) -> bool {
        !(self.ns().is_empty()
            && self.label().is_empty()
            && self.node().is_empty()
            && self.q().is_empty())
    }
    /// `data-density-steps` on `<html>`: "large 400 normal 1500 small 5000 dots".
    fn density_steps(&self) -> String {
        let mut steps = String::new();
        for (name, up_to) in DENSITY_STEPS {
            steps.push_str(&format!("{name} {up_to} "));
        }
        steps + DENSEST
    }
    /// `data-status-classes` on `<html>`: every status class, the catch-all last.
    fn status_classes(&self) -> String {
        view::StatusClass::ALL
            .map(view::StatusClass::as_str)
            .join(" ")
    }
}

/// The wall alone (the `reset` fragment).
#[derive(Template)]
#[template(path = "wall.html")]
struct WallFragment<'a> {
    wall: &'a Wall,
}

/// One pod block.
#[derive(Template)]
#[template(path = "pod.html")]
struct PodFragment<'a> {
    pod: &'a PodView,
}

/// A node box's header.
#[derive(Template)]
#[template(path = "node_header.html")]
struct NodeHeaderFragment<'a> {
    node: &'a NodeBox,
}

/// Renders the page for a snapshot (or, with `ctx.error`, the page without a wall).
pub fn page(snap: &Snapshot, ctx: &PageContext<'_>) -> Result<String, askama::Error> {
    let density = density(snap.pods.len(), ctx.layout.compact);
    let (seq, wall, counts) = if ctx.error.is_some() {
        let empty = Snapshot {
            epoch: snap.epoch,
            seq: snap.seq,
            nodes: Vec::new(),
            pods: Vec::new(),
            apiserver: snap.apiserver.clone(),
            cluster: snap.cluster.clone(),
        };
        (
            String::new(),
            Wall::from_snapshot(&empty),
            Counts::of(&empty),
        )
    } else {
        (
            snap.position().to_string(),
            Wall::arranged(snap, ctx.layout),
            Counts::of(snap),
        )
    };
    Page {
        seq,
        ctx,
        density,
        counts,
        apiserver: &snap.apiserver,
        wall,
    }
    .render()
}

/// Renders the inner HTML of `#wall` for a snapshot.
pub fn wall(snap: &Snapshot) -> Result<String, askama::Error> {
    WallFragment {
        wall: &Wall::from_snapshot(snap),
    }
    .render()
}

/// Renders one pod block.
pub fn pod(pod: &PodView) -> Result<String, askama::Error> {
    PodFragment { pod }.render()
}

/// Renders a node header (pod count 0: the page counts its pods itself).
pub fn node_header(view: &Arc<NodeView>) -> Result<String, askama::Error> {
    NodeHeaderFragment {
        node: &NodeBox {
            name: view.name.clone(),
            view: Some(view.clone()),
            pods: Vec::new(),
        },
    }
    .render()
}

/// Renders the header of a box whose node details are unavailable.
pub fn unavailable_node_header(name: &str) -> Result<String, askama::Error> {
    NodeHeaderFragment {
        node: &NodeBox {
            name: Arc::from(name),
            view: None,
            pods: Vec::new(),
        },
    }
    .render()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cache::Epoch;
    use crate::filter::Grouping;

    fn node(name: &str, roles: &[&str]) -> Arc<NodeView> {
        Arc::new(NodeView {
            name: Arc::from(name),
            ready: true,
            unschedulable: false,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            allocatable_cpu_millis: 4000,
            allocatable_memory_bytes: 8 << 30,
            pod_capacity: 110,
        })
    }

    fn pod(ns: &str, name: &str, node: &str, cpu: u64, owner: &str) -> Arc<PodView> {
        Arc::new(PodView {
            namespace: Arc::from(ns),
            name: name.into(),
            node: Some(Arc::from(node)),
            phase: "Running".into(),
            status: "Running".into(),
            ready: crate::view::Ready { ready: 1, total: 1 },
            restarts: 0,
            owner: Some(owner.into()),
            labels: Default::default(),
            cpu_request_millis: cpu,
            memory_request_bytes: 0,
            created: None,
        })
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            epoch: Epoch(1),
            seq: 1,
            nodes: vec![
                node("worker-10", &["worker"]),
                node("worker-2", &["worker"]),
                node("cp-0", &["control-plane"]),
                node("edge-1", &[]),
            ],
            pods: vec![
                pod("b", "p1", "worker-2", 1000, "ReplicaSet/z"),
                pod("a", "p2", "worker-2", 500, "ReplicaSet/y"),
                pod("a", "p3", "worker-10", 3000, "ReplicaSet/x"),
                pod("c", "p4", "gone-node", 100, "ReplicaSet/x"),
            ],
            apiserver: ApiStatus {
                apiserver: "ok",
                message: String::new(),
            },
            cluster: None,
        }
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
    fn page_renders_layout_and_error() {
        let snap = snapshot();
        let params = FilterParams::default();
        let ok = page(
            &snap,
            &PageContext {
                params: &params,
                layout: Layout::default(),
                syncing: Some("waiting for first sync of pods".into()),
                error: None,
                overlay: &[],
                framed: false,
                modules: &["wall/main.mjs"],
            },
        )
        .expect("renders");
        assert!(ok.contains("data-pod=\"a/p3\""));
        assert!(ok.contains("id=\"sync\""));
        assert!(ok.contains("data-density=\"large\""));
        assert!(ok.contains(r#"data-density-steps="large 400 normal 1500 small 5000 dots""#));
        assert!(ok.contains(
            r#"data-status-classes="ok starting notready bad done terminating unknown""#
        ));
        assert!(ok.contains(r#"<script type="module" src="/static/wall/main.mjs"></script>"#));
        assert!(ok.contains(r#"<link rel="modulepreload" href="/static/wall/main.mjs">"#));
        assert!(!ok.contains(" framed"));
        let bad = page(
            &snap,
            &PageContext {
                params: &params,
                layout: Layout::default(),
                syncing: None,
                error: Some("label: nope".into()),
                overlay: &[],
                framed: true,
                modules: &[],
            },
        )
        .expect("renders");
        assert!(bad.contains("label: nope") && !bad.contains("data-pod="));
        assert!(bad.contains(r#"class="theme-dark framed""#));
    }

    #[test]
    fn density_follows_the_pod_count() {
        let at = |pods| density(pods, false);
        assert_eq!(
            [at(0), at(400), at(401), at(1500), at(1501)],
            ["large", "large", "normal", "normal", "small"]
        );
        assert_eq!(
            [at(5000), at(5001), density(3, true)],
            ["small", "dots", "dots"]
        );
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
