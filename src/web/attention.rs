//! Attention on the wire: the evaluators of `alert=` rules and of screens' `alert`
//! entries, each a task that evaluates its rules over its scope's snapshot once a
//! [`TICK`] and publishes the result as one `event: attention` frame that its streams
//! share (a `watch` channel: a stream sends the latest state, never a queue).
//!
//! A screen's evaluators (one per cluster it sees) run while the screen exists, streams
//! or not, so its webhook hears when a rule starts and stops matching; an `alert=` in a
//! URL gets an evaluator of its own per stream, which ends with the stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::screens::{Screen, Screens};
use super::webhook::Webhook;
use crate::state::{Alert, Filter, Rules, Tracker, Transition};

/// How often rules are evaluated.
pub const TICK: Duration = Duration::from_secs(1);

/// A rule of a screen, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    /// The screen's name.
    pub screen: String,
    /// The cluster.
    pub cluster: String,
    /// The rule as written.
    pub rule: String,
}

/// The attention of every screen, and the evaluators of URL rules. Cheap to clone.
#[derive(Clone)]
pub struct Attention(Arc<Inner>);

/// Per (screen name, cluster): the screen evaluated and its latest attention frame.
type ScreenFrames = HashMap<(String, String), (Arc<Screen>, watch::Receiver<Bytes>)>;

struct Inner {
    registry: prometheus_client::registry::Registry,
    quiet: Duration,
    clusters: Vec<AppState>,
    screens: Mutex<ScreenFrames>,
    matching: Family<RuleLabel, Gauge>,
    webhook: Webhook,
    shutdown: CancellationToken,
}

impl Attention {
    /// Attention over `clusters`, alerts kept `quiet` after their condition ended;
    /// follows the screens (when set) until `shutdown`.
    pub fn start(
        clusters: Vec<AppState>,
        screens: Option<Screens>,
        quiet: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let matching = Family::<RuleLabel, Gauge>::default();
        let webhook = Webhook::default();
        let mut registry = prometheus_client::registry::Registry::with_prefix("podwall");
        if screens.is_some() {
            registry.register(
                "alert_rules_matching",
                "1 while a screen's attention rule matches (or is in its quiet period)",
                matching.clone(),
            );
            webhook.register(&mut registry);
        }
        let attention = Self(Arc::new(Inner {
            registry,
            quiet,
            clusters,
            screens: Mutex::new(HashMap::new()),
            matching,
            webhook,
            shutdown,
        }));
        if let Some(screens) = screens {
            // At once, so the first streams find their screen's attention.
            attention.start_screens(&screens);
            let a = attention.clone();
            tokio::spawn(async move { a.follow(screens).await });
        }
        attention
    }

    /// The metrics of screens' rules and webhooks (`/metrics` shows them).
    pub fn registry(&self) -> &prometheus_client::registry::Registry {
        &self.0.registry
    }

    /// The attention frames of `screen` on `cluster`, when it has rules.
    pub fn of_screen(&self, screen: &Arc<Screen>, cluster: &str) -> Option<watch::Receiver<Bytes>> {
        let map = self.0.screens.lock();
        let (evaluated, rx) = map.get(&(screen.name.clone(), cluster.to_owned()))?;
        Arc::ptr_eq(evaluated, screen).then(|| rx.clone())
    }

    /// An evaluator of `rules` over `filter` on `state` for one stream: it ends when the
    /// stream drops its receiver.
    pub fn for_stream(
        &self,
        state: &AppState,
        filter: Filter,
        rules: Rules,
    ) -> watch::Receiver<Bytes> {
        let (tx, rx) = watch::channel(Bytes::new());
        let eval = Evaluator {
            state: state.clone(),
            filter,
            tracker: Tracker::new(rules, self.0.quiet),
            tx,
            screen: None,
        };
        let shutdown = self.0.shutdown.clone();
        tokio::spawn(eval.run(shutdown));
        rx
    }

    /// Starts the evaluators of every screen with rules, and again after each reload for
    /// the screens that are new or changed (a changed screen's old ones end with it).
    async fn follow(self, screens: Screens) {
        let mut generation = screens.subscribe();
        loop {
            tokio::select! {
                () = self.0.shutdown.cancelled() => break,
                changed = generation.changed() => if changed.is_err() { break },
            }
            self.start_screens(&screens);
        }
    }

    fn start_screens(&self, screens: &Screens) {
        let current = screens.current();
        let mut map = self.0.screens.lock();
        map.retain(|_, (screen, _)| current.iter().any(|s| Arc::ptr_eq(s, screen)));
        for screen in current.iter().filter(|s| !s.rules.is_empty()) {
            for state in self.0.clusters.iter() {
                let cluster = state.cluster.name.clone();
                if !screen.sees_cluster(&cluster) {
                    continue;
                }
                let key = (screen.name.clone(), cluster.clone());
                if map.get(&key).is_some_and(|(s, _)| Arc::ptr_eq(s, screen)) {
                    continue;
                }
                let (tx, rx) = watch::channel(Bytes::new());
                let eval = Evaluator {
                    state: state.clone(),
                    filter: Filter::default().within(screen.bounds.clone()),
                    tracker: Tracker::new(screen.rules.clone(), self.0.quiet),
                    tx,
                    screen: Some(ScreenSide {
                        screen: screen.clone(),
                        attention: self.clone(),
                        cluster,
                    }),
                };
                // Ends with the screen (changed or removed) or the server.
                let token = self.0.shutdown.child_token();
                let revoked = screen.revoked.clone();
                let stop = token.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = revoked.cancelled() => stop.cancel(),
                        () = stop.cancelled() => {}
                    }
                });
                tokio::spawn(eval.run(token));
                map.insert(key, (screen.clone(), rx));
            }
        }
    }
}

/// What an evaluator of a screen's entry does besides publishing frames.
struct ScreenSide {
    screen: Arc<Screen>,
    attention: Attention,
    cluster: String,
}

struct Evaluator {
    state: AppState,
    filter: Filter,
    tracker: Tracker,
    tx: watch::Sender<Bytes>,
    screen: Option<ScreenSide>,
}

impl Evaluator {
    async fn run(mut self, stop: CancellationToken) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                // A stream's evaluator: its stream is gone.
                () = self.tx.closed(), if self.screen.is_none() => break,
                _ = every.tick() => self.tick(),
            }
        }
        if let Some(side) = &self.screen {
            for rule in side.screen.rules.rules() {
                side.attention
                    .0
                    .matching
                    .remove(&side.label(&rule.to_string()));
            }
        }
    }

    fn tick(&mut self) {
        // Not before the first sync: a half-listed cluster is not an alert.
        if self.state.cache().readiness().is_err() {
            return;
        }
        let snap = self.state.cache().snapshot(&self.filter);
        let now = Instant::now();
        let transitions = self.tracker.evaluate(&snap, now);
        let alerts = self.tracker.alerts(now);
        let frame = attention_frame(&alerts);
        self.tx.send_if_modified(|old| {
            if *old == frame {
                return false;
            }
            *old = frame;
            true
        });
        if let Some(side) = &self.screen {
            side.report(&transitions);
        }
    }
}

impl ScreenSide {
    fn label(&self, rule: &str) -> RuleLabel {
        RuleLabel {
            screen: self.screen.name.clone(),
            cluster: self.cluster.clone(),
            rule: rule.to_owned(),
        }
    }

    /// Metrics, a log line and the webhook for each rule that started or stopped.
    fn report(&self, transitions: &[Transition]) {
        let inner = &self.attention.0;
        for t in transitions {
            let (rule, on) = match t {
                Transition::Started(a) => (a.rule.as_str(), true),
                Transition::Stopped(rule) => (rule.as_str(), false),
            };
            inner
                .matching
                .get_or_create(&self.label(rule))
                .set(i64::from(on));
            tracing::info!(screen = %self.screen.name, cluster = %self.cluster, rule, on, "attention rule changed");
            if let Some(url) = &self.screen.webhook {
                let text = match t {
                    Transition::Started(a) => format!(
                        ":rotating_light: podwall {}/{}: {} matches {}",
                        self.cluster,
                        self.screen.name,
                        a.rule,
                        named(a)
                    ),
                    Transition::Stopped(rule) => format!(
                        ":white_check_mark: podwall {}/{}: {rule} cleared",
                        self.cluster, self.screen.name
                    ),
                };
                inner.webhook.send(&self.screen.name, url.clone(), text);
            }
        }
    }
}

/// `a, b, c (+4 more)`.
fn named(alert: &Alert) -> String {
    let mut s = alert.objects.join(", ");
    if alert.count > alert.objects.len() {
        s.push_str(&format!(" (+{} more)", alert.count - alert.objects.len()));
    }
    s
}

/// `event: attention` with `{"alerts":[{"rule","objects","count","clearing"}]}`.
pub fn attention_frame(alerts: &[Alert]) -> Bytes {
    let data = serde_json::json!({ "alerts": alerts });
    Bytes::from(format!("event: attention\ndata: {data}\n\n"))
}
