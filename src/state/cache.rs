//! The compact cluster state: pod and node views, the kept Warning events joined to them,
//! a sequence number per change, a bounded ring of recent changes, readiness and API
//! server health.
//!
//! Warnings are changes like any other (`Diff::Warning`), so resume, replay and the
//! convergence property hold for them unchanged. A pod's or node's view carries the
//! reason of its newest warning (`warning`); when that changes, so does the view. A
//! filtered client sees a warning about a pod when it sees the pod, so whenever a pod
//! with warnings changes (it may enter or leave a filter) its warnings are published
//! again with the pod before and after; the fan-out sends them only where visibility
//! changed for a filtered client, and as they are to an unfiltered one.
//!
//! Every mutation happens under one write lock that also pushes the change into the ring
//! and sends it on the broadcast channel, and every subscriber takes its starting point
//! (snapshot or ring replay) under the read lock together with its receiver. So a client
//! sees each change exactly once: nothing slips between its snapshot and its stream.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::watcher::Event;
use parking_lot::RwLock;
use tokio::sync::broadcast;

use super::change::{
    ApiState, ApiStatus, Change, Diff, Epoch, EventsState, Position, Snapshot, Start,
};
use super::filter::Filter;
use super::history::{
    self, Contents, History, HistoryBounds, HistoryError, Log, Mark, Moment, Reopened, Rewind,
    Touched,
};
use super::intern::Interner;
use super::metrics::CacheMetrics;
use super::view::{NodeView, PodView};
use super::warnings::{self, Regarding, StoreChange, WarningView, Warnings};
use crate::k8s::{EventFields, Health, Kind, NodeFields, PodFields, Scope, Sink};

/// How many recent changes are kept for resuming clients.
pub const RING_CAPACITY: usize = 4096;
/// How many changes the shared channel holds before a slow client lags.
pub const CHANNEL_CAPACITY: usize = 1024;

/// A pod's identity: namespace and name (the view's own `Arc`s, not copies).
type PodKey = (Arc<str>, Arc<str>);

/// An event's identity during a re-list of its scope: namespace and name.
type EventKey = (String, String);

/// How often the app sweeps out warnings past their maximum age.
pub const WARNINGS_SWEEP: Duration = Duration::from_secs(15);

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

/// Replaces an entry's view by a copy `change` made; returns the old view and the new.
fn rewrite<V: Clone>(entry: &mut Entry<V>, change: impl FnOnce(&mut V)) -> (Arc<V>, Arc<V>) {
    let mut view = (*entry.view).clone();
    change(&mut view);
    let new = Arc::new(view);
    (std::mem::replace(&mut entry.view, new.clone()), new)
}

/// The keys of the entries `stale` selects, in key order (the caller removes each as
/// any deletion is removed, with its warnings).
fn keys_where<K: Ord + Clone, V>(
    map: &BTreeMap<K, Entry<V>>,
    stale: impl Fn(&K, &Entry<V>) -> bool,
) -> Vec<K> {
    map.iter()
        .filter(|(k, e)| stale(k, e))
        .map(|(k, _)| k.clone())
        .collect()
}

struct State<E> {
    epoch: Epoch,
    seq: u64,
    pods: BTreeMap<PodKey, Entry<PodView>>,
    nodes: BTreeMap<Arc<str>, Entry<NodeView>>,
    ring: VecDeque<Arc<Change<E>>>,
    interner: Interner,
    scopes: BTreeMap<Scope, ScopeState>,
    next_generation: u64,
    status: ApiStatus,
    cluster: Option<Arc<str>>,
    warnings: Warnings,
    events: EventsState,
    /// Per events scope in a re-list: the events it listed so far.
    event_relists: HashMap<Scope, HashSet<EventKey>>,
    /// Every change for a bounded window (`None` with `--history 0`).
    history: Option<History>,
    /// The seq at which every watched scope had first been listed: what came before is
    /// the initial load, not changes (`?recent=` does not mark it).
    first_sync: Option<u64>,
    /// The history's open segment is due to be sealed: [`Writing`] does it when the
    /// write lock is let go.
    seal_due: bool,
}

/// The write lock on a cache's state. A history checkpoint is the state at one seq, but
/// one mutation may publish several changes after changing the state once (a warning
/// and those it pushed out, a pod's warnings dropped with it): mid-way the state is
/// ahead of the seq. So a segment due to be sealed is sealed here, when the mutation is
/// done and the state is the state at the last seq.
struct Writing<'a, E> {
    st: parking_lot::RwLockWriteGuard<'a, State<E>>,
    metrics: &'a CacheMetrics,
}

impl<E> std::ops::Deref for Writing<'_, E> {
    type Target = State<E>;
    fn deref(&self) -> &State<E> {
        &self.st
    }
}

impl<E> std::ops::DerefMut for Writing<'_, E> {
    fn deref_mut(&mut self) -> &mut State<E> {
        &mut self.st
    }
}

impl<E> Drop for Writing<'_, E> {
    fn drop(&mut self) {
        let st = &mut *self.st;
        if !std::mem::take(&mut st.seal_due) {
            return;
        }
        // Out of the state while it seals: the checkpoint reads the rest of it.
        if let Some(mut history) = st.history.take() {
            checkpoint(&mut history, st);
            self.metrics.set_history(&history.stats());
            st.history = Some(history);
        }
    }
}

/// The shared cache; see the module docs for its locking discipline. `E` is what the
/// fan-out encodes of each change ([`Change::encoded`]).
pub struct Cache<E> {
    state: RwLock<State<E>>,
    tx: broadcast::Sender<Arc<Change<E>>>,
    metrics: CacheMetrics,
}

impl<E: Default> Default for Cache<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Default> Cache<E> {
    /// An empty cache with a fresh random epoch.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let epoch = Epoch(rand::random());
        Self {
            state: RwLock::new(State {
                epoch,
                seq: 0,
                pods: BTreeMap::new(),
                nodes: BTreeMap::new(),
                ring: VecDeque::with_capacity(RING_CAPACITY),
                interner: Interner::default(),
                scopes: BTreeMap::new(),
                next_generation: 1,
                status: ApiStatus::ok(),
                cluster: None,
                warnings: Warnings::default(),
                events: EventsState::Starting,
                event_relists: HashMap::new(),
                history: Some(History::new(
                    HistoryBounds::default(),
                    epoch,
                    0,
                    history::now_ms(),
                )),
                first_sync: None,
                seal_due: false,
            }),
            tx,
            metrics: CacheMetrics::default(),
        }
    }

    /// The state, to change (see [`Writing`]).
    fn write(&self) -> Writing<'_, E> {
        Writing {
            st: self.state.write(),
            metrics: &self.metrics,
        }
    }

    /// Names the cluster this cache mirrors: from then on its snapshots and JSON events
    /// carry `"cluster"`, so a tool reading several clusters' streams can tell them apart.
    pub fn name_cluster(&self, name: Arc<str>) {
        self.write().cluster = Some(name);
    }

    /// Keeps warnings for `max_age` after they were last seen (default one hour).
    pub fn set_warnings_max_age(&self, max_age: Duration) {
        self.write().warnings.set_max_age(max_age);
    }

    /// Keeps history within `bounds` (default one hour, 128 MiB), or none when they are
    /// zero. Starts afresh from the current state.
    pub fn set_history(&self, bounds: HistoryBounds) {
        let mut guard = self.write();
        let st = &mut *guard;
        st.history = None;
        if bounds.enabled() {
            let mut h = History::new(bounds, st.epoch, st.seq, history::now_ms());
            checkpoint(&mut h, st);
            st.history = Some(h);
        }
    }

    /// Keeps history within `bounds` in `dir` too (`--history-dir`), so it survives a
    /// restart: what the folder holds is read back, and this cache's seqs go on after
    /// the last change kept there (its epoch is its own). Call before any change. An
    /// error leaves a history in memory only.
    pub fn keep_history_in(
        &self,
        bounds: HistoryBounds,
        dir: &std::path::Path,
    ) -> std::io::Result<Option<Reopened>> {
        self.set_history(bounds);
        if !bounds.enabled() {
            return Ok(None);
        }
        let mut st = self.write();
        let (history, reopened) = History::open(bounds, st.epoch, dir, history::now_ms())?;
        st.seq = st.seq.max(reopened.next_seq);
        st.history = Some(history);
        self.metrics.history_persisting.set(1);
        Ok(Some(reopened))
    }

    /// Writes what the history kept since the last call to its folder and fsyncs (the
    /// app calls it every 500 ms, outside any lock of the cache). A failure (a full disk)
    /// turns persistence off: the history goes on in memory, and the error is returned
    /// once.
    pub fn flush_history(&self) -> std::io::Result<()> {
        let Some((disk, ops)) = self
            .state
            .write()
            .history
            .as_mut()
            .and_then(History::take_disk_ops)
        else {
            return Ok(());
        };
        let result = disk.apply(ops);
        if result.is_err() {
            self.metrics.history_persisting.set(0);
            self.metrics.history_disk_errors.inc();
        }
        result
    }

    /// What the history holds (`None` when it is off).
    pub fn history_stats(&self) -> Option<history::HistoryStats> {
        self.state.read().history.as_ref().map(History::stats)
    }

    /// The history's window in unix milliseconds (its oldest moment, now), without
    /// copying anything; `None` when it is off.
    pub fn history_window(&self) -> Option<(u64, u64)> {
        let st = self.state.read();
        st.history
            .as_ref()
            .map(|h| (h.oldest().time_ms, history::now_ms()))
    }

    /// A reader's copy of the history, taken in a moment under the read lock.
    pub fn history(&self) -> Result<Log, HistoryError> {
        let st = self.state.read();
        let history = st.history.as_ref().ok_or(HistoryError::Off)?;
        Ok(history.log(
            st.epoch,
            Mark {
                seq: st.seq,
                time_ms: history::now_ms(),
            },
        ))
    }

    /// The filtered state as it was at `moment`, and the change and time it resolved to.
    pub fn snapshot_at(
        &self,
        filter: &Filter,
        moment: &Moment,
    ) -> Result<(Snapshot, Mark), HistoryError> {
        let log = self.history()?;
        let at = log.resolve(moment)?;
        let rebuilt = log.rebuild(at)?;
        let cluster = self.state.read().cluster.clone();
        Ok((rebuilt.snapshot(log.epoch, filter, cluster), rebuilt.at))
    }

    /// The filtered state at `since` and every kept change after it through `until`
    /// (default: now), each change shaped as the live ones.
    pub fn rewind(
        &self,
        filter: &Filter,
        since: &Moment,
        until: Option<&Moment>,
    ) -> Result<Rewind<E>, HistoryError> {
        let log = self.history()?;
        let from = log.resolve(since)?;
        let until = match until {
            Some(m) => log.resolve(m)?,
            None => log.now,
        };
        let mut rebuilt = log.rebuild(from)?;
        let cluster = self.state.read().cluster.clone();
        let reset = rebuilt.snapshot(log.epoch, filter, cluster.clone());
        let (changes, times) = log
            .changes(&mut rebuilt, until.seq)?
            .into_iter()
            .map(|past| {
                let change = Arc::new(Change {
                    epoch: log.epoch,
                    seq: past.at.seq,
                    diff: past.diff,
                    published: std::time::Instant::now(),
                    cluster: cluster.clone(),
                    encoded: E::default(),
                });
                (change, past.at.time_ms)
            })
            .unzip();
        Ok(Rewind {
            from,
            until,
            reset,
            changes,
            times,
        })
    }

    /// What `filter` shows that changed in the `span` before `at` (default now): see
    /// [`history::summarize`]. A span reaching before the window starts at the window.
    pub fn recent(
        &self,
        filter: &Filter,
        at: Option<&Moment>,
        span: Duration,
    ) -> Result<Vec<Touched>, HistoryError> {
        let log = self.history()?;
        let until = match at {
            Some(m) => log.resolve(m)?,
            None => log.now,
        };
        let since_ms = until
            .time_ms
            .saturating_sub(u64::try_from(span.as_millis()).unwrap_or(u64::MAX));
        let mut from = match log.at_time(since_ms)? {
            Some(from) => from,
            None => log.window().map(|(from, _)| from).unwrap_or(until),
        };
        // The first list is the wall's starting point, not a stretch of changes.
        let first_sync = self.state.read().first_sync.unwrap_or(0);
        from.seq = from.seq.max(first_sync.min(until.seq));
        let mut rebuilt = log.rebuild(from)?;
        let changes = log.changes(&mut rebuilt, until.seq)?;
        Ok(history::summarize(
            changes.iter().map(|p| (p.at, &p.diff)),
            filter,
        ))
    }

    /// Where a client starts that asked for the changes since `moment`: the state then,
    /// and every kept change after it until now. Every change published before this
    /// call is in it or before it.
    pub fn start_since(&self, filter: &Filter, moment: &Moment) -> Result<Start<E>, HistoryError> {
        let rewind = self.rewind(filter, moment, None)?;
        Ok(Start::Rewound {
            reset: rewind.reset,
            changes: rewind.changes,
            through: rewind.until.seq,
        })
    }

    /// The metrics this cache updates.
    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// `Ok` once every registered scope has completed a full list; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        let st = self.state.read();
        let waiting: BTreeSet<Kind> = st
            .scopes
            .iter()
            // Warning events are optional: the wall is ready without them.
            .filter(|(scope, s)| !s.synced && scope.kind != Kind::Event)
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
        if st.status.state != ApiState::Ok {
            reason.push_str(&format!(
                " (apiserver {}: {})",
                st.status.state, st.status.message
            ));
        }
        Err(reason)
    }

    /// The API server health clients currently see.
    pub fn api_status(&self) -> ApiStatus {
        self.state.read().status.clone()
    }

    /// With `problems=1`, how many healthy pods `filter` folds away, given that it shows
    /// `shown`; `None` for any other filter.
    pub fn count_folded(&self, filter: &Filter, shown: usize) -> Option<usize> {
        filter.problems_only().then(|| {
            self.count_pods(&filter.clone().without_problems())
                .saturating_sub(shown)
        })
    }

    /// Whether the pod `namespace/name` is known and `filter` selects it.
    pub fn shows_pod(&self, filter: &Filter, namespace: &str, name: &str) -> bool {
        let st = self.state.read();
        st.pods
            .get(&(Arc::from(namespace), Arc::from(name)))
            .is_some_and(|e| filter.matches_pod(&e.view))
    }

    /// How many pods `filter` selects.
    pub fn count_pods(&self, filter: &Filter) -> usize {
        let st = self.state.read();
        st.pods
            .values()
            .filter(|e| filter.matches_pod(&e.view))
            .count()
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
    fn mark_unreadable(&self, scope: &Scope) {
        let mut st = self.write();
        st.scopes.entry(scope.clone()).or_default().synced = true;
    }

    /// A re-list of `scope` begins: objects it does not list again will be deleted.
    fn begin_relist(&self, scope: &Scope) {
        let mut st = self.write();
        let generation = st.next_generation;
        st.next_generation += 1;
        st.scopes.entry(scope.clone()).or_default().generation = generation;
    }

    /// A re-list of `scope` ended: deletes what it did not see, marks the scope synced.
    fn end_relist(&self, scope: &Scope) {
        let mut guard = self.write();
        let st = &mut *guard;
        let scope_state = st.scopes.entry(scope.clone()).or_default();
        scope_state.synced = true;
        let generation = scope_state.generation;
        match scope.kind {
            Kind::Pod => {
                let stale = keys_where(&st.pods, |k, e| {
                    e.generation != generation
                        && scope.namespace.as_ref().is_none_or(|ns| *ns == k.0)
                });
                for key in stale {
                    self.remove_pod(st, &key);
                }
            }
            Kind::Node => {
                let stale = keys_where(&st.nodes, |_, e| e.generation != generation);
                for name in stale {
                    self.remove_node(st, &name);
                }
            }
            // Events re-list through `end_warnings_relist`.
            Kind::Event => {}
        }
        if st.first_sync.is_none()
            && st
                .scopes
                .iter()
                .all(|(scope, s)| s.synced || scope.kind == Kind::Event)
        {
            st.first_sync = Some(st.seq);
        }
        self.update_gauges(st);
    }

    /// Inserts or updates a pod seen by `scope`; publishes only real changes. (The
    /// informer's events come through [`Sink`]; tests and benchmarks feed views here.)
    pub fn upsert_pod(&self, scope: &Scope, mut view: PodView) {
        let mut guard = self.write();
        let st = &mut *guard;
        st.interner.pod(&mut view);
        let object = st.warnings.pod_key(&view.namespace, &view.name);
        view.warning = object.as_ref().and_then(|o| st.warnings.latest_reason(o));
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
                        old: Some(old.clone()),
                        new: Some(new.clone()),
                    },
                );
                if let Some(object) = &object {
                    self.republish_warnings(st, object, Some(old), new);
                }
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
                        new: Some(new.clone()),
                    },
                );
                if let Some(object) = &object {
                    self.republish_warnings(st, object, None, new);
                }
                self.update_gauges(st);
            }
        }
        st.interner.sweep_if_grown();
    }

    /// Removes a pod.
    pub fn delete_pod(&self, namespace: &str, name: &str) {
        let mut guard = self.write();
        let st = &mut *guard;
        self.remove_pod(st, &(Arc::from(namespace), Arc::from(name)));
    }

    /// Removes a pod and publishes that, then drops its warnings.
    fn remove_pod(&self, st: &mut State<E>, key: &PodKey) {
        if let Some(old) = st.pods.remove(key) {
            self.publish(
                st,
                Diff::Pod {
                    old: Some(old.view.clone()),
                    new: None,
                },
            );
            self.drop_pod_warnings(st, &old.view);
            self.update_gauges(st);
        }
    }

    /// Inserts or updates a node; publishes only real changes.
    pub fn upsert_node(&self, scope: &Scope, mut view: NodeView) {
        let mut guard = self.write();
        let st = &mut *guard;
        view.name = st.interner.str(&view.name);
        view.warning = st.warnings.latest_reason(&st.warnings.node_key(&view.name));
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
        let mut guard = self.write();
        self.remove_node(&mut guard, name);
    }

    /// Removes a node and publishes that, then drops its warnings.
    fn remove_node(&self, st: &mut State<E>, name: &str) {
        if let Some(old) = st.nodes.remove(name) {
            self.publish(
                st,
                Diff::Node {
                    old: Some(old.view.clone()),
                    new: None,
                },
            );
            self.drop_node_warnings(st, &old.view.name);
            self.update_gauges(st);
        }
    }

    /// Records the health of one watch scope; publishes a status change when the
    /// overall health (the worst scope) changes.
    fn set_health(&self, scope: &Scope, health: Health) {
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
        let mut guard = self.write();
        let st = &mut *guard;
        let entry = st.scopes.entry(scope.clone()).or_default();
        if entry.health.as_ref() == Some(&health) {
            return;
        }
        entry.health = Some(health);
        if scope.kind == Kind::Event {
            // Optional: the warnings lane says how events are, the API server banner not.
            self.update_events_state(st);
            return;
        }
        let worst = st
            .scopes
            .iter()
            .filter(|(scope, _)| scope.kind != Kind::Event)
            .filter_map(|(_, s)| s.health.as_ref())
            .max_by_key(|h| h.rank());
        let messages: Vec<&str> = st
            .scopes
            .iter()
            .filter(|(scope, _)| scope.kind != Kind::Event)
            .filter_map(|(_, s)| s.health.as_ref()?.message())
            .collect();
        let status = ApiStatus {
            state: match worst {
                None | Some(Health::Ok) => ApiState::Ok,
                Some(Health::Reconnecting(_)) => ApiState::Reconnecting,
                Some(Health::Forbidden(_)) => ApiState::Forbidden,
                Some(Health::Error(_) | Health::Unavailable(_)) => ApiState::Error,
            },
            message: messages.join("; "),
        };
        if status != st.status {
            st.status = status.clone();
            self.publish(st, Diff::Status(status));
        }
    }

    /// The events state from the events scopes' health: the worst, `starting` until each
    /// has listed once; published when it changes.
    fn update_events_state(&self, st: &mut State<E>) {
        let scopes: Vec<&ScopeState> = st
            .scopes
            .iter()
            .filter(|(scope, _)| scope.kind == Kind::Event)
            .map(|(_, s)| s)
            .collect();
        let has = |f: fn(&Health) -> bool| scopes.iter().any(|s| s.health.as_ref().is_some_and(f));
        let state = if has(|h| matches!(h, Health::Forbidden(_))) {
            EventsState::Forbidden
        } else if has(|h| matches!(h, Health::Unavailable(_))) {
            EventsState::Unavailable
        } else if has(|h| matches!(h, Health::Reconnecting(_) | Health::Error(_))) {
            EventsState::Reconnecting
        } else if !scopes.is_empty() && scopes.iter().all(|s| s.synced) {
            EventsState::Ok
        } else {
            EventsState::Starting
        };
        if state != st.events {
            st.events = state;
            self.publish(st, Diff::Events(state));
        }
    }

    /// Keeps a Warning event (or updates it); publishes it and what it pushed out, and the
    /// views of its pod or node when their newest reason changes.
    pub fn upsert_warning(&self, event: &EventFields) {
        // The API server filters with `type=Warning`; this only guards against one that
        // ignores the selector.
        if event.type_.as_deref().is_some_and(|t| t != "Warning") {
            return;
        }
        let now = jiff::Timestamp::now();
        let mut guard = self.write();
        let st = &mut *guard;
        let (pods, nodes) = (&st.pods, &st.nodes);
        let known = |kind: &str, ns: Option<&str>, name: &str| -> Option<Arc<str>> {
            match (kind, ns) {
                ("Pod", Some(ns)) => pods
                    .get(&(Arc::from(ns), Arc::from(name)))
                    .map(|e| e.view.name.clone()),
                ("Node", None) => nodes.get(name).map(|e| e.view.name.clone()),
                _ => None,
            }
        };
        let view = match st.warnings.view_of(event, now, known) {
            Ok(view) => view,
            Err(e) => {
                tracing::debug!(error = %e, "skipping an event");
                return;
            }
        };
        let changes = st.warnings.upsert(view, now);
        self.publish_warnings(st, changes);
    }

    /// Forgets a deleted Warning event.
    pub fn delete_warning(&self, event: &EventFields) {
        let mut guard = self.write();
        let st = &mut *guard;
        let (Some(name), Some(object)) = (
            event.metadata.name.as_deref(),
            event.regarding.name.as_deref(),
        ) else {
            return;
        };
        let Some(key) = st.warnings.key_of(
            event.regarding.kind.as_deref().unwrap_or(""),
            event
                .regarding
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty()),
            object,
        ) else {
            return;
        };
        if let Some(old) = st.warnings.remove(&key, name) {
            self.publish_warnings(st, vec![(Some(old), None)]);
        }
    }

    /// Drops the warnings past their maximum age (the app calls it every
    /// [`WARNINGS_SWEEP`]).
    pub fn expire_warnings(&self) {
        let now = jiff::Timestamp::now();
        let mut guard = self.write();
        let st = &mut *guard;
        if st.warnings.is_empty() {
            return;
        }
        let gone = st.warnings.expire(now);
        self.publish_warnings(st, gone.into_iter().map(|w| (Some(w), None)).collect());
    }

    /// A re-list of an events scope ended: drops the warnings it did not list.
    fn end_warnings_relist(&self, scope: &Scope) {
        let mut guard = self.write();
        let st = &mut *guard;
        st.scopes.entry(scope.clone()).or_default().synced = true;
        if let Some(seen) = st.event_relists.remove(scope) {
            let gone = st.warnings.remove_where(|w| {
                scope
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == w.namespace())
                    && !seen.contains(&(w.namespace().to_owned(), w.name().into_owned()))
            });
            self.publish_warnings(st, gone.into_iter().map(|w| (Some(w), None)).collect());
        }
        self.update_events_state(st);
    }

    /// Publishes store changes: first the warnings that went (with their pod as it
    /// was), then the pod and node views whose newest reason changed, then the warnings
    /// that came (with their pod as it is now), so a filter reading a view's `warning`
    /// sees each warning while it sees its object.
    fn publish_warnings(&self, st: &mut State<E>, changes: Vec<StoreChange>) {
        if changes.is_empty() {
            return;
        }
        let (gone, came): (Vec<_>, Vec<_>) =
            changes.into_iter().partition(|(_, new)| new.is_none());
        let mut objects: Vec<Arc<Regarding>> = Vec::new();
        for (old, new) in gone.into_iter().chain(came.iter().cloned()) {
            if let Some(w) = old.as_ref().or(new.as_ref())
                && !objects
                    .iter()
                    .any(|o| Arc::ptr_eq(o, &w.regarding) || **o == *w.regarding)
            {
                objects.push(w.regarding.clone());
            }
            if new.is_none() {
                let pod = pod_of(st, old.as_deref());
                self.publish(
                    st,
                    Diff::Warning {
                        old,
                        new: None,
                        pod: (pod.clone(), pod),
                    },
                );
            }
        }
        for object in &objects {
            self.refresh_reason(st, object);
        }
        for (old, new) in came {
            let pod = pod_of(st, new.as_deref());
            self.publish(
                st,
                Diff::Warning {
                    old,
                    new,
                    pod: (pod.clone(), pod),
                },
            );
        }
        self.update_gauges(st);
    }

    /// Sets the `warning` of `object`'s view (a pod or node) to its newest reason;
    /// publishes the view when that changed.
    fn refresh_reason(&self, st: &mut State<E>, object: &Regarding) {
        let reason = st.warnings.latest_reason(object);
        if object.is_pod() {
            let Some(ns) = object.namespace() else { return };
            let key = (ns.clone(), object.name.clone());
            let Some(entry) = st.pods.get_mut(&key) else {
                return;
            };
            if entry.view.warning == reason {
                return;
            }
            let (old, new) = rewrite(entry, |v| v.warning = reason);
            self.publish(
                st,
                Diff::Pod {
                    old: Some(old),
                    new: Some(new),
                },
            );
        } else if object.is_node() {
            let Some(entry) = st.nodes.get_mut(&object.name) else {
                return;
            };
            if entry.view.warning == reason {
                return;
            }
            let (old, new) = rewrite(entry, |v| v.warning = reason);
            self.publish(
                st,
                Diff::Node {
                    old: Some(old),
                    new: Some(new),
                },
            );
        }
    }

    /// A pod with warnings changed: its warnings again, with the pod before and after,
    /// for the filtered clients it entered or left (see the module docs).
    fn republish_warnings(
        &self,
        st: &mut State<E>,
        object: &Regarding,
        before: Option<Arc<PodView>>,
        after: Arc<PodView>,
    ) {
        let kept: Vec<Arc<WarningView>> = st.warnings.of(object).cloned().collect();
        for w in kept {
            self.publish(
                st,
                Diff::Warning {
                    old: Some(w.clone()),
                    new: Some(w),
                    pod: (before.clone(), Some(after.clone())),
                },
            );
        }
    }

    /// A pod went: so do its warnings.
    fn drop_pod_warnings(&self, st: &mut State<E>, pod: &Arc<PodView>) {
        let Some(object) = st.warnings.pod_key(&pod.namespace, &pod.name) else {
            return;
        };
        for w in st.warnings.remove_object(&object) {
            self.publish(
                st,
                Diff::Warning {
                    old: Some(w),
                    new: None,
                    pod: (Some(pod.clone()), None),
                },
            );
        }
    }

    /// A node went: so do its warnings.
    fn drop_node_warnings(&self, st: &mut State<E>, name: &Arc<str>) {
        let object = st.warnings.node_key(name);
        for w in st.warnings.remove_object(&object) {
            self.publish(
                st,
                Diff::Warning {
                    old: Some(w),
                    new: None,
                    pod: (None, None),
                },
            );
        }
    }

    /// A filtered snapshot of the current state.
    pub fn snapshot(&self, filter: &Filter) -> Snapshot {
        let mut snap = snapshot_of(&self.state.read(), filter);
        // After the lock: sorting tens of thousands of warnings must not hold up changes.
        warnings::sort_newest_first(&mut snap.warnings);
        snap
    }

    /// Where a client starts: a replay of the changes after `resume` when that position
    /// is in this epoch and still in the ring, else a reset. Every change published
    /// before this call is in it.
    pub fn start(&self, filter: &Filter, resume: Option<Position>) -> Start<E> {
        let mut start = start_of(&self.state.read(), filter, resume);
        if let Start::Reset(snap) = &mut start {
            warnings::sort_newest_first(&mut snap.warnings);
        }
        start
    }

    /// Every change from now on, as it is published.
    pub fn changes(&self) -> broadcast::Receiver<Arc<Change<E>>> {
        self.tx.subscribe()
    }

    fn publish(&self, st: &mut State<E>, diff: Diff) {
        st.seq += 1;
        let change = Arc::new(Change {
            epoch: st.epoch,
            seq: st.seq,
            diff,
            published: std::time::Instant::now(),
            cluster: st.cluster.clone(),
            encoded: E::default(),
        });
        if let Some(history) = st.history.as_mut() {
            if history.record(st.seq, &change.diff, history::now_ms()) {
                st.seal_due = true;
            } else if st.seq.is_multiple_of(256) {
                self.metrics.set_history(&history.stats());
            }
        }
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

    fn update_gauges(&self, st: &State<E>) {
        self.metrics.set_objects(Kind::Pod, st.pods.len());
        self.metrics.set_objects(Kind::Node, st.nodes.len());
        self.metrics.set_objects(Kind::Event, st.warnings.len());
    }
}

/// The informer's events, applied in place: a re-list tags what it sees and drops the
/// rest at its end, so it costs no second copy of the cluster.
impl<E: Default + Send + Sync + 'static> Sink for Cache<E> {
    fn watching(&self, scope: &Scope) {
        self.write().scopes.entry(scope.clone()).or_default();
    }

    fn pods(&self, scope: &Scope, event: Event<PodFields>) {
        match event {
            Event::Init => self.begin_relist(scope),
            Event::InitDone => self.end_relist(scope),
            Event::InitApply(pod) | Event::Apply(pod) => match PodView::from_fields(&pod) {
                Ok(view) => self.upsert_pod(scope, view),
                Err(e) => tracing::warn!(error = %e, "skipping a pod"),
            },
            Event::Delete(pod) => {
                if let (Some(ns), Some(name)) = (
                    pod.metadata.namespace.as_deref(),
                    pod.metadata.name.as_deref(),
                ) {
                    self.delete_pod(ns, name);
                }
            }
        }
    }

    fn nodes(&self, scope: &Scope, event: Event<NodeFields>) {
        match event {
            Event::Init => self.begin_relist(scope),
            Event::InitDone => self.end_relist(scope),
            Event::InitApply(node) | Event::Apply(node) => match NodeView::from_fields(&node) {
                Ok(view) => self.upsert_node(scope, view),
                Err(e) => tracing::warn!(error = %e, "skipping a node"),
            },
            Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.delete_node(name);
                }
            }
        }
    }

    fn warnings(&self, scope: &Scope, event: Event<EventFields>) {
        match event {
            Event::Init => {
                self.state
                    .write()
                    .event_relists
                    .insert(scope.clone(), HashSet::new());
            }
            Event::InitDone => self.end_warnings_relist(scope),
            Event::InitApply(e) => {
                if let (Some(ns), Some(name)) = (&e.metadata.namespace, &e.metadata.name)
                    && let Some(seen) = self.write().event_relists.get_mut(scope)
                {
                    seen.insert((ns.clone(), name.clone()));
                }
                self.upsert_warning(&e);
            }
            Event::Apply(e) => self.upsert_warning(&e),
            Event::Delete(e) => self.delete_warning(&e),
        }
    }

    fn health(&self, scope: &Scope, health: Health) {
        self.set_health(scope, health);
    }

    fn unreadable(&self, scope: &Scope) {
        self.mark_unreadable(scope);
    }
}

/// Seals `history`'s open segment with a checkpoint of `st` (whose own history the
/// caller took out meanwhile).
fn checkpoint<E>(history: &mut History, st: &State<E>) {
    history.seal(
        st.seq,
        Contents {
            nodes: st.nodes.values().map(|e| &*e.view),
            pods: st.pods.values().map(|e| &*e.view),
            warnings: st.warnings.all().map(|w| &**w),
            status: &st.status,
            events: st.events,
        },
    );
}

/// The pod a warning is about, when it is about a known pod.
fn pod_of<E>(st: &State<E>, w: Option<&WarningView>) -> Option<Arc<PodView>> {
    let r = &w?.regarding;
    if !r.is_pod() {
        return None;
    }
    let key = (r.namespace()?.clone(), r.name.clone());
    st.pods.get(&key).map(|e| e.view.clone())
}

fn snapshot_of<E>(st: &State<E>, filter: &Filter) -> Snapshot {
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
        // Unsorted: the callers sort them after letting go of the lock.
        warnings: st
            .warnings
            .all()
            .filter(|w| warnings::visible(filter, w, pod_of(st, Some(w)).as_deref()))
            .cloned()
            .collect(),
        apiserver: st.status.clone(),
        events: st.events,
        cluster: st.cluster.clone(),
    }
}

fn start_of<E>(st: &State<E>, filter: &Filter, resume: Option<Position>) -> Start<E> {
    match resume.and_then(|p| replay_after(st, p)) {
        Some(replay) => Start::Replay(replay),
        None => Start::Reset(snapshot_of(st, filter)),
    }
}

fn replay_after<E>(st: &State<E>, p: Position) -> Option<Vec<Arc<Change<E>>>> {
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
    use crate::state::fixtures;

    fn pod(ns: &str, name: &str, status: &str) -> PodView {
        PodView {
            status: status.into(),
            ..fixtures::pod(ns, name)
        }
    }

    fn scope() -> Scope {
        fixtures::pods_scope()
    }

    #[test]
    fn relist_deletes_only_unseen_and_publishes_only_changes() {
        let cache = Cache::<()>::new();
        cache.watching(&scope());
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
        let cache = Cache::<()>::new();
        cache.upsert_pod(&scope(), pod("a", "1", "Pending"));
        let at = cache.position();
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        cache.delete_pod("a", "1");
        let start = cache.start(&Filter::default(), Some(at));
        let Start::Replay(changes) = start else {
            panic!("expected a replay")
        };
        assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3]);
        let other_epoch = Position {
            epoch: Epoch(at.epoch.0 ^ 1),
            seq: 1,
        };
        assert!(matches!(
            cache.start(&Filter::default(), Some(other_epoch)),
            Start::Reset(_)
        ));
        let future = Position {
            epoch: at.epoch,
            seq: 99,
        };
        assert!(matches!(
            cache.start(&Filter::default(), Some(future)),
            Start::Reset(_)
        ));
    }

    #[test]
    fn resume_outside_the_ring_resets() {
        let cache = Cache::<()>::new();
        let at = cache.position();
        for i in 0..RING_CAPACITY + 2 {
            cache.upsert_pod(&scope(), pod("a", &i.to_string(), "Running"));
        }
        assert!(matches!(
            cache.start(&Filter::default(), Some(at)),
            Start::Reset(_)
        ));
    }

    #[test]
    fn health_is_the_worst_scope() {
        let cache = Cache::<()>::new();
        let nodes = Scope {
            kind: Kind::Node,
            namespace: None,
        };
        cache.health(&scope(), Health::Ok);
        cache.health(&nodes, Health::Forbidden("nodes is forbidden".into()));
        assert_eq!(
            cache.snapshot(&Filter::default()).apiserver.state,
            ApiState::Forbidden
        );
        cache.health(&nodes, Health::Ok);
        assert_eq!(
            cache.snapshot(&Filter::default()).apiserver,
            ApiStatus::ok()
        );
    }

    fn warning(kind: &str, ns: &str, name: &str, reason: &str) -> EventFields {
        serde_json::from_value(fixtures::warning_event(kind, ns, name, reason, "why"))
            .expect("event")
    }

    /// One of three events about pod `a/pod` (or node `n0`), seen again: a count, a
    /// reason and a time that vary; the third named unusually (kept with its own name).
    fn repeated_warning(rng: &mut impl rand::Rng, pod: &str) -> EventFields {
        let which = rng.random_range(0..3u8);
        let (kind, object, ns, object_ns) = if rng.random_bool(0.2) {
            ("Node", "n0", "default", None)
        } else {
            ("Pod", pod, "a", Some("a"))
        };
        let name = match which {
            2 => format!("other-{object}"),
            n => format!("{object}.{:x}", 0x17f0_0000_0000 + u64::from(n)),
        };
        let reason = ["BackOff", "Unhealthy", "FailedMount"][rng.random_range(0..3)];
        let seen =
            jiff::Timestamp::now() - jiff::SignedDuration::from_secs(rng.random_range(0..600));
        serde_json::from_value(serde_json::json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "eventTime": seen.to_string(),
            "deprecatedCount": rng.random_range(1..50),
            "regarding": {"kind": kind, "namespace": object_ns, "name": object},
            "reason": reason,
            "note": format!("note {}", rng.random_range(0..4)),
            "type": "Warning",
        }))
        .expect("event")
    }

    #[test]
    fn forbidden_events_leave_the_apiserver_ok_and_readiness_alone() {
        let cache = Cache::<()>::new();
        let events = fixtures::events_scope();
        cache.watching(&scope());
        cache.watching(&events);
        cache.begin_relist(&scope());
        cache.end_relist(&scope());
        assert!(cache.readiness().is_ok(), "events are optional");
        cache.health(&scope(), Health::Ok);
        cache.health(&events, Health::Forbidden("events is forbidden".into()));
        let snap = cache.snapshot(&Filter::default());
        assert_eq!(snap.apiserver, ApiStatus::ok());
        assert_eq!(snap.events, EventsState::Forbidden);
        cache.health(&events, Health::Ok);
        cache.warnings(&events, Event::Init);
        cache.warnings(&events, Event::InitDone);
        assert_eq!(cache.snapshot(&Filter::default()).events, EventsState::Ok);
    }

    #[test]
    fn a_warning_joins_its_pod_and_goes_with_it_or_a_relist() {
        let cache = Cache::<()>::new();
        let events = fixtures::events_scope();
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        let mut rx = cache.changes();
        cache.warnings(&events, Event::Apply(warning("Pod", "a", "1", "BackOff")));
        let first = rx.try_recv().expect("the pod's change");
        let Diff::Pod { new: Some(p), .. } = &first.diff else {
            panic!("the pod first: {:?}", first.diff)
        };
        assert_eq!(p.warning.as_deref(), Some("BackOff"));
        let second = rx.try_recv().expect("the warning");
        assert!(
            matches!(&second.diff, Diff::Warning { new: Some(w), pod: (_, Some(_)), .. } if &*w.reason == "BackOff")
        );
        // Re-listed without it: it goes, and the pod's mark with it.
        cache.warnings(&events, Event::Init);
        cache.warnings(
            &events,
            Event::InitApply(warning("Node", "", "n1", "NodeNotReady")),
        );
        cache.warnings(&events, Event::InitDone);
        let snap = cache.snapshot(&Filter::default());
        assert_eq!(snap.warnings.len(), 1);
        assert_eq!(&*snap.warnings[0].reason, "NodeNotReady");
        assert_eq!(snap.pods[0].warning, None);
        // A new warning, then the pod goes: so does the warning.
        cache.warnings(&events, Event::Apply(warning("Pod", "a", "1", "Unhealthy")));
        cache.delete_pod("a", "1");
        let snap = cache.snapshot(&Filter::default());
        assert!(snap.warnings.iter().all(|w| !w.regarding.is_pod()));
    }

    /// The property: the state rebuilt at a past change equals the state the cache held
    /// live at that change, object by object, over many seeds of random upserts,
    /// deletes, re-lists, health changes and warnings (new ones pushing older ones out,
    /// the same events seen again, deleted, about nodes, of unusual names). Snapshots are
    /// taken between steps; the published changes give the pods, nodes and warnings at
    /// every change, also those inside a re-list's deletions or a warning's batch, where a
    /// segment may be due to be sealed.
    #[test]
    fn the_wall_rebuilt_at_a_past_change_is_the_wall_then() {
        use rand::{Rng, SeedableRng};
        let events = fixtures::events_scope();
        let statuses = [
            "Running",
            "Pending",
            "CrashLoopBackOff",
            "Completed",
            "Terminating",
        ];
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let cache = Cache::<()>::new();
            let nodes = Scope {
                kind: Kind::Node,
                namespace: None,
            };
            let mut recorded = Vec::new();
            let mut rx = cache.changes();
            let mut pods: BTreeMap<PodKey, Arc<PodView>> = BTreeMap::new();
            let mut nodes_then: BTreeMap<Arc<str>, Arc<NodeView>> = BTreeMap::new();
            let mut warnings_then: Vec<Arc<WarningView>> = Vec::new();
            let mut every = Vec::new();
            for step in 0..600 {
                let name = format!("p{}", rng.random_range(0..40));
                match rng.random_range(0..100) {
                    0..60 => {
                        let mut p = pod("a", &name, statuses[rng.random_range(0..statuses.len())]);
                        p.restarts = rng.random_range(0..4);
                        p.node = Some(Arc::from(format!("n{}", rng.random_range(0..4))));
                        p.labels = crate::state::Labels::from_pairs([(
                            "app",
                            format!("x{}", rng.random_range(0..3)),
                        )]);
                        cache.upsert_pod(&scope(), p);
                    }
                    60..72 => cache.delete_pod("a", &name),
                    72..80 => {
                        let mut n = fixtures::node(&format!("n{}", rng.random_range(0..4)));
                        n.ready = rng.random_bool(0.7);
                        n.unschedulable = rng.random_bool(0.2);
                        cache.upsert_node(&nodes, n);
                    }
                    80..83 => cache.delete_node(&format!("n{}", rng.random_range(0..4))),
                    83..88 => cache.health(
                        &scope(),
                        if rng.random_bool(0.5) {
                            Health::Ok
                        } else {
                            Health::Forbidden("no".into())
                        },
                    ),
                    88..91 => {
                        cache.warnings(&events, Event::Apply(warning("Pod", "a", &name, "BackOff")))
                    }
                    // One of a few events per pod again, counted up, seen later, or
                    // deleted; one about a node; one of another namespace's name.
                    91..96 => {
                        let e = repeated_warning(&mut rng, &name);
                        if rng.random_bool(0.2) {
                            cache.warnings(&events, Event::Delete(e));
                        } else {
                            cache.warnings(&events, Event::Apply(e));
                        }
                    }
                    _ => {
                        // A re-list that sees only some pods: the rest are deleted.
                        cache.begin_relist(&scope());
                        for i in 0..40 {
                            if rng.random_bool(0.5) {
                                cache.upsert_pod(&scope(), pod("a", &format!("p{i}"), "Running"));
                            }
                        }
                        cache.end_relist(&scope());
                    }
                }
                while let Ok(change) = rx.try_recv() {
                    match &change.diff {
                        Diff::Pod { old, new } => {
                            if let Some(p) = old {
                                pods.remove(&(p.namespace.clone(), p.name.clone()));
                            }
                            if let Some(p) = new {
                                pods.insert((p.namespace.clone(), p.name.clone()), p.clone());
                            }
                        }
                        Diff::Node { old, new } => {
                            if let Some(n) = old {
                                nodes_then.remove(&n.name);
                            }
                            if let Some(n) = new {
                                nodes_then.insert(n.name.clone(), n.clone());
                            }
                        }
                        Diff::Warning { old, new, .. } => {
                            if let Some(w) = old {
                                warnings_then.retain(|k| k != w);
                            }
                            if let Some(w) = new {
                                warnings_then.push(w.clone());
                            }
                        }
                        _ => {}
                    }
                    let mut warnings_now = warnings_then.clone();
                    warnings::sort_newest_first(&mut warnings_now);
                    every.push((
                        Position {
                            epoch: change.epoch,
                            seq: change.seq,
                        },
                        pods.values().cloned().collect::<Vec<_>>(),
                        nodes_then.values().cloned().collect::<Vec<_>>(),
                        warnings_now,
                    ));
                }
                if step % 7 == 0 {
                    recorded.push(cache.snapshot(&Filter::default()));
                }
            }
            // Every change of the first seeds (a rebuild each: seconds, not minutes).
            for (at, pods, nodes, warnings) in every.iter().filter(|_| seed < 8) {
                let (past, _) = cache
                    .snapshot_at(&Filter::default(), &Moment::After(*at))
                    .expect("inside the window");
                assert_eq!(&past.pods, pods, "seed {seed} at change {}", at.seq);
                assert_eq!(&past.nodes, nodes, "seed {seed} at change {}", at.seq);
                assert_eq!(&past.warnings, warnings, "seed {seed} at change {}", at.seq);
            }
            for live in &recorded {
                let (past, at) = cache
                    .snapshot_at(&Filter::default(), &Moment::After(live.position()))
                    .expect("inside the window");
                assert_eq!(at.seq, live.seq, "seed {seed}");
                assert_eq!(past.seq, live.seq, "seed {seed}");
                assert_eq!(past.pods, live.pods, "seed {seed} at seq {}", live.seq);
                assert_eq!(past.nodes, live.nodes, "seed {seed} at seq {}", live.seq);
                assert_eq!(
                    past.warnings, live.warnings,
                    "seed {seed} at seq {}",
                    live.seq
                );
                assert_eq!(past.events, live.events, "seed {seed} at seq {}", live.seq);
                assert_eq!(
                    past.apiserver, live.apiserver,
                    "seed {seed} at seq {}",
                    live.seq
                );
            }
            let log = cache.history().expect("on");
            assert!(
                log.segments_for_test() > 3,
                "seed {seed}: checkpoints were crossed"
            );
        }
    }

    #[test]
    fn since_a_past_change_the_stream_replays_to_now() {
        let cache = Cache::<()>::new();
        cache.upsert_pod(&scope(), pod("a", "1", "Pending"));
        let then = cache.position();
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        cache.upsert_pod(&scope(), pod("a", "2", "Running"));
        cache.delete_pod("a", "1");
        let Ok(Start::Rewound {
            reset,
            changes,
            through,
        }) = cache.start_since(&Filter::default(), &Moment::After(then))
        else {
            panic!("a rewound start")
        };
        assert_eq!(reset.seq, then.seq);
        assert_eq!(&*reset.pods[0].status, "Pending");
        assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(through, 4);
        cache.set_history(HistoryBounds {
            window: Duration::ZERO,
            ..HistoryBounds::default()
        });
        assert!(matches!(cache.history(), Err(HistoryError::Off)));
    }

    /// Changes kept in a folder come back after a restart: the wall at each of them is
    /// the wall it was, seqs go on after them, and the old event ids still name them.
    #[test]
    fn a_history_kept_on_disk_survives_a_restart_and_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bounds = HistoryBounds::default();
        let first = Cache::<()>::new();
        assert!(
            first
                .keep_history_in(bounds, dir.path())
                .expect("opens")
                .is_some()
        );
        let mut recorded = Vec::new();
        for i in 0..300 {
            let status = ["Running", "Pending", "CrashLoopBackOff"][i % 3];
            first.upsert_pod(&scope(), pod("a", &format!("p{}", i % 17), status));
            if i % 5 == 0 {
                first.delete_pod("a", &format!("p{}", i % 13));
            }
            if i % 20 == 0 {
                first.flush_history().expect("written");
                recorded.push(first.snapshot(&Filter::default()));
            }
        }
        first.flush_history().expect("written");
        let last = first.position();
        drop(first);

        let again = Cache::<()>::new();
        let reopened = again
            .keep_history_in(bounds, dir.path())
            .expect("opens")
            .expect("on");
        assert_eq!(reopened.next_seq, last.seq + 1);
        assert_eq!(reopened.repaired, 0);
        assert_eq!(again.position().seq, last.seq + 1, "seqs go on");
        for live in &recorded {
            let (past, _) = again
                .snapshot_at(&Filter::default(), &Moment::After(live.position()))
                .expect("an earlier run's event id");
            assert_eq!((past.seq, &past.pods), (live.seq, &live.pods));
        }
        again.upsert_pod(&scope(), pod("b", "new", "Running"));
        again.flush_history().expect("written");
        drop(again);

        // A crash mid-write: the newest file ends in half a frame and some junk.
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        let newest = files.last().expect("a file").clone();
        let mut bytes = std::fs::read(&newest).expect("read");
        bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
        std::fs::write(&newest, &bytes).expect("write");
        let third = Cache::<()>::new();
        let reopened = third
            .keep_history_in(bounds, dir.path())
            .expect("opens")
            .expect("on");
        assert_eq!(reopened.repaired, 1, "the torn tail was cut");
        let live = recorded.last().expect("recorded");
        let (past, _) = third
            .snapshot_at(&Filter::default(), &Moment::After(live.position()))
            .expect("still there");
        assert_eq!(past.pods, live.pods);
    }

    /// A write that fails (here: the next file is /dev/full, ENOSPC) turns persistence
    /// off with an error once and a metric; the history goes on in memory.
    #[test]
    fn a_full_disk_falls_back_to_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::<()>::new();
        std::os::unix::fs::symlink("/dev/full", dir.path().join("00000000000000000000.seg"))
            .expect("symlink");
        cache
            .keep_history_in(HistoryBounds::default(), dir.path())
            .expect("opens");
        assert_eq!(cache.metrics().history_persisting.get(), 1);
        cache.upsert_pod(&scope(), pod("a", "1", "Running"));
        let at = cache.position();
        let err = cache.flush_history().expect_err("the disk is full");
        assert!(err.to_string().contains("space"), "{err}");
        assert_eq!(cache.metrics().history_persisting.get(), 0);
        assert_eq!(cache.metrics().history_disk_errors.get(), 1);
        cache.upsert_pod(&scope(), pod("a", "1", "Pending"));
        assert!(
            cache.flush_history().is_ok(),
            "off now: nothing more to write"
        );
        let (past, _) = cache
            .snapshot_at(&Filter::default(), &Moment::After(at))
            .expect("in memory");
        assert_eq!(&*past.pods[0].status, "Running");
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
