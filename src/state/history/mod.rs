//! History: every change that enters the cache, kept compactly with its time for a
//! bounded window, so the wall can be rebuilt as it was at any moment of it.
//!
//! The cache hands each numbered change to [`History::record`] under its write lock:
//! one encoding per change ([`record`]: deltas, dictionary ids, only the changed fields),
//! appended to the open segment. A segment starts with a [`checkpoint`] of the whole
//! state; when its records grow as large as its checkpoint (or span an eighth of the
//! window) the cache seals it and opens the next with a fresh checkpoint, so a rebuild
//! decodes one checkpoint and at most as many bytes of records again. The oldest sealed
//! segment goes when it has left the window or the memory budget is exceeded
//! ([`budget`]). Readers copy the log out under the read lock ([`Log`]: shared sealed
//! segments, a copy of the open one's records) and rebuild without it.
//!
//! The dictionary only grows (every pod name ever seen, once). Past half the budget, the
//! next segment starts a new one (a new generation); the old one stays, counted in the
//! budget, for the segments written with it, and goes with the last of them. So a busy
//! cluster's history keeps its whole window across the change of dictionaries.

mod budget;
mod checkpoint;
mod moment;
mod rebuild;
mod recent;
mod record;
mod store;

use std::collections::VecDeque;
use std::sync::Arc;

pub use budget::{DEFAULT_MEMORY, DEFAULT_WINDOW, HistoryBounds, parse_memory};
pub use checkpoint::Contents;
pub use moment::{Moment, MomentError, parse_span};
pub use rebuild::{Log, Rebuilt};
#[cfg(test)]
pub use recent::StatusChange;
pub use recent::{Touched, summarize};
pub use record::Corrupt;

use super::change::{ApiStatus, Diff, Epoch, EventsState};
use super::view::{NodeView, PodView};
use super::warnings::WarningView;
use record::{Dict, Words};

/// A segment's records never seal smaller than this (a small cluster's checkpoint is
/// tiny; sealing after every few changes would only add checkpoints).
/// (Small under test, so a short test crosses many checkpoints.)
const MIN_SEGMENT: usize = if cfg!(test) { 512 } else { 64 << 10 };

/// A change's place: its seq and its time (unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    /// The change's sequence number.
    pub seq: u64,
    /// When it entered the cache, in unix milliseconds.
    pub time_ms: u64,
}

impl Mark {
    /// The time as a timestamp.
    pub fn time(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(i64::try_from(self.time_ms).unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// A checkpoint and the records after it.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The cache epoch its seqs belong to (a restart with `--history-dir` starts another).
    epoch: Epoch,
    /// Its file, with `--history-dir`.
    file: Option<std::path::PathBuf>,
    /// The dictionary it was written with (see the module docs).
    generation: u32,
    /// The change the checkpoint was taken at.
    start: Mark,
    checkpoint: Arc<[u8]>,
    records: Vec<u8>,
    /// The last record's place (`start` while there is none).
    last: Mark,
    changes: u64,
}

impl Segment {
    fn new(epoch: Epoch, generation: u32, start: Mark, checkpoint: Vec<u8>) -> Self {
        Self {
            epoch,
            generation,
            file: None,
            start,
            checkpoint: checkpoint.into(),
            records: Vec::new(),
            last: start,
            changes: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.checkpoint.len() + self.records.capacity()
    }
}

/// A dictionary of an earlier generation, kept while segments written with it are.
#[derive(Debug, Clone)]
pub(crate) struct Retired {
    generation: u32,
    words: Words,
    bytes: usize,
}

impl Retired {
    /// `dict`, of `generation`, kept for reading only.
    fn of(generation: u32, dict: Dict) -> Self {
        Self {
            generation,
            words: dict.words(),
            bytes: dict.bytes(),
        }
    }
}

/// One cluster's history (see the module docs).
#[derive(Debug)]
pub struct History {
    bounds: HistoryBounds,
    sealed: VecDeque<Arc<Segment>>,
    open: Segment,
    dict: Dict,
    /// The current dictionary's generation.
    generation: u32,
    /// Older dictionaries still used by sealed segments, oldest first.
    retired: VecDeque<Retired>,
    sealed_bytes: usize,
    changes: u64,
    epoch: Epoch,
    /// With `--history-dir`: the files, and what the flush task is to write next.
    disk: Option<Persist>,
}

/// A history's files and the writes waiting for the flush task.
#[derive(Debug)]
struct Persist {
    disk: std::sync::Arc<store::Disk>,
    ops: Vec<store::DiskOp>,
    /// The dictionary entries already in the current file (strings, label sets).
    journaled: (u32, u32),
}

impl Persist {
    fn append(&mut self, bytes: Vec<u8>) {
        match self.ops.last_mut() {
            Some(store::DiskOp::Append(pending)) => pending.extend_from_slice(&bytes),
            _ => self.ops.push(store::DiskOp::Append(bytes)),
        }
    }
}

/// What a history read back from its folder on start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reopened {
    /// The seq the cache goes on from (after the last change kept on disk).
    pub next_seq: u64,
    /// Segments read back.
    pub segments: usize,
    /// Changes read back.
    pub changes: u64,
    /// Files cut at a torn or corrupt frame, or deleted as unusable.
    pub repaired: usize,
}

/// What a history holds, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryStats {
    /// Changes held.
    pub changes: u64,
    /// Bytes held: records, checkpoints and dictionary.
    pub bytes: usize,
    /// Bytes of records alone.
    pub record_bytes: usize,
    /// Segments (each with its checkpoint).
    pub segments: usize,
}

/// Whether a warning's change carries its pod's previous view: the pod changed or went
/// with it (a filtered client sees the warning when it sees the pod).
fn moved(pod: &(Option<Arc<PodView>>, Option<Arc<PodView>>)) -> bool {
    match pod {
        (None, None) => false,
        (Some(before), Some(after)) => !Arc::ptr_eq(before, after),
        _ => true,
    }
}

/// The current time in unix milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

impl History {
    /// An empty history of an empty cache of `epoch` at seq `seq`.
    pub fn new(bounds: HistoryBounds, epoch: Epoch, seq: u64, now_ms: u64) -> Self {
        Self::starting(bounds, epoch, seq, now_ms, Dict::default(), 0)
    }

    /// A history whose open segment, at seq `seq`, is of an empty cache written with
    /// `dict` of `generation` (a fresh one, or the one read back from disk).
    fn starting(
        bounds: HistoryBounds,
        epoch: Epoch,
        seq: u64,
        now_ms: u64,
        mut dict: Dict,
        generation: u32,
    ) -> Self {
        let checkpoint = checkpoint::encode(
            &mut dict,
            Contents {
                nodes: std::iter::empty(),
                pods: std::iter::empty(),
                warnings: std::iter::empty(),
                status: &ApiStatus::ok(),
                events: EventsState::Starting,
            },
        );
        Self {
            bounds,
            sealed: VecDeque::new(),
            open: Segment::new(
                epoch,
                generation,
                Mark {
                    seq,
                    time_ms: now_ms,
                },
                checkpoint,
            ),
            dict,
            generation,
            retired: VecDeque::new(),
            sealed_bytes: 0,
            changes: 0,
            epoch,
            disk: None,
        }
    }

    /// The history kept in `dir` (created when missing): the segments read back, sealed,
    /// and a new one from the seq after them for this run, every change of which the
    /// caller writes there with [`History::take_disk_ops`].
    pub fn open(
        bounds: HistoryBounds,
        epoch: Epoch,
        dir: &std::path::Path,
        now_ms: u64,
    ) -> std::io::Result<(Self, Reopened)> {
        let disk = store::Disk::new(dir.to_path_buf())?;
        let loaded = store::load(dir)?;
        let next_seq = loaded.segments.last().map_or(0, |s| s.last.seq + 1);
        let mut history = Self::starting(
            bounds,
            epoch,
            next_seq,
            now_ms,
            loaded.dict,
            loaded.generation,
        );
        history.retired = loaded.retired.into();
        let reopened = Reopened {
            next_seq,
            segments: loaded.segments.len(),
            changes: loaded.segments.iter().map(|s| s.changes).sum(),
            repaired: loaded.repaired,
        };
        for segment in loaded.segments {
            history.sealed_bytes += segment.bytes();
            history.changes += segment.changes;
            history.sealed.push_back(Arc::new(segment));
        }
        history.disk = Some(Persist {
            disk,
            ops: Vec::new(),
            journaled: (0, 0),
        });
        history.open_file();
        history.trim(now_ms);
        Ok((history, reopened))
    }

    /// Starts the open segment's file: header, dictionary, checkpoint.
    fn open_file(&mut self) {
        let Some(p) = self.disk.as_mut() else {
            return;
        };
        let path = p.disk.dir().join(store::file_name(self.open.start.seq));
        p.ops.push(store::DiskOp::Open(path.clone()));
        p.append(store::opening(
            self.epoch,
            self.generation,
            self.open.start,
            &self.dict,
            &self.open.checkpoint,
        ));
        p.journaled = self.dict.counts();
        self.open.file = Some(path);
    }

    /// The writes waiting for disk since the last call, and where they go; `None`
    /// without a folder, or once a write failed (then persistence is off for good).
    pub fn take_disk_ops(&mut self) -> Option<(std::sync::Arc<store::Disk>, Vec<store::DiskOp>)> {
        let p = self.disk.as_mut()?;
        if p.disk.failed() {
            self.disk = None;
            return None;
        }
        Some((p.disk.clone(), std::mem::take(&mut p.ops)))
    }

    /// Appends change `seq`. Returns whether the open segment is due to be sealed
    /// ([`History::seal`]).
    pub fn record(&mut self, seq: u64, diff: &Diff, now_ms: u64) -> bool {
        let last = self.open.last;
        // The clock may step back; the history's time never does.
        let time_ms = now_ms.max(last.time_ms);
        let out = &mut self.open.records;
        let from = out.len();
        let dseq = seq.saturating_sub(last.seq);
        let dt = time_ms - last.time_ms;
        match diff {
            Diff::Pod {
                old,
                new: Some(new),
            } => {
                record::put_header(out, record::POD_UPSERT, dseq, dt);
                record::put_pod(out, &mut self.dict, old.as_deref(), new);
            }
            Diff::Pod {
                old: Some(old),
                new: None,
            } => {
                record::put_header(out, record::POD_DELETE, dseq, dt);
                record::put_pod_key(out, &mut self.dict, &old.namespace, &old.name);
            }
            Diff::Node {
                old,
                new: Some(new),
            } => {
                record::put_header(out, record::NODE_UPSERT, dseq, dt);
                record::put_node(out, &mut self.dict, old.as_deref(), new);
            }
            Diff::Node {
                old: Some(old),
                new: None,
            } => {
                record::put_header(out, record::NODE_DELETE, dseq, dt);
                let id = self.dict.id(&old.name);
                record::put_varint(out, u64::from(id));
            }
            Diff::Status(status) => {
                record::put_header(out, record::STATUS, dseq, dt);
                record::put_status(out, &mut self.dict, status);
            }
            Diff::Events(state) => {
                record::put_header(out, record::EVENTS, dseq, dt);
                record::put_events(out, *state);
            }
            Diff::Warning {
                old,
                new: Some(new),
                pod,
            } => {
                record::put_header(out, record::WARNING_UPSERT, dseq, dt);
                record::put_warning(out, &mut self.dict, old.as_deref(), new, moved(pod));
            }
            Diff::Warning {
                old: Some(old),
                new: None,
                pod,
            } => {
                record::put_header(out, record::WARNING_DELETE, dseq, dt);
                record::put_warning_gone(out, &mut self.dict, old, moved(pod));
            }
            Diff::Pod { .. } | Diff::Node { .. } | Diff::Warning { .. } => return false,
        }
        if let Some(p) = self.disk.as_mut() {
            let mut frames = Vec::new();
            let (strings, labels) = self.dict.counts();
            if (strings, labels) != p.journaled {
                store::dict_frames(&mut frames, &self.dict, p.journaled.0, p.journaled.1);
                p.journaled = (strings, labels);
            }
            store::record_frame(&mut frames, &self.open.records[from..]);
            p.append(frames);
        }
        self.open.last = Mark { seq, time_ms };
        self.open.changes += 1;
        self.changes += 1;
        self.trim(time_ms);
        let records = self.open.records.len();
        records >= MIN_SEGMENT.max(self.open.checkpoint.len())
            || time_ms - self.open.start.time_ms >= self.bounds.segment_span_ms()
            || (self.bytes() > self.bounds.memory && records > 0)
    }

    /// Seals the open segment and opens the next with a checkpoint of the state at
    /// change `seq` (the cache's, passed in).
    pub fn seal<'a, N, P, W>(&mut self, seq: u64, state: Contents<'a, N, P, W>)
    where
        N: Iterator<Item = &'a NodeView>,
        P: Iterator<Item = &'a PodView>,
        W: Iterator<Item = &'a WarningView>,
    {
        // The dictionary only grows (every pod name ever seen, once): past half the
        // budget, the next segment starts a new one (see the module docs).
        if self.dict.bytes() > self.bounds.memory / 2 {
            self.retire_dict();
        }
        let checkpoint = checkpoint::encode(&mut self.dict, state);
        let start = Mark {
            seq,
            time_ms: self.open.last.time_ms,
        };
        let next = Segment::new(self.epoch, self.generation, start, checkpoint);
        let mut done = std::mem::replace(&mut self.open, next);
        done.records.shrink_to_fit();
        self.sealed_bytes += done.bytes();
        self.sealed.push_back(Arc::new(done));
        self.open_file();
        self.trim(start.time_ms);
    }

    /// Starts a new dictionary; the old one stays for the segments written with it.
    fn retire_dict(&mut self) {
        let old = std::mem::take(&mut self.dict);
        tracing::info!(
            dictionary_bytes = old.bytes(),
            generation = self.generation + 1,
            "the history's dictionary reached half of --history-memory: a new one starts, \
             the old one goes with the oldest segments"
        );
        self.retired.push_back(Retired::of(self.generation, old));
        self.generation += 1;
    }

    /// Drops the oldest segments out of the window or over the budget.
    fn trim(&mut self, now_ms: u64) {
        let horizon = self.bounds.horizon(now_ms);
        while let Some(oldest) = self.sealed.front() {
            let out_of_window = oldest.last.time_ms < horizon;
            if !out_of_window && self.bytes() <= self.bounds.memory {
                break;
            }
            self.sealed_bytes -= oldest.bytes();
            self.changes -= oldest.changes;
            if let (Some(p), Some(file)) = (self.disk.as_mut(), oldest.file.clone()) {
                p.ops.push(store::DiskOp::Delete(file));
            }
            self.sealed.pop_front();
        }
        // A retired dictionary goes with the last segment written with it.
        let oldest = self
            .sealed
            .front()
            .map_or(self.generation, |s| s.generation);
        while self.retired.front().is_some_and(|r| r.generation < oldest) {
            self.retired.pop_front();
        }
    }

    /// Bytes held: records, checkpoints and dictionaries.
    pub fn bytes(&self) -> usize {
        self.sealed_bytes
            + self.open.bytes()
            + self.dict.bytes()
            + self.retired.iter().map(|r| r.bytes).sum::<usize>()
    }

    /// The oldest change it can rebuild.
    pub fn oldest(&self) -> Mark {
        self.sealed.front().map_or(self.open.start, |s| s.start)
    }

    /// What it holds.
    pub fn stats(&self) -> HistoryStats {
        HistoryStats {
            changes: self.changes,
            bytes: self.bytes(),
            record_bytes: self.sealed.iter().map(|s| s.records.len()).sum::<usize>()
                + self.open.records.len(),
            segments: self.sealed.len() + 1,
        }
    }

    /// A reader's copy (see [`Log`]), of a cache at `now`.
    pub fn log(&self, epoch: Epoch, now: Mark) -> Log {
        let open = Segment {
            epoch: self.open.epoch,
            generation: self.open.generation,
            file: None,
            start: self.open.start,
            checkpoint: self.open.checkpoint.clone(),
            records: self.open.records.clone(),
            last: self.open.last,
            changes: self.open.changes,
        };
        Log {
            epoch,
            segments: self
                .sealed
                .iter()
                .cloned()
                .chain(std::iter::once(Arc::new(open)))
                .collect(),
            words: self.dict.words(),
            retired: self
                .retired
                .iter()
                .map(|r| (r.generation, r.words.clone()))
                .collect(),
            now,
        }
    }
}

/// A stretch of the history: the state at its start and the changes in it.
pub struct Rewind<E> {
    /// The change and moment it starts at.
    pub from: Mark,
    /// The change and moment it ends at.
    pub until: Mark,
    /// The (filtered) state at `from`.
    pub reset: super::change::Snapshot,
    /// The kept changes after `from` through `until`, in order (unfiltered: a client
    /// picks its frames as from the live ones).
    pub changes: Vec<Arc<super::change::Change<E>>>,
    /// When each of `changes` happened (unix milliseconds).
    pub times: Vec<u64>,
}

/// Why a moment of the history cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// History is off (`--history 0`).
    #[error("history is off on this server (--history 0)")]
    Off,
    /// The moment is before the oldest change kept.
    #[error("{asked} is before the history window, which starts at {from}")]
    Before {
        /// The moment asked for.
        asked: String,
        /// The oldest moment kept.
        from: jiff::Timestamp,
    },
    /// The moment is in the future.
    #[error("{0} is in the future")]
    Future(jiff::Timestamp),
    /// An event id of another epoch (a restarted server) or beyond the current seq.
    #[error("event id {0} is not of this server's history (another epoch, or not yet)")]
    UnknownPosition(String),
    /// The stored history could not be read.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

impl Log {
    /// The change a moment names: its seq and time.
    pub fn resolve(&self, moment: &Moment) -> Result<Mark, HistoryError> {
        let from = self.window().map(|(f, _)| f).unwrap_or_default();
        if let Moment::After(p) = moment {
            // An event id of an earlier run is good for the seqs that run kept.
            let epoch = self
                .segments
                .iter()
                .rev()
                .find(|s| s.start.seq <= p.seq)
                .map(|s| s.epoch);
            if p.seq > self.now.seq || epoch.is_some_and(|e| e != p.epoch) {
                return Err(HistoryError::UnknownPosition(p.to_string()));
            }
            if p.seq < from.seq {
                return Err(HistoryError::Before {
                    asked: format!("event id {p}"),
                    from: from.time(),
                });
            }
            let time_ms = self.time_of(p.seq)?.unwrap_or(from.time_ms);
            return Ok(Mark {
                seq: p.seq,
                time_ms,
            });
        }
        let time_ms = moment.time_ms(self.now.time_ms).unwrap_or(0);
        // A second's grace: a client's clock and ours differ a little.
        if time_ms > self.now.time_ms + 1000 {
            return Err(HistoryError::Future(Mark { seq: 0, time_ms }.time()));
        }
        self.at_time(time_ms)?.ok_or_else(|| HistoryError::Before {
            asked: Mark { seq: 0, time_ms }.time().to_string(),
            from: from.time(),
        })
    }

    /// When change `seq` happened (the last kept change at or before it).
    fn time_of(&self, seq: u64) -> Result<Option<u64>, Corrupt> {
        let mut found = None;
        for segment in &self.segments {
            if segment.start.seq > seq {
                break;
            }
            found = Some(segment.start.time_ms);
            let mut at = segment.start;
            let mut reader = record::Reader::new(&segment.records, self.words_of(segment));
            while let Some(r) = reader.next_record()? {
                at = Mark {
                    seq: at.seq + r.dseq,
                    time_ms: at.time_ms + r.dt_ms,
                };
                if at.seq > seq {
                    return Ok(found);
                }
                found = Some(at.time_ms);
            }
        }
        Ok(found)
    }

    /// The state at a resolved mark.
    pub fn rebuild(&self, at: Mark) -> Result<Rebuilt, HistoryError> {
        let mut state = self.state_at(at.seq)?.ok_or(HistoryError::Before {
            asked: at.time().to_string(),
            from: self.window().map(|(f, _)| f).unwrap_or_default().time(),
        })?;
        state.at.time_ms = at.time_ms;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    fn pod_diff(old: Option<&PodView>, new: &PodView) -> Diff {
        Diff::Pod {
            old: old.cloned().map(Arc::new),
            new: Some(Arc::new(new.clone())),
        }
    }

    #[test]
    fn the_window_drops_whole_old_segments_and_the_budget_too() {
        let bounds = HistoryBounds {
            window: std::time::Duration::from_secs(80),
            memory: 1 << 30,
        };
        let mut h = History::new(bounds, Epoch(1), 0, 1_000);
        let mut seq = 0;
        let mut sealed = 0;
        // One change a second for 200 s: segments of 10 s (an eighth of the window).
        for t in 0..200u64 {
            seq += 1;
            let p = PodView {
                restarts: u32::try_from(t).unwrap_or(0),
                ..fixtures::pod("a", "p")
            };
            if h.record(seq, &pod_diff(None, &p), 1_000 + t * 1000) {
                h.seal(
                    seq,
                    Contents {
                        nodes: std::iter::empty(),
                        pods: std::iter::once(&p),
                        warnings: std::iter::empty(),
                        status: &ApiStatus::ok(),
                        events: EventsState::Ok,
                    },
                );
                sealed += 1;
            }
        }
        assert!(sealed >= 15, "{sealed} seals");
        let log = h.log(
            Epoch(1),
            Mark {
                seq,
                time_ms: 201_000,
            },
        );
        let (from, _) = log.window().expect("a window");
        assert!(
            (201_000 - 90_000..=201_000 - 70_000).contains(&from.time_ms),
            "the window starts about 80 s back: {from:?}"
        );
        // Over budget: only the open segment stays.
        let mut small = History::new(
            HistoryBounds {
                window: DEFAULT_WINDOW,
                memory: 4096,
            },
            Epoch(1),
            0,
            0,
        );
        let mut seq = 0;
        for i in 0..5000u32 {
            seq += 1;
            let p = fixtures::pod("a", &format!("p{i}"));
            if small.record(seq, &pod_diff(None, &p), u64::from(i)) {
                small.seal(
                    seq,
                    Contents {
                        nodes: std::iter::empty(),
                        pods: std::iter::empty(),
                        warnings: std::iter::empty(),
                        status: &ApiStatus::ok(),
                        events: EventsState::Ok,
                    },
                );
            }
        }
        assert!(small.stats().segments <= 2, "{:?}", small.stats());
        assert!(
            small.stats().bytes <= 4096 * 2,
            "the dictionary of 5,000 names started over: {:?}",
            small.stats()
        );
        let log = small.log(Epoch(1), Mark { seq, time_ms: 5000 });
        let at = log.resolve(&Moment::After(crate::state::Position {
            epoch: Epoch(1),
            seq,
        }));
        let rebuilt = log.rebuild(at.expect("the last change")).expect("rebuilds");
        assert!(rebuilt.pod("a", "p4999").is_some());
    }

    /// Ever-new pod names, ten alive at a time, through a history of `memory` bytes
    /// (with `dir`, written there as the cache does): the names alive after each seq.
    fn churn_names(h: &mut History, from: u32, to: u32) -> Vec<(u64, Vec<String>)> {
        let name = |i: u32| format!("web-{i:06}-7d9f8b6c5d-x2x4q");
        let mut alive: std::collections::BTreeMap<String, PodView> = Default::default();
        for i in from.saturating_sub(10)..from {
            alive.insert(name(i), fixtures::pod("a", &name(i)));
        }
        let mut seq = h.open.last.seq;
        let mut seen = Vec::new();
        let mut step =
            |h: &mut History, diff: Diff, alive: &std::collections::BTreeMap<String, PodView>| {
                seq += 1;
                if h.record(seq, &diff, seq) {
                    h.seal(
                        seq,
                        Contents {
                            nodes: std::iter::empty(),
                            pods: alive.values(),
                            warnings: std::iter::empty(),
                            status: &ApiStatus::ok(),
                            events: EventsState::Ok,
                        },
                    );
                }
                if let Some((disk, ops)) = h.take_disk_ops() {
                    disk.apply(ops).expect("write the history");
                }
                seen.push((seq, alive.keys().cloned().collect::<Vec<_>>()));
            };
        for i in from..to {
            let p = fixtures::pod("a", &name(i));
            alive.insert(name(i), p.clone());
            step(h, pod_diff(None, &p), &alive);
            if alive.len() > 10 {
                let (_, old) = alive.pop_first().expect("a pod");
                step(
                    h,
                    Diff::Pod {
                        old: Some(Arc::new(old)),
                        new: None,
                    },
                    &alive,
                );
            }
        }
        seen
    }

    fn pod_names(state: &Rebuilt) -> Vec<String> {
        let all = crate::state::Filter::default();
        let snapshot = state.snapshot(Epoch(1), &all, None);
        snapshot.pods.iter().map(|p| p.name.to_string()).collect()
    }

    /// Every `every`-th seq of the window rebuilds to the names alive then.
    fn assert_rebuilds(h: &History, seen: &[(u64, Vec<String>)], every: usize) -> usize {
        let now = h.open.last;
        let log = h.log(Epoch(1), now);
        let (from, _) = log.window().expect("a window");
        let mut checked = 0;
        for (seq, names) in seen.iter().filter(|(s, _)| *s >= from.seq).step_by(every) {
            let rebuilt = log.state_at(*seq).expect("decodes").expect("in the window");
            let got = pod_names(&rebuilt);
            assert_eq!(&got, names, "seq {seq}");
            checked += 1;
        }
        checked
    }

    #[test]
    fn a_new_dictionary_keeps_the_window_and_the_old_one_goes_with_its_segments() {
        let bounds = HistoryBounds {
            window: DEFAULT_WINDOW,
            memory: 256 << 10,
        };
        let mut h = History::new(bounds, Epoch(1), 0, 0);
        // Until the first new dictionary: the whole history is still there.
        let mut seen = Vec::new();
        let mut i = 0;
        while h.generation == 0 {
            seen.extend(churn_names(&mut h, i, i + 100));
            i += 100;
        }
        assert_eq!(h.retired.len(), 1, "the old dictionary stays");
        assert_eq!(h.oldest().seq, 0, "nothing dropped: {:?}", h.stats());
        assert!(assert_rebuilds(&h, &seen, 37) > 50);
        // Much more: the budget drops the oldest segments, and old dictionaries with them.
        seen.extend(churn_names(&mut h, i, i + 12_000));
        assert!(h.generation >= 3, "generation {}", h.generation);
        assert!(
            h.retired.len() <= 1,
            "{} retired dictionaries",
            h.retired.len()
        );
        assert!(h.bytes() <= 2 * bounds.memory, "{:?}", h.stats());
        assert!(assert_rebuilds(&h, &seen, 13) > 100);
    }

    #[test]
    fn a_history_of_several_dictionaries_is_read_back_from_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bounds = HistoryBounds {
            window: DEFAULT_WINDOW,
            memory: 256 << 10,
        };
        let (mut h, _) = History::open(bounds, Epoch(1), dir.path(), 0).expect("opens");
        let mut seen = churn_names(&mut h, 0, 100);
        let mut i = 100;
        while h.generation < 2 {
            seen.extend(churn_names(&mut h, i, i + 100));
            i += 100;
        }
        let before = h.log(Epoch(1), h.open.last).window().expect("a window").0;
        let last = h.open.last;
        drop(h);
        let (h, reopened) = History::open(bounds, Epoch(2), dir.path(), 0).expect("reopens");
        assert_eq!(reopened.next_seq, last.seq + 1, "{reopened:?}");
        assert_eq!(reopened.repaired, 0, "{reopened:?}");
        assert_eq!(h.generation, 2);
        assert_eq!(h.oldest().seq, before.seq, "the same window");
        // Every change read back, under the dictionary it was written with.
        let log = h.log(Epoch(2), last);
        for (seq, names) in seen.iter().filter(|(s, _)| *s >= before.seq).step_by(7) {
            let rebuilt = log.state_at(*seq).expect("decodes").expect("in the window");
            let got = pod_names(&rebuilt);
            assert_eq!(&got, names, "seq {seq}");
        }
    }
}
