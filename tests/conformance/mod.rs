//! Where conformance tests run: a real kube-apiserver when `PODWALL_CONFORMANCE_KUBECONFIG`
//! names a kubeconfig, else an in-process simulator. Each test gets its own fresh
//! namespace, so tests can share a real server and run in parallel.

#![allow(dead_code)] // each test binary uses a different part of this helper

use std::time::Duration;

use futures::{Stream, StreamExt};
use http::{Method, Request, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Config};
use podwall::sim::{RunningSim, SimConfig, SimHandle};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[path = "../control_plane/mod.rs"]
pub mod control_plane;
use control_plane::ControlPlane;

/// The generous deadline for anything "eventually" on a busy machine.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A server to test against, and a namespace of the test's own.
pub struct Target {
    /// A client of the server.
    pub client: Client,
    /// The namespace created for this test.
    pub namespace: String,
    /// The simulator's handle, when the target is the simulator.
    pub sim: Option<SimHandle>,
    /// The simulator's base URL, when the target is the simulator.
    pub sim_url: Option<String>,
    running: Option<(RunningSim, CancellationToken)>,
    /// A private real control plane (see [`target_private`]); the field order stops it last.
    control_plane: Option<ControlPlane>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some((_, token)) = &self.running {
            token.cancel();
        }
    }
}

/// A unique suffix for names.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{}", nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// The test's target; `test` names the namespace.
pub async fn target(test: &str) -> Target {
    target_with(test, None).await
}

/// Like [`target`], but on a real server a control plane of the test's own, started with
/// `settings` (`PODWALL_KUBE_*`), for tests that disrupt the server (compaction).
pub async fn target_private(test: &str, settings: &[(&str, &str)]) -> Target {
    if std::env::var_os("PODWALL_CONFORMANCE_KUBECONFIG").is_none() {
        return target_with(test, None).await;
    }
    target_with(test, Some(ControlPlane::start(settings).await)).await
}

async fn target_with(test: &str, control_plane: Option<ControlPlane>) -> Target {
    // Dev-dependencies enable two rustls providers; the process must choose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let real = control_plane
        .as_ref()
        .map(|cp| cp.kubeconfig.display().to_string())
        .or_else(|| std::env::var("PODWALL_CONFORMANCE_KUBECONFIG").ok());
    let (client, sim, sim_url, running) = match real {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(&path)
                .expect("PODWALL_CONFORMANCE_KUBECONFIG is readable");
            let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .expect("kubeconfig is usable");
            (Client::try_from(config).expect("client"), None, None, None)
        }
        None => {
            let token = CancellationToken::new();
            let config = SimConfig {
                listen: "127.0.0.1:0".parse().expect("address"),
                nodes: 3,
                pods: 20,
                churn: 0.0,
                seed: 7,
                ..SimConfig::default()
            };
            let sim = podwall::sim::start(config, token.clone())
                .await
                .expect("simulator starts");
            let client = Client::try_from(sim.kube_config()).expect("client");
            (
                client,
                Some(sim.handle()),
                Some(sim.url()),
                Some((sim, token)),
            )
        }
    };
    let namespace = format!(
        "pwc-{}-{}",
        test.replace('_', "-").chars().take(40).collect::<String>(),
        unique()
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("namespace");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("test namespace is created");
    Target {
        client,
        namespace,
        sim,
        sim_url,
        running,
        control_plane,
    }
}

impl Target {
    /// Pods of the test's namespace.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The resourceVersion of a fresh list of the test's pods.
    pub async fn list_rv(&self) -> String {
        self.pods()
            .list(&ListParams::default())
            .await
            .expect("list")
            .metadata
            .resource_version
            .expect("list resourceVersion")
    }

    /// Whether this is the simulator (sim-only tests return early otherwise).
    pub fn is_sim(&self) -> bool {
        self.sim.is_some()
    }

    /// A node pods can be bound to; on a bare real control plane (no kubelet ever
    /// registers one) the test creates it, as a kubelet would.
    pub async fn some_node(&self) -> String {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let list = nodes.list(&Default::default()).await.expect("nodes list");
        let found = list
            .items
            .iter()
            .find(|n| n.spec.as_ref().and_then(|s| s.unschedulable) != Some(true))
            .and_then(|n| n.metadata.name.clone());
        if let Some(name) = found {
            return name;
        }
        let name = format!("pwc-node-{}", unique());
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
        }))
        .expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("node is created");
        name
    }

    /// Compacts the server's history: `/_sim/faults/compact` on the simulator,
    /// `scripts/test-control-plane compact` on a private real control plane.
    pub async fn compact(&self) {
        match &self.control_plane {
            Some(cp) => cp.compact().await,
            None => self.sim_control("/_sim/faults/compact").await,
        }
    }

    /// Creates a pod with `labels`, optionally bound to `node`.
    pub async fn create_pod(&self, name: &str, labels: Value, node: Option<&str>) -> Pod {
        let mut spec = json!({"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}], "terminationGracePeriodSeconds": 2});
        if let Some(n) = node {
            spec["nodeName"] = n.into();
        }
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": labels}, "spec": spec}),
        )
        .expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("pod is created")
    }

    /// A raw request through the client (auth and TLS handled); returns status and JSON.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(bytes.into())
            .expect("request");
        let resp = self.client.send(req).await.expect("request is answered");
        let status = resp.status();
        let body = resp.into_body().collect_bytes().await.expect("body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// POSTs to a `/_sim/` control endpoint (sim only).
    pub async fn sim_control(&self, path: &str) {
        let url = format!("{}{path}", self.sim_url.as_deref().expect("sim-only"));
        let resp = reqwest::Client::new()
            .post(url)
            .send()
            .await
            .expect("control call");
        assert!(
            resp.status().is_success(),
            "control call {path} failed: {}",
            resp.status()
        );
    }

    /// Deletes the test namespace (matters on a shared real server).
    pub async fn finish(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.namespace, &Default::default())
            .await;
    }
}

/// The next item of `stream`, failing the test after [`DEADLINE`].
pub async fn next_within<S: Stream + Unpin>(stream: &mut S, what: &str) -> S::Item {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("stream ended while waiting for {what}"))
}

/// Polls `check` until it returns Some or the deadline passes.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
