//! The product against a REAL kube-apiserver: `server::start` with a kubeconfig (CA
//! included, so rustls verifies the control plane), nodes and pods driven the way a
//! kubelet and a scheduler would, the wall's JSON API following them, and podwall
//! resuming after an apiserver restart and re-listing after etcd compaction.
//!
//! Needs `PODWALL_REAL_KUBECONFIG` (`scripts/test-all` sets it); without it every test
//! says it skips. Tests that restart or compact start a control plane of their own.

mod common;
mod control_plane;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Model, SseClient, init};
use control_plane::{ControlPlane, client_from, shared_kubeconfig};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use podwall::server::{KubeSource, RunningServer, ServeConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Restarts and re-lists take a few seconds on top of the usual deadline.
const SLOW_DEADLINE: Duration = Duration::from_secs(60);

/// A wall server against a real apiserver, stopped on drop.
struct Wall {
    server: RunningServer,
    token: CancellationToken,
    http: reqwest::Client,
}

impl Drop for Wall {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Wall {
    /// `podwall serve --kubeconfig FILE [--namespace NS…]`, in process; waits for /readyz.
    async fn start(kubeconfig: &Path, namespaces: &[&str]) -> Wall {
        init();
        let token = CancellationToken::new();
        let server = podwall::server::start(
            ServeConfig {
                listen: "127.0.0.1:0".parse().expect("static address"),
                namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
                kube: KubeSource::Infer {
                    kubeconfig: Some(kubeconfig.to_path_buf()),
                },
            },
            token.clone(),
        )
        .await
        .expect("server starts with the kubeconfig");
        let wall = Wall {
            server,
            token,
            http: reqwest::Client::new(),
        };
        wall.wait_ready().await;
        wall
    }

    async fn wait_ready(&self) {
        let url = format!("{}/readyz", self.server.url());
        poll("readyz 200", SLOW_DEADLINE, || async {
            let resp = self.http.get(&url).send().await.ok()?;
            (resp.status() == 200).then_some(())
        })
        .await;
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server.url()))
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn snapshot(&self, query: &str) -> Value {
        let (status, body) = self.get(&format!("/api/snapshot{query}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("snapshot JSON")
    }

    async fn events(&self, query: &str) -> SseClient {
        let resp = self
            .http
            .get(format!("{}/api/events{query}", self.server.url()))
            .send()
            .await
            .expect("SSE connect");
        assert_eq!(resp.status(), 200);
        SseClient::from_response(resp)
    }
}

/// Polls `check` until it gives `Some`, or panics after `deadline`.
async fn poll<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A unique suffix for names shared across tests on one server.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", nanos & 0xffff_ffff_ffff)
}

/// What the test does with the API, as an operator, a scheduler and a kubelet would.
struct Cluster {
    client: kube::Client,
    namespace: String,
}

impl Cluster {
    async fn new(kubeconfig: &Path, test: &str) -> Cluster {
        let client = client_from(kubeconfig).await;
        let namespace = format!("pwr-{test}-{}", unique());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace is created");
        Cluster { client, namespace }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Registers a node and reports it Ready, like a kubelet.
    async fn create_node(&self, name: &str) {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"node-role.kubernetes.io/worker": ""}},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"}}
        }))
        .expect("node");
        self.nodes()
            .create(&PostParams::default(), &node)
            .await
            .expect("node is created");
        let now = jiff::Timestamp::now().to_string();
        self.nodes()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": [{
                    "type": "Ready", "status": "True", "reason": "KubeletReady",
                    "lastHeartbeatTime": now, "lastTransitionTime": now}]}})),
            )
            .await
            .expect("node status is patched");
    }

    /// Creates a pod; `node` sets `spec.nodeName` directly.
    async fn create_pod(&self, name: &str, node: Option<&str>) {
        let mut spec = json!({"containers": [{"name": "app", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]});
        if let Some(node) = node {
            spec["nodeName"] = Value::from(node);
        }
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "probe"}},
            "spec": spec,
        }))
        .expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("pod is created");
    }

    /// Binds an unscheduled pod, as the scheduler does.
    async fn bind(&self, pod: &str, node: &str) {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        let _: Value = self
            .pods()
            .create_subresource("binding", pod, &PostParams::default(), &binding)
            .await
            .expect("binding is accepted");
    }

    /// Reports the pod Running and ready through the status subresource, as a kubelet.
    async fn run_pod(&self, pod: &str) {
        let now = jiff::Timestamp::now().to_string();
        self.pods()
            .patch_status(
                pod,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                    "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "",
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": now}}}]}})),
            )
            .await
            .expect("pod status is patched");
    }

    /// Deletes a pod gracefully (a bound pod then stays Terminating: no kubelet).
    async fn delete_pod(&self, pod: &str) {
        self.pods()
            .delete(pod, &DeleteParams::default())
            .await
            .expect("delete");
    }

    /// The kubelet's final delete with grace period 0.
    async fn force_delete_pod(&self, pod: &str) {
        match self
            .pods()
            .delete(pod, &DeleteParams::default().grace_period(0))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => panic!("force delete failed: {e:?}"),
        }
    }

    /// name → (node, status) of this namespace's pods as the wall should show them.
    async fn expected(&self) -> BTreeMap<String, (Value, String)> {
        let list = self.pods().list(&Default::default()).await.expect("list");
        list.items
            .iter()
            .map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                let node = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .map(Value::from)
                    .unwrap_or(Value::Null);
                let status = if p.metadata.deletion_timestamp.is_some() {
                    "Terminating".to_string()
                } else {
                    p.status
                        .as_ref()
                        .and_then(|s| s.phase.clone())
                        .unwrap_or_default()
                };
                (name, (node, status))
            })
            .collect()
    }
}

/// name → (node, status) of the pods in a snapshot or model.
fn shown<'a>(pods: impl Iterator<Item = &'a Value>) -> BTreeMap<String, (Value, String)> {
    pods.map(|p| {
        (
            p["name"].as_str().unwrap_or_default().to_string(),
            (
                p["node"].clone(),
                p["status"].as_str().unwrap_or_default().to_string(),
            ),
        )
    })
    .collect()
}

/// Waits until `/api/snapshot?ns=` and the `/api/events?ns=` model both show exactly
/// what the apiserver has in the namespace (statuses compared where the API fixes them).
async fn converge(wall: &Wall, events: &mut SseClient, model: &mut Model, cluster: &Cluster) {
    let query = format!("?ns={}", cluster.namespace);
    let start = Instant::now();
    loop {
        let want = cluster.expected().await;
        let snap = wall.snapshot(&query).await;
        let snap_pods = shown(snap["pods"].as_array().expect("pods").iter());
        while let Some(ev) = events.next_within(Duration::from_millis(200)).await {
            model.apply(&ev);
        }
        let model_pods = shown(model.pods.values());
        let agrees = |got: &BTreeMap<String, (Value, String)>| {
            got.len() == want.len()
                && want.iter().all(|(name, (node, status))| {
                    got.get(name).is_some_and(|(n, s)| {
                        n == node && (status.is_empty() || status == "Pending" || s == status)
                    })
                })
        };
        if agrees(&snap_pods) && agrees(&model_pods) {
            return;
        }
        assert!(
            start.elapsed() < SLOW_DEADLINE,
            "no convergence after {SLOW_DEADLINE:?}:\n apiserver {want:?}\n snapshot {snap_pods:?}\n events {model_pods:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `/api/events?ns=` and applies its first reset.
async fn follow(wall: &Wall, ns: &str) -> (SseClient, Model) {
    let mut events = wall.events(&format!("?ns={ns}")).await;
    let reset = events.until("the reset", |e| e.event == "reset").await;
    let mut model = Model::default();
    model.apply(&reset);
    (events, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_follows_nodes_and_pods_on_a_real_apiserver() {
    let Some(kubeconfig) = shared_kubeconfig("PODWALL_REAL_KUBECONFIG") else {
        return;
    };
    let cluster = Cluster::new(&kubeconfig, "follow").await;
    let wall = Wall::start(&kubeconfig, &[]).await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    let node = format!("pwr-node-{}", unique());

    cluster.create_node(&node).await;
    let seen = poll("the node, Ready", SLOW_DEADLINE, || async {
        let snap = wall.snapshot("").await;
        snap["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["name"] == node.as_str() && n["ready"] == true)
            .cloned()
    })
    .await;
    assert_eq!(seen["allocatableCpuMillis"], 3900, "{seen}");
    assert_eq!(seen["podCapacity"], 110, "{seen}");

    cluster.create_pod("direct", Some(&node)).await;
    cluster.create_pod("bound", None).await;
    let up = events
        .until("the unscheduled pod", |e| {
            e.event == "upsert" && e.json()["object"]["name"] == "bound"
        })
        .await;
    assert_eq!(up.json()["object"]["node"], Value::Null, "{}", up.data);
    model.apply(&up);
    cluster.bind("bound", &node).await;
    cluster.run_pod("direct").await;
    cluster.run_pod("bound").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    let snap = wall.snapshot(&format!("?ns={}", cluster.namespace)).await;
    for p in snap["pods"].as_array().expect("pods") {
        assert_eq!(p["node"], node.as_str(), "{p}");
        assert_eq!(p["status"], "Running", "{p}");
        assert_eq!(p["ready"], "1/1", "{p}");
        assert_eq!(p["cpuRequestMillis"], 100, "{p}");
    }
    let (status, page) = wall.get(&format!("/?ns={}", cluster.namespace)).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-node=\"{node}\"")), "{page}");
    assert!(
        page.contains(&format!("data-pod=\"{}/direct\"", cluster.namespace)),
        "{page}"
    );

    // Deleting a bound pod: Terminating until the kubelet's grace-0 delete removes it.
    cluster.delete_pod("direct").await;
    let term = events
        .until("Terminating", |e| {
            e.event == "upsert" && e.json()["object"]["status"] == "Terminating"
        })
        .await;
    model.apply(&term);
    cluster.force_delete_pod("direct").await;
    let gone = events
        .until("the delete", |e| {
            e.event == "delete" && e.json()["name"] == "direct"
        })
        .await;
    model.apply(&gone);
    cluster.force_delete_pod("bound").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(model.pods.is_empty(), "{:?}", model.pods);

    cluster
        .nodes()
        .delete(&node, &DeleteParams::default())
        .await
        .expect("node delete");
    poll("the node's removal", SLOW_DEADLINE, || async {
        let snap = wall.snapshot("").await;
        let present = snap["nodes"]
            .as_array()?
            .iter()
            .any(|n| n["name"] == node.as_str());
        (!present).then_some(())
    })
    .await;
}

/// Reads `/api/events` until a `status` event satisfies `pred`.
async fn status_until(
    events: &mut SseClient,
    model: &mut Model,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let left = SLOW_DEADLINE.saturating_sub(start.elapsed());
        let ev = events
            .next_within(left)
            .await
            .unwrap_or_else(|| panic!("timed out after {SLOW_DEADLINE:?} waiting for {what}"));
        model.apply(&ev);
        if ev.event == "status" && pred(&ev.json()) {
            return ev.json();
        }
    }
}

async fn private_setup(cp: &ControlPlane, test: &str) -> (Cluster, Wall, String) {
    let cluster = Cluster::new(&cp.kubeconfig, test).await;
    let node = format!("pwr-node-{}", unique());
    cluster.create_node(&node).await;
    for name in ["a", "b", "c"] {
        cluster.create_pod(name, Some(&node)).await;
        cluster.run_pod(name).await;
    }
    let wall = Wall::start(&cp.kubeconfig, &[]).await;
    (cluster, wall, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_resumes_after_an_apiserver_restart() {
    if shared_kubeconfig("PODWALL_REAL_KUBECONFIG").is_none() {
        return;
    }
    // Watch cache on, like a real cluster: after the restart the new cache starts at the
    // current revision, so the resumed watches get 410 and podwall re-lists.
    let cp = ControlPlane::start(&[]).await;
    let (cluster, wall, node) = private_setup(&cp, "restart").await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    converge(&wall, &mut events, &mut model, &cluster).await;

    cp.restart_apiserver().await;
    status_until(&mut events, &mut model, "reconnecting", |s| {
        s["apiserver"] == "reconnecting"
    })
    .await;
    status_until(&mut events, &mut model, "ok again", |s| {
        s["apiserver"] == "ok"
    })
    .await;

    cluster.force_delete_pod("a").await;
    cluster.create_pod("d", Some(&node)).await;
    cluster.run_pod("d").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(model.pods.contains_key(&format!("{}/d", cluster.namespace)));
    let (status, body) = wall.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_relists_after_etcd_compaction() {
    if shared_kubeconfig("PODWALL_REAL_KUBECONFIG").is_none() {
        return;
    }
    // Watch cache off: a watch resumes from etcd itself, so only compaction makes it 410
    // (tests/kube-apiserver/README.md, "Compaction and 410 Gone").
    let cp = ControlPlane::start(&[("PODWALL_KUBE_WATCH_CACHE", "false")]).await;
    let (cluster, wall, node) = private_setup(&cp, "compact").await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    converge(&wall, &mut events, &mut model, &cluster).await;

    // Writes podwall does not watch move etcd past its resourceVersions, so the
    // compaction covers a revision it would resume after.
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    for i in 0..2 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("bump-{i}")}}))
                .expect("configmap");
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("configmap");
    }
    cp.compact().await;
    // Cut the watches; on reconnect their resourceVersions are compacted away.
    cp.restart_apiserver().await;
    let gone = status_until(&mut events, &mut model, "the 410 re-list", |s| {
        s["message"].as_str().is_some_and(|m| m.contains("410"))
    })
    .await;
    assert_eq!(gone["apiserver"], "reconnecting", "{gone}");
    status_until(&mut events, &mut model, "ok again", |s| {
        s["apiserver"] == "ok"
    })
    .await;

    cluster.force_delete_pod("b").await;
    cluster.create_pod("e", Some(&node)).await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(!model.pods.contains_key(&format!("{}/b", cluster.namespace)));
}
