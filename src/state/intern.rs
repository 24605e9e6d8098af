//! One shared copy of each repeated string and label set in the cache.
//!
//! At 150k pods most strings repeat: a few dozen namespaces, thousands of node names,
//! one owner per ReplicaSet, a handful of statuses, and pods of one ReplicaSet carry the
//! same labels. The cache keeps one `Arc` of each and sweeps out what no view uses any
//! more, so churn (rollouts rename owners and label hashes) does not grow the table.

use std::collections::HashSet;
use std::sync::Arc;

use super::view::{LabelPairs, Labels, PodView};

/// Below this many entries a sweep is not worth its walk.
const SWEEP_FLOOR: usize = 1024;

/// Canonical copies of strings and label sets.
#[derive(Debug, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    label_sets: HashSet<Arc<LabelPairs>>,
    /// Entries right after the last sweep; the next comes when this has doubled.
    after_sweep: usize,
}

impl Interner {
    /// The shared copy of `s` (which becomes it, if it is the first).
    pub fn str(&mut self, s: &Arc<str>) -> Arc<str> {
        if let Some(existing) = self.strings.get(s) {
            return existing.clone();
        }
        self.strings.insert(s.clone());
        s.clone()
    }

    /// The shared copy of a label set, its keys and values shared too.
    pub fn labels(&mut self, labels: &Labels) -> Labels {
        let Some(pairs) = labels.pairs() else {
            return Labels::default();
        };
        if let Some(existing) = self.label_sets.get(pairs) {
            return Labels::from_shared(existing.clone());
        }
        let shared: Arc<LabelPairs> = pairs
            .iter()
            .map(|(k, v)| (self.str(k), self.str(v)))
            .collect();
        self.label_sets.insert(shared.clone());
        Labels::from_shared(shared)
    }

    /// Points a pod's repeated strings and its label set at the shared copies (its name is
    /// its own).
    pub fn pod(&mut self, view: &mut PodView) {
        view.namespace = self.str(&view.namespace);
        view.node = view.node.as_ref().map(|n| self.str(n));
        view.phase = self.str(&view.phase);
        view.status = self.str(&view.status);
        view.owner = view.owner.as_ref().map(|o| self.str(o));
        view.labels = self.labels(&view.labels);
        view.message = view.message.as_ref().map(|m| self.str(m));
        if let Some(restart) = view.last_restart.as_mut() {
            restart.reason = self.str(&restart.reason);
        }
    }

    /// How many strings and label sets are held.
    pub fn len(&self) -> usize {
        self.strings.len() + self.label_sets.len()
    }

    /// Drops what only the interner still holds, once the table has doubled since the
    /// last sweep: amortised O(1) per insert.
    pub fn sweep_if_grown(&mut self) {
        if self.len() < SWEEP_FLOOR.max(2 * self.after_sweep) {
            return;
        }
        // Label sets first: they hold the strings of their keys and values.
        self.label_sets.retain(|s| Arc::strong_count(s) > 1);
        self.strings.retain(|s| Arc::strong_count(s) > 1);
        self.after_sweep = self.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy() {
        let mut interner = Interner::default();
        let a = interner.str(&Arc::from("shop"));
        let b = interner.str(&Arc::from("shop"));
        assert!(Arc::ptr_eq(&a, &b));
        let one = interner.labels(&Labels::from_pairs([("app", "web"), ("tier", "front")]));
        let two = interner.labels(&Labels::from_pairs([("tier", "front"), ("app", "web")]));
        assert!(one.shares_with(&two));
        assert_eq!(one.get("app"), Some("web"));
    }

    #[test]
    fn a_sweep_drops_only_what_nobody_uses() {
        let mut interner = Interner::default();
        let kept = interner.labels(&Labels::from_pairs([("app", "kept")]));
        for i in 0..SWEEP_FLOOR {
            interner.str(&Arc::from(format!("gone-{i}")));
        }
        interner.sweep_if_grown();
        // "app", "kept" and their set.
        assert_eq!(interner.len(), 3);
        assert_eq!(kept.get("app"), Some("kept"));
        let again = interner.labels(&Labels::from_pairs([("app", "kept")]));
        assert!(kept.shares_with(&again));
    }
}
