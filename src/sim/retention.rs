//! Events do not live forever: the real apiserver writes each one with an etcd lease of
//! `--event-ttl` (1 h by default), renewed by every write, and etcd deletes it when the
//! lease runs out (watchers see DELETED). The simulator does the same, and also keeps at
//! most a bounded number, oldest written first out, so heavy churn cannot grow its memory.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::resource::Resource;
use super::store::{Key, Store, Stored};

/// The real apiserver's `--event-ttl` default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Events kept at most (a real cluster's count is bounded by its TTL and write rate).
pub const DEFAULT_MAX: usize = 10_000;

/// How often expired events are removed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct Inner {
    ttl: Duration,
    max: usize,
    /// Every event write, oldest first: its deadline, key and the version written.
    writes: VecDeque<(Instant, Key, u64)>,
}

/// The leases of stored events.
pub struct Retention {
    inner: Mutex<Inner>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                ttl: DEFAULT_TTL,
                max: DEFAULT_MAX,
                writes: VecDeque::new(),
            }),
        }
    }
}

impl Retention {
    /// Changes the TTL (counted from each event's last write, stored ones included) and
    /// the bound.
    pub fn configure(&self, ttl: Duration, max: usize) {
        let mut i = self.inner.lock();
        let old = i.ttl;
        for (deadline, _, _) in i.writes.iter_mut() {
            *deadline = deadline.checked_sub(old).unwrap_or(*deadline) + ttl;
        }
        i.ttl = ttl;
        i.max = max.max(1);
    }

    /// The TTL and the bound.
    pub fn settings(&self) -> (Duration, usize) {
        let i = self.inner.lock();
        (i.ttl, i.max)
    }

    /// Starts (or renews) the lease of an event just written.
    pub fn written(&self, stored: &Stored) {
        let mut i = self.inner.lock();
        let deadline = Instant::now() + i.ttl;
        i.writes
            .push_back((deadline, stored.index.key(), stored.index.rv));
    }

    /// Removes the events whose lease ran out, then the oldest written while more than
    /// the bound are stored. Returns how many were removed.
    pub fn sweep(&self, store: &Store) -> usize {
        let now = Instant::now();
        let mut removed = 0;
        loop {
            let over = store.stats().events > self.settings().1;
            let next = {
                let mut i = self.inner.lock();
                match i.writes.front() {
                    Some((deadline, _, _)) if over || *deadline <= now => i.writes.pop_front(),
                    _ => None,
                }
            };
            let Some((_, (ns, name), rv)) = next else {
                return removed;
            };
            // A later write renewed the lease (its own entry comes later): keep it.
            let current = store.get(Resource::Events, &ns, &name);
            if current.is_some_and(|c| c.index.rv == rv)
                && store.remove(Resource::Events, &ns, &name, None).is_ok()
            {
                removed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> Store {
        let store = Store::new(100, 1000, 1);
        store.load(
            Resource::Namespaces,
            json!({"metadata": {"name": "default"}}),
        );
        store
    }

    fn event(store: &Store, r: &Retention, name: &str) {
        let e = json!({"metadata": {"namespace": "default", "name": name}, "reason": "x"});
        let stored = store.create(Resource::Events, e).expect("create");
        r.written(&stored);
    }

    #[tokio::test(start_paused = true)]
    async fn events_expire_after_the_ttl_unless_written_again() {
        let (store, r) = (store(), Retention::default());
        r.configure(Duration::from_secs(60), 100);
        event(&store, &r, "a");
        event(&store, &r, "b");
        tokio::time::advance(Duration::from_secs(30)).await;
        let renewed = store
            .update(Resource::Events, "default", "b", None, |mut v| {
                v["count"] = 2.into();
                Ok(v)
            })
            .expect("update");
        r.written(&renewed);
        assert_eq!(r.sweep(&store), 0);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(r.sweep(&store), 1);
        assert!(store.get(Resource::Events, "default", "a").is_none());
        assert!(store.get(Resource::Events, "default", "b").is_some());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(r.sweep(&store), 1);
        assert_eq!(store.stats().events, 0);
    }

    #[tokio::test]
    async fn at_most_the_bound_are_kept_oldest_out_first() {
        let (store, r) = (store(), Retention::default());
        r.configure(DEFAULT_TTL, 3);
        for n in ["a", "b", "c", "d", "e"] {
            event(&store, &r, n);
        }
        assert_eq!(r.sweep(&store), 2);
        let (_, left) = store.snapshot(Resource::Events, None);
        let names: Vec<&str> = left.iter().map(|e| e.index.name.as_str()).collect();
        assert_eq!(names, ["c", "d", "e"]);
    }
}
