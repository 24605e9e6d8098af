//! What changed in a stretch of the history (`?recent=15m`): the pods and nodes that
//! appeared, went, changed status or restarted, each with its status transitions and
//! times, and for a pod that went its last view (the wall shows it as a ghost).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::change::Diff;
use super::super::filter::Filter;
use super::super::view::{NodeView, PodView};
use super::Mark;

/// At most this many objects are listed (the most recently changed first); a wall
/// showing more would show nothing.
pub const RECENT_LIMIT: usize = 500;

/// One status transition: when, from what, to what (`""` before it existed, `"gone"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// When (unix milliseconds).
    pub at: Mark,
    /// The status before.
    pub from: Arc<str>,
    /// The status after.
    pub to: Arc<str>,
}

/// A pod or node that changed in the stretch.
#[derive(Debug, Clone)]
pub struct Touched {
    /// `pod` or `node`.
    pub kind: &'static str,
    /// `namespace/name` of a pod, a node's name.
    pub key: String,
    /// It appeared in the stretch.
    pub appeared: bool,
    /// It went in the stretch (and did not come back).
    pub gone: bool,
    /// A container restarted in the stretch.
    pub restarted: bool,
    /// Its status changed.
    pub changed_status: bool,
    /// Its status transitions, oldest first.
    pub transitions: Vec<StatusChange>,
    /// A pod that went: its last view.
    pub ghost: Option<Arc<PodView>>,
    /// Its last change.
    pub last: Mark,
}

impl Touched {
    fn new(kind: &'static str, key: String) -> Self {
        Self {
            kind,
            key,
            appeared: false,
            gone: false,
            restarted: false,
            changed_status: false,
            transitions: Vec::new(),
            ghost: None,
            last: Mark::default(),
        }
    }

    /// The marks, space-separated (`appeared status restarted gone`): CSS classes
    /// `recent-<mark>` on the page.
    pub fn marks(&self) -> String {
        [
            (self.appeared, "appeared"),
            (self.changed_status, "status"),
            (self.restarted, "restarted"),
            (self.gone, "gone"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, m)| *m)
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The word a node's state reads as, like `kubectl get nodes`' STATUS.
fn node_status(n: &NodeView) -> &'static str {
    match (n.ready, n.unschedulable) {
        (true, false) => "Ready",
        (true, true) => "Ready,SchedulingDisabled",
        (false, false) => "NotReady",
        (false, true) => "NotReady,SchedulingDisabled",
    }
}

/// The objects `filter` shows that changed in `changes`, most recently changed first, at
/// most [`RECENT_LIMIT`].
pub fn summarize<'a>(
    changes: impl IntoIterator<Item = (Mark, &'a Diff)>,
    filter: &Filter,
) -> Vec<Touched> {
    let mut touched: BTreeMap<(&'static str, String), Touched> = BTreeMap::new();
    let empty: Arc<str> = Arc::from("");
    let gone: Arc<str> = Arc::from("gone");
    for (at, diff) in changes {
        match diff {
            Diff::Pod { old, new } => {
                let shown =
                    |p: &Option<Arc<PodView>>| p.as_deref().is_some_and(|p| filter.matches_pod(p));
                if !shown(old) && !shown(new) {
                    continue;
                }
                let Some(any) = new.as_ref().or(old.as_ref()) else {
                    continue;
                };
                let t = touched
                    .entry(("pod", any.key()))
                    .or_insert_with(|| Touched::new("pod", any.key()));
                let from = old.as_ref().map_or(&empty, |p| &p.status);
                let to = new.as_ref().map_or(&gone, |p| &p.status);
                t.appeared |= old.is_none();
                t.gone = new.is_none();
                t.ghost = if new.is_none() { old.clone() } else { None };
                if let (Some(o), Some(n)) = (old, new) {
                    t.restarted |= n.restarts > o.restarts;
                    t.changed_status |= o.status != n.status;
                }
                if from != to {
                    t.transitions.push(StatusChange {
                        at,
                        from: from.clone(),
                        to: to.clone(),
                    });
                }
                t.last = at;
            }
            Diff::Node { old, new } => {
                let shown = |n: &Option<Arc<NodeView>>| {
                    n.as_deref().is_some_and(|n| filter.matches_node(n))
                };
                if !shown(old) && !shown(new) {
                    continue;
                }
                let Some(any) = new.as_ref().or(old.as_ref()) else {
                    continue;
                };
                let key = any.name.to_string();
                let t = touched
                    .entry(("node", key.clone()))
                    .or_insert_with(|| Touched::new("node", key));
                let from = old.as_deref().map_or("", node_status);
                let to = new.as_deref().map_or("gone", node_status);
                t.appeared |= old.is_none();
                t.gone = new.is_none();
                if old.is_some() && new.is_some() && from != to {
                    t.changed_status = true;
                }
                if from != to {
                    t.transitions.push(StatusChange {
                        at,
                        from: Arc::from(from),
                        to: Arc::from(to),
                    });
                }
                t.last = at;
            }
            Diff::Status(_) | Diff::Events(_) | Diff::Warning { .. } => {}
        }
    }
    let mut list: Vec<Touched> = touched
        .into_values()
        .filter(|t| t.appeared || t.gone || t.restarted || t.changed_status)
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.last.seq));
    list.truncate(RECENT_LIMIT);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    fn change(seq: u64, old: Option<PodView>, new: Option<PodView>) -> (Mark, Diff) {
        (
            Mark {
                seq,
                time_ms: seq * 10,
            },
            Diff::Pod {
                old: old.map(Arc::new),
                new: new.map(Arc::new),
            },
        )
    }

    #[test]
    fn appeared_restarted_changed_and_gone_with_their_transitions() {
        let pending = PodView {
            status: "Pending".into(),
            ..fixtures::pod("a", "new")
        };
        let running = fixtures::pod("a", "new");
        let crashing = PodView {
            status: "CrashLoopBackOff".into(),
            restarts: 1,
            ..fixtures::pod("a", "old")
        };
        let changes = [
            change(1, None, Some(pending.clone())),
            change(2, Some(pending), Some(running)),
            change(3, Some(fixtures::pod("a", "old")), Some(crashing.clone())),
            change(4, Some(crashing), None),
            // Only a label: not listed.
            change(
                5,
                Some(fixtures::pod("a", "calm")),
                Some(PodView {
                    labels: crate::state::Labels::from_pairs([("x", "y")]),
                    ..fixtures::pod("a", "calm")
                }),
            ),
        ];
        let list = summarize(changes.iter().map(|(m, d)| (*m, d)), &Filter::default());
        let keys: Vec<(&str, String)> = list.iter().map(|t| (t.key.as_str(), t.marks())).collect();
        assert_eq!(
            keys,
            [
                ("a/old", "status restarted gone".to_owned()),
                ("a/new", "appeared status".to_owned())
            ]
        );
        let old = &list[0];
        assert!(old.ghost.is_some());
        let path: Vec<(u64, &str, &str)> = old
            .transitions
            .iter()
            .map(|t| (t.at.time_ms, &*t.from, &*t.to))
            .collect();
        assert_eq!(
            path,
            [
                (30, "Running", "CrashLoopBackOff"),
                (40, "CrashLoopBackOff", "gone")
            ]
        );
        assert_eq!(list[1].transitions.len(), 2, "'' → Pending → Running");
    }
}
