//! The kept Warning events: per object the latest few, a bound on the total, expiry after
//! a maximum age; compact enough for 50,000 of them in a few MiB.
//!
//! Kept compactly (BENCHMARKS.md, "Warnings"): reasons, namespaces, kinds and messages are
//! interned (FailedScheduling messages repeat across every pending pod of a workload);
//! the object a warning is about is one shared [`Regarding`] per object, whose name the
//! cache takes from the pod or node view when it knows the object; an event of the usual
//! name `<object name>.<hex>` in its object's namespace keeps only the number. There is no index by event
//! name: an event carries its `regarding`, so a lookup goes through the object's few
//! warnings. Expiry and the total bound scan everything, but only every sweep or every
//! sixteenth of the bound, so the work stays amortised O(1) per event.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::filter::Filter;
use super::intern::Interner;
use super::view::{PodView, ViewError};
use crate::k8s::EventFields;

/// Longest kept message in bytes (UTF-8), the cut marked with "…": two screen lines of
/// the lane and the details hold less; a scheduler's message about a big cluster runs to
/// kilobytes and says nothing more useful after its first sentences.
pub const MESSAGE_LIMIT: usize = 512;
/// Warnings kept per object: the newest by last-seen time.
pub const PER_OBJECT: usize = 3;
/// Warnings kept cluster-wide; beyond it the oldest go.
pub const MAX_WARNINGS: usize = 50_000;
/// How long a warning is kept after it was last seen, unless `--warnings-max-age` says.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The kinds the wall draws, interned once: pods' and nodes' warnings join their views.
pub(super) const POD: &str = "Pod";
const NODE: &str = "Node";

/// A kind of object in a namespace: one shared copy per pair (a few kinds times the
/// namespaces), so an object's key holds one pointer for both.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ObjectScope {
    /// `Pod`, `Node`, `Deployment`, … (interned).
    kind: Arc<str>,
    /// `None` for cluster-scoped objects (interned).
    namespace: Option<Arc<str>>,
}

/// The object a warning is about (`regarding`); one shared copy per object.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Regarding {
    scope: Arc<ObjectScope>,
    /// The object's name (the pod's or node's own `Arc` when the cache knows it).
    pub name: Arc<str>,
}

impl Regarding {
    /// The object `kind` `namespace/name`, outside any store (a rebuilt past warning's).
    pub fn new(kind: Arc<str>, namespace: Option<Arc<str>>, name: Arc<str>) -> Self {
        Self {
            scope: Arc::new(ObjectScope { kind, namespace }),
            name,
        }
    }

    /// `Pod`, `Node`, `Deployment`, …
    pub fn kind(&self) -> &str {
        &self.scope.kind
    }

    /// The object's namespace; `None` for cluster-scoped objects.
    pub fn namespace(&self) -> Option<&Arc<str>> {
        self.scope.namespace.as_ref()
    }

    /// Whether it is a pod.
    pub fn is_pod(&self) -> bool {
        self.kind() == POD
    }

    /// Whether it is a node.
    pub fn is_node(&self) -> bool {
        self.kind() == NODE
    }
}

/// An event's namespace and name: the number of the usual `<object name>.<hex>` (what
/// client-go's recorder writes) in the object's namespace (`default` for a cluster-scoped
/// object, where the kubelet writes node events), or both spelled out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EventName {
    /// `<regarding.name>.<this in lower-case hex, no leading zeros>`, in the usual
    /// namespace.
    Suffix(u64),
    /// Any other namespace and name (one pointer, so the usual case stays small).
    Own(Arc<OwnName>),
}

/// An event's namespace (interned) and name, when they are not the usual ones.
#[derive(Debug, PartialEq, Eq)]
struct OwnName {
    namespace: Arc<str>,
    name: Box<str>,
}

/// Where the kubelet and controllers write events about cluster-scoped objects.
const CLUSTER_EVENTS_NAMESPACE: &str = "default";

/// One kept warning, shared by the store, the changes and the snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningView {
    name: EventName,
    /// What it is about.
    pub regarding: Arc<Regarding>,
    /// `FailedScheduling`, `BackOff`, … (interned).
    pub reason: Arc<str>,
    /// The note, cut to [`MESSAGE_LIMIT`] bytes at a character boundary (interned).
    pub message: Arc<str>,
    /// How many times it happened.
    pub count: u32,
    /// When it was last seen, Unix seconds (a `u32` lasts until 2106).
    last_seen: u32,
}

impl WarningView {
    /// The event's namespace.
    pub fn namespace(&self) -> &str {
        match &self.name {
            EventName::Own(own) => &own.namespace,
            EventName::Suffix(_) => self
                .regarding
                .namespace()
                .map_or(CLUSTER_EVENTS_NAMESPACE, |ns| ns),
        }
    }

    /// The event's name.
    pub fn name(&self) -> Cow<'_, str> {
        match &self.name {
            EventName::Own(own) => Cow::Borrowed(&own.name),
            EventName::Suffix(n) => {
                let mut s = String::with_capacity(self.regarding.name.len() + 17);
                s.push_str(&self.regarding.name);
                // Writing to a String cannot fail.
                let _ = write!(s, ".{n:x}");
                Cow::Owned(s)
            }
        }
    }

    /// When it was last seen.
    pub fn last_seen(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(i64::from(self.last_seen))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Whether this is the event named `name`.
    fn is_named(&self, name: &str) -> bool {
        match &self.name {
            EventName::Own(own) => *own.name == *name,
            EventName::Suffix(_) => *self.name() == *name,
        }
    }

    /// Newest first; ties (many warnings share a second) in a fixed order: namespace,
    /// object, event name. No allocation: a snapshot sorts every kept warning.
    fn newest_first(a: &Self, b: &Self) -> std::cmp::Ordering {
        b.last_seen
            .cmp(&a.last_seen)
            .then_with(|| a.namespace().cmp(b.namespace()))
            .then_with(|| a.regarding.name.cmp(&b.regarding.name))
            .then_with(|| a.regarding.kind().cmp(b.regarding.kind()))
            .then_with(|| match (&a.name, &b.name) {
                (EventName::Suffix(x), EventName::Suffix(y)) => x.cmp(y),
                (EventName::Own(x), EventName::Own(y)) => x.name.cmp(&y.name),
                (EventName::Suffix(_), EventName::Own(_)) => std::cmp::Ordering::Less,
                (EventName::Own(_), EventName::Suffix(_)) => std::cmp::Ordering::Greater,
            })
    }

    /// Its event's name as the history stores it.
    pub fn event_id(&self) -> EventId {
        match &self.name {
            EventName::Suffix(n) => EventId::Suffix(*n),
            EventName::Own(own) => EventId::Own(own.namespace.clone(), Arc::from(&*own.name)),
        }
    }

    /// When it was last seen, Unix seconds (as kept).
    pub fn last_seen_secs(&self) -> u32 {
        self.last_seen
    }

    /// A warning from the fields the history stored: the inverse of [`Self::event_id`],
    /// [`Self::last_seen_secs`] and the public fields.
    pub fn restore(
        regarding: Arc<Regarding>,
        event: EventId,
        reason: Arc<str>,
        message: Arc<str>,
        count: u32,
        last_seen: u32,
    ) -> Self {
        let name = match event {
            EventId::Suffix(n) => EventName::Suffix(n),
            EventId::Own(namespace, name) => EventName::Own(Arc::new(OwnName {
                namespace,
                name: Box::from(&*name),
            })),
        };
        Self {
            name,
            regarding,
            reason,
            message,
            count,
            last_seen,
        }
    }

    /// The same event about the same object, with these fields (a stored change of it).
    pub fn updated(&self, reason: Arc<str>, message: Arc<str>, count: u32, last_seen: u32) -> Self {
        Self {
            name: self.name.clone(),
            regarding: self.regarding.clone(),
            reason,
            message,
            count,
            last_seen,
        }
    }
}

/// A warning's event name as the history stores it (see [`EventName`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventId {
    /// `<object name>.<this in hex>` in the object's usual namespace.
    Suffix(u64),
    /// Any other namespace and name.
    Own(Arc<str>, Arc<str>),
}

/// The JSON of a warning, keys sorted like the pod and node views':
/// `{"count","lastSeen","message","name","namespace","reason","regarding":{"kind","name","namespace"}}`.
impl serde::Serialize for WarningView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Warning", 7)?;
        m.serialize_field("count", &self.count)?;
        m.serialize_field("lastSeen", &self.last_seen().to_string())?;
        m.serialize_field("message", &*self.message)?;
        m.serialize_field("name", &*self.name())?;
        m.serialize_field("namespace", self.namespace())?;
        m.serialize_field("reason", &*self.reason)?;
        m.serialize_field("regarding", &*self.regarding)?;
        m.end()
    }
}

/// `{"kind","name","namespace"}`, the namespace `null` for cluster-scoped objects.
impl serde::Serialize for Regarding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Regarding", 3)?;
        m.serialize_field("kind", self.kind())?;
        m.serialize_field("name", &*self.name)?;
        m.serialize_field("namespace", &self.namespace().map(|ns| &**ns))?;
        m.end()
    }
}

/// The namespace and name of an event as kept: the number of `<object>.<hex>` in the
/// usual namespace, else both.
fn event_name(
    interner: &mut Interner,
    namespace: &str,
    name: &str,
    object_namespace: Option<&str>,
    object: &str,
) -> EventName {
    let usual = namespace == object_namespace.unwrap_or(CLUSTER_EVENTS_NAMESPACE);
    let suffix = name
        .strip_prefix(object)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|hex| {
            (1..=16).contains(&hex.len())
                && !hex.starts_with('0')
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .filter(|_| usual);
    match suffix {
        Some(n) => EventName::Suffix(n),
        None => EventName::Own(Arc::new(OwnName {
            namespace: interner.str(&Arc::from(namespace)),
            name: Box::from(name),
        })),
    }
}

/// `text` cut to at most [`MESSAGE_LIMIT`] bytes at a character boundary, "…" marking a
/// cut; surrounding whitespace trimmed.
pub fn cut_message(text: &str) -> Cow<'_, str> {
    let text = text.trim();
    if text.len() <= MESSAGE_LIMIT {
        return Cow::Borrowed(text);
    }
    let mut end = MESSAGE_LIMIT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", text[..end].trim_end()))
}

/// A change of the store, for the cache to publish: `(old, new)`, `new` `None` when a
/// warning went (deleted, evicted, expired, or its object deleted).
pub type StoreChange = (Option<Arc<WarningView>>, Option<Arc<WarningView>>);

/// The kept warnings of one object, newest first, as the store works on them.
type Kept = [Option<Arc<WarningView>>; PER_OBJECT];

/// The kept warnings of one object as the map holds them: most objects have one, kept
/// inline; more go in a box (16 bytes per map entry instead of 24).
#[derive(Debug)]
enum Slots {
    /// One warning.
    One(Arc<WarningView>),
    /// Two or more, newest first.
    Many(Box<Kept>),
}

impl Slots {
    /// Packs kept warnings; at least one (the store drops empty objects).
    fn from_kept(kept: Kept) -> Self {
        match kept {
            [Some(one), None, None] => Self::One(one),
            many => Self::Many(Box::new(many)),
        }
    }

    /// Unpacks them.
    fn into_kept(self) -> Kept {
        match self {
            Self::One(one) => [Some(one), None, None],
            Self::Many(many) => *many,
        }
    }

    /// References to them, newest first.
    fn refs(&self) -> [Option<&Arc<WarningView>>; PER_OBJECT] {
        match self {
            Self::One(one) => [Some(one), None, None],
            Self::Many(many) => [many[0].as_ref(), many[1].as_ref(), many[2].as_ref()],
        }
    }
}

/// The kept warnings; see the module docs.
#[derive(Debug)]
pub struct Warnings {
    objects: HashMap<Arc<Regarding>, Slots>,
    total: usize,
    max_total: usize,
    max_age: Duration,
    interner: Interner,
    scopes: HashSet<Arc<ObjectScope>>,
    pod_kind: Arc<str>,
    node_scope: Arc<ObjectScope>,
}

impl Default for Warnings {
    fn default() -> Self {
        Self::new(MAX_WARNINGS, DEFAULT_MAX_AGE)
    }
}

impl Warnings {
    /// An empty store keeping at most `max_total` warnings, each until `max_age` after it
    /// was last seen.
    pub fn new(max_total: usize, max_age: Duration) -> Self {
        let mut interner = Interner::default();
        let pod_kind = interner.str(&Arc::from(POD));
        let node_scope = Arc::new(ObjectScope {
            kind: interner.str(&Arc::from(NODE)),
            namespace: None,
        });
        Self {
            objects: HashMap::new(),
            total: 0,
            max_total: max_total.max(1),
            max_age,
            interner,
            scopes: HashSet::from([node_scope.clone()]),
            pod_kind,
            node_scope,
        }
    }

    /// Keeps warnings for `max_age` after they were last seen from now on.
    pub fn set_max_age(&mut self, max_age: Duration) {
        self.max_age = max_age;
    }

    /// How many warnings are kept.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The key of pod `namespace/name` (the view's own `Arc`s); `None` when no warning
    /// about a pod of that namespace was ever seen (so none is kept). No allocation.
    pub fn pod_key(&self, namespace: &Arc<str>, name: &Arc<str>) -> Option<Regarding> {
        let probe = ObjectScope {
            kind: self.pod_kind.clone(),
            namespace: Some(namespace.clone()),
        };
        Some(Regarding {
            scope: self.scopes.get(&probe)?.clone(),
            name: name.clone(),
        })
    }

    /// The key of node `name`.
    pub fn node_key(&self, name: &Arc<str>) -> Regarding {
        Regarding {
            scope: self.node_scope.clone(),
            name: name.clone(),
        }
    }

    /// The key of an object named by an event (a deleted one's); `None` when nothing
    /// about such an object is kept.
    pub fn key_of(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Regarding> {
        let probe = ObjectScope {
            kind: Arc::from(kind),
            namespace: namespace.map(Arc::from),
        };
        Some(Regarding {
            scope: self.scopes.get(&probe)?.clone(),
            name: Arc::from(name),
        })
    }

    /// The view of a decoded event, its strings interned. `known_name` gives the shared
    /// name of an object the cache knows (kind, namespace, name), to keep one copy.
    /// `now` stands in for an event without any time.
    pub fn view_of(
        &mut self,
        e: &EventFields,
        now: jiff::Timestamp,
        known_name: impl FnOnce(&str, Option<&str>, &str) -> Option<Arc<str>>,
    ) -> Result<WarningView, ViewError> {
        let name = e
            .metadata
            .name
            .as_deref()
            .ok_or(ViewError::Missing("metadata.name"))?;
        let namespace = e
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(CLUSTER_EVENTS_NAMESPACE);
        let object = e
            .regarding
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(ViewError::Missing("regarding.name"))?;
        let kind = e.regarding.kind.as_deref().unwrap_or("");
        let object_ns = e.regarding.namespace.as_deref().filter(|n| !n.is_empty());
        let regarding = self.regarding(kind, object_ns, object, known_name);
        let intern = |interner: &mut Interner, s: &str| interner.str(&Arc::from(s));
        Ok(WarningView {
            name: event_name(&mut self.interner, namespace, name, object_ns, object),
            reason: intern(&mut self.interner, e.reason.as_deref().unwrap_or("")),
            message: intern(
                &mut self.interner,
                &cut_message(e.note.as_deref().unwrap_or("")),
            ),
            count: e.count(),
            last_seen: u32::try_from(e.last_seen().unwrap_or(now).as_second().max(0))
                .unwrap_or(u32::MAX),
            regarding,
        })
    }

    /// The shared key of an object: the kept one, else a new one.
    fn regarding(
        &mut self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        known_name: impl FnOnce(&str, Option<&str>, &str) -> Option<Arc<str>>,
    ) -> Arc<Regarding> {
        let probe = ObjectScope {
            kind: self.interner.str(&Arc::from(kind)),
            namespace: namespace.map(|ns| self.interner.str(&Arc::from(ns))),
        };
        let scope = match self.scopes.get(&probe) {
            Some(scope) => scope.clone(),
            None => {
                let scope = Arc::new(probe);
                self.scopes.insert(scope.clone());
                scope
            }
        };
        let name = known_name(&scope.kind, scope.namespace.as_deref(), name)
            .unwrap_or_else(|| Arc::from(name));
        let key = Regarding { scope, name };
        match self.objects.get_key_value(&key) {
            Some((kept, _)) => kept.clone(),
            None => Arc::new(key),
        }
    }

    /// The warnings of `object`, newest first.
    pub fn of(&self, object: &Regarding) -> impl Iterator<Item = &Arc<WarningView>> {
        self.objects
            .get(object)
            .into_iter()
            .flat_map(|slots| slots.refs().into_iter().flatten())
    }

    /// The reason of the newest warning about `object`, if one is kept.
    pub fn latest_reason(&self, object: &Regarding) -> Option<Arc<str>> {
        self.of(object).next().map(|w| w.reason.clone())
    }

    /// Keeps `view` (an event seen at `now`); returns what changed: nothing for an
    /// unchanged or too old warning, else the warning and any it pushed out.
    pub fn upsert(&mut self, view: WarningView, now: jiff::Timestamp) -> Vec<StoreChange> {
        let expired = i64::from(view.last_seen) < self.oldest_kept(now);
        let key = view.regarding.clone();
        let mut kept = self
            .objects
            .remove(&key)
            .map(Slots::into_kept)
            .unwrap_or_default();
        let changes = upsert_in(&mut kept, view, expired);
        for (old, new) in &changes {
            self.total += usize::from(new.is_some());
            self.total -= usize::from(old.is_some());
        }
        if kept[0].is_some() {
            self.objects.insert(key, Slots::from_kept(kept));
        }
        let mut changes = changes;
        if self.total > self.max_total {
            changes.extend(self.evict_oldest().into_iter().map(|o| (Some(o), None)));
        }
        self.sweep();
        changes
    }

    /// Removes the event `name` about `object`, if kept.
    pub fn remove(&mut self, object: &Regarding, name: &str) -> Option<Arc<WarningView>> {
        let (key, slots) = self.objects.remove_entry(object)?;
        let mut kept = slots.into_kept();
        let old = kept
            .iter()
            .position(|s| s.as_ref().is_some_and(|w| w.is_named(name)))
            .and_then(|i| take(&mut kept, i));
        self.total -= usize::from(old.is_some());
        if kept[0].is_some() {
            self.objects.insert(key, Slots::from_kept(kept));
        }
        old
    }

    /// Removes every warning about `object` (it was deleted), newest first.
    pub fn remove_object(&mut self, object: &Regarding) -> Vec<Arc<WarningView>> {
        let gone: Vec<_> = self
            .objects
            .remove(object)
            .into_iter()
            .flat_map(|slots| slots.into_kept().into_iter().flatten())
            .collect();
        self.total -= gone.len();
        self.sweep();
        gone
    }

    /// Removes the warnings `stale` selects, e.g. those a re-list did not see.
    pub fn remove_where(&mut self, stale: impl Fn(&WarningView) -> bool) -> Vec<Arc<WarningView>> {
        let gone = self.take_from_each(|kept, gone| {
            for i in (0..PER_OBJECT).rev() {
                if kept[i].as_deref().is_some_and(&stale)
                    && let Some(w) = take(kept, i)
                {
                    gone.push(w);
                }
            }
        });
        self.sweep();
        gone
    }

    /// Lets `f` take warnings out of every object's kept ones (into its `Vec`); drops the
    /// objects left without any. Returns what was taken.
    fn take_from_each(
        &mut self,
        mut f: impl FnMut(&mut Kept, &mut Vec<Arc<WarningView>>),
    ) -> Vec<Arc<WarningView>> {
        let mut gone = Vec::new();
        self.objects.retain(|_, slots| {
            let repack = match slots {
                Slots::One(one) => {
                    let mut kept: Kept = [Some(one.clone()), None, None];
                    f(&mut kept, &mut gone);
                    return kept[0].is_some();
                }
                Slots::Many(many) => {
                    f(many, &mut gone);
                    if many[0].is_none() {
                        return false;
                    }
                    // Down to one: inline again.
                    many[1].is_none().then(|| std::mem::take(&mut **many))
                }
            };
            if let Some(kept) = repack {
                *slots = Slots::from_kept(kept);
            }
            true
        });
        self.total -= gone.len();
        gone
    }

    /// Removes the warnings last seen more than the maximum age before `now`.
    pub fn expire(&mut self, now: jiff::Timestamp) -> Vec<Arc<WarningView>> {
        let oldest = self.oldest_kept(now);
        self.remove_where(|w| i64::from(w.last_seen) < oldest)
    }

    /// Every kept warning, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<WarningView>> {
        self.objects
            .values()
            .flat_map(|slots| slots.refs().into_iter().flatten())
    }

    /// Every kept warning, newest first.
    #[cfg(test)]
    pub fn newest_first(&self) -> Vec<Arc<WarningView>> {
        let mut all: Vec<_> = self.all().cloned().collect();
        sort_newest_first(&mut all);
        all
    }

    /// The first second a warning is still kept at `now`.
    fn oldest_kept(&self, now: jiff::Timestamp) -> i64 {
        now.as_second()
            .saturating_sub(i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX))
    }

    /// Over the bound: drops the oldest sixteenth of it at once (so the scan is rare).
    fn evict_oldest(&mut self) -> Vec<Arc<WarningView>> {
        let goal = self.max_total - self.max_total / 16;
        let excess = self.total.saturating_sub(goal);
        if excess == 0 {
            return Vec::new();
        }
        let mut times: Vec<u32> = self
            .objects
            .values()
            .flat_map(|slots| slots.refs().into_iter().flatten().map(|w| w.last_seen))
            .collect();
        let (_, &mut cut, _) = times.select_nth_unstable(excess - 1);
        // Everything older than `cut`, then as many seen at `cut` as still needed.
        let mut gone = self.remove_where(|w| w.last_seen < cut);
        let mut left = excess.saturating_sub(gone.len());
        if left > 0 {
            let more = self.take_from_each(|kept, more| {
                for i in (0..PER_OBJECT).rev() {
                    if left > 0
                        && kept[i].as_ref().is_some_and(|w| w.last_seen == cut)
                        && let Some(w) = take(kept, i)
                    {
                        left -= 1;
                        more.push(w);
                    }
                }
            });
            gone.extend(more);
        }
        gone
    }

    /// Lets go of strings no kept warning uses any more, when the table has grown.
    fn sweep(&mut self) {
        self.interner.sweep_if_grown();
    }
}

/// [`Warnings::upsert`] within one object's kept warnings: the changes (a replaced
/// warning is one change, `(old, new)`).
fn upsert_in(slots: &mut Kept, view: WarningView, expired: bool) -> Vec<StoreChange> {
    let mut changes = Vec::new();
    let name = view.name().into_owned();
    let found = slots
        .iter()
        .position(|s| s.as_ref().is_some_and(|w| w.is_named(&name)));
    if let Some(i) = found
        && slots[i].as_deref() == Some(&view)
    {
        return changes;
    }
    let old = found.and_then(|i| take(slots, i));
    if expired {
        changes.extend(old.map(|o| (Some(o), None)));
        return changes;
    }
    let new = Arc::new(view);
    // Newest first: the new one goes before the first older one; the last falls out.
    let at = slots
        .iter()
        .position(|s| s.as_ref().is_none_or(|w| w.last_seen < new.last_seen))
        .unwrap_or(PER_OBJECT);
    if at == PER_OBJECT {
        // Older than the object's kept warnings: not kept.
        changes.extend(old.map(|o| (Some(o), None)));
        return changes;
    }
    let pushed_out = slots[PER_OBJECT - 1].take();
    slots[at..].rotate_right(1);
    slots[at] = Some(new.clone());
    compact(slots);
    if let Some(out) = pushed_out {
        changes.push((Some(out), None));
    }
    changes.push((old, Some(new)));
    changes
}

/// Takes slot `i`, closing the gap.
fn take(slots: &mut Kept, i: usize) -> Option<Arc<WarningView>> {
    let w = slots[i].take();
    compact(slots);
    w
}

/// Moves the kept warnings to the front, in order.
fn compact(slots: &mut Kept) {
    let mut kept = 0;
    for i in 0..PER_OBJECT {
        if slots[i].is_some() {
            slots.swap(kept, i);
            kept += 1;
        }
    }
}

/// Whether a client with `filter` sees warning `w`: with an empty filter always; about a
/// pod when it sees the pod (`pod`, `None` while unknown); about a node when it sees the
/// node's name (never inside a screen's bounds); about anything else when its namespace passes the namespace filter and no
/// filter selects pods (a cluster-scoped object has no namespace, so `ns=` hides it).
/// Called per client: it allocates nothing.
pub fn visible(filter: &Filter, w: &WarningView, pod: Option<&PodView>) -> bool {
    if filter.is_empty() {
        return true;
    }
    let r = &w.regarding;
    if r.is_pod() {
        return pod.is_some_and(|p| filter.matches_pod(p));
    }
    if r.is_node() {
        // A node's events speak of whatever runs there (an OOM kill names the process):
        // not for a screen bounded to some namespaces or labels.
        return !filter.is_bounded() && filter.matches_node_name(&r.name);
    }
    filter.matches_namespace(r.namespace().map_or("", |ns| ns)) && !filter.selects_pods()
}

/// Sorts warnings newest first (a snapshot's order).
pub fn sort_newest_first(list: &mut [Arc<WarningView>]) {
    list.sort_unstable_by(|a, b| WarningView::newest_first(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).expect("time")
    }

    /// A Warning event `name` about `kind` `ns/object`, last seen at second `seen`.
    fn event(
        kind: &str,
        ns: &str,
        object: &str,
        name: &str,
        reason: &str,
        seen: i64,
    ) -> EventFields {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "regarding": {"kind": kind, "namespace": ns, "name": object},
            "reason": reason, "note": format!("{reason} of {object}"), "type": "Warning",
            "series": {"count": 2, "lastObservedTime": format!("{}", at(seen))},
        }))
        .expect("event")
    }

    fn add(store: &mut Warnings, e: &EventFields, now: i64) -> Vec<StoreChange> {
        let view = store.view_of(e, at(now), |_, _, _| None).expect("view");
        store.upsert(view, at(now))
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn keeps_the_latest_few_per_object_newest_first() {
        let mut store = Warnings::default();
        for (i, reason) in ["A", "B", "C", "D"].iter().enumerate() {
            let seen = NOW - 100 + i as i64;
            let changes = add(
                &mut store,
                &event(
                    "Pod",
                    "ns",
                    "web-1",
                    &format!("web-1.{:x}", 0x17f0 + i),
                    reason,
                    seen,
                ),
                NOW,
            );
            assert!(changes.iter().any(|(_, new)| new.is_some()));
        }
        assert_eq!(store.len(), PER_OBJECT);
        let pod = store
            .pod_key(&Arc::from("ns"), &Arc::from("web-1"))
            .expect("a pod key");
        let reasons: Vec<_> = store.of(&pod).map(|w| w.reason.to_string()).collect();
        assert_eq!(reasons, ["D", "C", "B"]);
        assert_eq!(store.latest_reason(&pod).as_deref(), Some("D"));
        // Older than the three kept: not kept, no change.
        let old = add(
            &mut store,
            &event("Pod", "ns", "web-1", "web-1.1", "Z", NOW - 500),
            NOW,
        );
        assert!(old.is_empty());
        // The same event again, unchanged: no change; with a new count: one.
        let again = event("Pod", "ns", "web-1", "web-1.17f3", "D", NOW - 97);
        assert!(add(&mut store, &again, NOW).is_empty());
        let mut more = again.clone();
        more.series.as_mut().expect("series").count = Some(9);
        let changes = add(&mut store, &more, NOW);
        assert_eq!(changes.len(), 1);
        assert!(changes[0].0.is_some() && changes[0].1.as_ref().is_some_and(|w| w.count == 9));
        assert_eq!(store.len(), PER_OBJECT);
    }

    #[test]
    fn event_names_of_the_usual_form_keep_only_their_number() {
        let mut store = Warnings::default();
        let e = event(
            "Pod",
            "ns",
            "web-1",
            "web-1.17f3a2b4c5d6e7f8",
            "BackOff",
            NOW,
        );
        let view = store.view_of(&e, at(NOW), |_, _, _| None).expect("view");
        assert_eq!(view.name, EventName::Suffix(0x17f3a2b4c5d6e7f8));
        assert_eq!(view.name(), "web-1.17f3a2b4c5d6e7f8");
        for odd in [
            "web-1.017f",
            "web-1.ABC",
            "other.17f",
            "web-1.",
            "web-1.17f3a2b4c5d6e7f8a",
        ] {
            let e = event("Pod", "ns", "web-1", odd, "BackOff", NOW);
            let view = store.view_of(&e, at(NOW), |_, _, _| None).expect("view");
            assert!(matches!(view.name, EventName::Own(_)), "{odd}");
            assert_eq!(view.name(), odd);
        }
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let short = "0/3 nodes are available";
        assert_eq!(cut_message(short), short);
        let long = "é".repeat(400);
        let cut = cut_message(&long);
        assert!(cut.len() <= MESSAGE_LIMIT, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(cut.trim_end_matches('…').chars().all(|c| c == 'é'));
        let ascii = "x".repeat(MESSAGE_LIMIT + 1);
        assert_eq!(cut_message(&ascii).len(), MESSAGE_LIMIT);
        assert_eq!(cut_message(&"y".repeat(MESSAGE_LIMIT)).len(), MESSAGE_LIMIT);
    }

    #[test]
    fn strings_and_objects_are_shared() {
        let mut store = Warnings::default();
        let msg = "0/12 nodes are available: 12 Insufficient cpu.";
        for i in 0..4 {
            let mut e = event(
                "Pod",
                "ns",
                &format!("p{i}"),
                &format!("p{i}.1a"),
                "FailedScheduling",
                NOW,
            );
            e.note = Some(msg.to_owned());
            add(&mut store, &e, NOW);
        }
        add(
            &mut store,
            &event("Pod", "ns", "p0", "p0.2b", "Unhealthy", NOW - 1),
            NOW,
        );
        let all = store.newest_first();
        assert_eq!(all.len(), 5);
        assert!(Arc::ptr_eq(&all[0].message, &all[1].message));
        assert!(Arc::ptr_eq(&all[0].reason, &all[3].reason));
        assert!(Arc::ptr_eq(&all[0].message, &all[2].message));
        let p0: Vec<_> = all.iter().filter(|w| &*w.regarding.name == "p0").collect();
        assert!(Arc::ptr_eq(&p0[0].regarding, &p0[1].regarding));
        // A known object's name is the view's own copy.
        let shared: Arc<str> = Arc::from("known");
        let e = event("Node", "default", "known", "known.1", "NodeNotReady", NOW);
        let view = store
            .view_of(&e, at(NOW), |kind, _, _| {
                (kind == "Node").then(|| shared.clone())
            })
            .expect("view");
        assert!(Arc::ptr_eq(&view.regarding.name, &shared));
    }

    #[test]
    fn expiry_and_the_total_bound_drop_the_oldest() {
        let mut store = Warnings::new(32, Duration::from_secs(3600));
        for i in 0..40i64 {
            add(
                &mut store,
                &event(
                    "Pod",
                    "ns",
                    &format!("p{i}"),
                    &format!("p{i}.1"),
                    "BackOff",
                    NOW - 1000 + i,
                ),
                NOW,
            );
        }
        assert!(store.len() <= 32, "{}", store.len());
        let kept = store.newest_first();
        assert_eq!(kept[0].regarding.name.as_ref(), "p39");
        assert!(
            kept.iter()
                .all(|w| i64::from(w.last_seen) >= NOW - 1000 + 8)
        );
        // An event already older than the maximum age is not kept.
        assert!(
            add(
                &mut store,
                &event("Pod", "ns", "x", "x.1", "Old", NOW - 4000),
                NOW
            )
            .is_empty()
        );
        let gone = store.expire(at(NOW + 3600 - 1000 + 20));
        assert!(!gone.is_empty());
        assert!(
            store
                .newest_first()
                .iter()
                .all(|w| i64::from(w.last_seen) >= NOW - 1000 + 20)
        );
        assert_eq!(store.len(), store.newest_first().len());
        let all = store.expire(at(NOW + 10_000));
        assert!(!all.is_empty() && store.is_empty());
    }

    #[test]
    fn removing_an_object_drops_its_warnings() {
        let mut store = Warnings::default();
        add(&mut store, &event("Pod", "ns", "p", "p.1", "A", NOW), NOW);
        add(
            &mut store,
            &event("Pod", "ns", "p", "p.2", "B", NOW - 1),
            NOW,
        );
        add(&mut store, &event("Pod", "ns", "q", "q.1", "C", NOW), NOW);
        let p = store
            .pod_key(&Arc::from("ns"), &Arc::from("p"))
            .expect("a pod key");
        assert_eq!(store.remove_object(&p).len(), 2);
        assert_eq!(store.len(), 1);
        let q = store
            .pod_key(&Arc::from("ns"), &Arc::from("q"))
            .expect("a pod key");
        assert!(store.remove(&q, "q.1").is_some());
        assert!(store.is_empty());
    }

    #[test]
    fn filtered_clients_see_the_warnings_of_what_they_see() {
        let mut store = Warnings::default();
        let view = |store: &mut Warnings, kind, ns, object| {
            store
                .view_of(
                    &event(kind, ns, object, "e.1", "R", NOW),
                    at(NOW),
                    |_, _, _| None,
                )
                .expect("view")
        };
        let on_pod = view(&mut store, "Pod", "web", "a-1");
        let on_node = view(&mut store, "Node", "default", "worker-1");
        let on_deploy = view(&mut store, "Deployment", "web", "a");
        let pod = crate::state::fixtures::pod_on("web", "a-1", "worker-1");
        let (all, _) = Filter::from_query("").expect("filter");
        assert!(visible(&all, &on_pod, None));
        let (web, _) = Filter::from_query("ns=web").expect("filter");
        assert!(visible(&web, &on_pod, Some(&pod)) && !visible(&web, &on_pod, None));
        assert!(visible(&web, &on_deploy, None) && visible(&web, &on_node, None));
        let (shop, _) = Filter::from_query("ns=shop").expect("filter");
        assert!(!visible(&shop, &on_pod, Some(&pod)) && !visible(&shop, &on_deploy, None));
        let (q, _) = Filter::from_query("q=a-1").expect("filter");
        assert!(visible(&q, &on_pod, Some(&pod)) && !visible(&q, &on_deploy, None));
        let (node, _) = Filter::from_query("node=worker-2").expect("filter");
        assert!(!visible(&node, &on_node, None) && !visible(&node, &on_pod, Some(&pod)));
    }
}
