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

/// How to run the demo.
pub struct DemoConfig {
    /// The simulated cluster.
    pub sim: crate::sim::SimConfig,
    /// Whether the simulated cluster has a metrics-server.
    pub metrics_api: crate::sim::MetricsMode,
    /// Where to serve the wall.
    pub listen: SocketAddr,
    /// Name, links and usage polling of the wall.
    pub options: crate::server::WallOptions,
}

/// Runs the simulator and the wall until `shutdown` is cancelled.
pub async fn run(
    sim: crate::sim::SimConfig,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    run_with(
        DemoConfig {
            sim,
            metrics_api: crate::sim::MetricsMode::Serving,
            listen,
            options: crate::server::WallOptions::default(),
        },
        shutdown,
    )
    .await
}

/// Runs the demo as `config` says until `shutdown` is cancelled.
pub async fn run_with(config: DemoConfig, shutdown: CancellationToken) -> Result<(), Error> {
    let running = crate::sim::start(config.sim, shutdown.clone()).await?;
    running.handle().set_metrics_mode(config.metrics_api);
    tracing::info!(url = %running.url(), "simulated API server started");
    let serve = crate::server::ServeConfig {
        listen: config.listen,
        namespaces: Vec::new(),
        kube: crate::server::KubeSource::Config(running.kube_config()),
        auth_token: None,
    };
    let server = crate::server::start_with_options(
        serve,
        crate::server::Limits::default(),
        config.options,
        shutdown,
    )
    .await?;
    // The one user-facing line of the demo: where to look.
    println!("podwall demo: open http://{}/", server.addr);
    server.stopped().await?;
    running.stopped().await?;
    Ok(())
}
