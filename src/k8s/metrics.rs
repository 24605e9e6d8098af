//! Metrics of podwall's requests to the API server: watch events, lists, watch restarts,
//! errors, usage polls. Registered with the other layers' in one registry (`app`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::scope::Kind;

/// Label of per-kind series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// "pod" or "node".
    pub kind: &'static str,
}

impl From<Kind> for KindLabel {
    fn from(kind: Kind) -> Self {
        Self { kind: kind.label() }
    }
}

/// Label of API server errors: the resource and the HTTP status (or `unreachable`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiErrorLabel {
    /// "pod" or "node".
    pub kind: &'static str,
    /// "403", "410", "429", "500", …, or "unreachable" when no HTTP answer came.
    pub code: String,
}

/// Label of usage polls: how the poll of `metrics.k8s.io` ended ("ok", "unavailable",
/// "forbidden", "error").
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UsageLabel {
    /// The usage status after the poll.
    pub status: &'static str,
}

/// What podwall asked of one API server, and how it went.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    /// Watch events received, by kind (list items included).
    pub events: Family<KindLabel, Counter>,
    /// Errors from the watch streams (each one restarts the watch after a backoff), by kind.
    pub watch_errors: Family<KindLabel, Counter>,
    /// Watch requests the API server accepted, by kind: the first, then every restart
    /// (after the server ends a watch at its timeout, a cut, or an error).
    pub watch_starts: Family<KindLabel, Counter>,
    /// Full lists of a resource: the first one, and re-lists after 410 Gone or a restart.
    pub lists: Family<KindLabel, Counter>,
    /// API server errors by resource and HTTP status.
    pub api_errors: Family<ApiErrorLabel, Counter>,
    /// Polls of `metrics.k8s.io` for live usage, by how they ended.
    pub usage_polls: Family<UsageLabel, Counter>,
}

impl ApiMetrics {
    /// Adds these metrics to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "watch_events",
            "Watch events received from the API server",
            self.events.clone(),
        );
        registry.register(
            "watch_errors",
            "Errors from the watch streams; each restarts the watch after a backoff",
            self.watch_errors.clone(),
        );
        registry.register(
            "watch_starts",
            "Watch requests the API server accepted: the first, then every restart",
            self.watch_starts.clone(),
        );
        registry.register(
            "lists",
            "Full lists: the first, then re-lists after 410 Gone or an API server restart",
            self.lists.clone(),
        );
        registry.register(
            "apiserver_errors",
            "API server errors by resource and HTTP status (or unreachable)",
            self.api_errors.clone(),
        );
        registry.register(
            "usage_polls",
            "Polls of metrics.k8s.io for live usage, by the status they left",
            self.usage_polls.clone(),
        );
    }

    /// Counts one failure of a watch on `kind` (it restarts after a backoff), by HTTP
    /// status; returns the `code` label it was counted under.
    pub fn record_watch_error(&self, kind: Kind, error: &kube::runtime::watcher::Error) -> String {
        use kube::runtime::watcher::Error as E;
        let code = match error {
            E::InitialListFailed(kube::Error::Api(s))
            | E::WatchStartFailed(kube::Error::Api(s))
            | E::WatchFailed(kube::Error::Api(s))
            | E::WatchError(s) => s.code.to_string(),
            E::NoResourceVersion => "no-resource-version".to_owned(),
            _ => "unreachable".to_owned(),
        };
        self.watch_errors.get_or_create(&kind.into()).inc();
        self.api_errors
            .get_or_create(&ApiErrorLabel {
                kind: kind.label(),
                code: code.clone(),
            })
            .inc();
        code
    }
}
