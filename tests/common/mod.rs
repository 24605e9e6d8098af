//! Shared helpers of the wall tests: an in-process simulator and server, a small SSE
//! client over reqwest's byte stream, and a model that applies `/api/events` diffs.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use podwall::sim::{RunningSim, SimConfig};
use podwall::{ClusterConfig, Config, KubeSource, Running};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

// Small files the benches or the browser support include as well.
mod eventually;
mod inflate;
mod metrics_text;
pub use eventually::eventually_within;
use inflate::inflate_into;
#[allow(unused_imports)] // only some tests read metrics
pub use metrics_text::metric_value;

/// The generous "eventually" deadline of these tests (busy 2-core machines).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A simulator and a wall server against it, torn down on drop.
pub struct Stack {
    pub sim: RunningSim,
    pub server: Running,
    pub token: CancellationToken,
    pub http: reqwest::Client,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Process-wide test setup: logging, and one rustls crypto provider (the dev-dependencies
/// enable two, and rustls refuses to guess).
pub fn init() {
    podwall::init_logging(podwall::LogFormat::Text);
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts a simulator with `nodes`/`pods`/`churn`/`seed` on a free loopback port.
pub async fn start_sim(
    nodes: usize,
    pods: usize,
    churn: f64,
    seed: u64,
    token: &CancellationToken,
) -> RunningSim {
    podwall::sim::start(
        SimConfig {
            listen: "127.0.0.1:0".parse().expect("static address"),
            nodes,
            pods,
            churn,
            seed,
            ..SimConfig::default()
        },
        token.clone(),
    )
    .await
    .expect("sim starts")
}

/// Starts a wall server against `sim`, watching `namespaces` (all when empty); does not
/// wait for readiness, so a test can look at the server before its first sync.
pub async fn start_server(
    sim: &RunningSim,
    namespaces: Vec<String>,
    token: &CancellationToken,
) -> Running {
    start_server_with(sim, |c| c, namespaces, token).await
}

/// [`start_server`] with the test configuration changed by `configure`.
pub async fn start_server_with(
    sim: &RunningSim,
    configure: impl FnOnce(Config) -> Config,
    namespaces: Vec<String>,
    token: &CancellationToken,
) -> Running {
    let cluster = ClusterConfig::new(KubeSource::Config(sim.kube_config())).namespaces(namespaces);
    let config = configure(Config::new(cluster).listen(loopback()));
    podwall::start(config, token.clone())
        .await
        .expect("server starts")
}

/// The server settings tests start from: a free loopback port, every namespace, no token.
pub fn serve_config(kube: KubeSource) -> Config {
    Config::new(ClusterConfig::new(kube)).listen(loopback())
}

/// A wall of `clusters` on a free loopback port.
pub fn wall(clusters: Vec<ClusterConfig>) -> Config {
    Config {
        clusters,
        ..Config::default()
    }
    .listen(loopback())
}

/// A free loopback port.
pub fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Stack {
    /// Starts a simulator with `nodes`/`pods`/`churn` and a server against it; waits for /readyz.
    pub async fn start(nodes: usize, pods: usize, churn: f64) -> Stack {
        init();
        let token = CancellationToken::new();
        let sim = start_sim(nodes, pods, churn, 7, &token).await;
        let server = start_server(&sim, Vec::new(), &token).await;
        let stack = Stack {
            sim,
            server,
            token,
            http: reqwest::Client::new(),
        };
        stack.wait_ready().await;
        stack
    }

    /// The wall's base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A kube client for the simulator (the test's "kubectl").
    pub fn kube(&self) -> kube::Client {
        kube::Client::try_from(self.sim.kube_config()).expect("kube client")
    }

    /// Waits until /readyz answers 200.
    pub async fn wait_ready(&self) {
        wait_ready(&self.http, &self.url(), DEADLINE, "readyz 200").await;
    }

    /// GET a path, returning status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        get(&self.http, &format!("{}{path}", self.url())).await
    }

    /// The JSON snapshot.
    pub async fn snapshot(&self, query: &str) -> Value {
        snapshot(&self.http, &self.url(), query).await
    }

    /// Opens an SSE stream on `path`, optionally with a `Last-Event-ID` header.
    pub async fn sse(&self, path: &str, last_event_id: Option<&str>) -> SseClient {
        let mut req = self.http.get(format!("{}{path}", self.url()));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("SSE connect");
        assert_eq!(resp.status(), 200);
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
        SseClient::from_response(resp)
    }

    /// Creates a pod in the simulator; `node` binds it.
    pub async fn create_pod(&self, ns: &str, name: &str, node: Option<&str>) {
        let pods: Api<Pod> = Api::namespaced(self.kube(), ns);
        let mut spec = serde_json::json!({"containers": [{"name": "app", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]});
        if let Some(node) = node {
            spec["nodeName"] = Value::from(node);
        }
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "probe"}},
            "spec": spec,
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }

    /// Deletes a pod in the simulator, immediately.
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

/// Polls `check` until it gives `Some`, or panics after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// GET `url`, returning status and body.
pub async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let resp = http.get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The JSON snapshot of the wall at `base`, with `query` (e.g. `?ns=web`).
pub async fn snapshot(http: &reqwest::Client, base: &str, query: &str) -> Value {
    let (status, body) = get(http, &format!("{base}/api/snapshot{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("snapshot JSON")
}

/// Polls `<base>/readyz` until it answers 200, or panics with `what` after `deadline`.
pub async fn wait_ready(http: &reqwest::Client, base: &str, deadline: Duration, what: &str) {
    let url = format!("{base}/readyz");
    eventually_within(deadline, what, || async {
        http.get(&url)
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    })
    .await;
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }

    /// The sequence number of the id `<epoch>-<seq>`.
    pub fn seq(&self) -> u64 {
        let id = self.id.as_deref().expect("event has an id");
        id.rsplit_once('-')
            .and_then(|(_, s)| s.parse().ok())
            .expect("id is <epoch>-<seq>")
    }
}

/// A minimal EventSource: parses `id:`, `event:`, `data:` fields; skips comments.
pub struct SseClient {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl SseClient {
    /// Reads events from a response already checked to be an event stream.
    pub fn from_response(resp: reqwest::Response) -> SseClient {
        SseClient {
            stream: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// Reads events from a `Content-Encoding: deflate` event stream, inflating as it goes.
    pub fn inflating(resp: reqwest::Response) -> SseClient {
        let mut zlib = flate2::Decompress::new(true);
        let inflated = resp.bytes_stream().map(move |chunk| {
            chunk.map(|data| {
                let mut out = Vec::new();
                inflate_into(&mut zlib, &data, &mut out).expect("a valid deflate stream");
                bytes::Bytes::from(out)
            })
        });
        SseClient {
            stream: Box::pin(inflated),
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` when the stream ended or `timeout` passed.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(ev) = self.take_event() {
                return Some(ev);
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            self.buf.extend_from_slice(&chunk.ok()?);
        }
    }

    /// The next event; panics after [`DEADLINE`].
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(DEADLINE)
            .await
            .expect("an SSE event within the deadline")
    }

    /// Reads events until `pred` matches one; returns it.
    pub async fn until(&mut self, what: &str, mut pred: impl FnMut(&SseEvent) -> bool) -> SseEvent {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.next_within(left).await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!("timed out after {DEADLINE:?} waiting for {what}"),
            }
        }
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let mut ev = SseEvent {
                id: None,
                event: "message".into(),
                data: String::new(),
            };
            let mut has_data = false;
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    ev.id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    ev.event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    if has_data {
                        ev.data.push('\n');
                    }
                    ev.data.push_str(v);
                    has_data = true;
                }
            }
            if has_data {
                return Some(ev);
            }
        }
    }
}

/// The state a `/api/events` client builds: reset, then upserts and deletes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Model {
    pub seq: u64,
    pub nodes: BTreeMap<String, Value>,
    pub pods: BTreeMap<String, Value>,
}

impl Model {
    /// Builds a model from a snapshot JSON (`/api/snapshot` or a reset's data).
    pub fn from_snapshot(snap: &Value) -> Model {
        let mut m = Model {
            seq: snap["seq"].as_u64().expect("seq"),
            ..Model::default()
        };
        for n in snap["nodes"].as_array().expect("nodes") {
            m.nodes
                .insert(n["name"].as_str().expect("name").to_owned(), n.clone());
        }
        for p in snap["pods"].as_array().expect("pods") {
            m.pods.insert(pod_key(p), p.clone());
        }
        m
    }

    /// Applies one event of `/api/events`.
    pub fn apply(&mut self, ev: &SseEvent) {
        let d = ev.json();
        match ev.event.as_str() {
            "reset" => *self = Model::from_snapshot(&d),
            "upsert" => {
                let o = d["object"].clone();
                match d["kind"].as_str() {
                    Some("Pod") => self.pods.insert(pod_key(&o), o),
                    Some("Node") => self
                        .nodes
                        .insert(o["name"].as_str().expect("name").to_owned(), o),
                    k => panic!("unknown kind {k:?}"),
                };
            }
            "delete" => {
                match d["kind"].as_str() {
                    Some("Pod") => self.pods.remove(&format!(
                        "{}/{}",
                        d["namespace"].as_str().expect("ns"),
                        d["name"].as_str().expect("name")
                    )),
                    Some("Node") => self.nodes.remove(d["name"].as_str().expect("name")),
                    k => panic!("unknown kind {k:?}"),
                };
            }
            "status" => {}
            other => panic!("unknown event {other}"),
        }
        if ev.event != "reset" {
            self.seq = ev.seq();
        }
    }
}

/// `namespace/name` of a pod view.
pub fn pod_key(p: &Value) -> String {
    format!(
        "{}/{}",
        p["namespace"].as_str().expect("namespace"),
        p["name"].as_str().expect("name")
    )
}
