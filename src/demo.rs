//! `podwall demo`: the simulator in-process, and the server against it through the real
//! kube client — exactly the production path.

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
    tracing::info!(url = %running.url(), "simulated API server started");
    let config = crate::server::ServeConfig {
        listen,
        namespaces: Vec::new(),
        kube: crate::server::KubeSource::Config(running.kube_config()),
        auth_token: None,
    };
    let server = crate::server::start(config, shutdown).await?;
    // The one user-facing line of the demo: where to look.
    println!("podwall demo: open http://{}/", server.addr);
    server.stopped().await?;
    running.stopped().await?;
    Ok(())
}
