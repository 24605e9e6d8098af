//! Where conformance tests run: the in-process simulator, or a real kube-apiserver (the
//! shared one `PODWALL_CONFORMANCE_KUBECONFIG` names, or a private one for tests that
//! disrupt it). Each test gets its own fresh namespace, so tests can share a real server
//! and run in parallel.

use http::{Method, Request, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use podwall::sim::SimHandle;
use serde_json::{Value, json};

use crate::control_plane::{ControlPlane, shared_kubeconfig};
use crate::{Stack, client_from, unique};

/// Which API server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiServer {
    /// The simulator, in this process.
    Sim,
    /// A real kube-apiserver: the shared one of `PODWALL_CONFORMANCE_KUBECONFIG`.
    Real,
}

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
    /// The simulator, stopped with the target.
    _stack: Option<Stack>,
    /// A private real control plane (see [`target_private`]); the field order stops it last.
    control_plane: Option<ControlPlane>,
}

/// The test's target on `on`; `test` names the namespace.
pub async fn target(on: ApiServer, test: &str) -> Target {
    match on {
        ApiServer::Sim => target_sim(test).await,
        ApiServer::Real => {
            let kubeconfig = shared_kubeconfig("PODWALL_CONFORMANCE_KUBECONFIG");
            let client = client_from(&kubeconfig).await;
            with_namespace(test, client, None, None).await
        }
    }
}

/// Like [`target`], but on a real server a control plane of the test's own, started with
/// `settings` (`PODWALL_KUBE_*`), for tests that disrupt the server (compaction).
pub async fn target_private(on: ApiServer, test: &str, settings: &[(&str, &str)]) -> Target {
    match on {
        ApiServer::Sim => target_sim(test).await,
        ApiServer::Real => {
            let cp = ControlPlane::start(settings).await;
            let client = cp.client().await;
            with_namespace(test, client, None, Some(cp)).await
        }
    }
}

/// The simulator of 3 nodes and 20 pods, quiet; `test` names the namespace.
pub async fn target_sim(test: &str) -> Target {
    let stack = Stack::sim_only(3, 20, 7).await;
    let client = stack.kube();
    with_namespace(test, client, Some(stack), None).await
}

async fn with_namespace(
    test: &str,
    client: Client,
    stack: Option<Stack>,
    control_plane: Option<ControlPlane>,
) -> Target {
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
        sim: stack.as_ref().map(|s| s.sim().handle()),
        sim_url: stack.as_ref().map(|s| s.sim().url()),
        _stack: stack,
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
