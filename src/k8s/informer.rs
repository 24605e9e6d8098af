//! The informer: one kube-runtime `watcher` per scope (pods cluster-wide or per namespace,
//! nodes cluster-wide, Warning events like pods) feeding a [`Sink`] — the cache, in
//! podwall.
//!
//! The watcher lists, then watches from the list's resourceVersion, and re-lists on
//! 410 Gone; `default_backoff` spaces out retries. A re-list is handed on in place
//! (`Init` → `InitApply`… → `InitDone`) rather than buffered, so it costs no second copy
//! of the cluster: the sink tags what the re-list saw and drops the rest at `InitDone`.
//!
//! The informer knows nothing of what the sink keeps: the state layer implements [`Sink`],
//! so the Kubernetes side imports nothing downstream of it.

use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::client::ApiClient;
use super::events::{EventFields, WARNINGS_ONLY};
use super::metrics::ApiMetrics;
use super::scope::{Health, Kind, Scope};
use super::wire::{NodeFields, PodFields};

/// What the watchers ask of the API server, as core-group RBAC (resource, verbs): a
/// `watcher` lists, then watches. `deploy/` grants exactly this (tests/real/install.rs
/// compares them), so a new watch without its RBAC rule fails a test.
pub const WATCHED: &[(&str, &[&str])] =
    &[("pods", &["list", "watch"]), ("nodes", &["list", "watch"])];

/// What the optional Warning events watch asks of the `events.k8s.io` group (resource,
/// verbs). `deploy/optional/events-rbac.yaml` grants exactly this (a test compares them);
/// without it the warnings lane says "events not permitted" and nothing else changes.
pub const EVENTS_RBAC: &[(&str, &[&str])] = &[("events", &["list", "watch"])];

/// How long the optional events watch waits after a 403 or 404 before it asks again.
const REFUSED_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the watches' events go, in order per scope.
pub trait Sink: Send + Sync + 'static {
    /// `scope` is watched from now on: readiness waits for its first full list.
    fn watching(&self, scope: &Scope);
    /// One event of a pod scope's watch.
    fn pods(&self, scope: &Scope, event: Event<PodFields>);
    /// One event of the node scope's watch.
    fn nodes(&self, scope: &Scope, event: Event<NodeFields>);
    /// One event of a Warning events scope's watch (`events.k8s.io/v1`, `type=Warning`).
    fn warnings(&self, scope: &Scope, event: Event<EventFields>);
    /// The health of `scope`; called for every event, so a repeated value must be cheap.
    fn health(&self, scope: &Scope, health: Health);
    /// `scope` may not be read and is optional (nodes under a namespaced Role): it counts
    /// as synced without a list.
    fn unreadable(&self, scope: &Scope);
}

/// Starts the watchers; they run until `shutdown` is cancelled.
pub fn spawn(
    api_client: ApiClient,
    namespaces: &[String],
    sink: Arc<dyn Sink>,
    metrics: Arc<ApiMetrics>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let client = api_client.client();
    let watch = |scope: Scope, optional: bool| {
        // Before the task runs: readiness waits for this scope from now on.
        sink.watching(&scope);
        Watch {
            api_client: api_client.clone(),
            scope,
            optional,
            sink: sink.clone(),
            metrics: metrics.clone(),
        }
    };
    let mut tasks = Vec::new();
    let node_scope = Scope {
        kind: Kind::Node,
        namespace: None,
    };
    // With --namespace the ServiceAccount may hold only a namespaced Role: nodes are then
    // optional, and pods on them show under their node's name without details.
    let nodes_optional = !namespaces.is_empty();
    tasks.push(tokio::spawn(
        watch(node_scope, nodes_optional)
            .run(
                Api::<NodeFields>::all(client.clone()),
                |sink, scope, event| sink.nodes(scope, event),
                shutdown.clone(),
            )
            // In the caller's span: a multi-cluster server names the cluster there.
            .instrument(tracing::Span::current()),
    ));
    // Warning events, like pods: cluster-wide, or per namespace with --namespace. One
    // shared watch whatever the number of browsers; optional (readiness never waits, a 403
    // or 404 only tells the warnings lane).
    let warnings_config = watcher::Config::default().fields(WARNINGS_ONLY);
    for (api, namespace) in apis::<EventFields>(&client, namespaces) {
        let scope = Scope {
            kind: Kind::Event,
            namespace,
        };
        tasks.push(tokio::spawn(
            watch(scope, true)
                .run_with(
                    api,
                    warnings_config.clone(),
                    |sink, scope, event| sink.warnings(scope, event),
                    shutdown.clone(),
                )
                .instrument(tracing::Span::current()),
        ));
    }
    for (api, namespace) in apis::<PodFields>(&client, namespaces) {
        let scope = Scope {
            kind: Kind::Pod,
            namespace,
        };
        tasks.push(tokio::spawn(
            watch(scope, false)
                .run(
                    api,
                    |sink, scope, event| sink.pods(scope, event),
                    shutdown.clone(),
                )
                .instrument(tracing::Span::current()),
        ));
    }
    tasks
}

/// The APIs of a namespaced kind: all namespaces, or one per `namespaces` entry.
fn apis<K>(client: &kube::Client, namespaces: &[String]) -> Vec<(Api<K>, Option<Arc<str>>)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    if namespaces.is_empty() {
        return vec![(Api::all(client.clone()), None)];
    }
    namespaces
        .iter()
        .map(|ns| {
            (
                Api::namespaced(client.clone(), ns),
                Some(Arc::from(ns.as_str())),
            )
        })
        .collect()
}

/// Hands one event of a scope to the sink's method for its kind.
type Feed<K> = fn(&dyn Sink, &Scope, Event<K>);

/// One scope's watch and where it reports.
struct Watch {
    api_client: ApiClient,
    scope: Scope,
    optional: bool,
    sink: Arc<dyn Sink>,
    metrics: Arc<ApiMetrics>,
}

impl Watch {
    /// Watches `api` until `shutdown`, handing every event to `feed`.
    async fn run<K>(self, api: Api<K>, feed: Feed<K>, shutdown: CancellationToken)
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        self.run_with(api, watcher::Config::default(), feed, shutdown)
            .await;
    }

    /// [`Watch::run`] with a watcher configuration (a field selector).
    async fn run_with<K>(
        self,
        api: Api<K>,
        config: watcher::Config,
        feed: Feed<K>,
        shutdown: CancellationToken,
    ) where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let Self {
            api_client,
            scope,
            optional,
            sink,
            metrics,
        } = self;
        let kind = scope.kind.into();
        let mut opens = api_client.watch_opens(api.resource_url());
        // Opens come as a running total: several between two polls count as several.
        let mut opens_counted = *opens.borrow_and_update();
        let config =
            config.timeout(u32::try_from(api_client.watch_timeout().as_secs()).unwrap_or(u32::MAX));
        let stream = watcher::watcher(api, config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut degraded = false;
        // Warning events only: a refusal (403, 404) was logged and is still in force.
        let mut refusal_told = false;
        let events = scope.kind == Kind::Event;
        let mut lists = 0u64;
        let mut errors = 0u64;
        let mut last_open = std::time::Instant::now();
        tracing::info!(%scope, "watch started");
        loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => break,
                // Only here does a recovered watch on a quiet cluster show: it yields no event.
                // (A health probe of its own would say "ok" while the watcher still sleeps in
                // its backoff, not watching: the wall would look current and be stale.)
                changed = opens.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let watches = *opens.borrow_and_update();
                    metrics
                        .watch_starts
                        .get_or_create(&kind)
                        .inc_by(watches.saturating_sub(opens_counted));
                    opens_counted = watches;
                    // The server ends every watch at its timeout; only an earlier end (a cut, an
                    // error, a restarted server) is an incident worth a line at info.
                    let lasted = last_open.elapsed();
                    last_open = std::time::Instant::now();
                    if watches > 1 && (degraded || lasted < api_client.watch_timeout()) {
                        tracing::info!(incident = "watch_restart", %scope, watches, errors, lasted_ms = lasted.as_millis() as u64, "watch restarted early");
                    } else {
                        tracing::debug!(%scope, watches, "watch renewed");
                    }
                    if degraded {
                        degraded = false;
                        sink.health(&scope, Health::Ok);
                    }
                    continue;
                }
                item = stream.next() => item,
            };
            match item {
                None => break,
                Some(Ok(event)) => {
                    let list_done = match &event {
                        Event::Init => {
                            lists += 1;
                            metrics.lists.get_or_create(&kind).inc();
                            if lists > 1 && !refusal_told {
                                tracing::info!(incident = "relist", %scope, lists, errors, "full re-list");
                            }
                            false
                        }
                        Event::InitDone => {
                            refusal_told = false;
                            true
                        }
                        Event::InitApply(_) | Event::Apply(_) | Event::Delete(_) => {
                            metrics.events.get_or_create(&kind).inc();
                            false
                        }
                    };
                    // A list that starts has not succeeded yet: for the optional events a
                    // refusal stays in force (no flapping) until the list comes through.
                    if !(events && refusal_told && matches!(event, Event::Init)) {
                        degraded = false;
                        sink.health(&scope, Health::Ok);
                    }
                    feed(&*sink, &scope, event);
                    if list_done {
                        // The list's transient buffers are free now; hand their pages back.
                        super::heap::release_free_memory();
                    }
                }
                Some(Err(e)) => {
                    errors += 1;
                    let code = metrics.record_watch_error(scope.kind, &e);
                    let health = health_of(&e, &scope);
                    let refused = matches!(health, Health::Forbidden(_) | Health::Unavailable(_));
                    if optional && events {
                        // Optional data: a refusal is said once, quietly, on the warnings
                        // lane, and asked again every REFUSED_RETRY (the watcher's own
                        // backoff restarts with every list it begins), so granting the RBAC
                        // later brings the warnings without a restart.
                        if refused && !refusal_told {
                            let reason = health.message().unwrap_or_default();
                            tracing::info!(%scope, reason, "not readable; the warnings lane says so");
                        } else if !refused {
                            tracing::info!(%scope, error = %with_causes(&e), "events watch failed; retrying with backoff");
                        }
                        degraded = true;
                        refusal_told = refused;
                        sink.health(&scope, health);
                        if refused {
                            tokio::select! {
                                _ = shutdown.cancelled() => break,
                                _ = tokio::time::sleep(REFUSED_RETRY) => {}
                            }
                        }
                        continue;
                    }
                    if optional && matches!(health, Health::Forbidden(_)) {
                        tracing::info!(%scope, error = %e, "not readable; node boxes show names only");
                        sink.unreadable(&scope);
                        continue;
                    }
                    tracing::warn!(
                        incident = "apiserver_error",
                        %scope,
                        code,
                        errors,
                        error = %with_causes(&e),
                        "watch failed; retrying with backoff"
                    );
                    degraded = true;
                    sink.health(&scope, health);
                }
            }
        }
        tracing::info!(%scope, "watch stopped");
    }
}

/// Maps a watch error to what the wall shows: 403 names the missing permission.
fn health_of(e: &watcher::Error, scope: &Scope) -> Health {
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => Some(s),
        _ => None,
    };
    let verb = if matches!(e, watcher::Error::InitialListFailed(_)) {
        "list"
    } else {
        "watch"
    };
    match status {
        Some(s) if s.code == 403 => Health::Forbidden(format!(
            "forbidden: podwall needs \"list\" and \"watch\" on {scope} ({verb} was denied: {})",
            s.message
        )),
        Some(s) if s.code == 401 => {
            Health::Error(format!("unauthorized to {verb} {scope}: {}", s.message))
        }
        Some(s) if s.code == 404 => Health::Unavailable(format!(
            "{scope}: the API server does not serve it ({verb}: {})",
            s.message
        )),
        Some(s) if s.code == 410 => {
            Health::Reconnecting(format!("{scope}: history compacted (410 Gone), re-listing"))
        }
        Some(s) => Health::Reconnecting(format!("{verb} {scope} failed: {} {}", s.code, s.message)),
        None if matches!(e, watcher::Error::NoResourceVersion) => {
            Health::Error(format!("{scope}: {e}"))
        }
        None => Health::Reconnecting(format!("{verb} {scope} failed: {}", with_causes(e))),
    }
}

/// The error and its sources, so the wall names the cause a client error wraps (a
/// refused certificate, a refused connection) instead of "client error (Connect)".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    text
}
