//! What clients cost the simulator: API requests by verb and the watches held open, so
//! benchmarks can compare how hard different dashboard designs lean on an API server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

/// Request and watch counters since the simulator started (`/_sim/state` → `traffic`).
#[derive(Debug, Default)]
pub struct Traffic {
    lists: AtomicU64,
    watches: AtomicU64,
    gets: AtomicU64,
    writes: AtomicU64,
    open_watches: Arc<AtomicU64>,
}

/// Keeps one watch counted as open until dropped.
#[derive(Debug)]
pub struct OpenWatch(Arc<AtomicU64>);

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Traffic {
    /// Counts one `/api/v1/…` request of `verb` (as the authorizer names verbs).
    pub fn request(&self, verb: &str) {
        let counter = match verb {
            "list" => &self.lists,
            "watch" => &self.watches,
            "get" => &self.gets,
            _ => &self.writes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a watch as open for the life of the returned guard.
    pub fn open_watch(&self) -> OpenWatch {
        self.open_watches.fetch_add(1, Ordering::Relaxed);
        OpenWatch(self.open_watches.clone())
    }

    /// The counters as JSON.
    pub fn summary(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (lists, watches, gets, writes) = (
            get(&self.lists),
            get(&self.watches),
            get(&self.gets),
            get(&self.writes),
        );
        json!({
            "requests": lists + watches + gets + writes,
            "lists": lists,
            "watches": watches,
            "gets": gets,
            "writes": writes,
            "openWatches": get(&self.open_watches),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_by_verb_and_open_watches_until_dropped() {
        let traffic = Traffic::default();
        for verb in ["list", "watch", "get", "patch", "create"] {
            traffic.request(verb);
        }
        let first = traffic.open_watch();
        let second = traffic.open_watch();
        assert_eq!(traffic.summary()["openWatches"], 2);
        drop(first);
        let s = traffic.summary();
        assert_eq!(
            (
                s["requests"].as_u64(),
                s["lists"].as_u64(),
                s["watches"].as_u64()
            ),
            (Some(5), Some(1), Some(1))
        );
        assert_eq!(
            (s["gets"].as_u64(), s["writes"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(s["openWatches"], 1);
        drop(second);
        assert_eq!(traffic.summary()["openWatches"], 0);
    }
}
