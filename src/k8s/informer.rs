//! The informer: one kube-runtime `watcher` per scope (pods cluster-wide or per namespace,
//! nodes cluster-wide) feeding the cache.
//!
//! The watcher lists, then watches from the list's resourceVersion, and re-lists on
//! 410 Gone; `default_backoff` spaces out retries. A re-list is applied in place
//! (`Init` → `InitApply`… → `InitDone`) rather than buffered, so it costs no second copy
//! of the cluster: the cache tags what the re-list saw and drops the rest at `InitDone`.

use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::k8s::client::ApiClient;
use crate::k8s::wire::{NodeFields, PodFields};
use crate::state::cache::{Cache, Health, Kind, Scope};
use crate::state::view::{NodeView, PodView};

/// What the watchers ask of the API server, as core-group RBAC (resource, verbs): a
/// `watcher` lists, then watches. `deploy/` grants exactly this (tests/real_install.rs
/// compares them), so a new watch without its RBAC rule fails a test.
pub const WATCHED: &[(&str, &[&str])] =
    &[("pods", &["list", "watch"]), ("nodes", &["list", "watch"])];

/// Starts the watchers; they run until `shutdown` is cancelled.
pub fn spawn(
    api_client: ApiClient,
    namespaces: &[String],
    cache: Arc<Cache>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let client = api_client.client();
    let mut tasks = Vec::new();
    let node_scope = Scope {
        kind: Kind::Node,
        namespace: None,
    };
    cache.register_scope(node_scope.clone());
    // With --namespace the ServiceAccount may hold only a namespaced Role: nodes are then
    // optional, and pods on them show under their node's name without details.
    let nodes_optional = !namespaces.is_empty();
    tasks.push(tokio::spawn(
        run_scope(
            api_client.clone(),
            Api::<NodeFields>::all(client.clone()),
            node_scope,
            nodes_optional,
            cache.clone(),
            shutdown.clone(),
            apply_node,
        )
        // In the caller's span: a multi-cluster server names the cluster there.
        .instrument(tracing::Span::current()),
    ));
    let pod_apis: Vec<(Api<PodFields>, Scope)> = if namespaces.is_empty() {
        vec![(
            Api::all(client),
            Scope {
                kind: Kind::Pod,
                namespace: None,
            },
        )]
    } else {
        namespaces
            .iter()
            .map(|ns| {
                (
                    Api::namespaced(client.clone(), ns),
                    Scope {
                        kind: Kind::Pod,
                        namespace: Some(Arc::from(ns.as_str())),
                    },
                )
            })
            .collect()
    };
    for (api, scope) in pod_apis {
        cache.register_scope(scope.clone());
        tasks.push(tokio::spawn(
            run_scope(
                api_client.clone(),
                api,
                scope,
                false,
                cache.clone(),
                shutdown.clone(),
                apply_pod,
            )
            .instrument(tracing::Span::current()),
        ));
    }
    tasks
}

async fn run_scope<K>(
    api_client: ApiClient,
    api: Api<K>,
    scope: Scope,
    optional: bool,
    cache: Arc<Cache>,
    shutdown: CancellationToken,
    apply: fn(&Cache, &Scope, Event<K>),
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut opens = api_client.watch_opens(api.resource_url());
    let config = watcher::Config::default()
        .timeout(u32::try_from(api_client.watch_timeout().as_secs()).unwrap_or(u32::MAX));
    let stream = watcher::watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut degraded = false;
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
                cache.metrics().watch_starts.get_or_create(&scope.kind.label()).inc();
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
                    cache.set_health(&scope, Health::Ok);
                }
                continue;
            }
            item = stream.next() => item,
        };
        match item {
            None => break,
            Some(Ok(event)) => {
                if matches!(event, Event::Init) {
                    lists += 1;
                    if lists > 1 {
                        tracing::info!(incident = "relist", %scope, lists, errors, "full re-list");
                    }
                }
                degraded = false;
                cache.set_health(&scope, Health::Ok);
                apply(&cache, &scope, event);
            }
            Some(Err(e)) => {
                errors += 1;
                let code = cache.metrics().record_watch_error(scope.kind, &e);
                let health = health_of(&e, &scope);
                if optional && matches!(health, Health::Forbidden(_)) {
                    tracing::info!(%scope, error = %e, "not readable; node boxes show names only");
                    cache.mark_unreadable(&scope);
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
                cache.set_health(&scope, health);
            }
        }
    }
    tracing::info!(%scope, "watch stopped");
}

fn apply_pod(cache: &Cache, scope: &Scope, event: Event<PodFields>) {
    match event {
        Event::Init => cache.begin_relist(scope),
        Event::InitDone => cache.end_relist(scope),
        Event::InitApply(pod) | Event::Apply(pod) => match PodView::from_fields(&pod) {
            Ok(view) => cache.upsert_pod(scope, view),
            Err(e) => tracing::warn!(error = %e, "skipping a pod"),
        },
        Event::Delete(pod) => {
            if let (Some(ns), Some(name)) = (
                pod.metadata.namespace.as_deref(),
                pod.metadata.name.as_deref(),
            ) {
                cache.delete_pod(ns, name);
            }
        }
    }
}

fn apply_node(cache: &Cache, scope: &Scope, event: Event<NodeFields>) {
    match event {
        Event::Init => cache.begin_relist(scope),
        Event::InitDone => cache.end_relist(scope),
        Event::InitApply(node) | Event::Apply(node) => match NodeView::from_fields(&node) {
            Ok(view) => cache.upsert_node(scope, view),
            Err(e) => tracing::warn!(error = %e, "skipping a node"),
        },
        Event::Delete(node) => {
            if let Some(name) = node.metadata.name.as_deref() {
                cache.delete_node(name);
            }
        }
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
