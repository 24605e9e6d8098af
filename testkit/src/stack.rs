//! The test stack: simulated clusters and a wall server against them, in this process,
//! through the real kube client and real HTTP — the one way tests set them up.
//!
//! ```no_run
//! # async fn run() {
//! let stack = testkit::Stack::builder()
//!     .nodes(4)
//!     .pods(60)
//!     .seed(7)
//!     .config(|c| c.max_clients(2))
//!     .start()
//!     .await;
//! let snapshot = stack.snapshot("?ns=web").await;
//! # }
//! ```
//!
//! Besides one simulator and one server: several clusters on one wall
//! ([`StackBuilder::clusters`], [`StackBuilder::cluster`]), a kubeconfig instead of a
//! simulator ([`StackBuilder::kubeconfig`]), a simulator that comes up after the wall
//! ([`StackBuilder::sim_later`]), simulators alone ([`StackBuilder::no_server`],
//! [`Stack::sim_only`]), and a server that stops and starts again on its address
//! ([`Stack::stop_server`], [`Stack::start_server`]). Everything stops when the stack is
//! dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use podwall::sim::{RunningSim, SimConfig};
use podwall::{ClusterConfig, Config, KubeSource, Running};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{DEADLINE, SseClient, loopback};

/// The simulated cluster: its size, churn and seed.
#[derive(Debug, Clone, Copy)]
pub struct SimSpec {
    /// Nodes.
    pub nodes: usize,
    /// Pods.
    pub pods: usize,
    /// Changes per second.
    pub churn: f64,
    /// Seed of the cluster and its churn.
    pub seed: u64,
}

impl SimSpec {
    /// `pods` pods, about 30 a node (at least 3 nodes), no churn, seed 1: a quiet cluster
    /// of the sizes the memory and ingest benches name by their pods.
    pub fn quiet(pods: usize) -> Self {
        Self {
            nodes: (pods / 30).max(3),
            pods,
            churn: 0.0,
            seed: 1,
        }
    }

    /// The simulator's configuration on `listen`.
    pub fn sim_config(&self, listen: SocketAddr) -> SimConfig {
        SimConfig {
            listen,
            nodes: self.nodes,
            pods: self.pods,
            churn: self.churn,
            seed: self.seed,
            ..SimConfig::default()
        }
    }
}

impl Default for SimSpec {
    /// Two nodes, six pods, no churn, seed 7.
    fn default() -> Self {
        Self {
            nodes: 2,
            pods: 6,
            churn: 0.0,
            seed: 7,
        }
    }
}

/// Where a cluster of the wall comes from.
enum Source {
    /// The next simulator of the stack.
    Sim,
    /// A configuration of the test's (a kubeconfig, an address nobody serves).
    Kube(Box<KubeSource>),
}

/// How the stack starts its server.
#[derive(Clone, Copy)]
enum Serve {
    /// Starts it and waits this long for `/readyz`.
    Ready(Duration),
    /// Starts it and returns at once (the test looks before the first sync).
    Started,
    /// No server: simulators only.
    None,
}

type ClusterFn = Box<dyn Fn(ClusterConfig) -> ClusterConfig>;
type ConfigFn = Box<dyn FnOnce(Config) -> Config>;

/// How to build a [`Stack`]; from [`Stack::builder`].
pub struct StackBuilder {
    spec: SimSpec,
    clusters: Vec<(Option<String>, Source)>,
    sim_later: bool,
    namespaces: Vec<String>,
    each_cluster: Option<ClusterFn>,
    configure: Option<ConfigFn>,
    serve: Serve,
    http: Option<reqwest::Client>,
}

impl StackBuilder {
    /// Nodes of each simulator.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.spec.nodes = nodes;
        self
    }

    /// Pods of each simulator.
    pub fn pods(mut self, pods: usize) -> Self {
        self.spec.pods = pods;
        self
    }

    /// Changes per second of each simulator.
    pub fn churn(mut self, churn: f64) -> Self {
        self.spec.churn = churn;
        self
    }

    /// The seed of the first simulator; the next ones count up from it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }

    /// One simulator per name, each a named cluster of the wall, in this order.
    pub fn clusters<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.clusters
            .extend(names.into_iter().map(|n| (Some(n.to_owned()), Source::Sim)));
        self
    }

    /// A named cluster of the wall that is not simulated here (see [`crate::nowhere`]).
    pub fn cluster(mut self, name: &str, kube: KubeSource) -> Self {
        self.clusters
            .push((Some(name.to_owned()), Source::Kube(Box::new(kube))));
        self
    }

    /// The wall of one cluster reached through `kube` instead of a simulator.
    pub fn kube(mut self, kube: KubeSource) -> Self {
        self.clusters.push((None, Source::Kube(Box::new(kube))));
        self
    }

    /// The wall of the cluster a kubeconfig file names (e.g. a real kube-apiserver), as
    /// `podwall serve --kubeconfig FILE` reads it.
    pub fn kubeconfig(self, path: &Path) -> Self {
        self.kube(KubeSource::Infer {
            kubeconfig: Some(path.to_path_buf()),
        })
    }

    /// The (one) simulator starts only on [`Stack::start_sim`], on an address reserved
    /// now: the wall starts against an API server that is not there yet.
    pub fn sim_later(mut self) -> Self {
        self.sim_later = true;
        self
    }

    /// Watches only these namespaces.
    pub fn namespaces<'a>(mut self, namespaces: impl IntoIterator<Item = &'a str>) -> Self {
        self.namespaces = namespaces.into_iter().map(str::to_owned).collect();
        self
    }

    /// Changes every cluster's configuration (usage, links, …) after its name is set.
    pub fn each_cluster(mut self, f: impl Fn(ClusterConfig) -> ClusterConfig + 'static) -> Self {
        self.each_cluster = Some(Box::new(f));
        self
    }

    /// Changes the server's configuration (limits, a token, …).
    pub fn config(mut self, f: impl FnOnce(Config) -> Config + 'static) -> Self {
        self.configure = Some(Box::new(f));
        self
    }

    /// Returns once the server listens, without waiting for its first sync.
    pub fn no_wait(mut self) -> Self {
        self.serve = Serve::Started;
        self
    }

    /// Waits up to `deadline` for `/readyz` (default [`DEADLINE`]).
    pub fn ready_within(mut self, deadline: Duration) -> Self {
        self.serve = Serve::Ready(deadline);
        self
    }

    /// Starts the simulators only.
    pub fn no_server(mut self) -> Self {
        self.serve = Serve::None;
        self
    }

    /// The HTTP client of the stack (e.g. one that does not follow redirects).
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Starts the simulators, then the server; waits for `/readyz` unless told otherwise.
    pub async fn start(self) -> Stack {
        crate::init();
        let token = CancellationToken::new();
        let mut entries = self.clusters;
        if entries.is_empty() {
            entries.push((None, Source::Sim));
        }
        let mut sims = Vec::new();
        let mut clusters = Vec::new();
        for (name, source) in entries {
            let kube = match source {
                Source::Kube(kube) => *kube,
                Source::Sim => {
                    let spec = SimSpec {
                        seed: self.spec.seed + sims.len() as u64,
                        ..self.spec
                    };
                    let sim = if self.sim_later {
                        Sim::reserve(spec, &token)
                    } else {
                        Sim::start(spec, &token).await
                    };
                    let kube = KubeSource::Config(sim.kube_config());
                    sims.push(sim);
                    kube
                }
            };
            let mut cluster = ClusterConfig::new(kube).namespaces(self.namespaces.clone());
            if let Some(name) = name {
                cluster = cluster.name(name);
            }
            if let Some(f) = &self.each_cluster {
                cluster = f(cluster);
            }
            clusters.push(cluster);
        }
        let config = Config {
            clusters,
            ..Config::default()
        }
        .listen(loopback());
        let config = match self.configure {
            Some(f) => f(config),
            None => config,
        };
        let mut stack = Stack {
            sims,
            server: None,
            addr: config.listen,
            config,
            ready_within: match self.serve {
                Serve::Ready(deadline) => deadline,
                _ => DEADLINE,
            },
            http: self.http.unwrap_or_default(),
            dir: None,
            token,
        };
        match self.serve {
            Serve::Ready(_) => stack.start_server().await,
            Serve::Started => stack.start_server_without_waiting().await,
            Serve::None => {}
        }
        stack
    }
}

/// One simulator of a stack, with a token of its own so a test can take it away.
struct Sim {
    running: Option<RunningSim>,
    spec: SimSpec,
    addr: SocketAddr,
    token: CancellationToken,
}

impl Sim {
    async fn start(spec: SimSpec, stack: &CancellationToken) -> Sim {
        let token = stack.child_token();
        let running = podwall::sim::start(spec.sim_config(loopback()), token.clone())
            .await
            .expect("sim starts");
        Sim {
            addr: running.addr,
            running: Some(running),
            spec,
            token,
        }
    }

    fn reserve(spec: SimSpec, stack: &CancellationToken) -> Sim {
        Sim {
            running: None,
            spec,
            addr: crate::free_addr(),
            token: stack.child_token(),
        }
    }

    fn kube_config(&self) -> kube::Config {
        kube::Config::new(
            format!("http://{}", self.addr)
                .parse()
                .expect("a socket address makes a valid URI"),
        )
    }
}

/// Simulators and a wall server against them, in this process; stopped on drop.
pub struct Stack {
    sims: Vec<Sim>,
    server: Option<(Running, CancellationToken)>,
    /// The configuration of the next server start.
    config: Config,
    /// Where the server listens (port 0 until it first starts).
    addr: SocketAddr,
    ready_within: Duration,
    dir: Option<tempfile::TempDir>,
    /// Cancels everything of the stack; cancelled on drop.
    pub token: CancellationToken,
    /// The stack's HTTP client.
    pub http: reqwest::Client,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Stack {
    /// A stack of one simulator ([`SimSpec::default`]) and a server, waiting for `/readyz`.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            spec: SimSpec::default(),
            clusters: Vec::new(),
            sim_later: false,
            namespaces: Vec::new(),
            each_cluster: None,
            configure: None,
            serve: Serve::Ready(DEADLINE),
            http: None,
        }
    }

    /// A quiet simulator of `nodes` and `pods` (seeded with `seed`) alone, without a server:
    /// for tests of the simulator, kubectl, or the binary run as a process.
    pub async fn sim_only(nodes: usize, pods: usize, seed: u64) -> Stack {
        Stack::builder()
            .nodes(nodes)
            .pods(pods)
            .seed(seed)
            .no_server()
            .start()
            .await
    }

    /// The first simulator.
    pub fn sim(&self) -> &RunningSim {
        self.sim_at(0)
    }

    /// The `i`th simulator (in the order of the clusters).
    pub fn sim_at(&self, i: usize) -> &RunningSim {
        self.sims[i].running.as_ref().expect("a running simulator")
    }

    /// Starts the simulator of [`StackBuilder::sim_later`] on its reserved address.
    pub async fn start_sim(&mut self) {
        let sim = &mut self.sims[0];
        assert!(sim.running.is_none(), "the simulator runs already");
        let running = podwall::sim::start(sim.spec.sim_config(sim.addr), sim.token.clone())
            .await
            .expect("sim starts on the reserved address");
        sim.running = Some(running);
    }

    /// Takes the `i`th simulator's API server away (its clients see connections refused).
    pub fn stop_sim(&self, i: usize) {
        self.sims[i].token.cancel();
    }

    /// The running server.
    pub fn server(&self) -> &Running {
        &self.server.as_ref().expect("a running server").0
    }

    /// The wall's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The sequence number of the server's (first) cache.
    pub fn seq(&self) -> u64 {
        self.server().cache().position().seq
    }

    /// Starts the server on the stack's address (again, after [`Stack::stop_server`]) and
    /// waits for `/readyz`.
    pub async fn start_server(&mut self) {
        self.start_server_without_waiting().await;
        self.wait_ready().await;
    }

    /// Starts the server on the stack's address without waiting for its first sync.
    pub async fn start_server_without_waiting(&mut self) {
        assert!(self.server.is_none(), "the server runs already");
        let token = self.token.child_token();
        let config = self.config.clone().listen(self.addr);
        let server = podwall::start(config, token.clone())
            .await
            .expect("server starts");
        self.addr = server.addr;
        self.server = Some((server, token));
    }

    /// Cancels the server and hands it over, for the test to see how it stops.
    pub fn shutdown_server(&mut self) -> Running {
        let (server, token) = self.server.take().expect("a running server");
        token.cancel();
        server
    }

    /// Stops the server and waits until it has stopped cleanly.
    pub async fn stop_server(&mut self) {
        self.shutdown_server()
            .stopped()
            .await
            .expect("server stops cleanly");
    }

    /// Changes the configuration the server starts with next (e.g. a new token).
    pub fn configure(&mut self, f: impl FnOnce(Config) -> Config) {
        self.config = f(self.config.clone());
    }

    /// Another server of the same configuration on a free port (a second replica, say),
    /// stopped with the stack; does not wait for its first sync.
    pub async fn another_server(&self) -> Running {
        podwall::start(self.config.clone().listen(loopback()), self.token.clone())
            .await
            .expect("another server starts")
    }

    /// Stops everything and waits until the server and the simulators have stopped cleanly.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some((server, _)) = self.server.take() {
            server.stopped().await.expect("server stops cleanly");
        }
        for sim in &mut self.sims {
            if let Some(running) = sim.running.take() {
                running.stopped().await.expect("sim stops cleanly");
            }
        }
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        crate::wait_ready(&self.http, &self.url(), self.ready_within, "readyz 200").await;
    }

    /// GET a path, returning status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        crate::get(&self.http, &format!("{}{path}", self.url())).await
    }

    /// GET a path, returning the whole response (headers, a stream's body).
    pub async fn request(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .expect("GET")
    }

    /// GET a path as the holder of `token` (`Authorization: Bearer`), returning the whole
    /// response.
    pub async fn request_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    /// The JSON snapshot, with `query` (e.g. `?ns=web`).
    pub async fn snapshot(&self, query: &str) -> Value {
        crate::snapshot(&self.http, &self.url(), query).await
    }

    /// The value of one `/metrics` line, 0 when absent.
    pub async fn metric(&self, line_start: &str) -> f64 {
        crate::metric(&self.http, &self.url(), line_start).await
    }

    /// Opens an SSE stream on `path`, optionally with a `Last-Event-ID` header.
    pub async fn sse(&self, path: &str, last_event_id: Option<&str>) -> SseClient {
        SseClient::open(&self.http, &format!("{}{path}", self.url()), last_event_id).await
    }

    /// A kube client for the first simulator (the test's "kubectl").
    pub fn kube(&self) -> kube::Client {
        kube::Client::try_from(self.sims[0].kube_config()).expect("kube client")
    }

    /// A kubeconfig file for the first simulator (as `podwall sim --kubeconfig-out` writes).
    pub fn kubeconfig(&mut self) -> PathBuf {
        self.kubeconfig_of(0)
    }

    /// A kubeconfig file for the `i`th simulator, in the stack's scratch directory.
    pub fn kubeconfig_of(&mut self, i: usize) -> PathBuf {
        let dir = self
            .dir
            .get_or_insert_with(|| tempfile::tempdir().expect("tempdir"));
        let path = dir.path().join(format!("sim-{i}.kubeconfig"));
        if !path.exists() {
            let running = self.sims[i].running.as_ref().expect("a running simulator");
            running.write_kubeconfig(&path).expect("write kubeconfig");
        }
        path
    }

    /// The stack's scratch directory (removed with the stack).
    pub fn dir(&mut self) -> &Path {
        self.dir
            .get_or_insert_with(|| tempfile::tempdir().expect("tempdir"))
            .path()
    }

    /// `POST /_sim/<path>` on the first simulator; it must succeed.
    pub async fn control(&self, path: &str) {
        self.sim_control(reqwest::Method::POST, path).await;
    }

    /// `DELETE /_sim/<path>` on the first simulator (ends what `control` started, e.g.
    /// `pods/<ns>/<name>/crash-loop`); it must succeed.
    pub async fn end_control(&self, path: &str) {
        self.sim_control(reqwest::Method::DELETE, path).await;
    }

    async fn sim_control(&self, method: reqwest::Method, path: &str) {
        let resp = self
            .http
            .request(method.clone(), format!("{}/_sim/{path}", self.sim().url()))
            .send()
            .await
            .expect("sim control");
        assert!(
            resp.status().is_success(),
            "{method} /_sim/{path}: {}",
            resp.status()
        );
    }

    /// Creates a pod in the first simulator ([`podwall::fixtures::pod_object`]); `node`
    /// binds it.
    pub async fn create_pod(&self, ns: &str, name: &str, node: Option<&str>) {
        let pods: Api<Pod> = Api::namespaced(self.kube(), ns);
        let mut pod = podwall::fixtures::pod_object(name, node);
        pod["metadata"]["namespace"] = Value::from(ns);
        let pod: Pod = serde_json::from_value(pod).expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    /// Hands a Warning event (`events.k8s.io/v1` JSON, see
    /// `podwall::fixtures::warning_event`) to the first cluster's cache, as its events
    /// watch does with what the API server sends.
    pub fn warn(&self, event: &Value) {
        let fields: podwall::EventFields = serde_json::from_value(event.clone()).expect("event");
        podwall::Sink::warnings(
            &**self.server().cache(),
            &podwall::fixtures::events_scope(),
            kube::runtime::watcher::Event::Apply(fields),
        );
    }

    /// Hands the deletion of a Warning event to the first cluster's cache.
    pub fn unwarn(&self, event: &Value) {
        let fields: podwall::EventFields = serde_json::from_value(event.clone()).expect("event");
        podwall::Sink::warnings(
            &**self.server().cache(),
            &podwall::fixtures::events_scope(),
            kube::runtime::watcher::Event::Delete(fields),
        );
    }

    /// Deletes a pod in the first simulator, immediately.
    pub async fn delete_pod(&self, ns: &str, name: &str) {
        let pods: Api<Pod> = Api::namespaced(self.kube(), ns);
        pods.delete(
            name,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await
        .expect("delete pod");
    }
}
