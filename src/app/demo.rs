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
    Server(#[from] crate::app::Error),
}

/// How to run the demo.
pub struct DemoConfig {
    /// The simulated cluster.
    pub sim: crate::sim::SimConfig,
    /// Whether the simulated clusters have a metrics-server.
    pub metrics_api: crate::sim::MetricsMode,
    /// How many independent simulated clusters (seeds `seed`, `seed + 1`, …).
    pub clusters: usize,
    /// Where to serve the wall.
    pub listen: SocketAddr,
    /// Name, links and usage polling of the wall.
    pub options: crate::app::WallOptions,
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
            clusters: 1,
            listen,
            options: crate::app::WallOptions::default(),
        },
        shutdown,
    )
    .await
}

/// Runs the demo as `config` says until `shutdown` is cancelled.
pub async fn run_with(config: DemoConfig, shutdown: CancellationToken) -> Result<(), Error> {
    let count = config.clusters.max(1);
    let mut sims = Vec::with_capacity(count);
    let mut clusters = Vec::with_capacity(count);
    for i in 0..count {
        let mut sim_config = config.sim.clone();
        sim_config.seed = config.sim.seed.wrapping_add(i as u64);
        let running = crate::sim::start(sim_config, shutdown.clone()).await?;
        running.handle().set_metrics_mode(config.metrics_api);
        let mut options = config.options.clone();
        if count > 1 {
            options.cluster.name = format!("demo-{}", i + 1);
        }
        tracing::info!(url = %running.url(), cluster = %options.cluster.name, "simulated API server started");
        clusters.push(crate::app::ClusterConfig {
            kube: crate::app::KubeSource::Config(running.kube_config()),
            namespaces: Vec::new(),
            options,
        });
        sims.push(running);
    }
    let server = crate::app::start_clusters(
        config.listen,
        None,
        clusters,
        crate::app::Limits::default(),
        shutdown,
    )
    .await?;
    // The one user-facing line of the demo: where to look.
    println!("podwall demo: open http://{}/", server.addr);
    server.stopped().await?;
    for running in sims {
        running.stopped().await?;
    }
    Ok(())
}
