//! The compact encoding of one change: a tag, the seq and time as deltas from the record
//! before, the object's key as dictionary ids, and only the fields that changed.
//!
//! ```text
//! record  := tag:u8  dseq:varint  dt_ms:varint  body
//! pod     := ns:id name:id  [mask:varint fields…]      (upsert; delete has no mask)
//! node    := name:id        [mask:varint fields…]
//! warning := kind:id object-ns:id? object:id event [mask:varint fields…]
//! event   := 0 suffix:varint | 1 ns:id name:id
//! status  := state:u8 message:id      events := state:u8
//! ```
//!
//! A checkpoint is the same records with both deltas zero, every field present. Strings
//! and label sets are ids into a [`Dict`] of the history's own copies, so a status word
//! costs one byte, a pod name two or three, and the cache's interner never sees the
//! history's references.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::change::{ApiState, ApiStatus, EventsState};
use super::super::view::{
    LabelPairs, Labels, LastRestart, NodeCondition, NodeView, PodView, Ready, Taint,
};
use super::super::warnings::{EventId, Regarding, WarningView};

/// A pod appeared or changed.
pub const POD_UPSERT: u8 = 1;
/// A pod went.
pub const POD_DELETE: u8 = 2;
/// A node appeared or changed.
pub const NODE_UPSERT: u8 = 3;
/// A node went.
pub const NODE_DELETE: u8 = 4;
/// The API server's health changed.
pub const STATUS: u8 = 5;
/// The Warning events watch changed state.
pub const EVENTS: u8 = 6;
/// A kept warning appeared, changed, or was published again with its pod.
pub const WARNING_UPSERT: u8 = 7;
/// A kept warning went.
pub const WARNING_DELETE: u8 = 8;

// Pod fields, the most often changed in the low seven bits (a one-byte mask).
const P_STATUS: u32 = 1 << 0;
const P_READY: u32 = 1 << 1;
const P_PHASE: u32 = 1 << 2;
const P_RESTARTS: u32 = 1 << 3;
const P_NODE: u32 = 1 << 4;
const P_MESSAGE: u32 = 1 << 5;
const P_LAST_RESTART: u32 = 1 << 6;
const P_WARNING: u32 = 1 << 7;
const P_OWNER: u32 = 1 << 8;
const P_LABELS: u32 = 1 << 9;
const P_CPU: u32 = 1 << 10;
const P_MEM: u32 = 1 << 11;
const P_CREATED: u32 = 1 << 12;
const P_ALL: u32 = (1 << 13) - 1;

const N_READY: u32 = 1 << 0;
const N_UNSCHEDULABLE: u32 = 1 << 1;
const N_PRESSURE: u32 = 1 << 2;
const N_TAINTS: u32 = 1 << 3;
const N_WARNING: u32 = 1 << 4;
const N_ROLES: u32 = 1 << 5;
const N_CPU: u32 = 1 << 6;
const N_MEM: u32 = 1 << 7;
const N_CAPACITY: u32 = 1 << 8;
const N_ALL: u32 = (1 << 9) - 1;

const W_REASON: u32 = 1 << 0;
const W_MESSAGE: u32 = 1 << 1;
const W_COUNT: u32 = 1 << 2;
const W_LAST_SEEN: u32 = 1 << 3;
const W_ALL: u32 = (1 << 4) - 1;
/// Not a field: the pod before this change is the one the last pod record replaced or
/// removed (a pod's change carries its warnings along), not the pod as it stands. A
/// filtered client sees the warning when it sees the pod, so replays need both.
const W_POD_BEFORE: u32 = 1 << 4;

/// Estimated heap cost of one dictionary entry besides its text: the `Arc` header, the
/// vector slot and the map entry.
const DICT_ENTRY_OVERHEAD: usize = 64;

/// An append-only list whose full chunks are shared: a reader's copy costs one `Arc` per
/// chunk and a copy of the tail, never of the whole list.
#[derive(Debug, Clone)]
pub struct Chunked<T> {
    chunks: Vec<Arc<[T]>>,
    tail: Vec<T>,
}

const CHUNK: usize = 4096;

impl<T: Clone> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            tail: Vec::with_capacity(CHUNK),
        }
    }
}

impl<T: Clone> Chunked<T> {
    fn push(&mut self, item: T) -> u32 {
        let id = self.len();
        self.tail.push(item);
        if self.tail.len() == CHUNK {
            let full = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK));
            self.chunks.push(full.into());
        }
        id
    }

    fn len(&self) -> u32 {
        u32::try_from(self.chunks.len() * CHUNK + self.tail.len()).unwrap_or(u32::MAX)
    }

    /// The item with id `id`.
    pub fn get(&self, id: u32) -> Option<&T> {
        let i = usize::try_from(id).ok()?;
        match self.chunks.get(i / CHUNK) {
            Some(chunk) => chunk.get(i % CHUNK),
            None if i / CHUNK == self.chunks.len() => self.tail.get(i % CHUNK),
            None => None,
        }
    }
}

/// The history's strings and label sets, each once, by id. Its own copies: the cache's
/// interner drops a string nobody else holds, and the history must not hold them up.
#[derive(Debug, Default)]
pub struct Dict {
    strings: Chunked<Arc<str>>,
    string_ids: HashMap<Arc<str>, u32>,
    labels: Chunked<Arc<LabelPairs>>,
    label_ids: HashMap<Arc<LabelPairs>, u32>,
    bytes: usize,
}

impl Dict {
    /// The id of `s`, adding it when new.
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let owned: Arc<str> = Arc::from(s);
        let id = self.strings.push(owned.clone());
        self.string_ids.insert(owned, id);
        self.bytes += s.len() + DICT_ENTRY_OVERHEAD;
        id
    }

    fn label_id(&mut self, labels: &Labels) -> u32 {
        let Some(pairs) = labels.pairs() else {
            return 0;
        };
        if let Some(&id) = self.label_ids.get(&**pairs) {
            return id + 1;
        }
        let own: Arc<LabelPairs> = pairs
            .iter()
            .map(|(k, v)| {
                let k = self.id(k);
                let v = self.id(v);
                (self.string(k), self.string(v))
            })
            .collect();
        let id = self.labels.push(own.clone());
        self.label_ids.insert(own, id);
        self.bytes += DICT_ENTRY_OVERHEAD + pairs.len() * 32;
        id + 1
    }

    fn string(&self, id: u32) -> Arc<str> {
        self.strings
            .get(id)
            .cloned()
            .unwrap_or_else(|| Arc::from(""))
    }

    /// Bytes the dictionary holds (estimated: texts and per-entry overhead).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many strings and label sets it holds.
    pub fn counts(&self) -> (u32, u32) {
        (self.strings.len(), self.labels.len())
    }

    /// The strings from id `from` on, with their ids.
    pub fn strings_from(&self, from: u32) -> impl Iterator<Item = (u32, &str)> {
        (from..self.strings.len()).filter_map(|id| self.strings.get(id).map(|s| (id, &**s)))
    }

    /// The label sets from id `from` on, as string ids, with their ids.
    pub fn labels_from(&self, from: u32) -> impl Iterator<Item = (u32, Vec<(u32, u32)>)> + '_ {
        (from..self.labels.len()).filter_map(|id| {
            let pairs = self.labels.get(id)?;
            let ids = pairs
                .iter()
                .map(|(k, v)| {
                    (
                        self.string_ids.get(&**k).copied().unwrap_or(0),
                        self.string_ids.get(&**v).copied().unwrap_or(0),
                    )
                })
                .collect();
            Some((id, ids))
        })
    }

    /// Restores one entry read from disk (`payload`: its id, then the text or the pairs'
    /// string ids); an entry already held is skipped. `false` when it does not fit (an id
    /// out of order, a bad string): the file is corrupt from there.
    pub fn restore(&mut self, labels: bool, payload: &[u8]) -> bool {
        let words = Words::default();
        let mut r = Reader::new(payload, &words);
        let Ok(id) = r.id() else {
            return false;
        };
        let rest = &payload[r.pos..];
        if !labels {
            let Ok(text) = std::str::from_utf8(rest) else {
                return false;
            };
            return match id.cmp(&self.strings.len()) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => {
                    self.id(text);
                    true
                }
                std::cmp::Ordering::Greater => false,
            };
        }
        if id != self.labels.len() {
            return id < self.labels.len();
        }
        let mut pairs = Vec::new();
        while r.pos < payload.len() {
            let (Ok(k), Ok(v)) = (r.id(), r.id()) else {
                return false;
            };
            match (self.strings.get(k).cloned(), self.strings.get(v).cloned()) {
                (Some(k), Some(v)) => pairs.push((k, v)),
                _ => return false,
            }
        }
        let own: Arc<LabelPairs> = pairs.into();
        let id = self.labels.push(own.clone());
        self.label_ids.insert(own, id);
        self.bytes += DICT_ENTRY_OVERHEAD;
        true
    }

    /// A reader's copy: shared chunks and a copied tail.
    pub fn words(&self) -> Words {
        Words {
            strings: self.strings.clone(),
            labels: self.labels.clone(),
        }
    }
}

/// A reader's view of the dictionary (see [`Dict::words`]).
#[derive(Debug, Clone, Default)]
pub struct Words {
    strings: Chunked<Arc<str>>,
    labels: Chunked<Arc<LabelPairs>>,
}

/// Why stored bytes could not be decoded (a bug or a corrupted file, never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history record undecodable: {0}")]
pub struct Corrupt(pub &'static str);

impl Words {
    fn string(&self, id: u32) -> Result<Arc<str>, Corrupt> {
        self.strings
            .get(id)
            .cloned()
            .ok_or(Corrupt("unknown string id"))
    }

    fn opt_string(&self, id: u32) -> Result<Option<Arc<str>>, Corrupt> {
        match id {
            0 => Ok(None),
            id => self.string(id - 1).map(Some),
        }
    }

    fn labels(&self, id: u32) -> Result<Labels, Corrupt> {
        match id {
            0 => Ok(Labels::default()),
            id => self
                .labels
                .get(id - 1)
                .cloned()
                .map(Labels::from_shared)
                .ok_or(Corrupt("unknown label set id")),
        }
    }
}

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// The inverse of [`put_signed`]'s zigzag.
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_id(out: &mut Vec<u8>, id: u32) {
    put_varint(out, u64::from(id));
}

fn put_opt(out: &mut Vec<u8>, dict: &mut Dict, s: Option<&str>) {
    put_id(out, s.map_or(0, |s| dict.id(s) + 1));
}

fn put_time(out: &mut Vec<u8>, t: Option<jiff::Timestamp>) {
    match t {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            put_signed(out, t.as_second());
            put_varint(out, u64::try_from(t.subsec_nanosecond()).unwrap_or(0));
        }
    }
}

/// Appends the header every record starts with.
pub fn put_header(out: &mut Vec<u8>, tag: u8, dseq: u64, dt_ms: u64) {
    out.push(tag);
    put_varint(out, dseq);
    put_varint(out, dt_ms);
}

/// The body of a pod upsert: its key and the fields of `new` that differ from `old`
/// (all of them when there is no `old`).
pub fn put_pod(out: &mut Vec<u8>, dict: &mut Dict, old: Option<&PodView>, new: &PodView) {
    put_id(out, dict.id(&new.namespace));
    put_id(out, dict.id(&new.name));
    let mask = old.map_or(P_ALL, |o| pod_mask(o, new));
    put_varint(out, u64::from(mask));
    if mask & P_STATUS != 0 {
        put_id(out, dict.id(&new.status));
    }
    if mask & P_READY != 0 {
        put_varint(out, u64::from(new.ready.ready));
        put_varint(out, u64::from(new.ready.total));
    }
    if mask & P_PHASE != 0 {
        put_id(out, dict.id(&new.phase));
    }
    if mask & P_RESTARTS != 0 {
        put_varint(out, u64::from(new.restarts));
    }
    if mask & P_NODE != 0 {
        put_opt(out, dict, new.node.as_deref());
    }
    if mask & P_MESSAGE != 0 {
        put_opt(out, dict, new.message.as_deref());
    }
    if mask & P_LAST_RESTART != 0 {
        match &new.last_restart {
            None => out.push(0),
            Some(r) => {
                out.push(1);
                put_time(out, r.at);
                put_signed(out, i64::from(r.exit_code));
                put_id(out, dict.id(&r.reason));
            }
        }
    }
    if mask & P_WARNING != 0 {
        put_opt(out, dict, new.warning.as_deref());
    }
    if mask & P_OWNER != 0 {
        put_opt(out, dict, new.owner.as_deref());
    }
    if mask & P_LABELS != 0 {
        let id = dict.label_id(&new.labels);
        put_id(out, id);
    }
    if mask & P_CPU != 0 {
        put_varint(out, new.cpu_request_millis);
    }
    if mask & P_MEM != 0 {
        put_varint(out, new.memory_request_bytes);
    }
    if mask & P_CREATED != 0 {
        put_time(out, new.created);
    }
}

fn pod_mask(o: &PodView, n: &PodView) -> u32 {
    let mut m = 0;
    let mut set = |bit, differs: bool| {
        if differs {
            m |= bit;
        }
    };
    set(P_STATUS, o.status != n.status);
    set(P_READY, o.ready != n.ready);
    set(P_PHASE, o.phase != n.phase);
    set(P_RESTARTS, o.restarts != n.restarts);
    set(P_NODE, o.node != n.node);
    set(P_MESSAGE, o.message != n.message);
    set(P_LAST_RESTART, o.last_restart != n.last_restart);
    set(P_WARNING, o.warning != n.warning);
    set(P_OWNER, o.owner != n.owner);
    set(P_LABELS, o.labels != n.labels);
    set(P_CPU, o.cpu_request_millis != n.cpu_request_millis);
    set(P_MEM, o.memory_request_bytes != n.memory_request_bytes);
    set(P_CREATED, o.created != n.created);
    m
}

/// The body of a node upsert (see [`put_pod`]).
pub fn put_node(out: &mut Vec<u8>, dict: &mut Dict, old: Option<&NodeView>, new: &NodeView) {
    put_id(out, dict.id(&new.name));
    let mask = old.map_or(N_ALL, |o| node_mask(o, new));
    put_varint(out, u64::from(mask));
    if mask & N_READY != 0 {
        out.push(u8::from(new.ready));
    }
    if mask & N_UNSCHEDULABLE != 0 {
        out.push(u8::from(new.unschedulable));
    }
    if mask & N_PRESSURE != 0 {
        let bits = NodeCondition::ALL
            .iter()
            .enumerate()
            .filter(|(_, c)| new.pressure.contains(c))
            .fold(0u8, |acc, (i, _)| acc | (1 << i));
        // The order matters to equality: keep it when it is not the canonical one.
        let canonical = NodeCondition::ALL
            .iter()
            .filter(|c| new.pressure.contains(c))
            .eq(new.pressure.iter());
        if canonical {
            out.push(bits);
        } else {
            out.push(0x80);
            put_varint(out, new.pressure.len() as u64);
            for c in &new.pressure {
                let i = NodeCondition::ALL.iter().position(|a| a == c).unwrap_or(0);
                out.push(i as u8);
            }
        }
    }
    if mask & N_TAINTS != 0 {
        put_varint(out, new.taints.len() as u64);
        for t in &new.taints {
            put_id(out, dict.id(&t.key));
            put_opt(out, dict, t.value.as_deref());
            put_id(out, dict.id(&t.effect));
        }
    }
    if mask & N_WARNING != 0 {
        put_opt(out, dict, new.warning.as_deref());
    }
    if mask & N_ROLES != 0 {
        put_varint(out, new.roles.len() as u64);
        for r in &new.roles {
            put_id(out, dict.id(r));
        }
    }
    if mask & N_CPU != 0 {
        put_varint(out, new.allocatable_cpu_millis);
    }
    if mask & N_MEM != 0 {
        put_varint(out, new.allocatable_memory_bytes);
    }
    if mask & N_CAPACITY != 0 {
        put_varint(out, u64::from(new.pod_capacity));
    }
}

fn node_mask(o: &NodeView, n: &NodeView) -> u32 {
    let mut m = 0;
    let mut set = |bit, differs: bool| {
        if differs {
            m |= bit;
        }
    };
    set(N_READY, o.ready != n.ready);
    set(N_UNSCHEDULABLE, o.unschedulable != n.unschedulable);
    set(N_PRESSURE, o.pressure != n.pressure);
    set(N_TAINTS, o.taints != n.taints);
    set(N_WARNING, o.warning != n.warning);
    set(N_ROLES, o.roles != n.roles);
    set(N_CPU, o.allocatable_cpu_millis != n.allocatable_cpu_millis);
    set(
        N_MEM,
        o.allocatable_memory_bytes != n.allocatable_memory_bytes,
    );
    set(N_CAPACITY, o.pod_capacity != n.pod_capacity);
    m
}

/// The body of a pod delete.
pub fn put_pod_key(out: &mut Vec<u8>, dict: &mut Dict, namespace: &str, name: &str) {
    put_id(out, dict.id(namespace));
    put_id(out, dict.id(name));
}

/// The body of a status change.
pub fn put_status(out: &mut Vec<u8>, dict: &mut Dict, status: &ApiStatus) {
    out.push(match status.state {
        ApiState::Ok => 0,
        ApiState::Reconnecting => 1,
        ApiState::Forbidden => 2,
        ApiState::Error => 3,
    });
    put_id(out, dict.id(&status.message));
}

/// The body of an events-state change.
pub fn put_events(out: &mut Vec<u8>, state: EventsState) {
    out.push(match state {
        EventsState::Starting => 0,
        EventsState::Ok => 1,
        EventsState::Reconnecting => 2,
        EventsState::Forbidden => 3,
        EventsState::Unavailable => 4,
    });
}

/// The key of a warning record: its object and its event's name.
pub fn put_warning_key(out: &mut Vec<u8>, dict: &mut Dict, w: &WarningView) {
    put_id(out, dict.id(w.regarding.kind()));
    put_opt(out, dict, w.regarding.namespace().map(|ns| &**ns));
    put_id(out, dict.id(&w.regarding.name));
    match w.event_id() {
        EventId::Suffix(n) => {
            out.push(0);
            put_varint(out, n);
        }
        EventId::Own(namespace, name) => {
            out.push(1);
            put_id(out, dict.id(&namespace));
            put_id(out, dict.id(&name));
        }
    }
}

/// The body of a warning delete: its key, and whether the change carries the pod's
/// previous view (see [`W_POD_BEFORE`]).
pub fn put_warning_gone(out: &mut Vec<u8>, dict: &mut Dict, old: &WarningView, pod_before: bool) {
    put_warning_key(out, dict, old);
    put_varint(
        out,
        if pod_before {
            u64::from(W_POD_BEFORE)
        } else {
            0
        },
    );
}

/// The body of a warning upsert: its key and the fields of `new` that differ from `old`
/// (all of them when there is no `old`); the last-seen time as a difference from the
/// old one's. `pod_before` says the change carries the pod's previous view (see
/// [`W_POD_BEFORE`]).
pub fn put_warning(
    out: &mut Vec<u8>,
    dict: &mut Dict,
    old: Option<&WarningView>,
    new: &WarningView,
    pod_before: bool,
) {
    put_warning_key(out, dict, new);
    let fields = old.map_or(W_ALL, |o| {
        let mut m = 0;
        for (bit, differs) in [
            (W_REASON, o.reason != new.reason),
            (W_MESSAGE, o.message != new.message),
            (W_COUNT, o.count != new.count),
            (W_LAST_SEEN, o.last_seen_secs() != new.last_seen_secs()),
        ] {
            if differs {
                m |= bit;
            }
        }
        m
    });
    put_varint(
        out,
        u64::from(fields | if pod_before { W_POD_BEFORE } else { 0 }),
    );
    if fields & W_REASON != 0 {
        put_id(out, dict.id(&new.reason));
    }
    if fields & W_MESSAGE != 0 {
        put_id(out, dict.id(&new.message));
    }
    if fields & W_COUNT != 0 {
        put_varint(out, u64::from(new.count));
    }
    if fields & W_LAST_SEEN != 0 {
        let seen = i64::from(new.last_seen_secs());
        match old {
            Some(o) => put_signed(out, seen - i64::from(o.last_seen_secs())),
            None => put_varint(out, seen.unsigned_abs()),
        }
    }
}

/// Reads records from stored bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    words: &'a Words,
}

/// One decoded record's body.
pub enum Body {
    /// A pod upsert: its key, and how to bring the old view (or a blank one) to the new.
    Pod(Arc<str>, Arc<str>, PodPatch),
    /// A pod delete.
    PodGone(Arc<str>, Arc<str>),
    /// A node upsert.
    Node(Arc<str>, NodePatch),
    /// A node delete.
    NodeGone(Arc<str>),
    /// The API server's health.
    Status(ApiStatus),
    /// The events watch's state.
    Events(EventsState),
    /// A warning upsert: its key, and how to bring the old warning (or none) to the new.
    Warning(WarningKey, WarningPatch),
    /// A warning delete, and whether it carries the pod's previous view.
    WarningGone(WarningKey, bool),
}

/// What names a kept warning: its object and its event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WarningKey {
    /// The object's kind.
    pub kind: Arc<str>,
    /// The object's namespace, `None` for a cluster-scoped one.
    pub namespace: Option<Arc<str>>,
    /// The object's name.
    pub object: Arc<str>,
    /// The event's name.
    pub event: EventId,
}

/// The changed fields of a warning, to apply onto its previous view.
pub struct WarningPatch {
    mask: u32,
    reason: Option<Arc<str>>,
    message: Option<Arc<str>>,
    count: Option<u32>,
    /// Absolute for a new warning, else the zigzag difference from the old one's.
    last_seen: Option<u64>,
}

impl WarningPatch {
    /// Whether the change carries the pod's previous view (see [`W_POD_BEFORE`]).
    pub fn pod_before(&self) -> bool {
        self.mask & W_POD_BEFORE != 0
    }

    /// The warning after this change: `old` with the changed fields, or a new one, which
    /// must have them all.
    pub fn apply(
        self,
        key: &WarningKey,
        old: Option<&WarningView>,
    ) -> Result<WarningView, Corrupt> {
        let missing = Corrupt("a new warning without all its fields");
        let Some(old) = old else {
            let (Some(reason), Some(message), Some(count), Some(seen)) =
                (self.reason, self.message, self.count, self.last_seen)
            else {
                return Err(missing);
            };
            let regarding =
                Regarding::new(key.kind.clone(), key.namespace.clone(), key.object.clone());
            return Ok(WarningView::restore(
                Arc::new(regarding),
                key.event.clone(),
                reason,
                message,
                count,
                u32::try_from(seen).map_err(|_| Corrupt("time out of range"))?,
            ));
        };
        let last_seen = match self.last_seen {
            None => old.last_seen_secs(),
            Some(raw) => u32::try_from(i64::from(old.last_seen_secs()) + unzigzag(raw))
                .map_err(|_| Corrupt("time out of range"))?,
        };
        Ok(old.updated(
            self.reason.unwrap_or_else(|| old.reason.clone()),
            self.message.unwrap_or_else(|| old.message.clone()),
            self.count.unwrap_or(old.count),
            last_seen,
        ))
    }
}

/// The changed fields of a pod, to apply onto its previous view.
pub struct PodPatch(Vec<PodField>);
/// The changed fields of a node.
pub struct NodePatch(Vec<NodeField>);

enum PodField {
    Status(Arc<str>),
    Ready(Ready),
    Phase(Arc<str>),
    Restarts(u32),
    Node(Option<Arc<str>>),
    Message(Option<Arc<str>>),
    LastRestart(Option<Box<LastRestart>>),
    Warning(Option<Arc<str>>),
    Owner(Option<Arc<str>>),
    Labels(Labels),
    Cpu(u64),
    Mem(u64),
    Created(Option<jiff::Timestamp>),
}

enum NodeField {
    Ready(bool),
    Unschedulable(bool),
    Pressure(Vec<NodeCondition>),
    Taints(Vec<Taint>),
    Warning(Option<Arc<str>>),
    Roles(Vec<String>),
    Cpu(u64),
    Mem(u64),
    Capacity(u32),
}

impl PodPatch {
    /// Applies the fields onto `view`.
    pub fn apply(self, view: &mut PodView) {
        for f in self.0 {
            match f {
                PodField::Status(v) => view.status = v,
                PodField::Ready(v) => view.ready = v,
                PodField::Phase(v) => view.phase = v,
                PodField::Restarts(v) => view.restarts = v,
                PodField::Node(v) => view.node = v,
                PodField::Message(v) => view.message = v,
                PodField::LastRestart(v) => view.last_restart = v,
                PodField::Warning(v) => view.warning = v,
                PodField::Owner(v) => view.owner = v,
                PodField::Labels(v) => view.labels = v,
                PodField::Cpu(v) => view.cpu_request_millis = v,
                PodField::Mem(v) => view.memory_request_bytes = v,
                PodField::Created(v) => view.created = v,
            }
        }
    }
}

impl NodePatch {
    /// Applies the fields onto `view`.
    pub fn apply(self, view: &mut NodeView) {
        for f in self.0 {
            match f {
                NodeField::Ready(v) => view.ready = v,
                NodeField::Unschedulable(v) => view.unschedulable = v,
                NodeField::Pressure(v) => view.pressure = v,
                NodeField::Taints(v) => view.taints = v,
                NodeField::Warning(v) => view.warning = v,
                NodeField::Roles(v) => view.roles = v,
                NodeField::Cpu(v) => view.allocatable_cpu_millis = v,
                NodeField::Mem(v) => view.allocatable_memory_bytes = v,
                NodeField::Capacity(v) => view.pod_capacity = v,
            }
        }
    }
}

/// A blank node to apply a full patch onto.
pub fn blank_node(name: Arc<str>) -> NodeView {
    NodeView {
        name,
        ready: false,
        unschedulable: false,
        roles: Vec::new(),
        allocatable_cpu_millis: 0,
        allocatable_memory_bytes: 0,
        pod_capacity: 0,
        warning: None,
        pressure: Vec::new(),
        taints: Vec::new(),
    }
}

/// One decoded record: its header and body.
pub struct Record {
    /// Seq delta from the record before.
    pub dseq: u64,
    /// Milliseconds since the record before.
    pub dt_ms: u64,
    /// What it says.
    pub body: Body,
}

impl<'a> Reader<'a> {
    /// Records in `bytes`, their ids resolved through `words`.
    pub fn new(bytes: &'a [u8], words: &'a Words) -> Self {
        Self {
            bytes,
            pos: 0,
            words,
        }
    }

    /// Reads only the header of the next record and skips its body: `(dseq, dt_ms)`.
    fn byte(&mut self) -> Result<u8, Corrupt> {
        let b = *self.bytes.get(self.pos).ok_or(Corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Corrupt("varint too long"))
    }

    fn signed(&mut self) -> Result<i64, Corrupt> {
        self.varint().map(unzigzag)
    }

    fn id(&mut self) -> Result<u32, Corrupt> {
        u32::try_from(self.varint()?).map_err(|_| Corrupt("id too large"))
    }

    fn string(&mut self) -> Result<Arc<str>, Corrupt> {
        let id = self.id()?;
        self.words.string(id)
    }

    fn opt_string(&mut self) -> Result<Option<Arc<str>>, Corrupt> {
        let id = self.id()?;
        self.words.opt_string(id)
    }

    fn small<T: TryFrom<u64>>(&mut self) -> Result<T, Corrupt> {
        T::try_from(self.varint()?).map_err(|_| Corrupt("number out of range"))
    }

    fn time(&mut self) -> Result<Option<jiff::Timestamp>, Corrupt> {
        if self.byte()? == 0 {
            return Ok(None);
        }
        let secs = self.signed()?;
        let nanos: i32 = self.small()?;
        jiff::Timestamp::new(secs, nanos)
            .map(Some)
            .map_err(|_| Corrupt("timestamp out of range"))
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record>, Corrupt> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let tag = self.byte()?;
        let dseq = self.varint()?;
        let dt_ms = self.varint()?;
        let body = match tag {
            POD_UPSERT => {
                let ns = self.string()?;
                let name = self.string()?;
                Body::Pod(ns, name, self.pod_patch()?)
            }
            POD_DELETE => Body::PodGone(self.string()?, self.string()?),
            NODE_UPSERT => {
                let name = self.string()?;
                Body::Node(name, self.node_patch()?)
            }
            NODE_DELETE => Body::NodeGone(self.string()?),
            STATUS => {
                let state = match self.byte()? {
                    0 => ApiState::Ok,
                    1 => ApiState::Reconnecting,
                    2 => ApiState::Forbidden,
                    3 => ApiState::Error,
                    _ => return Err(Corrupt("unknown api state")),
                };
                Body::Status(ApiStatus {
                    state,
                    message: self.string()?.to_string(),
                })
            }
            EVENTS => Body::Events(match self.byte()? {
                0 => EventsState::Starting,
                1 => EventsState::Ok,
                2 => EventsState::Reconnecting,
                3 => EventsState::Forbidden,
                4 => EventsState::Unavailable,
                _ => return Err(Corrupt("unknown events state")),
            }),
            WARNING_UPSERT => {
                let key = self.warning_key()?;
                Body::Warning(key, self.warning_patch()?)
            }
            WARNING_DELETE => {
                let key = self.warning_key()?;
                let flags: u32 = self.small()?;
                Body::WarningGone(key, flags & W_POD_BEFORE != 0)
            }
            _ => return Err(Corrupt("unknown tag")),
        };
        Ok(Some(Record { dseq, dt_ms, body }))
    }

    fn warning_key(&mut self) -> Result<WarningKey, Corrupt> {
        let kind = self.string()?;
        let namespace = self.opt_string()?;
        let object = self.string()?;
        let event = match self.byte()? {
            0 => EventId::Suffix(self.varint()?),
            1 => EventId::Own(self.string()?, self.string()?),
            _ => return Err(Corrupt("unknown event name form")),
        };
        Ok(WarningKey {
            kind,
            namespace,
            object,
            event,
        })
    }

    fn warning_patch(&mut self) -> Result<WarningPatch, Corrupt> {
        let mask: u32 = self.small()?;
        let reason = (mask & W_REASON != 0).then(|| self.string()).transpose()?;
        let message = (mask & W_MESSAGE != 0).then(|| self.string()).transpose()?;
        let count = (mask & W_COUNT != 0).then(|| self.small()).transpose()?;
        let last_seen = (mask & W_LAST_SEEN != 0)
            .then(|| self.varint())
            .transpose()?;
        Ok(WarningPatch {
            mask,
            reason,
            message,
            count,
            last_seen,
        })
    }

    fn pod_patch(&mut self) -> Result<PodPatch, Corrupt> {
        let mask: u32 = self.small()?;
        let mut fields = Vec::with_capacity(mask.count_ones() as usize);
        if mask & P_STATUS != 0 {
            fields.push(PodField::Status(self.string()?));
        }
        if mask & P_READY != 0 {
            fields.push(PodField::Ready(Ready {
                ready: self.small()?,
                total: self.small()?,
            }));
        }
        if mask & P_PHASE != 0 {
            fields.push(PodField::Phase(self.string()?));
        }
        if mask & P_RESTARTS != 0 {
            fields.push(PodField::Restarts(self.small()?));
        }
        if mask & P_NODE != 0 {
            fields.push(PodField::Node(self.opt_string()?));
        }
        if mask & P_MESSAGE != 0 {
            fields.push(PodField::Message(self.opt_string()?));
        }
        if mask & P_LAST_RESTART != 0 {
            let restart = match self.byte()? {
                0 => None,
                _ => {
                    let at = self.time()?;
                    let exit_code = i32::try_from(self.signed()?)
                        .map_err(|_| Corrupt("exit code out of range"))?;
                    let reason = self.string()?;
                    Some(Box::new(LastRestart {
                        at,
                        exit_code,
                        reason,
                    }))
                }
            };
            fields.push(PodField::LastRestart(restart));
        }
        if mask & P_WARNING != 0 {
            fields.push(PodField::Warning(self.opt_string()?));
        }
        if mask & P_OWNER != 0 {
            fields.push(PodField::Owner(self.opt_string()?));
        }
        if mask & P_LABELS != 0 {
            let id = self.id()?;
            fields.push(PodField::Labels(self.words.labels(id)?));
        }
        if mask & P_CPU != 0 {
            fields.push(PodField::Cpu(self.varint()?));
        }
        if mask & P_MEM != 0 {
            fields.push(PodField::Mem(self.varint()?));
        }
        if mask & P_CREATED != 0 {
            fields.push(PodField::Created(self.time()?));
        }
        Ok(PodPatch(fields))
    }

    fn node_patch(&mut self) -> Result<NodePatch, Corrupt> {
        let mask: u32 = self.small()?;
        let mut fields = Vec::with_capacity(mask.count_ones() as usize);
        if mask & N_READY != 0 {
            fields.push(NodeField::Ready(self.byte()? != 0));
        }
        if mask & N_UNSCHEDULABLE != 0 {
            fields.push(NodeField::Unschedulable(self.byte()? != 0));
        }
        if mask & N_PRESSURE != 0 {
            let bits = self.byte()?;
            let pressure = if bits & 0x80 == 0 {
                NodeCondition::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, c)| c)
                    .collect()
            } else {
                let n: usize = self.small()?;
                let mut v = Vec::with_capacity(n.min(8));
                for _ in 0..n {
                    let i = usize::from(self.byte()?);
                    v.push(
                        *NodeCondition::ALL
                            .get(i)
                            .ok_or(Corrupt("unknown condition"))?,
                    );
                }
                v
            };
            fields.push(NodeField::Pressure(pressure));
        }
        if mask & N_TAINTS != 0 {
            let n: usize = self.small()?;
            let mut taints = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                taints.push(Taint {
                    key: self.string()?.to_string(),
                    value: self.opt_string()?.map(|v| v.to_string()),
                    effect: self.string()?.to_string(),
                });
            }
            fields.push(NodeField::Taints(taints));
        }
        if mask & N_WARNING != 0 {
            fields.push(NodeField::Warning(self.opt_string()?));
        }
        if mask & N_ROLES != 0 {
            let n: usize = self.small()?;
            let mut roles = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                roles.push(self.string()?.to_string());
            }
            fields.push(NodeField::Roles(roles));
        }
        if mask & N_CPU != 0 {
            fields.push(NodeField::Cpu(self.varint()?));
        }
        if mask & N_MEM != 0 {
            fields.push(NodeField::Mem(self.varint()?));
        }
        if mask & N_CAPACITY != 0 {
            fields.push(NodeField::Capacity(self.small()?));
        }
        Ok(NodePatch(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    #[test]
    fn a_status_change_costs_a_few_bytes_and_round_trips() {
        let mut dict = Dict::default();
        let old = PodView {
            node: Some("n1".into()),
            labels: Labels::from_pairs([("app", "web")]),
            created: Some(jiff::Timestamp::new(1_700_000_000, 5).expect("time")),
            ..fixtures::pod("shop", "web-1")
        };
        let new = PodView {
            status: "CrashLoopBackOff".into(),
            ready: Ready { ready: 0, total: 1 },
            restarts: 3,
            last_restart: Some(Box::new(LastRestart {
                at: None,
                exit_code: -1,
                reason: "OOMKilled".into(),
            })),
            ..old.clone()
        };
        let mut bytes = Vec::new();
        put_header(&mut bytes, POD_UPSERT, 0, 0);
        put_pod(&mut bytes, &mut dict, None, &old);
        let full = bytes.len();
        put_header(&mut bytes, POD_UPSERT, 1, 20);
        put_pod(&mut bytes, &mut dict, Some(&old), &new);
        assert!(bytes.len() - full <= 16, "{} bytes", bytes.len() - full);
        let words = dict.words();
        let mut reader = Reader::new(&bytes, &words);
        let mut view = fixtures::pod("", "");
        for expected in [&old, &new] {
            let Some(Record {
                body: Body::Pod(ns, name, patch),
                ..
            }) = reader.next_record().expect("decodes")
            else {
                panic!("a pod record")
            };
            assert_eq!((&*ns, &*name), ("shop", "web-1"));
            view.namespace = ns;
            view.name = name;
            patch.apply(&mut view);
            assert_eq!(&view, expected);
        }
        assert!(reader.next_record().expect("end").is_none());
    }

    #[test]
    fn a_warning_seen_again_costs_a_few_bytes_and_round_trips() {
        let mut dict = Dict::default();
        let regarding = Arc::new(Regarding::new(
            "Pod".into(),
            Some("shop".into()),
            "web-1".into(),
        ));
        let first = WarningView::restore(
            regarding.clone(),
            EventId::Suffix(0x18ee_8ee0_a4f0_7c11),
            "BackOff".into(),
            "Back-off restarting failed container".into(),
            1,
            1_796_530_000,
        );
        let again = WarningView::restore(
            regarding.clone(),
            first.event_id(),
            first.reason.clone(),
            first.message.clone(),
            2,
            1_796_530_020,
        );
        let other = WarningView::restore(
            regarding,
            EventId::Own("default".into(), "odd-name".into()),
            "Failed".into(),
            "Error: ImagePullBackOff".into(),
            1,
            1_796_529_990,
        );
        let mut bytes = Vec::new();
        put_header(&mut bytes, WARNING_UPSERT, 0, 0);
        put_warning(&mut bytes, &mut dict, None, &first, false);
        let full = bytes.len();
        put_header(&mut bytes, WARNING_UPSERT, 1, 20);
        put_warning(&mut bytes, &mut dict, Some(&first), &again, false);
        // Most of it the event's number (client-go writes a UnixNano): 9 bytes.
        assert!(bytes.len() - full <= 20, "{} bytes", bytes.len() - full);
        // Published again with its pod's change: no fields, the flag.
        put_header(&mut bytes, WARNING_UPSERT, 1, 0);
        put_warning(&mut bytes, &mut dict, Some(&again), &again, true);
        put_header(&mut bytes, WARNING_UPSERT, 1, 0);
        put_warning(&mut bytes, &mut dict, None, &other, false);
        put_header(&mut bytes, WARNING_DELETE, 1, 0);
        put_warning_gone(&mut bytes, &mut dict, &again, true);
        let words = dict.words();
        let mut reader = Reader::new(&bytes, &words);
        let mut held: Option<WarningView> = None;
        for (expected, flag) in [(&first, false), (&again, false), (&again, true)] {
            let Some(Record {
                body: Body::Warning(key, patch),
                ..
            }) = reader.next_record().expect("decodes")
            else {
                panic!("a warning record")
            };
            assert_eq!(patch.pod_before(), flag);
            let view = patch.apply(&key, held.as_ref()).expect("applies");
            assert_eq!(&view, expected);
            held = Some(view);
        }
        let Some(Record {
            body: Body::Warning(key, patch),
            ..
        }) = reader.next_record().expect("decodes")
        else {
            panic!("a warning record")
        };
        assert_eq!(patch.apply(&key, None).expect("applies"), other);
        let Some(Record {
            body: Body::WarningGone(key, true),
            ..
        }) = reader.next_record().expect("decodes")
        else {
            panic!("a warning deletion carrying its pod")
        };
        assert_eq!(key.event, first.event_id());
        assert!(reader.next_record().expect("end").is_none());
    }

    #[test]
    fn a_warning_update_without_its_warning_is_an_error() {
        let mut dict = Dict::default();
        let w = WarningView::restore(
            Arc::new(Regarding::new("Node".into(), None, "n1".into())),
            EventId::Suffix(1),
            "OOMKilling".into(),
            "out of memory".into(),
            1,
            10,
        );
        let seen = WarningView::restore(
            w.regarding.clone(),
            w.event_id(),
            w.reason.clone(),
            w.message.clone(),
            2,
            10,
        );
        let mut bytes = Vec::new();
        put_header(&mut bytes, WARNING_UPSERT, 0, 0);
        put_warning(&mut bytes, &mut dict, Some(&w), &seen, false);
        let words = dict.words();
        let Some(Record {
            body: Body::Warning(key, patch),
            ..
        }) = Reader::new(&bytes, &words).next_record().expect("decodes")
        else {
            panic!("a warning record")
        };
        assert!(patch.apply(&key, None).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let words = Words::default();
        for bytes in [
            &[9u8][..],
            &[1, 0, 0, 5],
            &[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ] {
            assert!(Reader::new(bytes, &words).next_record().is_err());
        }
    }
}
