//! `podwall demo`: the simulator in-process, and the server against it through the real
//! kube client. (Interface stub; being built.)

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The simulator failed.
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] crate::server::Error),
}

/// Runs the simulator and the wall until `shutdown` is cancelled.
pub async fn run(
    sim: crate::sim::SimConfig,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let running = crate::sim::start(sim, shutdown.clone()).await?;
    let config = crate::server::ServeConfig {
        listen,
        namespaces: Vec::new(),
        kube: crate::server::KubeSource::Config(running.kube_config()),
    };
    crate::server::run(config, shutdown).await?;
    running.stopped().await?;
    Ok(())
}
