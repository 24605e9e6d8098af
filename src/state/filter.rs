//! Per-client view filters: `ns=a,b` (and `ns=!a,!b` to leave namespaces out),
//! `label=<selector>`, `node=<substring>`, `q=<substring>`, `status=<class>,…` and
//! `problems=1`.
//! The query also carries the page's layout options (`group=`, `sort=`, `compact=`,
//! `theme=`, `kiosk=`), which `render::Layout` reads.
//!
//! The same filter applies to `/`, `/events`, `/api/snapshot` and `/api/events`.
//! Namespace, label, name and status filters select pods; the node filter selects nodes by
//! name and pods by the node they run on; `problems=1` selects the pods and nodes that
//! need attention (see [`PodView::has_problem`], [`NodeView::has_problem`]). Unknown query parameters are ignored so tools can
//! add cache-busters; malformed known ones are rejected with a message.

use std::sync::Arc;

use serde::Deserialize;

use super::bounds::Bounds;
use super::view::{NodeView, PodView, StatusClass};
use crate::k8s::selector::{self, LabelSelector};

/// Longest accepted `node=` / `q=` substring (a DNS subdomain's maximum).
const MAX_SUBSTRING: usize = 253;

/// The raw query parameters a page or stream accepts.
#[derive(Debug, Default, Deserialize)]
pub struct FilterParams {
    /// Comma-separated namespaces.
    pub ns: Option<String>,
    /// Kubernetes label selector.
    pub label: Option<String>,
    /// Node name substring.
    pub node: Option<String>,
    /// Pod name substring.
    pub q: Option<String>,
    /// Comma-separated status classes (`bad,starting`; `!ok` leaves one out).
    pub status: Option<String>,
    /// `1`: only what needs attention.
    pub problems: Option<String>,
    /// Page only: group pods in a node by `namespace` or `owner`.
    pub group: Option<String>,
    /// Page only: order nodes by `name`, `role` or `usage`.
    pub sort: Option<String>,
    /// Page only: `1` draws pods as dots.
    pub compact: Option<String>,
    /// Page only: `dark` or `light`.
    pub theme: Option<String>,
    /// Page only: `1` for a fullscreen wall without scrollbars or controls.
    pub kiosk: Option<String>,
    /// Page only: `0` hides the warnings lane.
    pub warnings: Option<String>,
    /// Attention rules (`crashloop,notready,pending>5m,restarts>3/10m`), parsed by
    /// [`super::Rules::parse`] where a stream or page uses them.
    pub alert: Option<String>,
    /// A past moment to show (`-15m`, RFC 3339, an event id): `/` and `/api/snapshot`
    /// rebuild the wall as it was then.
    pub at: Option<String>,
    /// `/api/events` and `/api/history`: from this past moment on.
    pub since: Option<String>,
    /// `/api/history`: until this moment (default: now).
    pub until: Option<String>,
    /// `/`: mark what changed in this span before the moment shown (`15m`).
    pub recent: Option<String>,
    /// Resume point for tools that cannot set the `Last-Event-ID` header.
    #[serde(rename = "lastEventId")]
    pub last_event_id: Option<String>,
}

/// Why a filter was rejected; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The query string itself could not be decoded.
    #[error("malformed query string: {0}")]
    Query(String),
    /// A namespace in `ns=` is not a valid namespace name.
    #[error("ns: {name:?} is not a valid namespace name: {reason}")]
    Namespace { name: String, reason: String },
    /// `label=` is not a valid label selector.
    #[error("label: {0}")]
    Label(String),
    /// A substring filter is too long or contains control characters.
    #[error("{param}: {reason}")]
    Substring { param: &'static str, reason: String },
    /// A status class in `status=` is not one of the classes.
    #[error("status: {0:?} is not one of {classes}", classes = StatusClass::ALL.map(StatusClass::as_str).join(", "))]
    Status(String),
    /// A layout option has a value the page does not know.
    #[error("{param}: {value:?} is not one of {allowed}")]
    Choice {
        param: &'static str,
        value: String,
        allowed: &'static str,
    },
}

/// A parsed filter; the default matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    namespaces: Included<String>,
    labels: LabelSelector,
    node: Option<String>,
    name: Option<String>,
    classes: Included<StatusClass>,
    problems: bool,
    /// `problems=1` also leaves healthy nodes out (see [`Filter::for_wall`]).
    problem_nodes_only: bool,
    /// A scoped screen's bounds, intersected with everything above.
    bounds: Option<Arc<Bounds>>,
}

/// A list with `!` exclusions: what is named is in (all, when nothing is), minus what is
/// excluded. `ns=a,b`, `ns=!kube-system`, `status=!ok`.
#[derive(Debug, Clone)]
struct Included<T> {
    only: Vec<T>,
    except: Vec<T>,
}

impl<T> Default for Included<T> {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            except: Vec::new(),
        }
    }
}

impl<T> Included<T> {
    /// Parses a comma-separated list, each item through `parse` (without its `!`).
    fn parse<E>(list: Option<&str>, parse: impl Fn(&str) -> Result<T, E>) -> Result<Self, E> {
        let mut included = Self::default();
        for item in list.unwrap_or("").split(',').map(str::trim) {
            match item.strip_prefix('!').map(str::trim) {
                Some(rest) if !rest.is_empty() => included.except.push(parse(rest)?),
                Some(_) => {}
                None if !item.is_empty() => included.only.push(parse(item)?),
                None => {}
            }
        }
        Ok(included)
    }

    fn is_empty(&self) -> bool {
        self.only.is_empty() && self.except.is_empty()
    }

    fn admits(&self, is: impl Fn(&T) -> bool) -> bool {
        (self.only.is_empty() || self.only.iter().any(&is)) && !self.except.iter().any(is)
    }
}

impl Filter {
    /// Parses the filter part of a query string (other parameters are ignored).
    pub fn from_query(query: &str) -> Result<(Self, FilterParams), FilterError> {
        let params = actix_web::web::Query::<FilterParams>::from_query(query)
            .map_err(|e| FilterError::Query(e.to_string()))?
            .into_inner();
        let filter = Self::from_params(&params)?;
        Ok((filter, params))
    }

    /// Validates and compiles the parameters.
    pub fn from_params(p: &FilterParams) -> Result<Self, FilterError> {
        let namespaces = Included::parse(p.ns.as_deref(), |name| {
            selector::validate_dns_label(name)
                .map(|()| name.to_owned())
                .map_err(|reason| FilterError::Namespace {
                    name: name.to_owned(),
                    reason,
                })
        })?;
        let classes = Included::parse(p.status.as_deref(), |word| {
            StatusClass::ALL
                .into_iter()
                .find(|c| c.as_str() == word)
                .ok_or_else(|| FilterError::Status(word.to_owned()))
        })?;
        let problems = match p.problems.as_deref().map(str::trim) {
            None | Some("" | "0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(FilterError::Choice {
                    param: "problems",
                    value: other.to_owned(),
                    allowed: "1, 0",
                });
            }
        };
        let labels = LabelSelector::parse(p.label.as_deref().unwrap_or(""))
            .map_err(|e| FilterError::Label(e.to_string()))?;
        Ok(Self {
            namespaces,
            labels,
            node: substring("node", p.node.as_deref())?,
            name: substring("q", p.q.as_deref())?,
            classes,
            problems,
            problem_nodes_only: problems,
            bounds: None,
        })
    }

    /// The filter inside a screen's bounds: what it shows and what the bounds admit
    /// (an intersection, so the URL can narrow a screen's scope, never widen it).
    pub fn within(mut self, bounds: Arc<Bounds>) -> Self {
        self.bounds = Some(bounds);
        self
    }

    /// Whether the filter selects everything.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.labels.is_empty()
            && self.node.is_none()
            && self.name.is_none()
            && self.classes.is_empty()
            && !self.problems
            && self.bounds.is_none()
    }

    /// Whether a screen's bounds hold it (then warnings about nodes, whose messages may
    /// name anyone's pods, are not shown).
    pub fn is_bounded(&self) -> bool {
        self.bounds.is_some()
    }

    /// Whether only what needs attention is shown (`problems=1`).
    pub fn problems_only(&self) -> bool {
        self.problems
    }

    /// The same filter without `problems=1`: what it would show were all well.
    pub fn without_problems(mut self) -> Self {
        self.problems = false;
        self.problem_nodes_only = false;
        self
    }

    /// The filter as the wall page applies it: with `problems=1` every node stays (a box
    /// holding problem pods needs its header; the page hides healthy boxes with nothing
    /// in them), while tools reading the JSON get only the problem nodes.
    pub fn for_wall(mut self) -> Self {
        self.problem_nodes_only = false;
        self
    }

    /// Whether objects of namespace `ns` pass the namespace filter.
    pub fn matches_namespace(&self, ns: &str) -> bool {
        self.namespaces.admits(|n| n == ns)
            && self.bounds.as_ref().is_none_or(|b| b.admits_namespace(ns))
    }

    /// Whether a filter other than the namespaces' selects pods (labels, names, nodes,
    /// status, problems): objects other than pods and nodes do not pass it.
    pub fn selects_pods(&self) -> bool {
        !(self.labels.is_empty()
            && self.node.is_none()
            && self.name.is_none()
            && self.classes.is_empty()
            && !self.problems
            && self.bounds.as_ref().is_none_or(|b| !b.selects_by_label()))
    }

    /// Whether a pod is shown.
    pub fn matches_pod(&self, pod: &PodView) -> bool {
        self.matches_namespace(&pod.namespace)
            && self.classes.admits(|c| *c == pod.status_class())
            && (!self.problems || pod.has_problem(jiff::Timestamp::now()))
            && self.name.as_deref().is_none_or(|q| pod.name.contains(q))
            && self
                .node
                .as_deref()
                .is_none_or(|q| pod.node.as_deref().is_some_and(|n| n.contains(q)))
            && self.labels.matches(|k| pod.labels.get(k))
            && self
                .bounds
                .as_ref()
                .is_none_or(|b| b.admits_labels(|k| pod.labels.get(k)))
    }

    /// Whether a node is shown.
    pub fn matches_node(&self, node: &NodeView) -> bool {
        self.node.as_deref().is_none_or(|q| node.name.contains(q))
            && (!self.problem_nodes_only || node.has_problem())
    }

    /// Whether a node name (of a node without details) is shown.
    pub fn matches_node_name(&self, name: &str) -> bool {
        self.node.as_deref().is_none_or(|q| name.contains(q))
    }
}

fn substring(param: &'static str, value: Option<&str>) -> Result<Option<String>, FilterError> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > MAX_SUBSTRING {
        return Err(FilterError::Substring {
            param,
            reason: format!("longer than {MAX_SUBSTRING} characters"),
        });
    }
    if v.chars().any(char::is_control) {
        return Err(FilterError::Substring {
            param,
            reason: "contains control characters".to_owned(),
        });
    }
    Ok(Some(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::fixtures;
    use crate::state::view::Labels;

    fn pod(ns: &str, name: &str, node: Option<&str>, labels: &[(&str, &str)]) -> PodView {
        PodView {
            node: node.map(Arc::from),
            labels: Labels::from_pairs(labels.iter().copied()),
            ..fixtures::pod(ns, name)
        }
    }

    #[test]
    fn combined_filters() {
        let (f, _) = Filter::from_query("ns=shop,dev&label=app%3Dweb,tier!%3Ddb&node=n1&q=web&x=1")
            .expect("valid");
        assert!(f.matches_pod(&pod("shop", "web-1", Some("n1"), &[("app", "web")])));
        assert!(!f.matches_pod(&pod("other", "web-1", Some("n1"), &[("app", "web")])));
        assert!(!f.matches_pod(&pod(
            "shop",
            "web-1",
            Some("n1"),
            &[("app", "web"), ("tier", "db")]
        )));
        assert!(!f.matches_pod(&pod("shop", "web-1", None, &[("app", "web")])));
        assert!(!f.matches_pod(&pod("shop", "api-1", Some("n1"), &[("app", "web")])));
    }

    #[test]
    fn namespaces_left_out_status_classes_and_problems() {
        let (f, _) = Filter::from_query("ns=!kube-system,!monitoring").expect("valid");
        assert!(f.matches_pod(&pod("shop", "a", None, &[])));
        assert!(!f.matches_pod(&pod("kube-system", "a", None, &[])));
        assert!(!f.matches_pod(&pod("monitoring", "a", None, &[])));
        assert!(f.matches_namespace("shop") && !f.matches_namespace("kube-system"));
        assert!(!f.selects_pods());
        let (f, _) = Filter::from_query("ns=shop,!shop").expect("valid");
        assert!(
            !f.matches_pod(&pod("shop", "a", None, &[])),
            "leaving out wins"
        );
        let bad = PodView {
            status: "CrashLoopBackOff".into(),
            ..pod("shop", "b", None, &[])
        };
        let (f, _) = Filter::from_query("status=bad,starting").expect("valid");
        assert!(f.matches_pod(&bad) && !f.matches_pod(&pod("shop", "a", None, &[])));
        let (f, _) = Filter::from_query("status=!ok").expect("valid");
        assert!(f.matches_pod(&bad) && !f.matches_pod(&pod("shop", "a", None, &[])));
        let err = Filter::from_query("status=broken")
            .expect_err("not a class")
            .to_string();
        assert!(
            err.starts_with("status:") && err.contains("notready"),
            "{err}"
        );
        let (f, _) = Filter::from_query("problems=1").expect("valid");
        assert!(f.problems_only() && f.selects_pods());
        assert!(f.matches_pod(&bad) && !f.matches_pod(&pod("shop", "a", None, &[])));
        let healthy = fixtures::node("n1");
        let cordoned = NodeView {
            unschedulable: true,
            ..fixtures::node("n2")
        };
        assert!(!f.matches_node(&healthy) && f.matches_node(&cordoned));
        let wall = f.clone().for_wall();
        assert!(
            wall.matches_node(&healthy),
            "the wall keeps every node's header"
        );
        assert!(!wall.matches_pod(&pod("shop", "a", None, &[])));
        let all = f.without_problems();
        assert!(all.is_empty() && all.matches_node(&healthy));
        assert!(Filter::from_query("problems=maybe").is_err());
    }

    #[test]
    fn bounds_narrow_and_the_url_cannot_widen_them() {
        let bounds = Arc::new(Bounds::new(&["shop".into()], "team=a").expect("bounds"));
        let (f, _) = Filter::from_query("ns=shop,other").expect("valid");
        let f = f.within(bounds.clone());
        assert!(!f.is_empty() && f.selects_pods());
        assert!(f.matches_pod(&pod("shop", "a", None, &[("team", "a")])));
        assert!(!f.matches_pod(&pod("other", "a", None, &[("team", "a")])));
        assert!(!f.matches_pod(&pod("shop", "b", None, &[("team", "b")])));
        assert!(!f.matches_namespace("other"));
        let (f, _) = Filter::from_query("ns=!shop").expect("valid");
        let f = f.within(bounds);
        assert!(!f.matches_pod(&pod("shop", "a", None, &[("team", "a")])));
        assert!(!f.without_problems().matches_namespace("other"));
    }

    #[test]
    fn empty_matches_all() {
        let (f, _) = Filter::from_query("").expect("valid");
        assert!(f.is_empty());
        assert!(f.matches_pod(&pod("a", "b", None, &[])));
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        let err = Filter::from_query("label=app%3D%3D%3D")
            .expect_err("bad selector")
            .to_string();
        assert!(err.starts_with("label:"), "{err}");
        let err = Filter::from_query("ns=Bad_NS")
            .expect_err("bad ns")
            .to_string();
        assert!(err.contains("Bad_NS"), "{err}");
        let err = Filter::from_query(&format!("q={}", "x".repeat(300)))
            .expect_err("too long")
            .to_string();
        assert!(err.starts_with("q:"), "{err}");
    }
}
