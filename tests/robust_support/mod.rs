//! Helpers of the `robust_*` tests: a stack with a chosen seed and limits, longer waits.

#![allow(dead_code)] // each test binary uses a different subset

use podwall::server::{KubeSource, Limits, ServeConfig};
use podwall::sim::SimConfig;
use tokio_util::sync::CancellationToken;

use crate::common::Stack;

/// The simulated cluster of a test.
pub struct Cluster {
    pub nodes: usize,
    pub pods: usize,
    pub churn: f64,
    pub seed: u64,
}

/// Starts a simulator and a wall server with `limits` against it; waits for /readyz.
pub async fn start(cluster: Cluster, limits: Limits) -> Stack {
    crate::common::init();
    let token = CancellationToken::new();
    let sim = podwall::sim::start(
        SimConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            nodes: cluster.nodes,
            pods: cluster.pods,
            churn: cluster.churn,
            seed: cluster.seed,
        },
        token.clone(),
    )
    .await
    .expect("sim starts");
    let server = podwall::server::start_with(
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            namespaces: Vec::new(),
            kube: KubeSource::Config(sim.kube_config()),
            auth_token: None,
        },
        limits,
        token.clone(),
    )
    .await
    .expect("server starts");
    let stack = Stack {
        sim,
        server,
        token,
        http: reqwest::Client::new(),
    };
    stack.wait_ready().await;
    stack
}

/// Resident set size of this process, from /proc (Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}
