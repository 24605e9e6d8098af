//! List and watch query parameters (`metav1.ListOptions`) and continue tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::events::View;
use super::resource::Resource;
use super::status::{ApiError, Cause};
use super::store::{Key, ObjectIndex};
use crate::k8s::selector::{FieldSelector, LabelSelector};

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RvMatch {
    /// `NotOlderThan`.
    NotOlderThan,
    /// `Exact`.
    Exact,
}

/// The parsed query of a list or watch request.
#[derive(Debug, Default)]
pub struct ListOptions {
    /// `watch=1|true`.
    pub watch: bool,
    /// `resourceVersion`: None when unset or empty.
    pub resource_version: Option<u64>,
    /// `resourceVersionMatch`.
    pub rv_match: Option<RvMatch>,
    /// `limit`.
    pub limit: Option<usize>,
    /// `continue`, decoded.
    pub continue_from: Option<ContinueToken>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// Each field selector label and the stored (core/v1) field it stands for.
    pub field_labels: Vec<(String, &'static str)>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "1" | "true" | "True" => Ok(true),
        "0" | "false" | "False" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid value {v:?} for {name}: must be true or false"
        ))),
    }
}

impl ListOptions {
    /// Parses a query string for `resource` in `view`, rejecting what the apiserver rejects.
    pub fn parse(resource: Resource, view: View, query: &str) -> Result<Self, ApiError> {
        let pairs = query_pairs(query)?;
        let mut o = ListOptions::default();
        let mut rv_text = None;
        for (k, v) in pairs {
            match k.as_str() {
                "watch" => o.watch = parse_bool("watch", &v)?,
                "resourceVersion" if !v.is_empty() => {
                    let rv = v.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid resource version {v:?}: must be a non-negative integer"
                        ))
                    })?;
                    o.resource_version = Some(rv);
                    rv_text = Some(v);
                }
                "resourceVersionMatch" => {
                    o.rv_match = match v.as_str() {
                        "" => None,
                        "NotOlderThan" => Some(RvMatch::NotOlderThan),
                        "Exact" => Some(RvMatch::Exact),
                        other => {
                            return Err(invalid_options(
                                "resourceVersionMatch",
                                format!(
                                    "Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                                ),
                            ));
                        }
                    }
                }
                "limit" if !v.is_empty() => {
                    let l = v.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid limit {v:?}: must be an integer"))
                    })?;
                    o.limit = usize::try_from(l).ok().filter(|l| *l > 0);
                }
                "continue" if !v.is_empty() => {
                    o.continue_from = Some(ContinueToken::decode(resource, &v)?);
                }
                "labelSelector" => {
                    o.labels = LabelSelector::parse(&v).map_err(|e| {
                        ApiError::bad_request(format!("unable to parse requirement: {e}"))
                    })?
                }
                "fieldSelector" => {
                    let f = FieldSelector::parse(&v)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    // The real server's message, word for word (`handlers/get.go` wraps
                    // the field label conversion's error in a BadRequest).
                    o.field_labels = f
                        .terms()
                        .iter()
                        .map(|t| Ok((t.field.clone(), view.internal_label(resource, &t.field)?)))
                        .collect::<Result<_, ApiError>>()?;
                    o.fields = f;
                }
                "allowWatchBookmarks" => o.bookmarks = parse_bool("allowWatchBookmarks", &v)?,
                "timeoutSeconds" if !v.is_empty() => {
                    let t = v.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid timeoutSeconds {v:?}: must be a non-negative integer"
                        ))
                    })?;
                    o.timeout = (t > 0).then(|| Duration::from_secs(t));
                }
                "sendInitialEvents" => {
                    o.send_initial_events = Some(parse_bool("sendInitialEvents", &v)?)
                }
                _ => {} // pretty, fieldManager, … are accepted and ignored
            }
        }
        o.validate(rv_text.as_deref())?;
        Ok(o)
    }

    /// Cross-field rules of apimachinery's `ValidateListOptions` (`validateWatchOptions`
    /// for watches) and of the storage layer.
    fn validate(&self, rv_text: Option<&str>) -> Result<(), ApiError> {
        if self.continue_from.is_some() && self.resource_version.is_some_and(|rv| rv != 0) {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        if self.watch {
            if let Some(send) = self.send_initial_events {
                if self.rv_match != Some(RvMatch::NotOlderThan) {
                    return Err(invalid_options(
                        "resourceVersionMatch",
                        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                            .into(),
                    ));
                }
                if send && !self.bookmarks {
                    return Err(ApiError::bad_request(
                        "sendInitialEvents requires setting allowWatchBookmarks to true",
                    ));
                }
            } else if self.rv_match.is_some() {
                return Err(invalid_options(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into(),
                ));
            }
            if self.rv_match == Some(RvMatch::Exact) {
                return Err(invalid_options(
                    "resourceVersionMatch",
                    "Unsupported value: \"Exact\": supported values: \"NotOlderThan\"".into(),
                ));
            }
            return Ok(());
        }
        if self.send_initial_events.is_some() {
            return Err(invalid_options(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list".into(),
            ));
        }
        if let Some(m) = self.rv_match {
            match (rv_text, m) {
                (None, _) => {
                    return Err(invalid_options(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided"
                            .into(),
                    ));
                }
                (Some("0"), RvMatch::Exact) => {
                    return Err(invalid_options(
                        "resourceVersionMatch",
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
                            .into(),
                    ));
                }
                _ => {}
            }
            if self.continue_from.is_some() {
                return Err(invalid_options(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided".into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether an object passes the label and field selectors.
    pub fn matches(&self, index: &ObjectIndex) -> bool {
        self.labels.matches(|k| index.label(k))
            && self.fields.matches(|f| {
                let stored = self
                    .field_labels
                    .iter()
                    .find(|(label, _)| label == f)
                    .map_or(f, |(_, stored)| *stored);
                index.field(stored)
            })
    }

    /// Whether any selector is set.
    pub fn filtered(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }
}

/// Decodes a URL query into its pairs.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

fn invalid_options(field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "ListOptions",
        "",
        vec![Cause {
            reason: "FieldValueForbidden",
            message,
            field: field.into(),
        }],
    )
}

/// A continue token: the snapshot resourceVersion and the last key returned.
/// Encoded like the apiserver's (`storage/continue.go`): base64 of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinueToken {
    /// The resourceVersion every page is read at.
    pub rv: u64,
    /// The last key of the previous page.
    pub after: Key,
}

impl ContinueToken {
    /// Encodes the token.
    pub fn encode(&self, resource: Resource) -> String {
        let key = if resource.namespaced() {
            format!("{}/{}", self.after.0, self.after.1)
        } else {
            self.after.1.clone()
        };
        let raw = json!({"v": "meta.k8s.io/v1", "rv": self.rv, "start": format!("{key}\u{0}")});
        STANDARD.encode(raw.to_string())
    }

    /// Decodes a token; 400 when it is not one of ours.
    pub fn decode(resource: Resource, token: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
        let raw = STANDARD
            .decode(token)
            .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
        let v: serde_json::Value = serde_json::from_slice(&raw)
            .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
        if v["v"] != "meta.k8s.io/v1" {
            return Err(bad("server does not recognize this encoded key version"));
        }
        let rv = v["rv"].as_u64().filter(|rv| *rv > 0).ok_or_else(|| {
            bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        })?;
        let start = v["start"]
            .as_str()
            .ok_or_else(|| bad("the start key is missing"))?;
        let start = start.strip_suffix('\u{0}').unwrap_or(start);
        let after = if resource.namespaced() {
            let (ns, name) = start
                .split_once('/')
                .ok_or_else(|| bad("the start key is malformed"))?;
            (ns.to_string(), name.to_string())
        } else {
            (String::new(), start.to_string())
        };
        Ok(Self { rv, after })
    }
}
