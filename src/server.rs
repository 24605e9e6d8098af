//! `podwall serve`: wires informer, cache, hub and web together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cache::Cache;
use crate::metrics::Metrics;
use crate::web::AppState;

/// Where the Kubernetes client configuration comes from.
// Built once per process: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum KubeSource {
    /// `--kubeconfig`, else `KUBECONFIG`/`~/.kube/config`, else the in-cluster ServiceAccount.
    Infer { kubeconfig: Option<PathBuf> },
    /// A ready configuration (the demo and tests).
    Config(kube::Config),
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
}

/// A running server (tests use port 0 and read `addr`).
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared cache (tests read positions and metrics from it).
    pub cache: Arc<Cache>,
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
    let kube_config = match config.kube {
        KubeSource::Config(c) => c,
        KubeSource::Infer {
            kubeconfig: Some(path),
        } => {
            let kc =
                kube::config::Kubeconfig::read_from(&path).map_err(|source| Error::Kubeconfig {
                    path: path.clone(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|source| Error::Kubeconfig { path, source })?
        }
        KubeSource::Infer { kubeconfig: None } => kube::Config::infer().await?,
    };
    let client = crate::api_client::ApiClient::new(kube_config)?;
    let cache = Arc::new(Cache::new(Arc::new(Metrics::default())));
    let state = AppState {
        cache: cache.clone(),
        shutdown: shutdown.clone(),
        slots: crate::hub::ClientSlots::new(limits.max_clients),
    };
    let access = crate::web::auth::Access::new(config.auth_token);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(access.clone())
            // Outermost last: headers on every answer, then size limits, then the token.
            .wrap(actix_web::middleware::from_fn(crate::web::auth::require))
            .wrap(actix_web::middleware::from_fn(crate::web::request_limits))
            .wrap(crate::web::security_headers())
            .configure(crate::web::configure)
    })
    .disable_signals()
    .shutdown_timeout(limits.shutdown_grace.as_secs())
    .bind(config.listen)
    .map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = server.addrs().first().copied().unwrap_or(config.listen);
    let server = server.run();
    let handle = server.handle();
    let stop_token = shutdown.clone();
    tokio::spawn(async move {
        stop_token.cancelled().await;
        handle.stop(true).await;
    });
    let http = tokio::spawn(async move { server.await.map_err(Error::Http) });
    let informers = crate::informer::spawn(client, &config.namespaces, cache.clone(), shutdown);
    tracing::info!(%addr, namespaces = ?config.namespaces, "podwall serving");
    Ok(RunningServer {
        addr,
        cache,
        http,
        informers,
    })
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
