//! A simulated kube-apiserver: core/v1 Pods, Nodes and Namespaces with real list/watch
//! semantics, a churn generator and fault injection. (Interface stub; being built.)

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

/// A running simulator.
pub struct RunningSim {
    /// The bound address.
    pub addr: SocketAddr,
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

    /// Waits until the simulator has stopped (after the shutdown token is cancelled).
    pub async fn stopped(self) -> Result<(), SimError> {
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Starts the simulator in the background.
pub async fn start(config: SimConfig, shutdown: CancellationToken) -> Result<RunningSim, SimError> {
    let _ = (config, shutdown);
    unimplemented!("the simulator is being built")
}

/// Runs the simulator until `shutdown` is cancelled (the `podwall sim` command).
pub async fn run(
    config: SimConfig,
    kubeconfig_out: Option<PathBuf>,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let _ = kubeconfig_out;
    start(config, shutdown).await?.stopped().await
}
