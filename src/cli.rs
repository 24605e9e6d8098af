//! The command line: flags (each also read from a `PODWALL_*` variable) and the
//! configurations they make. Part of the binary only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use podwall::{AuthToken, ClusterConfig, ClusterLink, Config, KubeSource, LogFormat, WallOptions};

#[derive(Parser)]
#[command(
    name = "podwall",
    version,
    about = "A live wall-screen view of a Kubernetes cluster"
)]
pub struct Cli {
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(
        long,
        global = true,
        env = "PODWALL_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the wall server against a cluster (in-cluster ServiceAccount or KUBECONFIG).
    Serve(ServeArgs),
    /// Run the wall against a simulated cluster in this process (zero setup).
    #[cfg(feature = "sim")]
    Demo(DemoArgs),
    /// Run the simulated Kubernetes API server alone.
    #[cfg(feature = "sim")]
    Sim(SimArgs),
}

#[derive(Args)]
pub struct ServeArgs {
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
    /// JSON file of scoped screen tokens (name, token, clusters, namespaces, labels, alert,
    /// webhook per screen), read again every 2 s; see docs/deploy.md "Team screens".
    #[arg(long, env = "PODWALL_SCREENS_FILE")]
    screens_file: Option<PathBuf>,
    /// How long an attention alert stays after its condition ended (e.g. 30s, 2m).
    #[arg(long, env = "PODWALL_ALERT_QUIET", default_value = "30s", value_parser = parse_interval)]
    alert_quiet: Duration,
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
    #[arg(long, env = "PODWALL_CLUSTER_NAME", default_value = podwall::DEFAULT_CLUSTER_NAME)]
    cluster_name: String,
    /// How often to poll live usage from metrics.k8s.io (e.g. 15s, 1m; 0 turns it off).
    #[arg(long, env = "PODWALL_USAGE_INTERVAL", default_value = "15s", value_parser = parse_interval)]
    usage_interval: Duration,
    /// How long a Warning event stays on the wall after it was last seen (e.g. 1h, 30m).
    #[arg(long, env = "PODWALL_WARNINGS_MAX_AGE", default_value = "1h", value_parser = parse_interval)]
    warnings_max_age: Duration,
    /// Where a click on a pod goes, e.g. 'https://logs.example/{{cluster}}/{{namespace}}/{{name}}';
    /// NAME=TEMPLATE for one cluster only (repeatable).
    #[arg(long, env = "PODWALL_LINK_TEMPLATE", value_parser = ClusterLink::parse)]
    link_template: Vec<ClusterLink>,
    /// Where a click on a node's name goes, e.g. 'https://grafana.example/d/node?var-node={{name}}';
    /// NAME=TEMPLATE for one cluster only (repeatable).
    #[arg(long, env = "PODWALL_NODE_LINK_TEMPLATE", value_parser = ClusterLink::parse)]
    node_link_template: Vec<ClusterLink>,
    /// How far back each cluster's history of changes reaches (`/?at=`, `/api/history`);
    /// 0 turns history off.
    #[arg(long, env = "PODWALL_HISTORY", default_value = "1h", value_parser = parse_interval)]
    history: Duration,
    /// The most memory each cluster's history may take (e.g. 128Mi, 1Gi); the oldest
    /// changes go first.
    #[arg(long, env = "PODWALL_HISTORY_MEMORY", default_value = "128Mi", value_parser = podwall::parse_memory)]
    history_memory: usize,
    /// Keep each cluster's history on disk in this folder too (an emptyDir or a
    /// PersistentVolumeClaim), so it survives a restart.
    #[arg(long, env = "PODWALL_HISTORY_DIR")]
    history_dir: Option<PathBuf>,
}

impl WallArgs {
    /// The options of cluster `name`: its own link templates, else the shared ones.
    fn options(&self, name: &str) -> WallOptions {
        WallOptions {
            name: name.to_owned(),
            usage_interval: self.usage_interval,
            pod_link: ClusterLink::pick(&self.link_template, name),
            node_link: ClusterLink::pick(&self.node_link_template, name),
            history: podwall::HistoryBounds {
                window: self.history,
                memory: self.history_memory,
            },
            history_dir: self.history_dir.clone(),
        }
    }
}

impl ServeArgs {
    /// The server's configuration; fails when the token file cannot be read.
    pub fn config(self) -> Result<Config, Box<dyn std::error::Error>> {
        let auth_token = self
            .auth_token_file
            .as_deref()
            .map(AuthToken::read)
            .transpose()?;
        let sources: Vec<(String, KubeSource)> = if self.clusters.is_empty() {
            let kube = KubeSource::Infer {
                kubeconfig: self.kubeconfig,
            };
            vec![(self.wall.cluster_name.clone(), kube)]
        } else {
            self.clusters
                .into_iter()
                .map(|c| {
                    let kube = KubeSource::Kubeconfig {
                        path: c.kubeconfig,
                        context: c.context,
                    };
                    (c.name, kube)
                })
                .collect()
        };
        let clusters = sources
            .into_iter()
            .map(|(name, kube)| {
                ClusterConfig::new(kube)
                    .namespaces(self.namespaces.iter().cloned())
                    .wall(self.wall.options(&name))
                    .warnings_max_age(self.wall.warnings_max_age)
            })
            .collect();
        Ok(Config {
            listen: self.listen,
            clusters,
            auth_token,
            screens_file: self.screens_file,
            alert_quiet: self.alert_quiet,
            max_clients: self.max_clients,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
        })
    }
}

#[cfg(feature = "sim")]
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
    metrics_api: podwall::sim::MetricsMode,
}

#[cfg(feature = "sim")]
impl ClusterArgs {
    fn sim_config(&self, listen: SocketAddr) -> podwall::sim::SimConfig {
        podwall::sim::SimConfig {
            listen,
            nodes: self.nodes,
            pods: self.pods,
            churn: self.churn,
            seed: self.seed,
            metrics_api: self.metrics_api,
        }
    }
}

#[cfg(feature = "sim")]
fn parse_metrics_mode(s: &str) -> Result<podwall::sim::MetricsMode, String> {
    podwall::sim::MetricsMode::parse(s)
        .ok_or_else(|| format!("expected serving, absent or unavailable, not {s:?}"))
}

#[cfg(feature = "sim")]
#[derive(Args)]
pub struct DemoArgs {
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

#[cfg(feature = "sim")]
impl DemoArgs {
    /// The demo's configuration (several clusters share the link templates).
    pub fn config(&self) -> podwall::demo::DemoConfig {
        podwall::demo::DemoConfig {
            sim: self
                .cluster
                .sim_config(SocketAddr::from(([127, 0, 0, 1], 0))),
            clusters: self.clusters,
            listen: self.listen,
            wall: self.wall.options(&self.wall.cluster_name),
        }
    }
}

#[cfg(feature = "sim")]
#[derive(Args)]
pub struct SimArgs {
    /// Address the simulated API server listens on.
    #[arg(long, env = "PODWALL_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Write a kubeconfig pointing at the simulator to this file.
    #[arg(long, env = "PODWALL_KUBECONFIG_OUT")]
    pub kubeconfig_out: Option<PathBuf>,
}

#[cfg(feature = "sim")]
impl SimArgs {
    /// The simulator's configuration.
    pub fn config(&self) -> podwall::sim::SimConfig {
        self.cluster.sim_config(self.listen)
    }
}

/// Parses an interval flag: `15s`, `500ms`, `2m`, `1h`, or plain seconds; `0` turns usage
/// off.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid interval {s:?}: expected e.g. 15s, 500ms, 1m, 1h or 0"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(format!(
            "invalid interval {s:?}: the unit must be ms, s, m or h"
        )),
    }
}

/// `--cluster NAME=KUBECONFIG[:CONTEXT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClusterArg {
    /// The cluster's name on the wall.
    name: String,
    /// Its kubeconfig file.
    kubeconfig: PathBuf,
    /// A context in that file; its current-context when `None`.
    context: Option<String>,
}

impl ClusterArg {
    /// Parses `NAME=KUBECONFIG[:CONTEXT]`.
    fn parse(s: &str) -> Result<Self, String> {
        let (name, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=KUBECONFIG[:CONTEXT], got {s:?}"))?;
        podwall::selector::validate_dns_label(name)
            .map_err(|e| format!("cluster name {name:?}: {e}"))?;
        // A context name holds no '/', a path may: split at the last ':' only then.
        let (path, context) = match rest.rsplit_once(':') {
            Some((path, context)) if !context.is_empty() && !context.contains('/') => {
                (path, Some(context.to_owned()))
            }
            _ => (rest, None),
        };
        if path.is_empty() {
            return Err(format!("cluster {name:?}: no kubeconfig file given"));
        }
        Ok(Self {
            name: name.to_owned(),
            kubeconfig: path.into(),
            context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_args() {
        assert_eq!(
            ClusterArg::parse("prod=/etc/kube/prod.yaml:admin@prod"),
            Ok(ClusterArg {
                name: "prod".into(),
                kubeconfig: "/etc/kube/prod.yaml".into(),
                context: Some("admin@prod".into()),
            })
        );
        let plain = ClusterArg::parse("dev=./dev.kubeconfig").expect("valid");
        assert_eq!(plain.context, None);
        assert!(
            ClusterArg::parse("Prod=/x").is_err(),
            "names are DNS labels"
        );
        assert!(ClusterArg::parse("prod").is_err());
        assert!(ClusterArg::parse("prod=").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert!(parse_interval("15d").is_err());
        assert!(parse_interval("fast").is_err());
    }
}
