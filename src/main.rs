//! The `podwall` command line: parses flags and wires the library's parts together.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use podwall::app::telemetry::LogFormat;
use podwall::sim::MetricsMode;
use podwall::web::auth::AuthToken;
use podwall::web::cluster::ClusterArg;
use podwall::web::link::ClusterLink;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "podwall",
    version,
    about = "A live wall-screen view of a Kubernetes cluster"
)]
struct Cli {
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(
        long,
        global = true,
        env = "PODWALL_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the wall server against a cluster (in-cluster ServiceAccount or KUBECONFIG).
    Serve(ServeArgs),
    /// Run the wall against a simulated cluster in this process (zero setup).
    Demo(DemoArgs),
    /// Run the simulated Kubernetes API server alone.
    Sim(SimArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to serve HTTP on.
    #[arg(long, env = "PODWALL_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Kubeconfig file; without it, KUBECONFIG or the in-cluster ServiceAccount is used.
    #[arg(long, env = "PODWALL_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Watch only these namespaces (repeatable or comma-separated); all when absent.
    #[arg(long = "namespace", env = "PODWALL_NAMESPACE", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Most concurrent event streams; beyond it a stream gets 503 with Retry-After.
    #[arg(long, env = "PODWALL_MAX_CLIENTS", default_value_t = 10_000)]
    max_clients: usize,
    /// Seconds open connections get to finish on shutdown (below the pod's grace period).
    #[arg(long, env = "PODWALL_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// File holding an access token that every route but /healthz and /readyz then requires.
    #[arg(long, env = "PODWALL_AUTH_TOKEN_FILE")]
    auth_token_file: Option<PathBuf>,
    /// A cluster to show, as NAME=KUBECONFIG[:CONTEXT] (repeatable); without it, the one
    /// cluster of --kubeconfig / KUBECONFIG / in-cluster, named by --cluster-name.
    #[arg(long = "cluster", env = "PODWALL_CLUSTERS", value_delimiter = ',', value_parser = ClusterArg::parse, conflicts_with = "kubeconfig")]
    clusters: Vec<ClusterArg>,
    #[command(flatten)]
    wall: WallArgs,
}

#[derive(Args)]
struct WallArgs {
    /// The cluster's name, shown on the wall and used as {{cluster}} in links.
    #[arg(long, env = "PODWALL_CLUSTER_NAME", default_value = podwall::web::cluster::DEFAULT_NAME)]
    cluster_name: String,
    /// How often to poll live usage from metrics.k8s.io (e.g. 15s, 1m; 0 turns it off).
    #[arg(long, env = "PODWALL_USAGE_INTERVAL", default_value = "15s", value_parser = podwall::k8s::usage::parse_interval)]
    usage_interval: std::time::Duration,
    /// Where a click on a pod goes, e.g. 'https://logs.example/{{cluster}}/{{namespace}}/{{name}}';
    /// NAME=TEMPLATE for one cluster only (repeatable).
    #[arg(long, env = "PODWALL_LINK_TEMPLATE", value_parser = ClusterLink::parse)]
    link_template: Vec<ClusterLink>,
    /// Where a click on a node's name goes, e.g. 'https://grafana.example/d/node?var-node={{name}}';
    /// NAME=TEMPLATE for one cluster only (repeatable).
    #[arg(long, env = "PODWALL_NODE_LINK_TEMPLATE", value_parser = ClusterLink::parse)]
    node_link_template: Vec<ClusterLink>,
}

impl WallArgs {
    /// The options of the cluster named by --cluster-name.
    fn options(&self) -> podwall::app::WallOptions {
        self.options_for(&self.cluster_name)
    }

    /// The options of cluster `name`: its own link templates, else the shared ones.
    fn options_for(&self, name: &str) -> podwall::app::WallOptions {
        podwall::app::WallOptions {
            cluster: podwall::web::cluster::ClusterInfo {
                name: name.to_owned(),
                pod_link: ClusterLink::pick(&self.link_template, name),
                node_link: ClusterLink::pick(&self.node_link_template, name),
                several: false,
            },
            usage_interval: self.usage_interval,
        }
    }
}

#[derive(Args)]
struct ClusterArgs {
    /// Number of nodes in the simulated cluster.
    #[arg(long, env = "PODWALL_NODES", default_value_t = 12)]
    nodes: usize,
    /// Number of pods in the simulated cluster.
    #[arg(long, env = "PODWALL_PODS", default_value_t = 240)]
    pods: usize,
    /// Changes per second made by the simulated cluster (0 for a still cluster).
    #[arg(long, env = "PODWALL_CHURN", default_value_t = 4.0)]
    churn: f64,
    /// Seed of the simulated cluster and its churn; the same seed gives the same cluster.
    #[arg(long, env = "PODWALL_SEED", default_value_t = 1)]
    seed: u64,
    /// The simulated metrics-server: serving, absent (no metrics.k8s.io) or unavailable (503).
    #[arg(long, env = "PODWALL_SIM_METRICS_API", default_value = "serving", value_parser = parse_metrics_mode)]
    metrics_api: MetricsMode,
}

fn parse_metrics_mode(s: &str) -> Result<MetricsMode, String> {
    MetricsMode::parse(s)
        .ok_or_else(|| format!("expected serving, absent or unavailable, not {s:?}"))
}

#[derive(Args)]
struct DemoArgs {
    /// Address to serve the wall on.
    #[arg(long, env = "PODWALL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Independent simulated clusters to show (named demo-1, demo-2, … when more than one).
    #[arg(long, env = "PODWALL_DEMO_CLUSTERS", default_value_t = 1)]
    clusters: usize,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    wall: WallArgs,
}

#[derive(Args)]
struct SimArgs {
    /// Address the simulated API server listens on.
    #[arg(long, env = "PODWALL_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Write a kubeconfig pointing at the simulator to this file.
    #[arg(long, env = "PODWALL_KUBECONFIG_OUT")]
    kubeconfig_out: Option<PathBuf>,
}

impl ClusterArgs {
    fn sim_config(&self, listen: SocketAddr) -> podwall::sim::SimConfig {
        podwall::sim::SimConfig {
            listen,
            nodes: self.nodes,
            pods: self.pods,
            churn: self.churn,
            seed: self.seed,
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Two rustls providers linked in (feature unification) would make rustls panic on the
    // first TLS connection; kube's is ring. An error means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    podwall::app::telemetry::init(cli.log_format);
    let shutdown = CancellationToken::new();
    tokio::spawn(podwall::app::telemetry::cancel_on_signal(shutdown.clone()));
    let result = match cli.command {
        Command::Serve(a) => match a
            .auth_token_file
            .as_deref()
            .map(AuthToken::read)
            .transpose()
        {
            Err(e) => Err(e.to_string()),
            Ok(auth_token) => {
                let config = podwall::app::ServeConfig {
                    listen: a.listen,
                    namespaces: a.namespaces,
                    kube: podwall::app::KubeSource::Infer {
                        kubeconfig: a.kubeconfig,
                    },
                    auth_token,
                };
                let limits = podwall::app::Limits {
                    max_clients: a.max_clients,
                    shutdown_grace: std::time::Duration::from_secs(a.shutdown_grace),
                };
                let clusters = if a.clusters.is_empty() {
                    vec![podwall::app::ClusterConfig {
                        kube: config.kube,
                        namespaces: config.namespaces,
                        options: a.wall.options(),
                    }]
                } else {
                    a.clusters
                        .into_iter()
                        .map(|c| {
                            let options = a.wall.options_for(&c.name);
                            podwall::app::ClusterConfig {
                                kube: podwall::app::KubeSource::Kubeconfig {
                                    path: c.kubeconfig,
                                    context: c.context,
                                },
                                namespaces: config.namespaces.clone(),
                                options,
                            }
                        })
                        .collect()
                };
                match podwall::app::start_clusters(
                    config.listen,
                    config.auth_token,
                    clusters,
                    limits,
                    shutdown,
                )
                .await
                {
                    Ok(server) => server.stopped().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        },
        Command::Demo(a) => podwall::app::demo::run_with(
            podwall::app::demo::DemoConfig {
                sim: a
                    .cluster
                    .sim_config("127.0.0.1:0".parse().expect("static address")),
                metrics_api: a.cluster.metrics_api,
                clusters: a.clusters,
                listen: a.listen,
                options: a.wall.options(),
            },
            shutdown,
        )
        .await
        .map_err(|e| e.to_string()),
        Command::Sim(a) => podwall::sim::run_with_metrics(
            a.cluster.sim_config(a.listen),
            a.cluster.metrics_api,
            a.kubeconfig_out,
            shutdown,
        )
        .await
        .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "podwall stopped with an error");
            eprintln!("podwall: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
