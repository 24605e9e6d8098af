//! What a page of the past adds: the banner of a rewound wall (`?at=`), the scrubber's
//! window, and the lane of what changed lately (`?recent=`) with its ghosts.

use std::sync::Arc;

use super::format;
use crate::state::{Mark, PodView, Touched};

/// A wall shown as it was at a past moment.
#[derive(Debug, Clone)]
pub struct Rewound {
    /// The moment, RFC 3339 (`data-at`).
    pub time: String,
    /// The moment's time of day, UTC ("10:42:00"); the page's script shows it in the
    /// browser's time zone.
    pub clock: String,
    /// How long ago ("15m ago").
    pub ago: String,
    /// The moment in unix milliseconds (the scrubber's value).
    pub ms: u64,
}

impl Rewound {
    /// The banner of a wall at `at`, seen at `now_ms`.
    pub fn new(at: Mark, now_ms: u64) -> Self {
        let time = at.time();
        let ago_s = i64::try_from(now_ms.saturating_sub(at.time_ms) / 1000).unwrap_or(i64::MAX);
        Self {
            time: time.to_string(),
            clock: time.strftime("%H:%M:%S").to_string(),
            ago: format!("{} ago", format::age(ago_s)),
            ms: at.time_ms,
        }
    }
}

/// One object of the lane of recent changes.
#[derive(Debug, Clone)]
pub struct RecentItem {
    /// `pod` or `node`.
    pub kind: &'static str,
    /// `namespace/name` or the node's name.
    pub key: String,
    /// `appeared status restarted gone`, as they apply.
    pub marks: String,
    /// Its status transitions with their times: "10:41:02 Pending → Running; …".
    pub transitions: String,
}

/// The lane of what changed in the span before the moment shown.
#[derive(Debug, Clone)]
pub struct RecentLane {
    /// The span, as asked ("15m").
    pub span: String,
    /// What changed, most recently first.
    pub items: Vec<RecentItem>,
    /// Pods that went in the span, as they last were.
    pub ghosts: Vec<Arc<PodView>>,
}

impl RecentLane {
    /// The lane for the objects that changed.
    pub fn new(span: String, touched: Vec<Touched>) -> Self {
        let mut ghosts = Vec::new();
        let items = touched
            .into_iter()
            .map(|t| {
                if let Some(g) = &t.ghost {
                    ghosts.push(g.clone());
                }
                RecentItem {
                    kind: t.kind,
                    marks: t.marks(),
                    transitions: t
                        .transitions
                        .iter()
                        .map(|c| {
                            let from = if c.from.is_empty() { "new" } else { &*c.from };
                            format!("{} {from} → {}", c.at.time().strftime("%H:%M:%S"), c.to)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    key: t.key,
                }
            })
            .collect();
        Self {
            span,
            items,
            ghosts,
        }
    }
}
