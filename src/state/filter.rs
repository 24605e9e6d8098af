//! Per-client view filters: `ns=a,b`, `label=<selector>`, `node=<substring>`, `q=<substring>`.
//! The query also carries the page's layout options (`group=`, `sort=`, `compact=`,
//! `theme=`, `kiosk=`), which `render::Layout` reads.
//!
//! The same filter applies to `/`, `/events`, `/api/snapshot` and `/api/events`.
//! Namespace, label and name filters select pods; the node filter selects nodes by name
//! and pods by the node they run on. Unknown query parameters are ignored so tools can
//! add cache-busters; malformed known ones are rejected with a message.

use serde::Deserialize;

use super::view::{NodeView, PodView};
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
    namespaces: Vec<String>,
    labels: LabelSelector,
    node: Option<String>,
    name: Option<String>,
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
        let mut namespaces = Vec::new();
        for name in p.ns.as_deref().unwrap_or("").split(',').map(str::trim) {
            if name.is_empty() {
                continue;
            }
            selector::validate_dns_label(name).map_err(|reason| FilterError::Namespace {
                name: name.to_owned(),
                reason,
            })?;
            namespaces.push(name.to_owned());
        }
        let labels = LabelSelector::parse(p.label.as_deref().unwrap_or(""))
            .map_err(|e| FilterError::Label(e.to_string()))?;
        Ok(Self {
            namespaces,
            labels,
            node: substring("node", p.node.as_deref())?,
            name: substring("q", p.q.as_deref())?,
        })
    }

    /// Whether the filter selects everything.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.labels.is_empty()
            && self.node.is_none()
            && self.name.is_none()
    }

    /// Whether a pod is shown.
    pub fn matches_pod(&self, pod: &PodView) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| **n == *pod.namespace))
            && self.name.as_deref().is_none_or(|q| pod.name.contains(q))
            && self
                .node
                .as_deref()
                .is_none_or(|q| pod.node.as_deref().is_some_and(|n| n.contains(q)))
            && self.labels.matches(|k| pod.labels.get(k))
    }

    /// Whether a node is shown.
    pub fn matches_node(&self, node: &NodeView) -> bool {
        self.node.as_deref().is_none_or(|q| node.name.contains(q))
    }

    /// Whether objects of namespace `ns` pass the namespace filter.
    pub fn matches_namespace(&self, ns: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns)
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
