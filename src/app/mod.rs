//! The one wiring place: from a [`Config`] to a running server. Per cluster it builds the
//! API client, the informer and usage poller (Kubernetes side), the cache (state), the
//! fan-out, the metrics registry, and the web state that joins them; then one HTTP server
//! for all clusters.

mod config;
#[cfg(feature = "sim")]
pub mod demo;
mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{ClusterConfig, Config, DEFAULT_CLUSTER_NAME, KubeSource, WallOptions};
pub use telemetry::{LogFormat, cancel_on_signal, init_logging};

use crate::fanout::{Fanout, Frames, StreamMetrics};
use crate::k8s::{ApiClient, ApiMetrics, Usage};
use crate::state::{Cache, WARNINGS_SWEEP};
use crate::web::{AppState, ClusterInfo};

/// Errors of the server's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig file could not be read or used.
    #[error("cannot load kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// No cluster configuration was found.
    #[error("cannot find cluster configuration (KUBECONFIG, ~/.kube/config or in-cluster): {0}")]
    InferConfig(#[from] kube::config::InferConfigError),
    /// The kube client could not be built.
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    /// A cluster name is not a DNS label, or is used twice.
    #[error("invalid cluster name {name:?}: {reason}")]
    ClusterName {
        /// The name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// No cluster to show.
    #[error("no cluster configured")]
    NoCluster,
    /// The screens file could not be read or is malformed.
    #[error(transparent)]
    Screens(#[from] crate::web::ScreensError),
}

/// A running server (tests listen on port 0 and read `addr`).
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    clusters: Vec<AppState>,
    http: JoinHandle<Result<(), Error>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first cluster's cache (tests read positions from it).
    pub fn cache(&self) -> &Arc<Cache<Frames>> {
        self.clusters[0].cache()
    }

    /// The caches of all clusters by name, in the configured order.
    pub fn caches(&self) -> impl Iterator<Item = (&str, &Arc<Cache<Frames>>)> {
        self.clusters.iter().map(|s| (&*s.cluster.name, s.cache()))
    }

    /// What the first cluster's event streams did (tests read the client count).
    pub fn stream_metrics(&self) -> &StreamMetrics {
        self.clusters[0].fanout.metrics()
    }

    /// The first cluster's live usage.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.clusters[0].usage
    }

    /// Waits until the server and its watchers have stopped (after `shutdown` is cancelled).
    pub async fn stopped(self) -> Result<(), Error> {
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a watch task ended abnormally");
            }
        }
        match self.http.await {
            Ok(result) => result,
            Err(e) => Err(Error::Http(std::io::Error::other(e))),
        }
    }
}

/// Starts serving: binds `config.listen`, starts every cluster's watches, returns at once.
/// Each cluster has its own watches, cache, epoch, usage and health: the first is served
/// at `/` (exactly like a single-cluster wall), every one under `/clusters/<name>/` when
/// there are several. A cluster that cannot be reached only marks its own wall stale.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, Error> {
    let several = config.clusters.len() > 1;
    let mut states: Vec<AppState> = Vec::with_capacity(config.clusters.len());
    let mut tasks = Vec::new();
    for cluster in config.clusters {
        let name = cluster.wall.name.clone();
        if let Err(reason) = crate::k8s::selector::validate_dns_label(&name) {
            return Err(Error::ClusterName { name, reason });
        }
        if states.iter().any(|s| s.cluster.name == name) {
            return Err(Error::ClusterName {
                name,
                reason: "given twice".into(),
            });
        }
        let (state, cluster_tasks) =
            start_cluster(cluster, several, config.max_clients, shutdown.clone()).await?;
        states.push(state);
        tasks.extend(cluster_tasks);
    }
    if states.is_empty() {
        return Err(Error::NoCluster);
    }
    let screens = config
        .screens_file
        .as_deref()
        .map(crate::web::Screens::load)
        .transpose()?;
    if let Some(screens) = &screens {
        tasks.push(screens.spawn_reload(shutdown.clone()));
    }
    let attention = crate::web::Attention::start(
        states.clone(),
        screens.clone(),
        config.alert_quiet,
        shutdown.clone(),
    );
    let (addr, server) = crate::web::serve(
        states.clone(),
        config.auth_token,
        screens,
        attention,
        config.listen,
        config.shutdown_grace,
    )
    .map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let handle = server.handle();
    let stop_token = shutdown.clone();
    tokio::spawn(async move {
        stop_token.cancelled().await;
        handle.stop(true).await;
    });
    let http = tokio::spawn(async move { server.await.map_err(Error::Http) });
    tracing::info!(%addr, clusters = states.len(), "podwall serving");
    Ok(Running {
        addr,
        clusters: states,
        http,
        tasks,
    })
}

/// One cluster's parts, from its API client to the state its routes share.
async fn start_cluster(
    cluster: ClusterConfig,
    several: bool,
    max_clients: usize,
    shutdown: CancellationToken,
) -> Result<(AppState, Vec<JoinHandle<()>>), Error> {
    let ClusterConfig {
        kube,
        namespaces,
        wall,
        warnings_max_age,
    } = cluster;
    let kube_config = kube_config(kube).await?;
    // The usage poller's own client does not retry: a metrics-server that is down must
    // not hold a poll for minutes of backoff (the next poll comes soon enough).
    let mut usage_config = kube_config.clone();
    usage_config.default_retry = false;
    let usage_client = kube::Client::try_from(usage_config)?;
    let client = ApiClient::new(kube_config)?;
    let cache = Arc::new(Cache::<Frames>::new());
    cache.set_warnings_max_age(warnings_max_age);
    match &wall.history_dir {
        // Each cluster keeps its own history, in a folder of its name.
        Some(dir) => {
            let dir = dir.join(&wall.name);
            match cache.keep_history_in(wall.history, &dir) {
                Ok(Some(r)) => tracing::info!(
                    dir = %dir.display(), segments = r.segments, changes = r.changes,
                    repaired = r.repaired, "history read back"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    dir = %dir.display(), error = %e,
                    "cannot keep the history on disk: it is kept in memory only"
                ),
            }
        }
        None => cache.set_history(wall.history),
    }
    if several {
        // A tool reading several clusters' streams tells them apart by this name.
        cache.name_cluster(Arc::from(&*wall.name));
    }
    let fanout = Fanout::new(cache.clone(), max_clients, shutdown.clone());
    let api_metrics = Arc::new(ApiMetrics::default());
    let usage = Arc::new(Usage::new(wall.usage_interval));
    let mut registry = Registry::with_prefix("podwall");
    api_metrics.register(&mut registry);
    cache.metrics().register(&mut registry);
    fanout.metrics().register(&mut registry);
    let mut tasks = Vec::new();
    // Every log line of this cluster's watches and polls names it.
    let span = tracing::info_span!("cluster", name = %wall.name);
    span.in_scope(|| {
        tasks.extend(crate::k8s::spawn_informer(
            client,
            &namespaces,
            cache.clone(),
            api_metrics.clone(),
            shutdown.clone(),
        ));
        tasks.push(spawn_warnings_sweep(cache.clone(), shutdown.clone()));
        if wall.history_dir.is_some() {
            tasks.push(spawn_history_flush(cache.clone(), shutdown.clone()));
        }
        tasks.extend(crate::k8s::spawn_usage_poller(
            usage_client,
            &namespaces,
            usage.clone(),
            api_metrics,
            shutdown,
        ));
        tracing::info!(?namespaces, "cluster added");
    });
    let state = AppState {
        fanout,
        cluster: Arc::new(ClusterInfo {
            name: wall.name,
            pod_link: wall.pod_link,
            node_link: wall.node_link,
            several,
        }),
        usage,
        metrics: Arc::new(registry),
    };
    Ok((state, tasks))
}

/// Every [`WARNINGS_SWEEP`], drops the warnings past their maximum age (their pods' and
/// nodes' marks go with them), until `shutdown`.
fn spawn_warnings_sweep(cache: Arc<Cache<Frames>>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(WARNINGS_SWEEP);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = every.tick() => cache.expire_warnings(),
            }
        }
    })
}

/// How often the history's new changes are written to `--history-dir` and fsynced: a
/// `kill -9` loses at most this and the time of a write (the promise is a second).
const HISTORY_FLUSH: std::time::Duration = std::time::Duration::from_millis(500);

/// Every [`HISTORY_FLUSH`], and once more at shutdown, writes the history's new changes
/// to its folder (blocking I/O, off the runtime's threads). A write that fails turns
/// persistence off with one warning; the wall goes on.
fn spawn_history_flush(cache: Arc<Cache<Frames>>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(HISTORY_FLUSH);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let last = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = every.tick() => false,
            };
            let c = cache.clone();
            match tokio::task::spawn_blocking(move || c.flush_history()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(
                    error = %e,
                    "cannot write the history to disk (full?): it is kept in memory only from now on"
                ),
                Err(e) => tracing::warn!(error = %e, "the history flush failed"),
            }
            if last {
                break;
            }
        }
    })
}

/// The client configuration a [`KubeSource`] names.
async fn kube_config(source: KubeSource) -> Result<kube::Config, Error> {
    let (path, context) = match source {
        KubeSource::Config(c) => return Ok(c),
        KubeSource::Infer { kubeconfig: None } => return Ok(kube::Config::infer().await?),
        KubeSource::Infer {
            kubeconfig: Some(path),
        } => (path, None),
        KubeSource::Kubeconfig { path, context } => (path, context),
    };
    let kc = kube::config::Kubeconfig::read_from(&path).map_err(|source| Error::Kubeconfig {
        path: path.clone(),
        source,
    })?;
    let options = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|source| Error::Kubeconfig { path, source })
}
