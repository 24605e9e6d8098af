//! Attention rules: `alert=crashloop,notready,pending>5m,restarts>3/10m`, parsed strictly,
//! and a [`Tracker`] that evaluates them over a (filtered) snapshot, once a tick, with a
//! quiet period so a flapping condition does not flap the wall.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::change::Snapshot;

/// Most rules in one `alert=`; more is a mistake, and each costs a pass per tick.
const MAX_RULES: usize = 8;
/// Longest window or age a rule may name.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Most objects a match names (the header has room for a few; the count says the rest).
pub const MAX_NAMED: usize = 20;

/// One attention rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A pod in `CrashLoopBackOff`.
    CrashLoop,
    /// A node whose Ready condition is not True.
    NotReady,
    /// A pod Pending for longer than this.
    PendingOver(Duration),
    /// A pod that restarted more than `count` times within `window`.
    RestartsOver {
        /// Restarts allowed within the window.
        count: u32,
        /// The window.
        window: Duration,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CrashLoop => f.write_str("crashloop"),
            Self::NotReady => f.write_str("notready"),
            Self::PendingOver(d) => write!(f, "pending>{}", human(*d)),
            Self::RestartsOver { count, window } => {
                write!(f, "restarts>{count}/{}", human(*window))
            }
        }
    }
}

/// `90s`, `5m`, `2h`: the largest unit that divides the duration.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Why an `alert=` value was refused; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert: {0}")]
pub struct RuleError(String);

/// The rules of one screen, in the order written; empty: no attention state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Parses `crashloop,notready,pending>5m,restarts>3/10m` strictly: an unknown rule,
    /// a bad number or duration, an empty or repeated item is an error that says which.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let mut rules = Vec::new();
        for item in text.split(',').map(str::trim) {
            let rule = parse_rule(item)?;
            if rules.contains(&rule) {
                return Err(RuleError(format!("{item:?} is given twice")));
            }
            rules.push(rule);
        }
        if rules.len() > MAX_RULES {
            return Err(RuleError(format!("at most {MAX_RULES} rules")));
        }
        Ok(Self(rules))
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.0
    }
}

impl fmt::Display for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

fn parse_rule(item: &str) -> Result<Rule, RuleError> {
    const KNOWN: &str = "crashloop, notready, pending>DURATION, restarts>N/DURATION";
    if item.is_empty() {
        return Err(RuleError(format!("an empty rule (known: {KNOWN})")));
    }
    match item {
        "crashloop" => return Ok(Rule::CrashLoop),
        "notready" => return Ok(Rule::NotReady),
        _ => {}
    }
    if let Some(age) = item.strip_prefix("pending>") {
        return Ok(Rule::PendingOver(duration(item, age)?));
    }
    if let Some(rest) = item.strip_prefix("restarts>") {
        let (count, window) = rest.split_once('/').ok_or_else(|| {
            RuleError(format!(
                "{item:?}: restarts needs a window, as in restarts>3/10m"
            ))
        })?;
        let count = count.parse::<u32>().map_err(|_| {
            RuleError(format!(
                "{item:?}: {count:?} is not a whole number of restarts"
            ))
        })?;
        return Ok(Rule::RestartsOver {
            count,
            window: duration(item, window)?,
        });
    }
    Err(RuleError(format!("unknown rule {item:?} (known: {KNOWN})")))
}

/// `30s`, `5m`, `1h`: a positive whole number and a unit, at most a day.
fn duration(item: &str, text: &str) -> Result<Duration, RuleError> {
    let bad = || {
        RuleError(format!(
            "{item:?}: {text:?} is not a duration like 30s, 5m or 1h (at most 24h)"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_DURATION {
        return Err(bad());
    }
    Ok(d)
}

/// One rule that holds now, or held within the quiet period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The rule as written (`crashloop`, `pending>5m`).
    pub rule: String,
    /// What matches, `namespace/name` for pods and the name for nodes; at most
    /// [`MAX_NAMED`], sorted.
    pub objects: Vec<String>,
    /// How many objects match in all.
    pub count: usize,
    /// The condition has ended and the quiet period runs: it clears unless it comes back.
    pub clearing: bool,
}

/// A rule that started or stopped matching at the last evaluation (for a webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The rule matches now and did not before.
    Started(Alert),
    /// The rule's quiet period ended without a match.
    Stopped(String),
}

#[derive(Debug)]
struct RuleState {
    /// When it last matched, while it is active.
    last_match: Option<Instant>,
    objects: Vec<String>,
    count: usize,
}

/// Evaluates a screen's rules tick after tick: remembers restart counts for the
/// `restarts>` windows and when each active rule last matched.
#[derive(Debug)]
pub struct Tracker {
    rules: Rules,
    quiet: Duration,
    states: Vec<RuleState>,
    /// Per pod `namespace/name`: (when, restart count) samples within the longest window.
    restarts: HashMap<String, Vec<(Instant, u32)>>,
}

impl Tracker {
    /// A tracker of `rules` whose alerts clear after `quiet` without a match.
    pub fn new(rules: Rules, quiet: Duration) -> Self {
        let states = rules
            .rules()
            .iter()
            .map(|_| RuleState {
                last_match: None,
                objects: Vec::new(),
                count: 0,
            })
            .collect();
        Self {
            rules,
            quiet,
            states,
            restarts: HashMap::new(),
        }
    }

    /// Evaluates every rule over `snap` (already filtered to the screen's scope) at `now`;
    /// returns what started or stopped.
    pub fn evaluate(&mut self, snap: &Snapshot, now: Instant) -> Vec<Transition> {
        self.record_restarts(snap, now);
        let wall_now = jiff::Timestamp::now();
        let mut transitions = Vec::new();
        for (i, rule) in self.rules.0.clone().iter().enumerate() {
            let mut matched = self.matching(rule, snap, now, wall_now);
            matched.sort();
            let state = &mut self.states[i];
            if !matched.is_empty() {
                if state.last_match.is_none() {
                    transitions.push(Transition::Started(Alert {
                        rule: rule.to_string(),
                        objects: matched.iter().take(MAX_NAMED).cloned().collect(),
                        count: matched.len(),
                        clearing: false,
                    }));
                }
                state.last_match = Some(now);
                state.count = matched.len();
                matched.truncate(MAX_NAMED);
                state.objects = matched;
            } else if state
                .last_match
                .is_some_and(|at| now.duration_since(at) >= self.quiet)
            {
                state.last_match = None;
                state.objects.clear();
                state.count = 0;
                transitions.push(Transition::Stopped(rule.to_string()));
            }
        }
        transitions
    }

    /// The active alerts (matching, or in their quiet period), in the rules' order.
    pub fn alerts(&self, now: Instant) -> Vec<Alert> {
        self.rules
            .rules()
            .iter()
            .zip(&self.states)
            .filter_map(|(rule, st)| {
                let at = st.last_match?;
                Some(Alert {
                    rule: rule.to_string(),
                    objects: st.objects.clone(),
                    count: st.count,
                    clearing: at < now,
                })
            })
            .collect()
    }

    fn matching(
        &self,
        rule: &Rule,
        snap: &Snapshot,
        now: Instant,
        wall_now: jiff::Timestamp,
    ) -> Vec<String> {
        let pod_key = |p: &super::PodView| format!("{}/{}", p.namespace, p.name);
        match *rule {
            Rule::CrashLoop => snap
                .pods
                .iter()
                .filter(|p| &*p.status == "CrashLoopBackOff")
                .map(|p| pod_key(p))
                .collect(),
            Rule::NotReady => snap
                .nodes
                .iter()
                .filter(|n| !n.ready)
                .map(|n| n.name.to_string())
                .collect(),
            Rule::PendingOver(age) => snap
                .pods
                .iter()
                .filter(|p| &*p.phase == "Pending")
                .filter(|p| {
                    p.created
                        .is_some_and(|c| wall_now.duration_since(c).unsigned_abs() > age)
                })
                .map(|p| pod_key(p))
                .collect(),
            Rule::RestartsOver { count, window } => snap
                .pods
                .iter()
                .filter(|p| {
                    let key = pod_key(p);
                    let baseline = self.restarts.get(&key).and_then(|samples| {
                        // The count at the window's start: the newest sample from before
                        // it, else the oldest inside it.
                        samples
                            .iter()
                            .rev()
                            .find(|(t, _)| now.duration_since(*t) >= window)
                            .or_else(|| samples.first())
                            .map(|(_, n)| *n)
                    });
                    baseline.is_some_and(|b| p.restarts.saturating_sub(b) > count)
                })
                .map(|p| pod_key(p))
                .collect(),
        }
    }

    /// Keeps a sample per pod whose restart count changed, and forgets samples (and
    /// pods) older than the longest window.
    fn record_restarts(&mut self, snap: &Snapshot, now: Instant) {
        let longest = self
            .rules
            .rules()
            .iter()
            .filter_map(|r| match r {
                Rule::RestartsOver { window, .. } => Some(*window),
                _ => None,
            })
            .max();
        let Some(longest) = longest else {
            return;
        };
        let mut seen = std::collections::HashSet::new();
        for p in &snap.pods {
            let key = format!("{}/{}", p.namespace, p.name);
            let samples = self.restarts.entry(key.clone()).or_default();
            if samples.last().is_none_or(|(_, n)| *n != p.restarts) {
                samples.push((now, p.restarts));
            }
            // Keep one sample from before the window: it is the window's baseline.
            while samples.len() > 1 && now.duration_since(samples[1].0) >= longest {
                samples.remove(0);
            }
            seen.insert(key);
        }
        self.restarts.retain(|k, _| seen.contains(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{PodView, fixtures};

    #[test]
    fn rules_parse_strictly_and_say_what_is_wrong() {
        let rules = Rules::parse("crashloop, notready,pending>5m,restarts>3/10m").expect("ok");
        assert_eq!(
            rules.to_string(),
            "crashloop,notready,pending>5m,restarts>3/10m"
        );
        for (bad, says) in [
            ("crashlop", "unknown rule \"crashlop\""),
            ("pending>5", "\"5\" is not a duration"),
            ("pending>0s", "is not a duration"),
            ("pending>48h", "at most 24h"),
            ("restarts>3", "needs a window"),
            ("restarts>x/5m", "not a whole number"),
            ("crashloop,,notready", "an empty rule"),
            ("crashloop,crashloop", "given twice"),
        ] {
            let err = Rules::parse(bad).expect_err(bad).to_string();
            assert!(
                err.starts_with("alert: ") && err.contains(says),
                "{bad}: {err}"
            );
        }
        assert!(Rules::parse("").expect("none").is_empty());
    }

    fn snap(pods: Vec<PodView>) -> Snapshot {
        fixtures::snapshot(Vec::new(), pods)
    }

    fn crashing(name: &str, restarts: u32) -> PodView {
        PodView {
            status: "CrashLoopBackOff".into(),
            restarts,
            ..fixtures::pod("shop", name)
        }
    }

    #[test]
    fn an_alert_starts_at_once_and_clears_after_the_quiet_period() {
        let quiet = Duration::from_secs(10);
        let mut t = Tracker::new(Rules::parse("crashloop").expect("rule"), quiet);
        let t0 = Instant::now();
        assert!(
            t.evaluate(&snap(vec![fixtures::pod("shop", "ok")]), t0)
                .is_empty()
        );
        let started = t.evaluate(&snap(vec![crashing("web", 1)]), t0);
        assert!(matches!(&started[..], [Transition::Started(a)] if a.objects == ["shop/web"]));
        let healthy = snap(vec![fixtures::pod("shop", "web")]);
        assert!(t.evaluate(&healthy, t0 + Duration::from_secs(1)).is_empty());
        let alerts = t.alerts(t0 + Duration::from_secs(1));
        assert!(alerts[0].clearing, "quiet period: still shown, clearing");
        // Back within the quiet period: no new start (no flapping).
        assert!(
            t.evaluate(&snap(vec![crashing("web", 2)]), t0 + Duration::from_secs(5))
                .is_empty()
        );
        assert!(
            t.evaluate(&healthy, t0 + Duration::from_secs(14))
                .is_empty()
        );
        let stopped = t.evaluate(&healthy, t0 + Duration::from_secs(15));
        assert_eq!(stopped, [Transition::Stopped("crashloop".into())]);
        assert!(t.alerts(t0 + Duration::from_secs(15)).is_empty());
    }

    #[test]
    fn restarts_count_within_their_window() {
        let mut t = Tracker::new(
            Rules::parse("restarts>2/10m").expect("rule"),
            Duration::from_secs(1),
        );
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let pod = |n| PodView {
            restarts: n,
            ..fixtures::pod("shop", "web")
        };
        assert!(
            t.evaluate(&snap(vec![pod(10)]), at(0)).is_empty(),
            "old restarts"
        );
        assert!(
            t.evaluate(&snap(vec![pod(12)]), at(60)).is_empty(),
            "2 is not > 2"
        );
        assert_eq!(t.evaluate(&snap(vec![pod(13)]), at(120)).len(), 1);
        assert!(
            t.evaluate(&snap(vec![pod(13)]), at(600)).is_empty(),
            "still 3 in 10m"
        );
        // Later the window holds no restart.
        let stopped = t.evaluate(&snap(vec![pod(13)]), at(800));
        assert_eq!(stopped, [Transition::Stopped("restarts>2/10m".into())]);
    }
}
