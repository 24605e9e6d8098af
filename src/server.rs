//! `podwall serve`: wires informer, cache, hub and web together. (Interface stub; being built.)

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

/// Where the Kubernetes client configuration comes from.
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
}

/// Errors of the server's lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not built yet.
    #[error("not implemented")]
    Unimplemented,
}

/// Runs the server until `shutdown` is cancelled.
pub async fn run(config: ServeConfig, shutdown: CancellationToken) -> Result<(), Error> {
    let _ = (config, shutdown);
    Err(Error::Unimplemented)
}
