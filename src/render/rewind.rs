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
    /// Its status transitions, oldest first, for the lane (whose script shows the times
    /// in the browser's time zone).
    pub steps: Vec<RecentTransition>,
}

impl RecentItem {
    /// Its status transitions with their times, UTC: "10:41:02 Pending → Running; …"
    /// (`data-transitions`, for tools).
    pub fn transitions(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{} {} → {}", s.clock, s.from, s.to))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One status transition of a [`RecentItem`].
#[derive(Debug, Clone)]
pub struct RecentTransition {
    /// When, RFC 3339.
    pub time: String,
    /// When, as a time of day in UTC ("10:41:02").
    pub clock: String,
    /// The status before ("new" for an object that appeared).
    pub from: String,
    /// The status after ("gone" for one that went).
    pub to: String,
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
                let steps = t
                    .transitions
                    .iter()
                    .map(|c| {
                        let time = c.at.time();
                        RecentTransition {
                            time: time.to_string(),
                            clock: time.strftime("%H:%M:%S").to_string(),
                            from: if c.from.is_empty() {
                                "new".into()
                            } else {
                                c.from.to_string()
                            },
                            to: c.to.to_string(),
                        }
                    })
                    .collect();
                RecentItem {
                    kind: t.kind,
                    marks: t.marks(),
                    steps,
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
