//! The compact cluster state: pod and node views, a sequence number per change, a bounded
//! ring of recent changes, readiness and API server health.
//!
//! Every mutation happens under one write lock that also pushes the change into the ring
//! and sends it on the broadcast channel, and every subscriber takes its starting point
//! (snapshot or ring replay) under the read lock together with its receiver. So a client
//! sees each change exactly once: nothing slips between its snapshot and its stream.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::app::metrics::{KindLabel, Metrics};
use crate::fanout::stream::Frames;
use crate::state::filter::Filter;
use crate::state::intern::Interner;
use crate::state::view::{NodeView, PodView};

/// How many recent changes are kept for resuming clients.
pub const RING_CAPACITY: usize = 4096;
/// How many changes the shared channel holds before a slow client lags.
pub const CHANNEL_CAPACITY: usize = 1024;

/// A pod's identity: namespace and name (the view's own `Arc`s, not copies).
pub type PodKey = (Arc<str>, Arc<str>);

/// The health of the connection to the API server, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiStatus {
    /// "ok", "reconnecting", "forbidden" or "error".
    pub apiserver: &'static str,
    /// What is wrong, empty when ok.
    pub message: String,
}

impl ApiStatus {
    fn ok() -> Self {
        Self {
            apiserver: "ok",
            message: String::new(),
        }
    }
}

/// What one change did.
#[derive(Debug)]
pub enum Diff {
    /// A pod appeared, changed or went away (`new` is `None` on delete).
    Pod {
        old: Option<Arc<PodView>>,
        new: Option<Arc<PodView>>,
    },
    /// A node appeared, changed or went away.
    Node {
        old: Option<Arc<NodeView>>,
        new: Option<Arc<NodeView>>,
    },
    /// The API server health changed.
    Status(ApiStatus),
}

/// One numbered change, shared by every client; its frames are encoded once, lazily.
#[derive(Debug)]
pub struct Change {
    /// The cache epoch it belongs to.
    pub epoch: Epoch,
    /// Its sequence number.
    pub seq: u64,
    /// What changed.
    pub diff: Diff,
    /// When it entered the cache (for the fan-out latency metric).
    pub published: std::time::Instant,
    /// The cluster's name, on walls of several clusters (JSON events then carry it).
    pub cluster: Option<Arc<str>>,
    pub(crate) frames: Frames,
}

/// Random per cache build: resuming across epochs is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A position in the stream: `<epoch>-<seq>`, the SSE event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The epoch.
    pub epoch: Epoch,
    /// The sequence number.
    pub seq: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

impl Position {
    /// Parses an event id; `None` when it is not one of ours.
    pub fn parse(s: &str) -> Option<Self> {
        let (epoch, seq) = s.trim().split_once('-')?;
        // Digits only: `from_str_radix` and `parse` would also take a leading `+`.
        if epoch.len() != 16
            || !epoch.bytes().all(|b| b.is_ascii_hexdigit())
            || seq.is_empty()
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self {
            epoch: Epoch(u64::from_str_radix(epoch, 16).ok()?),
            seq: seq.parse().ok()?,
        })
    }
}

/// A filtered copy of the state at one sequence number (views are shared, not cloned).
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The epoch, hex.
    #[serde(serialize_with = "display")]
    pub epoch: Epoch,
    /// The sequence number of the last change included.
    pub seq: u64,
    /// Nodes, by name.
    pub nodes: Vec<Arc<NodeView>>,
    /// Pods, by namespace and name.
    pub pods: Vec<Arc<PodView>>,
    /// API server health.
    pub apiserver: ApiStatus,
    /// The cluster's name, on walls of several clusters only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Arc<str>>,
}

fn display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Snapshot {
    /// The position of this snapshot.
    pub fn position(&self) -> Position {
        Position {
            epoch: self.epoch,
            seq: self.seq,
        }
    }
}

/// Where a new subscriber starts.
pub enum Start {
    /// From a full (filtered) snapshot.
    Reset(Snapshot),
    /// From the changes it missed, in order.
    Replay(Vec<Arc<Change>>),
}

/// The kind of object a watch scope lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Pods.
    Pod,
    /// Nodes.
    Node,
}

impl Kind {
    /// Lower-case name, for metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::Node => "nodes",
        }
    }

    /// The metric label of this kind.
    pub fn label(self) -> KindLabel {
        KindLabel {
            kind: if self == Self::Pod { "pod" } else { "node" },
        }
    }
}

/// One list+watch: a kind, cluster-wide or in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// What it lists.
    pub kind: Kind,
    /// The namespace, or all.
    pub namespace: Option<Arc<str>>,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} in namespace {ns}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

/// The health of one watch scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Events flow.
    Ok,
    /// Transient failure, retrying with backoff.
    Reconnecting(String),
    /// 403: the ServiceAccount lacks a permission.
    Forbidden(String),
    /// Anything else.
    Error(String),
}

impl Health {
    fn rank(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Reconnecting(_) => 1,
            Self::Error(_) => 2,
            Self::Forbidden(_) => 3,
        }
    }
}

#[derive(Debug, Default)]
struct ScopeState {
    generation: u64,
    synced: bool,
    health: Option<Health>,
}

#[derive(Debug)]
struct Entry<V> {
    view: Arc<V>,
    generation: u64,
}

/// Removes the entries `stale` selects, returning their views in key order.
fn remove_where<K: Ord + Clone, V>(
    map: &mut BTreeMap<K, Entry<V>>,
    stale: impl Fn(&K, &Entry<V>) -> bool,
) -> Vec<Arc<V>> {
    let keys: Vec<K> = map
        .iter()
        .filter(|(k, e)| stale(k, e))
        .map(|(k, _)| k.clone())
        .collect();
    keys.into_iter()
        .filter_map(|k| map.remove(&k))
        .map(|e| e.view)
        .collect()
}

struct State {
    epoch: Epoch,
    seq: u64,
    pods: BTreeMap<PodKey, Entry<PodView>>,
    nodes: BTreeMap<Arc<str>, Entry<NodeView>>,
    ring: VecDeque<Arc<Change>>,
    interner: Interner,
    scopes: BTreeMap<Scope, ScopeState>,
    next_generation: u64,
    status: ApiStatus,
    cluster: Option<Arc<str>>,
}

/// The shared cache; see the module docs for its locking discipline.
pub struct Cache {
    state: RwLock<State>,
    tx: broadcast::Sender<Arc<Change>>,
    metrics: Arc<Metrics>,
}

impl Cache {
    /// An empty cache with a fresh random epoch.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            state: RwLock::new(State {
                epoch: Epoch(rand::random()),
                seq: 0,
                pods: BTreeMap::new(),
                nodes: BTreeMap::new(),
                ring: VecDeque::with_capacity(RING_CAPACITY),
                interner: Interner::default(),
                scopes: BTreeMap::new(),
                next_generation: 1,
                status: ApiStatus::ok(),
                cluster: None,
            }),
            tx,
            metrics,
        }
    }

    /// Names the cluster this cache mirrors: from then on its snapshots and JSON events
    /// carry `"cluster"`, so a tool reading several clusters' streams can tell them apart.
    pub fn name_cluster(&self, name: Arc<str>) {
        self.state.write().cluster = Some(name);
    }

    /// The metrics this cache updates.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Declares a watch scope, so readiness waits for its first full list.
    pub fn register_scope(&self, scope: Scope) {
        self.state.write().scopes.entry(scope).or_default();
    }

    /// `Ok` once every registered scope has completed a full list; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        let st = self.state.read();
        let waiting: BTreeSet<Kind> = st
            .scopes
            .iter()
            .filter(|(_, s)| !s.synced)
            .map(|(scope, _)| scope.kind)
            .collect();
        if st.scopes.is_empty() {
            return Err("no watches started".to_owned());
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let mut reason = format!(
            "waiting for first sync of {}",
            waiting
                .into_iter()
                .map(Kind::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if st.status.apiserver != "ok" {
            reason.push_str(&format!(
                " (apiserver {}: {})",
                st.status.apiserver, st.status.message
            ));
        }
        Err(reason)
    }

    /// The API server health clients currently see.
    pub fn api_status(&self) -> ApiStatus {
        self.state.read().status.clone()
    }

    /// The current position.
    pub fn position(&self) -> Position {
        let st = self.state.read();
        Position {
            epoch: st.epoch,
            seq: st.seq,
        }
    }

    /// Counts `scope` as synced without a list: for optional data the ServiceAccount may not
    /// read (nodes under a namespaced Role), so readiness does not wait for it forever.
    pub fn mark_unreadable(&self, scope: &Scope) {
        let mut st = self.state.write();
        st.scopes.entry(scope.clone()).or_default().synced = true;
    }

    /// A re-list of `scope` begins: objects it does not list again will be deleted.
    pub fn begin_relist(&self, scope: &Scope) {
        self.metrics.lists.get_or_create(&scope.kind.label()).inc();
        let mut st = self.state.write();
        let generation = st.next_generation;
        st.next_generation += 1;
        st.scopes.entry(scope.clone()).or_default().generation = generation;
    }

    /// A re-list of `scope` ended: deletes what it did not see, marks the scope synced.
    pub fn end_relist(&self, scope: &Scope) {
        let mut guard = self.state.write();
        let st = &mut *guard;
        let scope_state = st.scopes.entry(scope.clone()).or_default();
        scope_state.synced = true;
        let generation = scope_state.generation;
        match scope.kind {
            Kind::Pod => {
                let stale = remove_where(&mut st.pods, |k, e| {
                    e.generation != generation
                        && scope.namespace.as_ref().is_none_or(|ns| *ns == k.0)
                });
                for old in stale {
                    self.publish(
                        st,
                        Diff::Pod {
                            old: Some(old),
                            new: None,
                        },
                    );
                }
            }
            Kind::Node => {
                let stale = remove_where(&mut st.nodes, |_, e| e.generation != generation);
                for old in stale {
                    self.publish(
                        st,
                        Diff::Node {
                            old: Some(old),
                            new: None,
                        },
                    );
                }
            }
        }
        self.update_gauges(st);
        drop(guard);
        // The list's transient buffers are free now; hand their pages back.
        crate::k8s::heap::release_free_memory();
    }

    /// Inserts or updates a pod seen by `scope`; publishes only real changes.
    pub fn upsert_pod(&self, scope: &Scope, mut view: PodView) {
        self.metrics
            .events_ingested
            .get_or_create(&Kind::Pod.label())
            .inc();
        let mut guard = self.state.write();
        let st = &mut *guard;
        st.interner.pod(&mut view);
        let generation = st.scopes.get(scope).map_or(0, |s| s.generation);
        let key = (view.namespace.clone(), view.name.clone());
        match st.pods.get_mut(&key) {
            Some(entry) if *entry.view == view => entry.generation = generation,
            Some(entry) => {
                let new = Arc::new(view);
                let old = std::mem::replace(&mut entry.view, new.clone());
                entry.generation = generation;
                self.publish(
                    st,
                    Diff::Pod {
                        old: Some(old),
                        new: Some(new),
                    },
                );
            }
            None => {
                let new = Arc::new(view);
                st.pods.insert(
                    key,
                    Entry {
                        view: new.clone(),
                        generation,
                    },
                );
                self.publish(
                    st,
                    Diff::Pod {
                        old: None,
                        new: Some(new),
                    },
                );
                self.update_gauges(st);
            }
        }
        st.interner.sweep_if_grown();
    }

    /// Removes a pod.
    pub fn delete_pod(&self, namespace: &str, name: &str) {
        self.metrics
            .events_ingested
            .get_or_create(&Kind::Pod.label())
            .inc();
        let mut guard = self.state.write();
        let st = &mut *guard;
        let key: PodKey = (Arc::from(namespace), Arc::from(name));
        if let Some(old) = st.pods.remove(&key) {
            self.publish(
                st,
                Diff::Pod {
                    old: Some(old.view),
                    new: None,
                },
            );
            self.update_gauges(st);
        }
    }

    /// Inserts or updates a node; publishes only real changes.
    pub fn upsert_node(&self, scope: &Scope, mut view: NodeView) {
        self.metrics
            .events_ingested
            .get_or_create(&Kind::Node.label())
            .inc();
        let mut guard = self.state.write();
        let st = &mut *guard;
        view.name = st.interner.str(&view.name);
        let generation = st.scopes.get(scope).map_or(0, |s| s.generation);
        match st.nodes.get_mut(&view.name) {
            Some(entry) if *entry.view == view => entry.generation = generation,
            Some(entry) => {
                let new = Arc::new(view);
                let old = std::mem::replace(&mut entry.view, new.clone());
                entry.generation = generation;
                self.publish(
                    st,
                    Diff::Node {
                        old: Some(old),
                        new: Some(new),
                    },
                );
            }
            None => {
                let new = Arc::new(view);
                st.nodes.insert(
                    new.name.clone(),
                    Entry {
                        view: new.clone(),
                        generation,
                    },
                );
                self.publish(
                    st,
                    Diff::Node {
                        old: None,
                        new: Some(new),
                    },
                );
                self.update_gauges(st);
            }
        }
    }

    /// Removes a node.
    pub fn delete_node(&self, name: &str) {
        self.metrics
            .events_ingested
            .get_or_create(&Kind::Node.label())
            .inc();
        let mut guard = self.state.write();
        let st = &mut *guard;
        if let Some(old) = st.nodes.remove(name) {
            self.publish(
                st,
                Diff::Node {
                    old: Some(old.view),
                    new: None,
                },
            );
            self.update_gauges(st);
        }
    }

    /// Records the health of one watch scope; publishes a status change when the
    /// overall health (the worst scope) changes.
    pub fn set_health(&self, scope: &Scope, health: Health) {
        // Called for every watch event: the common "still ok" case only reads.
        if self
            .state
            .read()
            .scopes
            .get(scope)
            .and_then(|s| s.health.as_ref())
            == Some(&health)
        {
            return;
        }
        let mut guard = self.state.write();
        let st = &mut *guard;
        let entry = st.scopes.entry(scope.clone()).or_default();
        if entry.health.as_ref() == Some(&health) {
            return;
        }
        entry.health = Some(health);
        let worst = st
            .scopes
            .values()
            .filter_map(|s| s.health.as_ref())
            .max_by_key(|h| h.rank());
        let messages: Vec<&str> = st
            .scopes
            .values()
            .filter_map(|s| match &s.health {
                Some(Health::Reconnecting(m) | Health::Forbidden(m) | Health::Error(m)) => {
                    Some(m.as_str())
                }
                _ => None,
            })
            .collect();
        let status = ApiStatus {
            apiserver: match worst {
                None | Some(Health::Ok) => "ok",
                Some(Health::Reconnecting(_)) => "reconnecting",
                Some(Health::Forbidden(_)) => "forbidden",
                Some(Health::Error(_)) => "error",
            },
            message: messages.join("; "),
        };
        if status != st.status {
            st.status = status.clone();
            self.publish(st, Diff::Status(status));
        }
    }

    /// A filtered snapshot of the current state.
    pub fn snapshot(&self, filter: &Filter) -> Snapshot {
        snapshot_of(&self.state.read(), filter)
    }

    /// Subscribes to changes and returns where to start: a replay of the changes after
    /// `resume` when that position is in this epoch and still in the ring, else a reset.
    pub fn subscribe(
        &self,
        filter: &Filter,
        resume: Option<Position>,
    ) -> (broadcast::Receiver<Arc<Change>>, Start) {
        let st = self.state.read();
        let rx = self.tx.subscribe();
        (rx, start_of(&st, filter, resume))
    }

    /// Where a client starts: a replay of the changes after `resume` when that position
    /// is in this epoch and still in the ring, else a reset. Every change published
    /// before this call is in it.
    pub fn start(&self, filter: &Filter, resume: Option<Position>) -> Start {
        start_of(&self.state.read(), filter, resume)
    }

    /// Every change from now on, as it is published.
    pub fn changes(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    fn publish(&self, st: &mut State, diff: Diff) {
        st.seq += 1;
        let change = Arc::new(Change {
            epoch: st.epoch,
            seq: st.seq,
            diff,
            published: std::time::Instant::now(),
            cluster: st.cluster.clone(),
            frames: Frames::default(),
        });
        if st.ring.len() == RING_CAPACITY {
            st.ring.pop_front();
        }
        st.ring.push_back(change.clone());
        self.metrics
            .seq
            .set(i64::try_from(st.seq).unwrap_or(i64::MAX));
        // No receivers is fine: nobody is watching the wall right now.
        let _ = self.tx.send(change);
    }

    fn update_gauges(&self, st: &State) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.metrics
            .cache_objects
            .get_or_create(&Kind::Pod.label())
            .set(count(st.pods.len()));
        self.metrics
            .cache_objects
            .get_or_create(&Kind::Node.label())
            .set(count(st.nodes.len()));
    }
}

fn snapshot_of(st: &State, filter: &Filter) -> Snapshot {
    Snapshot {
        epoch: st.epoch,
        seq: st.seq,
        nodes: st
            .nodes
            .values()
            .filter(|e| filter.matches_node(&e.view))
            .map(|e| e.view.clone())
            .collect(),
        pods: st
            .pods
            .values()
            .filter(|e| filter.matches_pod(&e.view))
            .map(|e| e.view.clone())
            .collect(),
        apiserver: st.status.clone(),
        cluster: st.cluster.clone(),
    }
}

fn start_of(st: &State, filter: &Filter, resume: Option<Position>) -> Start {
    match resume.and_then(|p| replay_after(st, p)) {
        Some(replay) => Start::Replay(replay),
        None => Start::Reset(snapshot_of(st, filter)),
    }
}

fn replay_after(st: &State, p: Position) -> Option<Vec<Arc<Change>>> {
    if p.epoch != st.epoch || p.seq > st.seq {
        return None;
    }
    if p.seq == st.seq {
        return Some(Vec::new());
    }
    let first = st.ring.front()?.seq;
    if p.seq + 1 < first {
        return None;
    }
    let skip = usize::try_from(p.seq + 1 - first).ok()?;
    Some(st.ring.iter().skip(skip).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::view::{Labels, Ready};

    fn pod(ns: &str, name: &str, status: &str) -> PodView {
        PodView {
            namespace: Arc::from(ns),
            name: name.into(),
            node: None,
            phase: "Running".into(),
            status: status.into(),
            ready: Ready { ready: 1, total: 1 },
            restarts: 0,
            owner: None,
            labels: Labels::default(),
            cpu_request_millis: 0,
            memory_request_bytes: 0,
            created: None,
        }
    }

    fn scope() -> Scope {
        Scope {
            kind: Kind::Pod,
            namespace: None,
        }
    }

    #[test]
    fn relist_deletes_only_unseen_and_publishes_only_changes() {
        let cache = Cache::new(Arc::default());
        cache.register_scope(scope());
        assert!(cache.readiness().is_err());
        cache.begin_relist(&scope());
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        cache.upsert_pod(&scope(), pod("a", "2", "Running"));
        cache.end_relist(&scope());
        assert!(cache.readiness().is_ok());
        assert_eq!(cache.position().seq, 2);
        cache.begin_relist(&scope());
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        assert_eq!(
            cache.position().seq,
            2,
            "an unchanged object is not a change"
        );
        cache.end_relist(&scope());
        let snap = cache.snapshot(&Filter::default());
        assert_eq!(snap.seq, 3);
        assert_eq!(snap.pods.len(), 1);
        assert_eq!(&*snap.pods[0].name, "1");
    }

    #[test]
    fn resume_replays_only_missed_changes() {
        let cache = Cache::new(Arc::default());
        cache.upsert_pod(&scope(), pod("a", "1", "Pending"));
        let at = cache.position();
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        cache.delete_pod("a", "1");
        let (_rx, start) = cache.subscribe(&Filter::default(), Some(at));
        let Start::Replay(changes) = start else {
            panic!("expected a replay")
        };
        assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3]);
        let other_epoch = Position {
            epoch: Epoch(at.epoch.0 ^ 1),
            seq: 1,
        };
        assert!(matches!(
            cache.subscribe(&Filter::default(), Some(other_epoch)).1,
            Start::Reset(_)
        ));
        let future = Position {
            epoch: at.epoch,
            seq: 99,
        };
        assert!(matches!(
            cache.subscribe(&Filter::default(), Some(future)).1,
            Start::Reset(_)
        ));
    }

    #[test]
    fn resume_outside_the_ring_resets() {
        let cache = Cache::new(Arc::default());
        let at = cache.position();
        for i in 0..RING_CAPACITY + 2 {
            cache.upsert_pod(&scope(), pod("a", &i.to_string(), "Running"));
        }
        assert!(matches!(
            cache.subscribe(&Filter::default(), Some(at)).1,
            Start::Reset(_)
        ));
    }

    #[test]
    fn health_is_the_worst_scope() {
        let cache = Cache::new(Arc::default());
        let nodes = Scope {
            kind: Kind::Node,
            namespace: None,
        };
        cache.set_health(&scope(), Health::Ok);
        cache.set_health(&nodes, Health::Forbidden("nodes is forbidden".into()));
        assert_eq!(
            cache.snapshot(&Filter::default()).apiserver.apiserver,
            "forbidden"
        );
        cache.set_health(&nodes, Health::Ok);
        assert_eq!(
            cache.snapshot(&Filter::default()).apiserver,
            ApiStatus::ok()
        );
    }

    #[test]
    fn position_round_trips() {
        let p = Position {
            epoch: Epoch(0xabc),
            seq: 42,
        };
        assert_eq!(Position::parse(&p.to_string()), Some(p));
        assert_eq!(Position::parse("nonsense"), None);
    }
}
