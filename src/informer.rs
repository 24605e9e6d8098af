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

use crate::cache::{Cache, Health, Kind, Scope};
use crate::slim::{NodeFields, PodFields};
use crate::view::{NodeView, PodView};

/// What the watchers ask of the API server, as core-group RBAC (resource, verbs): a
/// `watcher` lists, then watches. `deploy/` grants exactly this (tests/real_install.rs
/// compares them), so a new watch without its RBAC rule fails a test.
pub const WATCHED: &[(&str, &[&str])] =
    &[("pods", &["list", "watch"]), ("nodes", &["list", "watch"])];

/// How often a degraded watch checks whether the API server answers again.
const HEALTH_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the watchers; they run until `shutdown` is cancelled.
pub fn spawn(
    client: kube::Client,
    namespaces: &[String],
    cache: Arc<Cache>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
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
    api: Api<K>,
    scope: Scope,
    optional: bool,
    cache: Arc<Cache>,
    shutdown: CancellationToken,
    apply: fn(&Cache, &Scope, Event<K>),
) where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let probe_api = api.clone();
    let stream = watcher(api).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut probe = tokio::time::interval(HEALTH_PROBE);
    let mut degraded = false;
    tracing::info!(%scope, "watch started");
    loop {
        let item = tokio::select! {
            _ = shutdown.cancelled() => break,
            // A recovered watch on a quiet cluster yields no event, so nothing else would
            // clear the banner: while degraded, a one-item list tells us the server is back.
            _ = probe.tick(), if degraded => {
                let one = kube::api::ListParams::default().limit(1);
                if probe_api.list_metadata(&one).await.is_ok() {
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
                degraded = false;
                cache.set_health(&scope, Health::Ok);
                apply(&cache, &scope, event);
            }
            Some(Err(e)) => {
                cache.metrics().record_watch_error(scope.kind, &e);
                let health = health_of(&e, &scope);
                if optional && matches!(health, Health::Forbidden(_)) {
                    tracing::info!(%scope, error = %e, "not readable; node boxes show names only");
                    cache.mark_unreadable(&scope);
                    continue;
                }
                tracing::warn!(%scope, error = %e, "watch failed; retrying with backoff");
                degraded = true;
                cache.set_health(&scope, health);
            }
        }
    }
    tracing::info!(%scope, "watch stopped");
}

fn watcher<K>(api: Api<K>) -> impl futures::Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default())
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
