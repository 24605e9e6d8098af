//! A test's namespace on a real kube-apiserver, driven the way an operator, a scheduler
//! and a kubelet would drive it.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use testkit::{client_from, unique};

/// What the test does with the API, as an operator, a scheduler and a kubelet would.
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
}

impl Cluster {
    pub async fn new(kubeconfig: &Path, test: &str) -> Cluster {
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

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Registers a node and reports it Ready, like a kubelet.
    pub async fn create_node(&self, name: &str) {
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

    /// Creates a pod ([`podwall::fixtures::pod_object`]); `node` sets `spec.nodeName`
    /// directly.
    pub async fn create_pod(&self, name: &str, node: Option<&str>) {
        let pod: Pod =
            serde_json::from_value(podwall::fixtures::pod_object(name, node)).expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("pod is created");
    }

    /// Binds an unscheduled pod, as the scheduler does.
    pub async fn bind(&self, pod: &str, node: &str) {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        let _: Value = self
            .pods()
            .create_subresource("binding", pod, &PostParams::default(), &binding)
            .await
            .expect("binding is accepted");
    }

    /// Reports the pod Running and ready through the status subresource, as a kubelet.
    pub async fn run_pod(&self, pod: &str) {
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
    pub async fn delete_pod(&self, pod: &str) {
        self.pods()
            .delete(pod, &DeleteParams::default())
            .await
            .expect("delete");
    }

    /// The kubelet's final delete with grace period 0.
    pub async fn force_delete_pod(&self, pod: &str) {
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
    pub async fn expected(&self) -> BTreeMap<String, (Value, String)> {
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
