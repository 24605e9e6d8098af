//! A simulated kube-apiserver: core/v1 Pods, Nodes, Namespaces and Events (also as
//! `events.k8s.io/v1`) over plain HTTP/JSON with real list/watch semantics, a generated
//! cluster, a churn generator with the trouble a real cluster shows, and fault injection
//! and trouble on demand under `/_sim/`.

mod api;
mod churn;
mod cluster;
mod control;
mod discovery;
mod events;
mod faults;
mod field_validation;
mod list;
mod metrics_api;
mod openapi;
mod patch;
mod query;
mod recorder;
mod resource;
mod retention;
mod status;
mod store;
mod table;
mod traffic;
mod trouble;
mod validate;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use cluster::Termination;
pub use control::{RESTART_BUMP, SimHandle};
pub use faults::ErrorKind;
pub use metrics_api::MetricsMode;
pub use resource::Resource;
pub use trouble::{NodeTrouble, PodTrouble};

use faults::Faults;
use status::ApiError;
use store::Store;

/// Events kept for watch resume and exact-resourceVersion lists; older ones get 410.
const HISTORY_LIMIT: usize = 20_000;

/// The resourceVersion of an empty store; generated objects count up from here.
const BASE_RESOURCE_VERSION: u64 = 100;

/// How to build and run a simulated cluster.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Number of nodes.
    pub nodes: usize,
    /// Number of pods in total.
    pub pods: usize,
    /// Changes per second.
    pub churn: f64,
    /// Seed for the cluster and its churn.
    pub seed: u64,
    /// Whether its metrics-server serves, is absent or is down.
    pub metrics_api: MetricsMode,
}

impl Default for SimConfig {
    /// `podwall sim`'s defaults: 12 nodes, 240 pods, 4 changes/s, seed 1, on a free
    /// loopback port.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            nodes: 12,
            pods: 240,
            churn: 4.0,
            seed: 1,
            metrics_api: MetricsMode::Serving,
        }
    }
}

/// Errors of the simulator's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// Writing the kubeconfig failed.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("simulated API server failed: {0}")]
    Server(std::io::Error),
}

/// What every part of a running simulator shares.
struct SimContext {
    store: Store,
    faults: Faults,
    traffic: traffic::Traffic,
    churn_rate: tokio::sync::watch::Sender<f64>,
    metrics: metrics_api::MetricsApi,
    retention: retention::Retention,
    recorder: recorder::Recorder,
    troubles: trouble::Ongoing,
    shutdown: CancellationToken,
}

impl SimContext {
    /// Starts or renews the lease of an event just written (other objects have none).
    fn written(&self, resource: Resource, stored: &store::Stored) {
        if resource == Resource::Events {
            self.retention.written(stored);
        }
    }

    /// Removes a Terminating object when its grace period is over: the kubelet's part for
    /// pods, the namespace controller's for namespaces.
    fn remove_after_grace(
        self: &Arc<Self>,
        resource: Resource,
        namespace: String,
        name: String,
        uid: String,
        grace: i64,
    ) {
        let ctx = self.clone();
        let wait = Duration::from_secs(u64::try_from(grace).unwrap_or(0));
        tokio::spawn(async move {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {
                    if resource == Resource::Namespaces {
                        ctx.store.finish_namespace(&name, &uid);
                    } else {
                        // The kubelet's final delete has grace period 0, like a real one.
                        let _ = ctx.store.delete(resource, &namespace, &name, Some(0), Some(&uid));
                    }
                }
            }
        });
    }
}

/// A running simulator.
pub struct RunningSim {
    /// The bound address.
    pub addr: SocketAddr,
    ctx: Arc<SimContext>,
    task: JoinHandle<Result<(), SimError>>,
}

impl RunningSim {
    /// The base URL, e.g. `http://127.0.0.1:6443`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client configuration pointing at the simulator.
    pub fn kube_config(&self) -> kube::Config {
        kube::Config::new(
            self.url()
                .parse()
                .expect("a socket address makes a valid URI"),
        )
    }

    /// A kubeconfig file's content pointing at the simulator (dummy token user).
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml(&self.url())
    }

    /// Writes a kubeconfig pointing at the simulator to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> Result<(), SimError> {
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| SimError::Kubeconfig {
            path: path.to_owned(),
            source,
        })?;
        tracing::info!(path = %path.display(), "kubeconfig written; try: KUBECONFIG={} kubectl get pods -A", path.display());
        Ok(())
    }

    /// A handle to inject faults and change churn in-process.
    pub fn handle(&self) -> SimHandle {
        SimHandle(self.ctx.clone())
    }

    /// Waits until the simulator has stopped (after the shutdown token is cancelled).
    pub async fn stopped(self) -> Result<(), SimError> {
        self.task.await.unwrap_or(Ok(()))
    }
}

fn kubeconfig_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podwall-sim\n  cluster:\n    server: {server}\ncontexts:\n- name: podwall-sim\n  context:\n    cluster: podwall-sim\n    user: podwall-sim\n    namespace: default\ncurrent-context: podwall-sim\nusers:\n- name: podwall-sim\n  user:\n    token: podwall-sim-dummy-token\n"
    )
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/version", web::get().to(discovery::version))
        .route("/version/", web::get().to(discovery::version))
        .route("/api", web::get().to(discovery::api_versions))
        .route("/api/", web::get().to(discovery::api_versions))
        .route("/api/v1", web::get().to(discovery::core_v1))
        .route("/api/v1/", web::get().to(discovery::core_v1))
        .route("/apis", web::get().to(discovery::api_groups))
        .route("/apis/", web::get().to(discovery::api_groups))
        .route("/api/v1/{tail:.*}", web::route().to(api::dispatch))
        .route("/apis/events.k8s.io", web::get().to(events::group))
        .route("/apis/events.k8s.io/", web::get().to(events::group))
        .route("/apis/events.k8s.io/v1", web::get().to(events::resources))
        .route("/apis/events.k8s.io/v1/", web::get().to(events::resources))
        .route(
            "/apis/events.k8s.io/v1/{tail:.*}",
            web::route().to(api::dispatch_events_v1),
        )
        .route("/apis/metrics.k8s.io", web::get().to(metrics_api::group))
        .route("/apis/metrics.k8s.io/", web::get().to(metrics_api::group))
        .route(
            "/apis/metrics.k8s.io/v1beta1",
            web::get().to(metrics_api::resources),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/",
            web::get().to(metrics_api::resources),
        )
        .route(
            "/apis/metrics.k8s.io/v1beta1/{tail:.*}",
            web::route().to(metrics_api::dispatch),
        )
        .route("/openapi/v3", web::get().to(openapi::discovery))
        .route("/openapi/v3/", web::get().to(openapi::discovery))
        .route("/openapi/v3/api/v1", web::get().to(openapi::core_v1))
        .route("/_sim/state", web::get().to(control::state))
        .route("/_sim/churn", web::post().to(control::churn))
        .route("/_sim/metrics", web::post().to(control::metrics))
        .route("/_sim/faults/{fault}", web::post().to(control::fault))
        .route("/_sim/events", web::post().to(control::events))
        .route(
            "/_sim/pods/{namespace}/{name}/{trouble}",
            web::route()
                .guard(
                    actix_web::guard::Any(actix_web::guard::Post()).or(actix_web::guard::Delete()),
                )
                .to(control::pod),
        )
        .route(
            "/_sim/nodes/{name}/{trouble}",
            web::route()
                .guard(
                    actix_web::guard::Any(actix_web::guard::Post()).or(actix_web::guard::Delete()),
                )
                .to(control::node),
        )
        .default_service(web::to(|req: actix_web::HttpRequest| async move {
            ApiError::no_route(req.path()).to_response()
        }));
}

/// Removes expired events and keeps their number bounded, until shutdown.
async fn sweep_events(ctx: Arc<SimContext>) {
    let mut every = tokio::time::interval(retention::SWEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = every.tick() => {
                let removed = ctx.retention.sweep(&ctx.store);
                if removed > 0 {
                    tracing::debug!(removed, "events expired");
                }
            }
        }
    }
}

/// Starts the simulator in the background: builds the cluster, binds, starts churn.
pub async fn start(config: SimConfig, shutdown: CancellationToken) -> Result<RunningSim, SimError> {
    let store = Store::new(BASE_RESOURCE_VERSION, HISTORY_LIMIT, config.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let started = std::time::Instant::now();
    let model = cluster::generate(&store, config.nodes, config.pods, &mut rng);
    tracing::info!(nodes = config.nodes, pods = config.pods, seed = config.seed, elapsed = ?started.elapsed(), "simulated cluster generated");
    let (churn_rate, churn_rx) = tokio::sync::watch::channel(config.churn.max(0.0));
    let ctx = Arc::new(SimContext {
        store,
        faults: Faults::new(),
        traffic: traffic::Traffic::default(),
        churn_rate,
        metrics: metrics_api::MetricsApi::new(config.metrics_api),
        retention: retention::Retention::default(),
        recorder: recorder::Recorder::default(),
        troubles: trouble::Ongoing::default(),
        shutdown: shutdown.clone(),
    });
    ctx.record_generated_trouble(&model);
    tokio::spawn(sweep_events(ctx.clone()));
    tokio::spawn(trouble::repeat(ctx.clone()));

    let data = web::Data::from(ctx.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .configure(routes)
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(2)
    .bind(config.listen)
    .map_err(|source| SimError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = server.addrs().first().copied().unwrap_or(config.listen);
    let server = server.run();
    let server_handle = server.handle();
    let stop_token = shutdown.clone();
    tokio::spawn(async move {
        stop_token.cancelled().await;
        server_handle.stop(true).await;
    });
    let churn = churn::Churn::new(ctx.clone(), model, rng, config.pods);
    tokio::spawn(churn.run(churn_rx));
    let task = tokio::spawn(async move { server.await.map_err(SimError::Server) });
    tracing::info!(url = %format!("http://{addr}"), "simulated API server listening");
    Ok(RunningSim { addr, ctx, task })
}
