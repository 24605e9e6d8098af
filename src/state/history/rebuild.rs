//! Reading a history: a [`Log`] is a reader's copy (shared segments, a copied tail), taken
//! under the cache's lock in microseconds and read without it; [`Rebuilt`] is the state
//! at one change, rebuilt from the nearest checkpoint and the records after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::change::{ApiStatus, Diff, Epoch, EventsState, Snapshot};
use super::super::filter::Filter;
use super::super::view::{NodeView, PodView};
use super::record::{Body, Corrupt, Reader, Record, Words, blank_node};
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
    /// The cache's position when the copy was taken (changes after the last record,
    /// warnings, are not kept).
    pub now: Mark,
}

/// The state at one change.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// The last change it includes.
    pub at: Mark,
    pods: BTreeMap<(Arc<str>, Arc<str>), Arc<PodView>>,
    nodes: BTreeMap<Arc<str>, Arc<NodeView>>,
    status: ApiStatus,
    events: EventsState,
}

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
            status: ApiStatus::ok(),
            events: EventsState::Starting,
        }
    }

    /// Applies one record; the change it made (none for one that changed nothing).
    fn apply(&mut self, body: Body) -> Option<Diff> {
        match body {
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
                self.pods.insert(key, new.clone());
                Some(Diff::Pod {
                    old,
                    new: Some(new),
                })
            }
            Body::PodGone(ns, name) => self.pods.remove(&(ns, name)).map(|old| Diff::Pod {
                old: Some(old),
                new: None,
            }),
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
        }
    }

    /// The rebuilt state through `filter`, in the shape of a live snapshot (without
    /// warnings: the history keeps pods and nodes, whose views carry their newest
    /// warning's reason, not the warnings themselves).
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
            warnings: Vec::new(),
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
            state.apply(record.body);
        }
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
                if let Some(diff) = state.apply(record.body) {
                    each(at, diff);
                }
            }
        }
        Ok(())
    }
}
