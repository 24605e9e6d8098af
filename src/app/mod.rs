//! `podwall serve`: wires informer, cache, hub and web together.

pub mod demo;
pub mod metrics;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::metrics::Metrics;
use crate::k8s::usage::Usage;
use crate::state::cache::Cache;
use crate::web::AppState;

/// Where the Kubernetes client configuration comes from.
// Built once per process: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum KubeSource {
    /// `--kubeconfig`, else `KUBECONFIG`/`~/.kube/config`, else the in-cluster ServiceAccount.
    Infer { kubeconfig: Option<PathBuf> },
    /// A ready configuration (the demo and tests).
    Config(kube::Config),
    /// A kubeconfig file and, optionally, one of its contexts (`--cluster NAME=FILE:CONTEXT`).
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The context; its current-context when `None`.
        context: Option<String>,
    },
}

/// How to run the server.
pub struct ServeConfig {
    /// Address to serve HTTP on.
    pub listen: SocketAddr,
    /// Namespaces to watch; all when empty.
    pub namespaces: Vec<String>,
    /// Cluster access.
    pub kube: KubeSource,
    /// When set, every route but the probes requires this token.
    pub auth_token: Option<crate::web::auth::AuthToken>,
}

/// Resource limits of a server; the defaults suit a wall in a cluster.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Concurrent SSE streams; beyond it a stream request gets 503 with Retry-After.
    pub max_clients: usize,
    /// On shutdown, how long open connections get to finish after SSE streams end
    /// (keep it below the pod's terminationGracePeriodSeconds).
    pub shutdown_grace: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_clients: 10_000,
            shutdown_grace: std::time::Duration::from_secs(10),
        }
    }
}

/// What the wall adds to the watched state: the cluster's name and links, live usage.
/// The default has usage off (tests and benchmarks poll nothing they did not ask for);
/// `podwall serve` polls every 15 s unless told otherwise.
#[derive(Debug, Clone, Default)]
pub struct WallOptions {
    /// Name and click-through links.
    pub cluster: crate::web::cluster::ClusterInfo,
    /// How often to poll metrics.k8s.io; zero: never.
    pub usage_interval: std::time::Duration,
}

/// Errors of the server's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig file could not be read or used.
    #[error("cannot load kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
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
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    /// A cluster name is not a DNS label, or is used twice.
    #[error("invalid cluster name {name:?}: {reason}")]
    ClusterName { name: String, reason: String },
    /// No cluster to show.
    #[error("no cluster configured")]
    NoCluster,
}

/// A running server (tests use port 0 and read `addr`).
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared cache (tests read positions and metrics from it).
    pub cache: Arc<Cache>,
    /// Live usage (tests read its status).
    pub usage: Arc<Usage>,
    /// Every cluster's name and cache, in the order given (the first is `cache`).
    pub clusters: Vec<(String, Arc<Cache>)>,
    http: JoinHandle<Result<(), Error>>,
    informers: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server and its watchers have stopped (after `shutdown` is cancelled).
    pub async fn stopped(self) -> Result<(), Error> {
        for task in self.informers {
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

/// Starts serving with default [`Limits`]: binds `listen`, starts the watchers, returns at once.
pub async fn start(
    config: ServeConfig,
    shutdown: CancellationToken,
) -> Result<RunningServer, Error> {
    start_with(config, Limits::default(), shutdown).await
}

/// Starts serving with `limits`.
pub async fn start_with(
    config: ServeConfig,
    limits: Limits,
    shutdown: CancellationToken,
) -> Result<RunningServer, Error> {
    start_with_options(config, limits, WallOptions::default(), shutdown).await
}

/// Starts serving with `limits` and `options` (name, links, usage).
pub async fn start_with_options(
    config: ServeConfig,
    limits: Limits,
    options: WallOptions,
    shutdown: CancellationToken,
) -> Result<RunningServer, Error> {
    let cluster = ClusterConfig {
        kube: config.kube,
        namespaces: config.namespaces,
        options,
    };
    start_clusters(
        config.listen,
        config.auth_token,
        vec![cluster],
        limits,
        shutdown,
    )
    .await
}

/// One cluster of a wall that shows several.
pub struct ClusterConfig {
    /// Cluster access.
    pub kube: KubeSource,
    /// Namespaces to watch; all when empty.
    pub namespaces: Vec<String>,
    /// Name, links and usage polling.
    pub options: WallOptions,
}

/// Starts serving several clusters, each with its own watches, cache, epoch, usage and
/// health: the first at `/` (exactly like a single-cluster wall), every one of them under
/// `/clusters/<name>/`. A cluster that cannot be reached only marks its own wall stale.
pub async fn start_clusters(
    listen: SocketAddr,
    auth_token: Option<crate::web::auth::AuthToken>,
    clusters: Vec<ClusterConfig>,
    limits: Limits,
    shutdown: CancellationToken,
) -> Result<RunningServer, Error> {
    let several = clusters.len() > 1;
    let mut states = Vec::with_capacity(clusters.len());
    let mut tasks = Vec::new();
    for cluster in clusters {
        let name = cluster.options.cluster.name.clone();
        if let Err(reason) = crate::k8s::selector::validate_dns_label(&name) {
            return Err(Error::ClusterName { name, reason });
        }
        if states.iter().any(|s: &AppState| *s.cluster.name == name) {
            return Err(Error::ClusterName {
                name,
                reason: "given twice".into(),
            });
        }
        let kube_config = kube_config(cluster.kube).await?;
        // The usage poller's own client does not retry: a metrics-server that is down
        // must not hold a poll for minutes of backoff (the next poll comes soon enough).
        let mut usage_config = kube_config.clone();
        usage_config.default_retry = false;
        let usage_client = kube::Client::try_from(usage_config)?;
        let client = crate::k8s::client::ApiClient::new(kube_config)?;
        let cache = Arc::new(Cache::new(Arc::new(Metrics::default())));
        let usage = Arc::new(Usage::new(cluster.options.usage_interval));
        let mut info = cluster.options.cluster;
        info.several = several;
        if several {
            // A tool reading several clusters' streams tells them apart by this name.
            cache.name_cluster(Arc::from(&*info.name));
        }
        // Every log line of this cluster's watches and polls names it.
        let span = tracing::info_span!("cluster", name = %info.name);
        span.in_scope(|| {
            tasks.extend(crate::k8s::informer::spawn(
                client,
                &cluster.namespaces,
                cache.clone(),
                shutdown.clone(),
            ));
            tasks.extend(crate::k8s::usage::spawn(
                usage_client,
                &cluster.namespaces,
                usage.clone(),
                cache.metrics().usage_polls.clone(),
                shutdown.clone(),
            ));
            tracing::info!(namespaces = ?cluster.namespaces, "cluster added");
        });
        states.push(AppState {
            cache,
            slots: crate::fanout::stream::ClientSlots::new(limits.max_clients, shutdown.clone()),
            cluster: Arc::new(info),
            usage,
        });
    }
    let Some(first) = states.first().cloned() else {
        return Err(Error::NoCluster);
    };
    let directory = crate::web::clusters::Directory::new(states.clone());
    let access = crate::web::auth::Access::new(auth_token);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(first.clone()))
            .app_data(web::Data::new(directory.clone()))
            .app_data(access.clone())
            // Outermost last: headers on every answer, then size limits, then the token,
            // then `?cluster=` to the cluster's own paths.
            .wrap(actix_web::middleware::from_fn(crate::web::clusters::select))
            .wrap(actix_web::middleware::from_fn(crate::web::auth::require))
            .wrap(actix_web::middleware::from_fn(crate::web::request_limits))
            .wrap(crate::web::security_headers())
            .configure(|cfg| directory.configure(cfg))
            .configure(crate::web::configure)
    })
    .disable_signals()
    .shutdown_timeout(limits.shutdown_grace.as_secs())
    // Event streams hand over at most `hub::WRITE_CHUNK` at a time; with this limit a
    // connection's write buffer stays under 8 KiB instead of growing to 32 KiB + a piece
    // (the vendored actix-http frees it between writes).
    .h1_write_buffer_size(crate::fanout::stream::HTTP_WRITE_BUFFER)
    .bind(listen)
    .map_err(|source| Error::Bind {
        addr: listen,
        source,
    })?;
    let addr = server.addrs().first().copied().unwrap_or(listen);
    let server = server.run();
    let handle = server.handle();
    let stop_token = shutdown.clone();
    tokio::spawn(async move {
        stop_token.cancelled().await;
        handle.stop(true).await;
    });
    let http = tokio::spawn(async move { server.await.map_err(Error::Http) });
    tracing::info!(%addr, clusters = states.len(), "podwall serving");
    Ok(RunningServer {
        addr,
        cache: states[0].cache.clone(),
        usage: states[0].usage.clone(),
        clusters: states
            .iter()
            .map(|s| (s.cluster.name.clone(), s.cache.clone()))
            .collect(),
        http,
        informers: tasks,
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

/// Runs the server until `shutdown` is cancelled.
pub async fn run(config: ServeConfig, shutdown: CancellationToken) -> Result<(), Error> {
    start(config, shutdown).await?.stopped().await
}

/// Runs the server with `limits` until `shutdown` is cancelled.
pub async fn run_with(
    config: ServeConfig,
    limits: Limits,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    start_with(config, limits, shutdown).await?.stopped().await
}

/// Runs the server with `limits` and `options` until `shutdown` is cancelled.
pub async fn run_with_options(
    config: ServeConfig,
    limits: Limits,
    options: WallOptions,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    start_with_options(config, limits, options, shutdown)
        .await?
        .stopped()
        .await
}
