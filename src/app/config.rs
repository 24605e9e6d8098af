//! How to run podwall's server: one [`Config`] of one or more [`ClusterConfig`]s, with
//! the defaults of `podwall serve` and builder methods.
//!
//! ```no_run
//! # async fn run() -> Result<(), podwall::Error> {
//! use podwall::{ClusterConfig, Config, KubeSource};
//! let config = Config::new(ClusterConfig::new(KubeSource::infer()).namespaces(["shop"]))
//!     .listen("127.0.0.1:8080".parse().expect("an address"))
//!     .max_clients(500);
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! podwall::start(config, shutdown).await?.stopped().await
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::web::{AuthToken, LinkTemplate};

/// The name a cluster gets when none is given.
pub const DEFAULT_CLUSTER_NAME: &str = "default";

/// Where a cluster's Kubernetes client configuration comes from.
// Built once per cluster: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum KubeSource {
    /// `--kubeconfig`, else `KUBECONFIG`/`~/.kube/config`, else the in-cluster ServiceAccount.
    Infer {
        /// An explicit kubeconfig file.
        kubeconfig: Option<PathBuf>,
    },
    /// A ready configuration (the demo and tests).
    Config(kube::Config),
    /// A kubeconfig file and, optionally, one of its contexts (`--cluster NAME=FILE:CONTEXT`).
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The context; its current-context when `None`.
        context: Option<String>,
    },
}

impl KubeSource {
    /// `KUBECONFIG`/`~/.kube/config`, else the in-cluster ServiceAccount.
    pub fn infer() -> Self {
        Self::Infer { kubeconfig: None }
    }
}

/// What the wall adds to one cluster's data: its name, live usage, click-through links.
#[derive(Debug, Clone)]
pub struct WallOptions {
    /// Shown on the wall, `{{cluster}}` in links, `/clusters/<name>/` on a wall of
    /// several; a DNS label. Default `default`.
    pub name: String,
    /// How often to poll metrics.k8s.io for live usage; zero (the default): never.
    pub usage_interval: Duration,
    /// Where a click on a pod goes (`--link-template`).
    pub pod_link: Option<LinkTemplate>,
    /// Where a click on a node's name goes (`--node-link-template`).
    pub node_link: Option<LinkTemplate>,
    /// How far back the cluster's history reaches and how much memory it may take
    /// (`--history`, `--history-memory`); each cluster keeps its own.
    pub history: crate::state::HistoryBounds,
    /// Where the history is kept on disk too (`--history-dir`; a folder per cluster
    /// under it), so it survives a restart; memory only when `None`.
    pub history_dir: Option<PathBuf>,
}

impl Default for WallOptions {
    fn default() -> Self {
        Self {
            name: DEFAULT_CLUSTER_NAME.to_owned(),
            usage_interval: Duration::ZERO,
            pod_link: None,
            node_link: None,
            history: crate::state::HistoryBounds::default(),
            history_dir: None,
        }
    }
}

/// One cluster of the wall: how to reach it, what to watch, what the wall adds.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Cluster access.
    pub kube: KubeSource,
    /// Namespaces to watch; all (the default) when empty.
    pub namespaces: Vec<String>,
    /// Name, usage and links.
    pub wall: WallOptions,
    /// How long a Warning event is kept after it was last seen (`--warnings-max-age`).
    /// Default one hour.
    pub warnings_max_age: Duration,
}

impl ClusterConfig {
    /// The cluster `kube` reaches, all namespaces, default [`WallOptions`].
    pub fn new(kube: KubeSource) -> Self {
        Self {
            kube,
            namespaces: Vec::new(),
            wall: WallOptions::default(),
            warnings_max_age: crate::state::DEFAULT_MAX_AGE,
        }
    }

    /// Watches only these namespaces (a namespaced Role is then enough).
    pub fn namespaces<S: Into<String>>(mut self, namespaces: impl IntoIterator<Item = S>) -> Self {
        self.namespaces = namespaces.into_iter().map(Into::into).collect();
        self
    }

    /// Name, usage and links.
    pub fn wall(mut self, wall: WallOptions) -> Self {
        self.wall = wall;
        self
    }

    /// The cluster's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.wall.name = name.into();
        self
    }

    /// Polls live usage every `interval` (zero: never).
    pub fn usage_interval(mut self, interval: Duration) -> Self {
        self.wall.usage_interval = interval;
        self
    }

    /// Keeps Warning events for `max_age` after they were last seen.
    pub fn warnings_max_age(mut self, max_age: Duration) -> Self {
        self.warnings_max_age = max_age;
        self
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to serve HTTP. Default `0.0.0.0:8080`; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The clusters, in order: the first is served at `/`, each under `/clusters/<name>/`
    /// when there are several.
    pub clusters: Vec<ClusterConfig>,
    /// When set, every route but the probes requires this token.
    pub auth_token: Option<AuthToken>,
    /// Scoped screen tokens (`--screens-file`), read again every 2 s; when set, every
    /// route but the probes requires a screen's token or [`Config::auth_token`].
    pub screens_file: Option<PathBuf>,
    /// How long an attention alert stays after its condition ended (against flapping).
    /// Default 30 s.
    pub alert_quiet: Duration,
    /// Concurrent SSE streams per cluster; beyond it a stream gets 503 with Retry-After.
    /// Default 10,000.
    pub max_clients: usize,
    /// On shutdown, how long open connections get to finish after the event streams end
    /// (keep it below the pod's terminationGracePeriodSeconds). Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    /// The defaults of `podwall serve`, and no cluster yet.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            clusters: Vec::new(),
            auth_token: None,
            screens_file: None,
            alert_quiet: Duration::from_secs(30),
            max_clients: 10_000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// A wall of `cluster` with the defaults of `podwall serve`.
    pub fn new(cluster: ClusterConfig) -> Self {
        Self {
            clusters: vec![cluster],
            ..Self::default()
        }
    }

    /// Shows `cluster` too, after the others.
    pub fn cluster(mut self, cluster: ClusterConfig) -> Self {
        self.clusters.push(cluster);
        self
    }

    /// Serves HTTP on `listen`.
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Requires `token` on every route but the probes (none: open).
    pub fn auth_token(mut self, token: Option<AuthToken>) -> Self {
        self.auth_token = token;
        self
    }

    /// Reads scoped screen tokens from `path` (none: no screens).
    pub fn screens_file(mut self, path: Option<PathBuf>) -> Self {
        self.screens_file = path;
        self
    }

    /// Keeps an attention alert `quiet` after its condition ended.
    pub fn alert_quiet(mut self, quiet: Duration) -> Self {
        self.alert_quiet = quiet;
        self
    }

    /// At most `max` concurrent event streams per cluster.
    pub fn max_clients(mut self, max: usize) -> Self {
        self.max_clients = max;
        self
    }

    /// Gives open connections `grace` to finish on shutdown.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }
}
