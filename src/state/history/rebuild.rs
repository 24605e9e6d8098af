//! Reading a history: a [`Log`] is a reader's copy (shared segments, a copied tail), taken
//! under the cache's lock in microseconds and read without it; [`Rebuilt`] is the state
//! at one change, rebuilt from the nearest checkpoint and the records after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::change::{ApiStatus, Diff, Epoch, EventsState, Snapshot};
use super::super::filter::Filter;
use super::super::view::{NodeView, PodView};
use super::super::warnings::{self, WarningView};
use super::record::{Body, Corrupt, Reader, Record, WarningKey, Words, blank_node};
use super::{Mark, Segment};

/// A reader's copy of a history.
#[derive(Clone)]
pub struct Log {
    /// The cache epoch the seqs belong to.
    pub epoch: Epoch,
    pub(super) segments: Vec<Arc<Segment>>,
    /// The current dictionary.
    pub(super) words: Words,
    /// Older dictionaries of the segments written with them, by generation.
    pub(super) retired: Vec<(u32, Words)>,
    /// The cache's position when the copy was taken.
    pub now: Mark,
}

/// The state at one change.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// The last change it includes.
    pub at: Mark,
    pods: BTreeMap<PodKey, Arc<PodView>>,
    nodes: BTreeMap<Arc<str>, Arc<NodeView>>,
    warnings: BTreeMap<WarningKey, Arc<WarningView>>,
    status: ApiStatus,
    events: EventsState,
    /// The pod the last pod record changed or removed, and its view before: the pod
    /// context of the warning records that follow it (see `record::W_POD_BEFORE`).
    last_pod: Option<(PodKey, Option<Arc<PodView>>)>,
}

type PodKey = (Arc<str>, Arc<str>);

/// One change out of the history: where and when, and what it did.
#[derive(Debug)]
pub struct Past {
    /// Its seq and time.
    pub at: Mark,
    /// What it did, with the views before and after.
    pub diff: Diff,
}

impl Rebuilt {
    fn empty(at: Mark) -> Self {
        Self {
            at,
            pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            warnings: BTreeMap::new(),
            status: ApiStatus::ok(),
            events: EventsState::Starting,
            last_pod: None,
        }
    }

    /// The pod a warning is about, when it is about a pod that exists now.
    fn pod_of(&self, key: &WarningKey) -> Option<Arc<PodView>> {
        if &*key.kind != warnings::POD {
            return None;
        }
        let ns = key.namespace.clone()?;
        self.pods.get(&(ns, key.object.clone())).cloned()
    }

    /// A warning change's pod before and after: as it stands, or with the view the last
    /// pod record replaced when the change carries it along.
    fn pod_context(
        &self,
        key: &WarningKey,
        pod_before: bool,
    ) -> (Option<Arc<PodView>>, Option<Arc<PodView>>) {
        let now = self.pod_of(key);
        let before = match (&self.last_pod, pod_before) {
            (Some(((ns, name), before)), true)
                if Some(ns) == key.namespace.as_ref() && *name == key.object =>
            {
                before.clone()
            }
            _ => now.clone(),
        };
        (before, now)
    }

    /// Applies one record; the change it made (none for one that changed nothing).
    fn apply(&mut self, body: Body) -> Result<Option<Diff>, Corrupt> {
        Ok(match body {
            Body::Pod(ns, name, patch) => {
                let key = (ns, name);
                let old = self.pods.get(&key).cloned();
                let mut view = match &old {
                    Some(v) => (**v).clone(),
                    None => PodView {
                        namespace: key.0.clone(),
                        name: key.1.clone(),
                        ..PodView::default()
                    },
                };
                patch.apply(&mut view);
                let new = Arc::new(view);
                self.pods.insert(key.clone(), new.clone());
                self.last_pod = Some((key, old.clone()));
                Some(Diff::Pod {
                    old,
                    new: Some(new),
                })
            }
            Body::PodGone(ns, name) => {
                let key = (ns, name);
                let old = self.pods.remove(&key);
                self.last_pod = Some((key, old.clone()));
                old.map(|old| Diff::Pod {
                    old: Some(old),
                    new: None,
                })
            }
            Body::Node(name, patch) => {
                let old = self.nodes.get(&name).cloned();
                let mut view = match &old {
                    Some(v) => (**v).clone(),
                    None => blank_node(name.clone()),
                };
                patch.apply(&mut view);
                let new = Arc::new(view);
                self.nodes.insert(name, new.clone());
                Some(Diff::Node {
                    old,
                    new: Some(new),
                })
            }
            Body::NodeGone(name) => self.nodes.remove(&name).map(|old| Diff::Node {
                old: Some(old),
                new: None,
            }),
            Body::Status(s) => {
                self.status = s.clone();
                Some(Diff::Status(s))
            }
            Body::Events(e) => {
                self.events = e;
                Some(Diff::Events(e))
            }
            Body::Warning(key, patch) => {
                let pod = self.pod_context(&key, patch.pod_before());
                let old = self.warnings.get(&key).cloned();
                let new = Arc::new(patch.apply(&key, old.as_deref())?);
                self.warnings.insert(key, new.clone());
                Some(Diff::Warning {
                    old,
                    new: Some(new),
                    pod,
                })
            }
            Body::WarningGone(key, pod_before) => {
                let pod = self.pod_context(&key, pod_before);
                self.warnings.remove(&key).map(|old| Diff::Warning {
                    old: Some(old),
                    new: None,
                    pod,
                })
            }
        })
    }

    /// The rebuilt state through `filter`, in the shape of a live snapshot (warnings
    /// newest first).
    pub fn snapshot(&self, epoch: Epoch, filter: &Filter, cluster: Option<Arc<str>>) -> Snapshot {
        Snapshot {
            epoch,
            seq: self.at.seq,
            nodes: self
                .nodes
                .values()
                .filter(|n| filter.matches_node(n))
                .cloned()
                .collect(),
            pods: self
                .pods
                .values()
                .filter(|p| filter.matches_pod(p))
                .cloned()
                .collect(),
            warnings: {
                let mut kept: Vec<_> = self
                    .warnings
                    .iter()
                    .filter(|(key, w)| warnings::visible(filter, w, self.pod_of(key).as_deref()))
                    .map(|(_, w)| w.clone())
                    .collect();
                warnings::sort_newest_first(&mut kept);
                kept
            },
            apiserver: self.status.clone(),
            events: self.events,
            cluster,
        }
    }

    /// The pod `namespace/name`, if it existed then.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Arc<PodView>> {
        self.pods.get(&(Arc::from(namespace), Arc::from(name)))
    }
}

impl Log {
    /// The dictionary `segment` was written with.
    pub(super) fn words_of(&self, segment: &Segment) -> &Words {
        self.retired
            .iter()
            .find(|(g, _)| *g == segment.generation)
            .map_or(&self.words, |(_, w)| w)
    }

    /// How many segments (checkpoints) it holds.
    #[cfg(test)]
    pub fn segments_for_test(&self) -> usize {
        self.segments.len()
    }

    /// The first and last moments the history can rebuild.
    pub fn window(&self) -> Option<(Mark, Mark)> {
        let first = self.segments.first()?.start;
        Some((first, self.now))
    }

    /// The last change at or before `time_ms` (its seq, and `time_ms` itself); `None`
    /// when that is before the window.
    pub fn at_time(&self, time_ms: u64) -> Result<Option<Mark>, Corrupt> {
        if time_ms >= self.now.time_ms {
            return Ok(Some(Mark {
                seq: self.now.seq,
                time_ms,
            }));
        }
        let Some(i) = self
            .segments
            .iter()
            .rposition(|s| s.start.time_ms <= time_ms)
        else {
            return Ok(None);
        };
        let segment = &self.segments[i];
        let mut found = segment.start.seq;
        let mut at = segment.start;
        let mut reader = Reader::new(&segment.records, self.words_of(segment));
        while let Some(Record { dseq, dt_ms, .. }) = reader.next_record()? {
            at = Mark {
                seq: at.seq + dseq,
                time_ms: at.time_ms + dt_ms,
            };
            if at.time_ms > time_ms {
                break;
            }
            found = at.seq;
        }
        Ok(Some(Mark {
            seq: found,
            time_ms,
        }))
    }

    /// The state right after change `seq`; `None` when that is outside the window.
    pub fn state_at(&self, seq: u64) -> Result<Option<Rebuilt>, Corrupt> {
        if seq > self.now.seq {
            return Ok(None);
        }
        let Some(i) = self.segments.iter().rposition(|s| s.start.seq <= seq) else {
            return Ok(None);
        };
        let segment = &self.segments[i];
        let mut state = Rebuilt::empty(segment.start);
        let mut reader = Reader::new(&segment.checkpoint, self.words_of(segment));
        while let Some(record) = reader.next_record()? {
            state.apply(record.body)?;
        }
        // A checkpoint's records are no pod's change.
        state.last_pod = None;
        self.replay(&mut state, i, seq, |_, _| {})?;
        state.at.seq = seq;
        Ok(Some(state))
    }

    /// The changes after `from` (a rebuilt state, brought along) through `until`, as
    /// they happened.
    pub fn changes(&self, from: &mut Rebuilt, until: u64) -> Result<Vec<Past>, Corrupt> {
        let Some(i) = self
            .segments
            .iter()
            .rposition(|s| s.start.seq <= from.at.seq)
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        self.replay(from, i, until, |at, diff| out.push(Past { at, diff }))?;
        Ok(out)
    }

    /// Applies the records of segments `first..` after `state.at` through `until`.
    fn replay(
        &self,
        state: &mut Rebuilt,
        first: usize,
        until: u64,
        mut each: impl FnMut(Mark, Diff),
    ) -> Result<(), Corrupt> {
        for segment in &self.segments[first..] {
            if segment.start.seq > until {
                break;
            }
            let mut at = segment.start;
            let mut reader = Reader::new(&segment.records, self.words_of(segment));
            while let Some(record) = reader.next_record()? {
                at = Mark {
                    seq: at.seq + record.dseq,
                    time_ms: at.time_ms + record.dt_ms,
                };
                if at.seq > until {
                    return Ok(());
                }
                if at.seq <= state.at.seq {
                    continue;
                }
                state.at = at;
                if let Some(diff) = state.apply(record.body)? {
                    each(at, diff);
                }
            }
        }
        Ok(())
    }
}
