//! The object store: one global resourceVersion counter (like etcd's revision), objects
//! kept as serialized JSON with a small index, and a bounded history ring of events that
//! serves watch resume and lists at an exact (older) resourceVersion.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::sync::watch;

use super::resource::Resource;
use super::status::ApiError;

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects. Ordered like
/// etcd keys, so lists come out in the same order as from a real apiserver.
pub type Key = (String, String);

/// What a watch event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventKind {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// The fields of an object that lists and watches filter on, extracted once per version.
#[derive(Debug, Clone)]
pub struct ObjectIndex {
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// metadata.uid.
    pub uid: String,
    /// metadata.resourceVersion.
    pub rv: u64,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Selectable fields other than name/namespace, as the field selector sees them.
    pub fields: Vec<(&'static str, String)>,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
}

impl ObjectIndex {
    /// The store key.
    pub fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A selectable field's value, as field selectors compare it.
    pub fn field(&self, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(self.name.clone()),
            "metadata.namespace" => Some(self.namespace.clone()),
            _ => self
                .fields
                .iter()
                .find(|(k, _)| *k == field)
                .map(|(_, v)| v.clone()),
        }
    }
}

/// One version of one object: its JSON and its index.
#[derive(Debug)]
pub struct Stored {
    /// The object as the API returns it.
    pub bytes: Bytes,
    /// What selectors look at.
    pub index: ObjectIndex,
}

impl Stored {
    /// Serializes `value` and extracts its index.
    pub fn encode(resource: Resource, value: &Value) -> Arc<Stored> {
        let meta = &value["metadata"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let mut labels: Vec<(String, String)> = meta["labels"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), s(v))).collect())
            .unwrap_or_default();
        labels.sort();
        let mut fields = Vec::new();
        let mut put = |name: &'static str, v: &Value, default: &str| {
            let text = match v {
                Value::String(x) => x.clone(),
                Value::Bool(b) => b.to_string(),
                _ => default.to_string(),
            };
            fields.push((name, text));
        };
        match resource {
            Resource::Pods => {
                let spec = &value["spec"];
                let status = &value["status"];
                put("spec.nodeName", &spec["nodeName"], "");
                put("spec.restartPolicy", &spec["restartPolicy"], "");
                put("spec.schedulerName", &spec["schedulerName"], "");
                put("spec.serviceAccountName", &spec["serviceAccountName"], "");
                put("spec.hostNetwork", &spec["hostNetwork"], "false");
                put("status.phase", &status["phase"], "");
                put("status.podIP", &status["podIP"], "");
                put("status.nominatedNodeName", &status["nominatedNodeName"], "");
            }
            Resource::Nodes => put(
                "spec.unschedulable",
                &value["spec"]["unschedulable"],
                "false",
            ),
            Resource::Namespaces => put("status.phase", &value["status"]["phase"], ""),
            // `pkg/registry/core/event/strategy.go` `ToSelectableFields`.
            Resource::Events => {
                let involved = &value["involvedObject"];
                put("involvedObject.kind", &involved["kind"], "");
                put("involvedObject.namespace", &involved["namespace"], "");
                put("involvedObject.name", &involved["name"], "");
                put("involvedObject.uid", &involved["uid"], "");
                put("involvedObject.apiVersion", &involved["apiVersion"], "");
                put(
                    "involvedObject.resourceVersion",
                    &involved["resourceVersion"],
                    "",
                );
                put("involvedObject.fieldPath", &involved["fieldPath"], "");
                put("reason", &value["reason"], "");
                put("reportingComponent", &value["reportingComponent"], "");
                let component = &value["source"]["component"];
                let source = if component.as_str().is_some_and(|c| !c.is_empty()) {
                    component
                } else {
                    &value["reportingComponent"]
                };
                put("source", source, "");
                put("type", &value["type"], "");
            }
        }
        let index = ObjectIndex {
            namespace: s(&meta["namespace"]),
            name: s(&meta["name"]),
            uid: s(&meta["uid"]),
            rv: meta["resourceVersion"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            labels,
            fields,
            deleting: !meta["deletionTimestamp"].is_null(),
        };
        // Serializing a Value we built cannot fail (string keys only).
        let bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        Arc::new(Stored { bytes, index })
    }

    /// Decodes the JSON for mutation.
    pub fn decode(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

/// One change in the history ring.
#[derive(Debug)]
pub struct Event {
    /// The resourceVersion this change produced.
    pub rv: u64,
    /// Which resource changed.
    pub resource: Resource,
    /// What happened.
    pub kind: EventKind,
    /// The object after the change (for DELETED: the last state, stamped with `rv`).
    pub object: Arc<Stored>,
    /// The object before the change (none for ADDED).
    pub prev: Option<Arc<Stored>>,
    /// The ready-to-send watch line for unfiltered watchers, built once per change.
    pub frame: Bytes,
}

/// Builds one watch line `{"type":…,"object":…}\n`.
pub fn watch_frame(kind: &str, object: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(object.len() + 32);
    b.put_slice(b"{\"type\":\"");
    b.put_slice(kind.as_bytes());
    b.put_slice(b"\",\"object\":");
    b.put_slice(object);
    b.put_slice(b"}\n");
    b.freeze()
}

/// Which page of a list to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest<'a> {
    /// The resourceVersion to read at (`None`: now).
    pub rv: Option<u64>,
    /// Only this namespace.
    pub namespace: Option<&'a str>,
    /// Start after this key (the continue token's).
    pub after: Option<&'a Key>,
    /// At most this many items.
    pub limit: Option<usize>,
    /// Count every remaining item (for `remainingItemCount`), not just whether one exists.
    pub count_remaining: bool,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// The resourceVersion the page was read at.
    pub rv: u64,
    /// The objects, in key order.
    pub items: Vec<Arc<Stored>>,
    /// Key of the last item when more matching items remain.
    pub next: Option<Key>,
    /// How many matching items remain after this page (only 0 or 1 when not counted).
    pub remaining: usize,
}

/// The outcome of a delete request.
#[derive(Debug)]
pub enum Deletion {
    /// The object is gone.
    Gone(Arc<Stored>),
    /// A pod is Terminating; it is removed after the grace period (seconds).
    Terminating(Arc<Stored>, i64),
}

struct State {
    rv: u64,
    objects: [BTreeMap<Key, Arc<Stored>>; Resource::ALL.len()],
    history: VecDeque<Arc<Event>>,
    /// Every change with rv > `compacted` is in `history`.
    compacted: u64,
    uid_rng: ChaCha8Rng,
}

/// Counts for `/_sim/state`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    /// Current resourceVersion.
    pub resource_version: u64,
    /// Oldest resourceVersion a watch can resume from.
    pub compacted: u64,
    /// Events in the history ring.
    pub history: usize,
    /// Pods stored.
    pub pods: usize,
    /// Nodes stored.
    pub nodes: usize,
    /// Namespaces stored.
    pub namespaces: usize,
    /// Events stored.
    pub events: usize,
}

/// The store shared by the HTTP API, the churn generator and the fault endpoints.
pub struct Store {
    state: Mutex<State>,
    rv_tx: watch::Sender<u64>,
    history_limit: usize,
}

/// Now as the API writes timestamps (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Store {
    /// An empty store starting at resourceVersion `base`.
    pub fn new(base: u64, history_limit: usize, seed: u64) -> Self {
        let (rv_tx, _) = watch::channel(base);
        Self {
            state: Mutex::new(State {
                rv: base,
                objects: Default::default(),
                history: VecDeque::new(),
                compacted: base,
                uid_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_0d1d),
            }),
            rv_tx,
            history_limit: history_limit.max(1),
        }
    }

    /// Subscribes to resourceVersion changes (wakes watchers).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.rv_tx.subscribe()
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.state.lock().rv
    }

    /// Counts for diagnostics.
    pub fn stats(&self) -> StoreStats {
        let s = self.state.lock();
        StoreStats {
            resource_version: s.rv,
            compacted: s.compacted,
            history: s.history.len(),
            pods: s.objects[Resource::Pods.index()].len(),
            nodes: s.objects[Resource::Nodes.index()].len(),
            namespaces: s.objects[Resource::Namespaces.index()].len(),
            events: s.objects[Resource::Events.index()].len(),
        }
    }

    /// Loads a generated object as is (no event), giving it the next resourceVersion.
    pub fn load(&self, resource: Resource, mut value: Value) {
        let mut s = self.state.lock();
        s.rv += 1;
        value["metadata"]["resourceVersion"] = Value::String(s.rv.to_string());
        let stored = Stored::encode(resource, &value);
        s.objects[resource.index()].insert(stored.index.key(), stored);
        // Generated objects have no history: resuming below this point is 410.
        s.compacted = s.rv;
        self.rv_tx.send_replace(s.rv);
    }

    /// One object.
    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> Option<Arc<Stored>> {
        let s = self.state.lock();
        s.objects[resource.index()]
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a resource (optionally one namespace), with the store's rv.
    pub fn snapshot(&self, resource: Resource, namespace: Option<&str>) -> (u64, Vec<Arc<Stored>>) {
        let s = self.state.lock();
        let items = s.objects[resource.index()]
            .range(key_range(namespace, None))
            .map(|(_, v)| v.clone())
            .collect();
        (s.rv, items)
    }

    /// Creates an object: sets uid, creationTimestamp, generation and resourceVersion.
    pub fn create(&self, resource: Resource, mut value: Value) -> Result<Arc<Stored>, ApiError> {
        let mut s = self.state.lock();
        let meta = &value["metadata"];
        let namespace = meta["namespace"].as_str().unwrap_or_default().to_string();
        let name = meta["name"].as_str().unwrap_or_default().to_string();
        if resource.namespaced() {
            let ns_key = (String::new(), namespace.clone());
            match s.objects[Resource::Namespaces.index()].get(&ns_key) {
                None => return Err(ApiError::not_found(Resource::Namespaces, &namespace)),
                Some(ns) if ns.index.deleting => {
                    return Err(ApiError {
                        code: 403,
                        reason: "Forbidden",
                        message: format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                            resource.plural()
                        ),
                        details: None,
                        retry_after: None,
                    });
                }
                Some(_) => {}
            }
        }
        let key = (namespace, name.clone());
        if s.objects[resource.index()].contains_key(&key) {
            return Err(ApiError::already_exists(resource, &name));
        }
        let uid = uid_from(&mut s.uid_rng);
        let rv = s.rv + 1;
        let meta = &mut value["metadata"];
        meta["uid"] = Value::String(uid);
        meta["creationTimestamp"] = Value::String(now_rfc3339());
        meta["resourceVersion"] = Value::String(rv.to_string());
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        if resource == Resource::Pods {
            meta["generation"] = Value::from(1);
        }
        value["kind"] = Value::String(resource.kind().into());
        value["apiVersion"] = Value::String("v1".into());
        let stored = Stored::encode(resource, &value);
        s.objects[resource.index()].insert(key, stored.clone());
        self.commit(&mut s, resource, EventKind::Added, stored.clone(), None);
        Ok(stored)
    }

    /// Replaces an object with what `change` makes of it. `expect_rv` is the optimistic
    /// concurrency precondition; without one, a write that races another is retried on
    /// the newer object (like the apiserver's `GuaranteedUpdate`). A change that alters
    /// nothing does not bump the resourceVersion (like the real apiserver).
    pub fn update(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        expect_rv: Option<u64>,
        mut change: impl FnMut(Value) -> Result<Value, ApiError>,
    ) -> Result<Arc<Stored>, ApiError> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_update(resource, namespace, name, expect_rv, &mut change) {
                Err(e) if e.reason == "Conflict" && expect_rv.is_none() && attempt < ATTEMPTS => {
                    continue;
                }
                result => return result,
            }
        }
    }

    fn try_update(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        expect_rv: Option<u64>,
        change: &mut impl FnMut(Value) -> Result<Value, ApiError>,
    ) -> Result<Arc<Stored>, ApiError> {
        let key = (namespace.to_string(), name.to_string());
        let current = self
            .get(resource, namespace, name)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        if expect_rv.is_some_and(|rv| rv != current.index.rv) {
            return Err(ApiError::conflict(resource, name));
        }
        // Decode and change outside the lock; `swap` re-checks the version.
        let old = current.decode();
        let mut new = change(old.clone())?;
        // Identity and bookkeeping fields stay the server's.
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        new["kind"] = Value::String(resource.kind().into());
        new["apiVersion"] = Value::String("v1".into());
        if resource == Resource::Pods && new["spec"] != old["spec"] {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            new["metadata"]["generation"] = Value::from(generation);
        }
        if new == old {
            return Ok(current);
        }
        self.swap(resource, key, &current, new)
    }

    /// Stores `new` in place of `current` unless someone changed it meanwhile.
    fn swap(
        &self,
        resource: Resource,
        key: Key,
        current: &Arc<Stored>,
        mut new: Value,
    ) -> Result<Arc<Stored>, ApiError> {
        let mut s = self.state.lock();
        match s.objects[resource.index()].get(&key) {
            Some(now) if Arc::ptr_eq(now, current) => {}
            _ => return Err(ApiError::conflict(resource, &key.1)),
        }
        let rv = s.rv + 1;
        new["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let stored = Stored::encode(resource, &new);
        s.objects[resource.index()].insert(key, stored.clone());
        self.commit(
            &mut s,
            resource,
            EventKind::Modified,
            stored.clone(),
            Some(current.clone()),
        );
        Ok(stored)
    }

    /// Deletes an object. Pods that are scheduled and not finished get a grace period
    /// (`grace` or their `terminationGracePeriodSeconds`): they are marked with
    /// `deletionTimestamp` and the caller removes them later with [`Store::remove`].
    /// Namespaces are marked Terminating; the caller finishes them with
    /// [`Store::finish_namespace`].
    pub fn delete(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        grace: Option<i64>,
        expect_uid: Option<&str>,
    ) -> Result<Deletion, ApiError> {
        let current = self
            .get(resource, namespace, name)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        if expect_uid.is_some_and(|u| u != current.index.uid) {
            return Err(ApiError::conflict_message(
                resource.plural(),
                name,
                "Precondition failed: UID in precondition does not match the UID of the object"
                    .into(),
            ));
        }
        if resource == Resource::Pods {
            let value = current.decode();
            // pkg/registry/core/pod/strategy.go CheckGracefulDelete: unscheduled and
            // finished pods go at once.
            let phase = value["status"]["phase"].as_str().unwrap_or_default();
            let scheduled = value["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty());
            let default_grace = value["spec"]["terminationGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(30);
            let grace = if !scheduled || phase == "Succeeded" || phase == "Failed" {
                0
            } else {
                grace.unwrap_or(default_grace).max(0)
            };
            if grace > 0 {
                if current.index.deleting {
                    return Ok(Deletion::Terminating(current, grace));
                }
                let deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                let mut new = value;
                new["metadata"]["deletionTimestamp"] =
                    Value::String(deadline.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
                new["metadata"]["deletionGracePeriodSeconds"] = Value::from(grace);
                let stored = self.swap(resource, current.index.key(), &current, new)?;
                return Ok(Deletion::Terminating(stored, grace));
            }
            // Grace 0 still goes through the graceful path (CheckGracefulDelete returns
            // true for every pod): the apiserver first records deletionTimestamp with
            // deletionGracePeriodSeconds 0 (MODIFIED), then removes the pod (DELETED).
            // apiserver pkg/registry/rest/delete.go BeforeDelete, registry/generic Store.Delete.
            if value["metadata"]["deletionGracePeriodSeconds"].as_i64() != Some(0) {
                let mut new = value;
                // A shortened grace period moves the deadline back to when the deletion was
                // requested: old deadline - old grace + 0.
                let requested = new["metadata"]["deletionTimestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .zip(new["metadata"]["deletionGracePeriodSeconds"].as_i64())
                    .and_then(|(t, g)| t.checked_sub(jiff::SignedDuration::from_secs(g)).ok())
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_else(now_rfc3339);
                new["metadata"]["deletionTimestamp"] = Value::String(requested);
                new["metadata"]["deletionGracePeriodSeconds"] = Value::from(0);
                let marked = self.swap(resource, current.index.key(), &current, new)?;
                return self
                    .remove(resource, namespace, name, Some(&marked.index.uid))
                    .map(Deletion::Gone);
            }
        }
        if resource == Resource::Namespaces {
            // The namespace shows Terminating; the namespace controller's part
            // (`Store::finish_namespace`) empties and removes it.
            if current.index.deleting {
                return Ok(Deletion::Terminating(current, 0));
            }
            let mut new = current.decode();
            new["metadata"]["deletionTimestamp"] = Value::String(now_rfc3339());
            new["status"]["phase"] = Value::String("Terminating".into());
            let stored = self.swap(resource, current.index.key(), &current, new)?;
            return Ok(Deletion::Terminating(stored, 0));
        }
        self.remove(resource, namespace, name, None)
            .map(Deletion::Gone)
    }

    /// Removes an object at once (grace period over). With `uid`, only that incarnation.
    pub fn remove(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<Arc<Stored>, ApiError> {
        let key = (namespace.to_string(), name.to_string());
        let current = self
            .get(resource, namespace, name)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        if uid.is_some_and(|u| u != current.index.uid) {
            return Err(ApiError::not_found(resource, name));
        }
        let mut value = current.decode();
        let mut s = self.state.lock();
        match s.objects[resource.index()].get(&key) {
            Some(now) if Arc::ptr_eq(now, &current) => {}
            _ => return Err(ApiError::conflict(resource, name)),
        }
        let rv = s.rv + 1;
        value["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let stored = Stored::encode(resource, &value);
        s.objects[resource.index()].remove(&key);
        self.commit(
            &mut s,
            resource,
            EventKind::Deleted,
            stored.clone(),
            Some(current),
        );
        Ok(stored)
    }

    /// Deletes a Terminating namespace's pods and events, then the namespace (that
    /// incarnation only).
    pub fn finish_namespace(&self, namespace: &str, uid: &str) {
        for resource in [Resource::Pods, Resource::Events] {
            let (_, objects) = self.snapshot(resource, Some(namespace));
            for object in objects {
                let _ = self.remove(resource, namespace, &object.index.name, None);
            }
        }
        let _ = self.remove(Resource::Namespaces, "", namespace, Some(uid));
    }

    fn commit(
        &self,
        s: &mut State,
        resource: Resource,
        kind: EventKind,
        object: Arc<Stored>,
        prev: Option<Arc<Stored>>,
    ) {
        s.rv += 1;
        let frame = watch_frame(kind.as_str(), &object.bytes);
        s.history.push_back(Arc::new(Event {
            rv: s.rv,
            resource,
            kind,
            object,
            prev,
            frame,
        }));
        while s.history.len() > self.history_limit {
            if let Some(old) = s.history.pop_front() {
                s.compacted = old.rv;
            }
        }
        self.rv_tx.send_replace(s.rv);
    }

    /// Events after `cursor` (at most `max`), or 410 when `cursor` left the window.
    pub fn events_after(
        &self,
        cursor: u64,
        max: usize,
    ) -> Result<(Vec<Arc<Event>>, u64), ApiError> {
        let s = self.state.lock();
        if cursor < s.compacted {
            return Err(ApiError::too_old(cursor, s.compacted));
        }
        let start = s.history.partition_point(|e| e.rv <= cursor);
        let events = s.history.range(start..).take(max).cloned().collect();
        Ok((events, s.rv))
    }

    /// Checks that `rv` can be listed exactly.
    pub fn check_rv(&self, rv: u64) -> Result<(), ApiError> {
        let s = self.state.lock();
        if rv < s.compacted {
            Err(ApiError::too_old(rv, s.compacted))
        } else if rv > s.rv {
            Err(ApiError::too_large(rv, s.rv))
        } else {
            Ok(())
        }
    }

    /// One page of objects, as [`PageRequest`] says, that satisfy `filter`. Older
    /// states are rebuilt by undoing newer events.
    pub fn list(
        &self,
        resource: Resource,
        request: PageRequest<'_>,
        filter: impl Fn(&ObjectIndex) -> bool,
    ) -> Result<Page, ApiError> {
        let PageRequest {
            rv,
            namespace,
            after,
            limit,
            count_remaining,
        } = request;
        let s = self.state.lock();
        let at = rv.unwrap_or(s.rv);
        if at < s.compacted {
            return Err(ApiError::too_old(at, s.compacted));
        }
        if at > s.rv {
            return Err(ApiError::too_large(at, s.rv));
        }
        if let (Some(k), Some(ns)) = (after, namespace)
            && k.0 != ns
        {
            return Err(ApiError::bad_request(
                "continue key is not valid: it belongs to another namespace",
            ));
        }
        let range = key_range(namespace, after);
        // Undo, newest first: the last write per key wins, leaving the state at `at`.
        let mut undo: BTreeMap<Key, Option<Arc<Stored>>> = BTreeMap::new();
        for e in s.history.iter().rev().take_while(|e| e.rv > at) {
            if e.resource == resource {
                let prev = if e.kind == EventKind::Added {
                    None
                } else {
                    e.prev.clone()
                };
                undo.insert(e.object.index.key(), prev);
            }
        }
        let undo_is_empty = undo.is_empty();
        let mut current = s.objects[resource.index()].range(range.clone()).peekable();
        let mut undone = undo.range(range).peekable();
        // The state at `at`, in key order: current objects with the undone keys overlaid.
        let mut merged = std::iter::from_fn(|| {
            loop {
                let item: Option<&Arc<Stored>> = match (current.peek(), undone.peek()) {
                    (None, None) => return None,
                    (Some(_), None) => current.next().map(|(_, v)| v),
                    (None, Some(_)) => undone.next().and_then(|(_, v)| v.as_ref()),
                    (Some((ck, _)), Some((uk, _))) => match ck.cmp(uk) {
                        std::cmp::Ordering::Less => current.next().map(|(_, v)| v),
                        std::cmp::Ordering::Greater => undone.next().and_then(|(_, v)| v.as_ref()),
                        std::cmp::Ordering::Equal => {
                            current.next();
                            undone.next().and_then(|(_, v)| v.as_ref())
                        }
                    },
                };
                if item.is_some() {
                    return item;
                }
            }
        });
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        for item in merged.by_ref() {
            if filter(&item.index) {
                items.push(item.clone());
                if items.len() == limit {
                    break;
                }
            }
        }
        // What is left: counted only when the caller reports it (unfiltered lists);
        // otherwise it is enough to know that one more item matches.
        let remaining = if items.len() < limit {
            0
        } else if !count_remaining {
            usize::from(merged.any(|i| filter(&i.index)))
        } else if undo_is_empty {
            current.count()
        } else {
            merged.count()
        };
        let next = if remaining > 0 {
            items.last().map(|i| i.index.key())
        } else {
            None
        };
        Ok(Page {
            rv: at,
            items,
            next,
            remaining,
        })
    }

    /// Drops the whole history: every older resourceVersion becomes 410 Gone.
    pub fn compact(&self) {
        let mut s = self.state.lock();
        s.history.clear();
        s.compacted = s.rv;
    }

    /// Simulates an etcd restore done the recommended way (`etcdutl snapshot restore
    /// --bump-revision … --mark-compacted`): the revision jumps far ahead and everything
    /// before it is compacted, so clients must re-list.
    pub fn restart(&self, bump: u64) {
        let mut s = self.state.lock();
        s.history.clear();
        s.rv += bump;
        s.compacted = s.rv;
        self.rv_tx.send_replace(s.rv);
    }
}

fn key_range(namespace: Option<&str>, after: Option<&Key>) -> (Bound<Key>, Bound<Key>) {
    let start = match (after, namespace) {
        (Some(k), _) => Bound::Excluded(k.clone()),
        (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
        (None, None) => Bound::Unbounded,
    };
    // "\0" sorts before every character a namespace may contain.
    let end = match namespace {
        Some(ns) => Bound::Excluded((format!("{ns}\0"), String::new())),
        None => Bound::Unbounded,
    };
    (start, end)
}

/// A random RFC 4122 version-4 style uid.
pub fn uid_from(rng: &mut impl RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, app: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "labels": {"app": app}}, "spec": {}, "status": {}})
    }

    fn store_with_namespaces(limit: usize) -> Store {
        let store = Store::new(100, limit, 1);
        for ns in ["a", "b"] {
            store.load(Resource::Namespaces, json!({"metadata": {"name": ns}}));
        }
        store
    }

    fn names(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|i| format!("{}/{}", i.index.namespace, i.index.name))
            .collect()
    }

    #[test]
    fn lists_at_an_older_version_undo_later_changes() {
        let store = store_with_namespaces(100);
        for n in ["p1", "p2", "p3"] {
            store
                .create(Resource::Pods, pod("a", n, "web"))
                .expect("create");
        }
        let then = store.rv();
        store
            .remove(Resource::Pods, "a", "p2", None)
            .expect("remove");
        store
            .create(Resource::Pods, pod("a", "p0", "web"))
            .expect("create");
        store
            .update(Resource::Pods, "a", "p3", None, |mut v| {
                v["metadata"]["labels"]["app"] = "api".into();
                Ok(v)
            })
            .expect("update");
        let old = store
            .list(
                Resource::Pods,
                PageRequest {
                    rv: Some(then),
                    ..Default::default()
                },
                |_| true,
            )
            .expect("list");
        assert_eq!(names(&old), ["a/p1", "a/p2", "a/p3"]);
        assert_eq!(old.items[2].index.label("app"), Some("web"));
        let now = store
            .list(Resource::Pods, PageRequest::default(), |_| true)
            .expect("list");
        assert_eq!(names(&now), ["a/p0", "a/p1", "a/p3"]);
        assert_eq!(now.items[2].index.label("app"), Some("api"));
    }

    #[test]
    fn pages_continue_after_a_key_within_a_namespace() {
        let store = store_with_namespaces(100);
        for (ns, n) in [("a", "x"), ("a", "y"), ("a", "z"), ("b", "w")] {
            store
                .create(
                    Resource::Pods,
                    pod(ns, n, if n == "y" { "db" } else { "web" }),
                )
                .expect("create");
        }
        let req = PageRequest {
            namespace: Some("a"),
            limit: Some(1),
            count_remaining: true,
            ..Default::default()
        };
        let first = store.list(Resource::Pods, req, |_| true).expect("page");
        assert_eq!(
            (names(&first), first.remaining),
            (vec!["a/x".to_string()], 2)
        );
        let after = first.next.clone().expect("more");
        let second = store
            .list(
                Resource::Pods,
                PageRequest {
                    after: Some(&after),
                    limit: Some(5),
                    ..req
                },
                |_| true,
            )
            .expect("page");
        assert_eq!(
            (names(&second), second.remaining, second.next),
            (vec!["a/y".to_string(), "a/z".to_string()], 0, None)
        );
        // A filtered page only learns whether another match exists.
        let web = |i: &ObjectIndex| i.label("app") == Some("web");
        let filtered = store
            .list(
                Resource::Pods,
                PageRequest {
                    namespace: None,
                    count_remaining: false,
                    ..req
                },
                web,
            )
            .expect("page");
        assert_eq!(
            (names(&filtered), filtered.remaining),
            (vec!["a/x".to_string()], 1)
        );
        let other_ns = ("b".to_string(), "w".to_string());
        let wrong = store.list(
            Resource::Pods,
            PageRequest {
                after: Some(&other_ns),
                ..req
            },
            |_| true,
        );
        assert_eq!(wrong.map(|_| ()).map_err(|e| e.code), Err(400));
    }

    #[test]
    fn resuming_behind_the_window_is_gone() {
        let store = store_with_namespaces(3);
        let start = store.rv();
        for n in ["p1", "p2", "p3", "p4"] {
            store
                .create(Resource::Pods, pod("a", n, "web"))
                .expect("create");
        }
        let err = store
            .events_after(start, 10)
            .expect_err("fell out of the window");
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let (events, _) = store
            .events_after(start + 1, 10)
            .expect("inside the window");
        assert_eq!(events.len(), 3);
        assert!(events.windows(2).all(|w| w[0].rv < w[1].rv));
        assert!(
            store
                .list(
                    Resource::Pods,
                    PageRequest {
                        rv: Some(start),
                        ..Default::default()
                    },
                    |_| true
                )
                .is_err()
        );
    }

    #[test]
    fn a_finished_namespace_takes_its_pods_and_events_along() {
        let store = store_with_namespaces(100);
        store
            .create(Resource::Pods, pod("a", "p", "web"))
            .expect("create pod");
        for ns in ["a", "b"] {
            let event = json!({"metadata": {"namespace": ns, "name": "p.1"}, "reason": "x"});
            store.create(Resource::Events, event).expect("create event");
        }
        store.finish_namespace("a", "");
        assert_eq!(store.snapshot(Resource::Pods, Some("a")).1.len(), 0);
        assert_eq!(store.snapshot(Resource::Events, Some("a")).1.len(), 0);
        assert_eq!(store.snapshot(Resource::Events, Some("b")).1.len(), 1);
        assert!(store.get(Resource::Namespaces, "", "a").is_none());
    }

    #[test]
    fn unchanged_updates_keep_the_version_and_deletes_stamp_a_new_one() {
        let store = store_with_namespaces(100);
        let created = store
            .create(Resource::Pods, pod("a", "p", "web"))
            .expect("create");
        let same = store
            .update(Resource::Pods, "a", "p", None, Ok)
            .expect("no-op update");
        assert_eq!(same.index.rv, created.index.rv);
        let stale = store.update(Resource::Pods, "a", "p", Some(created.index.rv - 1), Ok);
        assert_eq!(stale.map(|_| ()).map_err(|e| e.reason), Err("Conflict"));
        let gone = store
            .remove(Resource::Pods, "a", "p", None)
            .expect("remove");
        assert_eq!(gone.index.rv, store.rv());
        assert!(gone.index.rv > created.index.rv);
    }
}
