//! HTML rendering with askama: the whole page and the fragments `/events` sends.
//!
//! Page and fragments use the same templates (`pod.html`, `node_header.html`,
//! `node.html`, `wall.html`), so a live-updated page looks exactly like a fresh one.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;

use crate::cache::{ApiStatus, Position, Snapshot};
use crate::view::{NodeView, PodView};

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

impl Wall {
    /// Groups a snapshot's pods under their nodes; pods on unknown nodes get a box too.
    pub fn from_snapshot(snap: &Snapshot) -> Self {
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
        Self {
            nodes: boxes.into_values().collect(),
            unscheduled,
        }
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
            by.entry(pod.status.as_str())
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

/// The full page.
#[derive(Template)]
#[template(path = "page.html")]
struct Page<'a> {
    position: Position,
    filter_text: &'a str,
    counts: Counts,
    apiserver: &'a ApiStatus,
    wall: Wall,
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

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Renders the page for a snapshot; `filter_text` is the filter in readable form.
pub fn page(snap: &Snapshot, filter_text: &str) -> Result<String, askama::Error> {
    Page {
        position: snap.position(),
        filter_text,
        counts: Counts::of(snap),
        apiserver: &snap.apiserver,
        wall: Wall::from_snapshot(snap),
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

/// Renders an error page.
pub fn error_page(title: &str, message: &str) -> Result<String, askama::Error> {
    ErrorPage { title, message }.render()
}
