//! `podwall demo`: simulated clusters in-process, and the server against them through the
//! real kube client — exactly the production path.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use super::{ClusterConfig, Config, KubeSource, Running, WallOptions};
use crate::sim::{RunningSim, SimConfig};

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The simulator failed.
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] super::Error),
}

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The simulated cluster; the i-th of several gets seed `seed + i`. Its `listen` is
    /// ignored: simulators take free loopback ports.
    pub sim: SimConfig,
    /// How many independent simulated clusters, named demo-1, demo-2, … when more than one.
    pub clusters: usize,
    /// Where to serve the wall.
    pub listen: SocketAddr,
    /// The wall's name (one cluster), usage interval and links (shared by every cluster).
    pub wall: WallOptions,
}

/// A running demo: its simulators and the wall.
pub struct RunningDemo {
    /// The wall.
    pub server: Running,
    sims: Vec<RunningSim>,
}

impl RunningDemo {
    /// Waits until the wall and the simulators have stopped (after `shutdown`).
    pub async fn stopped(self) -> Result<(), Error> {
        self.server.stopped().await?;
        for sim in self.sims {
            sim.stopped().await?;
        }
        Ok(())
    }
}

/// Starts the simulators and the wall; returns once the wall listens.
pub async fn start(config: DemoConfig, shutdown: CancellationToken) -> Result<RunningDemo, Error> {
    let count = config.clusters.max(1);
    let mut sims = Vec::with_capacity(count);
    let mut clusters = Vec::with_capacity(count);
    for i in 0..count {
        let sim = crate::sim::start(
            SimConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                seed: config.sim.seed.wrapping_add(i as u64),
                ..config.sim.clone()
            },
            shutdown.clone(),
        )
        .await?;
        let mut wall = config.wall.clone();
        if count > 1 {
            wall.name = format!("demo-{}", i + 1);
        }
        tracing::info!(url = %sim.url(), cluster = %wall.name, "simulated API server started");
        clusters.push(ClusterConfig::new(KubeSource::Config(sim.kube_config())).wall(wall));
        sims.push(sim);
    }
    let server = Config {
        listen: config.listen,
        clusters,
        ..Config::default()
    };
    let server = super::start(server, shutdown).await?;
    Ok(RunningDemo { server, sims })
}
