//! What the wall looks like: HTML rendered with askama, the whole page and the fragments
//! `/events` sends.
//!
//! Page and fragments use the same templates (`pod.html`, `node_header.html`,
//! `node.html`, `wall.html`), so a live-updated page looks exactly like a fresh one.

pub mod format;
mod layout;
mod rewind;
mod wall;

use std::sync::Arc;

use askama::Template;

pub use layout::Layout;
pub use rewind::{RecentLane, Rewound};
pub use wall::{Counts, NodeBox, Wall};

use crate::state::{
    ApiState, ApiStatus, EventsState, FilterParams, NodeView, PodView, RECENT, Snapshot,
    StatusClass, WarningView,
};

/// The most warnings the lane shows (the newest); the JSON API carries them all.
pub const WARNINGS_SHOWN: usize = 50;

/// Up to this many pods the page draws large blocks (a small cluster fills the wall).
const LARGE_UP_TO: usize = 400;
/// Above this many pods the page starts with small blocks; above [`DOTS_AT`], dots.
const SMALL_AT: usize = 1500;
/// Above this many pods the page starts with pods as dots.
const DOTS_AT: usize = 5000;
/// The sizes a page starts at, each with the most pods it is chosen for; above the last,
/// [`DENSEST`]. The page reads them too (`data-density-steps`), to follow the pod count.
const DENSITY_STEPS: [(&str, usize); 3] = [
    ("large", LARGE_UP_TO),
    ("normal", SMALL_AT),
    ("small", DOTS_AT),
];
/// The size beyond the last step, and the size of `compact=1`.
const DENSEST: &str = "dots";

/// The size a page of `pods` pods starts at.
fn density(pods: usize, compact: bool) -> &'static str {
    if compact {
        return DENSEST;
    }
    DENSITY_STEPS
        .iter()
        .find(|(_, up_to)| pods <= *up_to)
        .map_or(DENSEST, |(name, _)| name)
}

/// What the page shows around the wall.
pub struct PageContext<'a> {
    /// The query parameters, to refill the filter form.
    pub params: &'a FilterParams,
    /// The layout options.
    pub layout: Layout,
    /// Why the first sync is not complete yet, while it runs.
    pub syncing: Option<String>,
    /// A malformed filter's message; the page then shows no wall.
    pub error: Option<String>,
    /// `data-*` attributes on `#wall-root` for the overlay script (usage, links).
    pub overlay: &'a [(&'static str, String)],
    /// Framed by the multi-cluster overview, which shows the title, clock and legend once
    /// for all its walls: the page hides its own.
    pub framed: bool,
    /// The page's ES modules (paths under `/static/`), preloaded while the page parses.
    pub modules: &'a [&'static str],
    /// With `problems=1`: how many pods the filter folds away as healthy.
    pub folded: Option<usize>,
    /// With `at=`: the moment shown (live updates are paused).
    pub rewound: Option<Rewound>,
    /// The history's window in unix milliseconds (the scrubber's range); `None` when off.
    pub history: Option<(u64, u64)>,
    /// With `recent=`: what changed lately.
    pub recent: Option<RecentLane>,
    /// The page's URL without `at=`: where "back to live" goes.
    pub live_href: String,
}

/// A query parameter's value for the form (empty when absent).
fn form_value(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// The full page.
#[derive(Template)]
#[template(path = "page.html")]
struct Page<'a> {
    seq: String,
    ctx: &'a PageContext<'a>,
    density: &'static str,
    counts: Counts,
    apiserver: &'a ApiStatus,
    wall: Wall,
    events: EventsState,
    warning_items: String,
}

/// The filter's values, for the form and the summary line.
impl Page<'_> {
    fn ns(&self) -> &str {
        form_value(&self.ctx.params.ns)
    }
    fn label(&self) -> &str {
        form_value(&self.ctx.params.label)
    }
    fn node(&self) -> &str {
        form_value(&self.ctx.params.node)
    }
    fn q(&self) -> &str {
        form_value(&self.ctx.params.q)
    }
    fn status(&self) -> &str {
        form_value(&self.ctx.params.status)
    }
    fn problems(&self) -> bool {
        matches!(self.ctx.params.problems.as_deref(), Some("1" | "true"))
    }
    fn filtered(&self) -> bool {
        !(self.ns().is_empty()
            && self.label().is_empty()
            && self.node().is_empty()
            && self.q().is_empty()
            && self.status().is_empty())
            || self.problems()
    }
    /// The rewound banner's "15m ago" ("" while live).
    fn rewound_ago(&self) -> &str {
        self.ctx.rewound.as_ref().map_or("", |r| r.ago.as_str())
    }
    /// Where the scrubber stands: the moment shown, or the window's end while live.
    fn scrub_value(&self) -> u64 {
        match (&self.ctx.rewound, self.ctx.history) {
            (Some(r), _) => r.ms,
            (None, Some((_, until))) => until,
            (None, None) => 0,
        }
    }
    /// The scrubber's label: the moment shown, or "live" (the page's script shows it in
    /// the browser's time zone, as the banner's and the top bar's clocks).
    fn scrub_text(&self) -> String {
        self.ctx
            .rewound
            .as_ref()
            .map_or_else(|| "live".to_owned(), |r| format!("{} UTC", r.clock))
    }
    /// `data-recent-seconds` on `<html>`: how long a restart counts as recent.
    fn recent_seconds(&self) -> i64 {
        RECENT.as_secs()
    }
    /// `data-density-steps` on `<html>`: "large 400 normal 1500 small 5000 dots".
    fn density_steps(&self) -> String {
        let mut steps = String::new();
        for (name, up_to) in DENSITY_STEPS {
            steps.push_str(&format!("{name} {up_to} "));
        }
        steps + DENSEST
    }
    /// What the lane says about the events watch (then, on a past moment), quietly (""
    /// when warnings flow).
    fn warnings_note(&self, events: &EventsState) -> &'static str {
        events_note(*events)
    }
    /// `data-status-classes` on `<html>`: every status class, the catch-all last.
    fn status_classes(&self) -> String {
        StatusClass::ALL.map(StatusClass::as_str).join(" ")
    }
}

/// The wall alone (the `reset` fragment).
#[derive(Template)]
#[template(path = "wall.html")]
struct WallFragment<'a> {
    wall: &'a Wall,
}

/// One item of the warnings lane.
#[derive(Template)]
#[template(path = "warning.html")]
struct WarningFragment<'a> {
    w: &'a WarningView,
    name: &'a str,
    object_namespace: &'a str,
    last_seen: String,
    age: String,
}

/// The lane's one quiet line about the events watch; empty while warnings flow.
pub fn events_note(events: EventsState) -> &'static str {
    match events {
        EventsState::Ok => "",
        EventsState::Starting => "loading events…",
        EventsState::Reconnecting => "events reconnecting…",
        EventsState::Forbidden => "events not permitted",
        EventsState::Unavailable => "events not served by this API server",
    }
}

/// One pod block.
#[derive(Template)]
#[template(path = "pod.html")]
struct PodFragment<'a> {
    pod: &'a PodView,
}

/// A node box's header.
#[derive(Template)]
#[template(path = "node_header.html")]
struct NodeHeaderFragment<'a> {
    node: &'a NodeBox,
}

/// Renders the page for a snapshot (or, with `ctx.error`, the page without a wall).
pub fn page(snap: &Snapshot, ctx: &PageContext<'_>) -> Result<String, askama::Error> {
    let density = density(snap.pods.len(), ctx.layout.compact);
    let (seq, wall, counts) = if ctx.error.is_some() {
        let empty = Snapshot {
            epoch: snap.epoch,
            seq: snap.seq,
            nodes: Vec::new(),
            pods: Vec::new(),
            warnings: Vec::new(),
            apiserver: snap.apiserver.clone(),
            events: snap.events,
            cluster: snap.cluster.clone(),
        };
        (
            String::new(),
            Wall::from_snapshot(&empty),
            Counts::of(&empty),
        )
    } else {
        (
            snap.position().to_string(),
            Wall::arranged(snap, ctx.layout),
            Counts::of(snap),
        )
    };
    let warning_items = if ctx.error.is_some() {
        String::new()
    } else {
        // A past moment's ages are as they were then.
        let now_s = ctx.rewound.as_ref().map_or_else(
            || jiff::Timestamp::now().as_second(),
            |r| i64::try_from(r.ms / 1000).unwrap_or(i64::MAX),
        );
        warning_items_at(snap, now_s)?
    };
    Page {
        seq,
        ctx,
        density,
        counts,
        apiserver: &snap.apiserver,
        wall,
        events: snap.events,
        warning_items,
    }
    .render()
}

/// Renders the inner HTML of `#wall` for a snapshot.
pub fn wall(snap: &Snapshot) -> Result<String, askama::Error> {
    WallFragment {
        wall: &Wall::from_snapshot(snap),
    }
    .render()
}

/// Renders one item of the warnings lane; messages and names are escaped by askama.
pub fn warning(w: &WarningView) -> Result<String, askama::Error> {
    warning_at(w, jiff::Timestamp::now().as_second())
}

/// [`warning`] with its age as at `now_s` (Unix seconds).
fn warning_at(w: &WarningView, now_s: i64) -> Result<String, askama::Error> {
    let last_seen = w.last_seen();
    let age = now_s.saturating_sub(last_seen.as_second());
    WarningFragment {
        w,
        name: &w.name(),
        object_namespace: w.regarding.namespace().map_or("", |ns| ns),
        last_seen: last_seen.to_string(),
        age: format::age(age),
    }
    .render()
}

/// Renders the lane's items: the newest [`WARNINGS_SHOWN`] of a snapshot's warnings.
pub fn warning_items(snap: &Snapshot) -> Result<String, askama::Error> {
    warning_items_at(snap, jiff::Timestamp::now().as_second())
}

/// [`warning_items`] with their ages as at `now_s` (Unix seconds).
fn warning_items_at(snap: &Snapshot, now_s: i64) -> Result<String, askama::Error> {
    let mut html = String::new();
    for w in snap.warnings.iter().take(WARNINGS_SHOWN) {
        html.push_str(&warning_at(w, now_s)?);
    }
    Ok(html)
}

/// Renders one pod block.
pub fn pod(pod: &PodView) -> Result<String, askama::Error> {
    PodFragment { pod }.render()
}

/// Renders a node header (pod count 0: the page counts its pods itself).
pub fn node_header(view: &Arc<NodeView>) -> Result<String, askama::Error> {
    NodeHeaderFragment {
        node: &NodeBox {
            name: view.name.clone(),
            view: Some(view.clone()),
            pods: Vec::new(),
        },
    }
    .render()
}

/// Renders the header of a box whose node details are unavailable.
pub fn unavailable_node_header(name: &str) -> Result<String, askama::Error> {
    NodeHeaderFragment {
        node: &NodeBox {
            name: Arc::from(name),
            view: None,
            pods: Vec::new(),
        },
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    fn snapshot() -> Snapshot {
        fixtures::snapshot(
            vec![fixtures::node("worker-1")],
            vec![fixtures::pod_on("a", "p3", "worker-1")],
        )
    }

    #[test]
    fn page_renders_layout_and_error() {
        let snap = snapshot();
        let params = FilterParams::default();
        let ok = page(
            &snap,
            &PageContext {
                params: &params,
                layout: Layout::default(),
                syncing: Some("waiting for first sync of pods".into()),
                error: None,
                overlay: &[],
                framed: false,
                modules: &["wall/main.mjs"],
                folded: None,
                rewound: None,
                history: Some((1_000, 2_000)),
                recent: None,
                live_href: "./".into(),
            },
        )
        .expect("renders");
        assert!(ok.contains("data-pod=\"a/p3\""));
        assert!(ok.contains("id=\"sync\""));
        assert!(ok.contains("data-density=\"large\""));
        assert!(ok.contains(r#"data-density-steps="large 400 normal 1500 small 5000 dots""#));
        assert!(ok.contains(
            r#"data-status-classes="ok starting notready bad done terminating unknown""#
        ));
        assert!(ok.contains(r#"<link rel="modulepreload" href="/static/wall/main.mjs">"#));
        assert!(!ok.contains(" framed"));
        let bad = page(
            &snap,
            &PageContext {
                params: &params,
                layout: Layout::default(),
                syncing: None,
                error: Some("label: nope".into()),
                overlay: &[],
                framed: true,
                modules: &[],
                folded: None,
                rewound: None,
                history: None,
                recent: None,
                live_href: "./".into(),
            },
        )
        .expect("renders");
        assert!(bad.contains("label: nope") && !bad.contains("data-pod="));
        assert!(bad.contains(r#"class="theme-dark framed""#));
        assert!(ok.contains(r#"id="scrubber""#) && !bad.contains(r#"id="scrubber""#));
        assert!(ok.contains(r#"data-history-from="1000""#));
    }

    #[test]
    fn a_rewound_page_says_when_and_lists_what_changed() {
        let mut snap = snapshot();
        // Seen two minutes before the moment: its age is as it was then.
        snap.warnings = vec![Arc::new(fixtures::warning_view(
            "a",
            "p3",
            "BackOff",
            1_764_931_320 - 120,
        ))];
        let params = FilterParams::default();
        let at = crate::state::Mark {
            seq: 3,
            time_ms: 1_764_931_320_000,
        };
        let gone = Arc::new(PodView {
            status: "Terminating".into(),
            ..fixtures::pod("a", "<gone>")
        });
        let touched = crate::state::Touched {
            kind: "pod",
            key: "a/<gone>".into(),
            appeared: false,
            gone: true,
            restarted: false,
            changed_status: false,
            transitions: vec![crate::state::StatusChange {
                at,
                from: "Terminating".into(),
                to: "gone".into(),
            }],
            ghost: Some(gone),
            last: at,
        };
        let html = page(
            &snap,
            &PageContext {
                params: &params,
                layout: Layout::default(),
                syncing: None,
                error: None,
                overlay: &[],
                framed: false,
                modules: &[],
                folded: None,
                rewound: Some(Rewound::new(at, at.time_ms + 15 * 60_000)),
                history: Some((at.time_ms - 60_000, at.time_ms + 15 * 60_000)),
                recent: Some(RecentLane::new("15m".into(), vec![touched])),
                live_href: "./?ns=a".into(),
            },
        )
        .expect("renders");
        assert!(html.contains(r#"data-at="2025-12-05T10:42:00Z""#), "{html}");
        assert!(
            html.contains(
                r#"Viewing <time class="clock-local" datetime="2025-12-05T10:42:00Z">10:42:00 UTC</time></b>, <span class="rewind-ago">15m ago"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"href="./?ns=a" id="back-to-live""#));
        assert!(
            html.contains(r#"<time class="warning-age" datetime="2025-12-05T10:40:00Z">2m</time>"#),
            "the lane of that moment, its ages then: {html}"
        );
        assert!(html.contains(r#"data-past="""#), "{html}");
        assert!(
            html.contains(r#"data-ghost="a/&#60;gone&#62;""#),
            "escaped: {html}"
        );
        assert!(html.contains(r#"data-transitions="10:42:00 Terminating → gone""#));
        assert!(
            html.contains(
                r#"<time class="clock-local" datetime="2025-12-05T10:42:00Z">10:42:00 UTC</time> Terminating → gone"#
            ),
            "the lane's times for the script to show locally: {html}"
        );
    }

    #[test]
    fn density_follows_the_pod_count() {
        let at = |pods| density(pods, false);
        assert_eq!(
            [at(0), at(400), at(401), at(1500), at(1501)],
            ["large", "large", "normal", "normal", "small"]
        );
        assert_eq!(
            [at(5000), at(5001), density(3, true)],
            ["small", "dots", "dots"]
        );
    }
}
