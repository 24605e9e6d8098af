//! A big cluster driven by the real controllers (`scripts/test-kwok`: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, and KWOK playing N kubelets), and the
//! working day the big-cluster tests and bench drive on it: namespaces, Deployments, a
//! StatefulSet, a DaemonSet and Jobs created through the API and scaled to a pod count,
//! then rollouts, scaling, a node going silent (NotReady, its pods evicted by the node
//! lifecycle controller), a node cordoned and drained, a burst of unschedulable pods.
//!
//! Every write goes through the API as a user's would; the controllers make the pods.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::{EvictParams, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{client_from, repo};

/// The label KWOK's trouble stages act on (tests/kube-kwok/troubles.yaml).
pub const TROUBLE_LABEL: &str = "podwall.test/trouble";

/// A KWOK cluster of this process's own, stopped (and its state removed) on drop.
pub struct KwokCluster {
    state: tempfile::TempDir,
    /// `PODWALL_KWOK_*` settings of this instance (e.g. the grace period).
    settings: Vec<(String, String)>,
    /// The admin kubeconfig (system:masters token).
    pub kubeconfig: PathBuf,
    /// The kubectl of the cluster's release.
    pub kubectl: PathBuf,
    /// What `test-kwok env` printed once it had started: `export NAME=value` lines.
    env: String,
}

impl KwokCluster {
    /// Starts the control plane, the controllers and KWOK with `nodes` Ready fake nodes.
    pub async fn start(nodes: usize) -> KwokCluster {
        Self::start_with(nodes, &[]).await
    }

    /// [`KwokCluster::start`] with `PODWALL_KWOK_*` settings, e.g.
    /// `("PODWALL_KWOK_GRACE", "60")`.
    pub async fn start_with(nodes: usize, settings: &[(&str, &str)]) -> KwokCluster {
        let state = tempfile::Builder::new()
            .prefix("podwall-kwok-")
            .tempdir()
            .expect("temp dir");
        let dir = state.path().join("kwok");
        // Owned from here: a failed start still stops what it started.
        let mut cluster = KwokCluster {
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            kubeconfig: dir.join("kubeconfig"),
            kubectl: PathBuf::new(),
            env: String::new(),
            state,
        };
        cluster.run(&["start", &nodes.to_string()]).await;
        cluster.env = cluster.run(&["env"]).await;
        // `export PATH=<release bin dir>:"$PATH"`: the kubectl of the same release.
        let bin = cluster
            .exported("PATH")
            .split(':')
            .next()
            .map(|v| v.trim_matches(['\'', '"']).to_string())
            .unwrap_or_default();
        cluster.kubectl = Path::new(&bin).join("kubectl");
        cluster
    }

    /// The value `test-kwok env` exports as `name`.
    fn exported(&self, name: &str) -> &str {
        let prefix = format!("export {name}=");
        self.env
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("test-kwok env exports no {name}"))
    }

    /// Runs `scripts/test-kwok` for this instance; returns stdout, fails the test (with
    /// the script's stderr) when it fails.
    pub async fn run(&self, args: &[&str]) -> String {
        crate::stdout_of(
            tokio::process::Command::new(repo().join("scripts/test-kwok"))
                .args(args)
                .envs(self.settings.iter().map(|(k, v)| (k, v)))
                .env("PODWALL_KWOK_STATE_DIR", self.state.path().join("kwok")),
            &format!("test-kwok {args:?}"),
        )
        .await
    }

    /// A client with the admin's rights.
    pub async fn client(&self) -> kube::Client {
        client_from(&self.kubeconfig).await
    }

    /// Stops playing `node`'s kubelet: no heartbeat, no lease.
    pub async fn silence(&self, node: &str) {
        self.run(&["silence", node]).await;
    }

    /// Plays `node`'s kubelet again.
    pub async fn revive(&self, node: &str) {
        self.run(&["revive", node]).await;
    }

    /// Resident memory (KiB) of each component, by name.
    pub async fn rss(&self) -> BTreeMap<String, u64> {
        self.run(&["rss"])
            .await
            .lines()
            .filter_map(|l| {
                let (name, kib) = l.split_once(' ')?;
                Some((name.to_string(), kib.trim().parse().ok()?))
            })
            .collect()
    }

    /// A kubeconfig for podwall as it runs in production: its own identity with
    /// read-only rights (deploy/10-rbac.yaml plus the optional events reader), and a
    /// FlowSchema `podwall` of its own, so the API server's `/metrics` count its requests
    /// apart from the controllers' (`apiserver_flowcontrol_dispatched_requests_total`).
    pub async fn podwall_kubeconfig(&self) -> PathBuf {
        let token = self.exported("PODWALL_KUBE_USER_TOKEN").to_string();
        let client = self.client().await;
        let objects = [
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "podwall-read"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["list", "watch"]},
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["list", "watch"]},
            ]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "podwall-read"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "podwall-read"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "podwall-test-user"}]}),
            json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": "podwall"},
            "spec": {
                "matchingPrecedence": 500,
                "priorityLevelConfiguration": {"name": "workload-low"},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": [{"kind": "User", "user": {"name": "podwall-test-user"}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": true, "namespaces": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                }],
            }}),
        ];
        for object in objects {
            let gvk = kube::api::GroupVersionKind::try_from(
                &serde_json::from_value::<kube::api::TypeMeta>(object.clone()).expect("type meta"),
            )
            .expect("group version kind");
            let api: Api<kube::api::DynamicObject> =
                Api::all_with(client.clone(), &kube::api::ApiResource::from_gvk(&gvk));
            let typed: kube::api::DynamicObject =
                serde_json::from_value(object).expect("a valid object");
            api.create(&PostParams::default(), &typed)
                .await
                .expect("the API server accepts it");
        }
        let admin = std::fs::read_to_string(&self.kubeconfig).expect("admin kubeconfig");
        let reader: String = admin
            .lines()
            .map(|l| match l.trim_start().strip_prefix("token: ") {
                Some(_) => format!("    token: {token}"),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let path = self.state.path().join("podwall.kubeconfig");
        std::fs::write(&path, reader + "\n").expect("write podwall's kubeconfig");
        path
    }

    /// The sum of the API server's `/metrics` samples whose line starts with `prefix`
    /// (e.g. `apiserver_flowcontrol_dispatched_requests_total{flow_schema="podwall"`) and
    /// contains `having` (e.g. `verb="WATCH"`; "" for any).
    pub async fn apiserver_metric(&self, client: &kube::Client, prefix: &str, having: &str) -> f64 {
        let request = http::Request::get("/metrics")
            .body(Vec::new())
            .expect("a request");
        let text = client
            .request_text(request)
            .await
            .expect("the API server's /metrics");
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(having))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// `kubectl get pods -A`'s STATUS column, counted.
    pub async fn kubectl_statuses(&self) -> BTreeMap<String, usize> {
        let out = self
            .kubectl(&["get", "pods", "-A", "--no-headers", "--chunk-size=5000"])
            .await;
        let mut counts = BTreeMap::new();
        for line in out.lines() {
            if let Some(status) = line.split_whitespace().nth(3) {
                *counts.entry(status.to_string()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Runs the release's kubectl against the cluster; returns stdout.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        crate::stdout_of(
            tokio::process::Command::new(&self.kubectl)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args),
            &format!("kubectl {args:?}"),
        )
        .await
    }
}

impl Drop for KwokCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(repo().join("scripts/test-kwok"))
            .arg("stop")
            .env("PODWALL_KWOK_STATE_DIR", self.state.path().join("kwok"))
            .output();
    }
}

/// What the workload is made of, sized to a pod count: who owns how many pods where.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The team namespaces.
    pub namespaces: Vec<String>,
    /// (namespace, name, replicas) of the plain Deployments.
    pub deployments: Vec<(String, String, i32)>,
    /// (namespace, name, replicas) of the StatefulSets (parallel pod management).
    pub statefulsets: Vec<(String, String, i32)>,
    /// (namespace, name, trouble, replicas) of the Deployments whose pods are in trouble.
    pub troubled: Vec<(String, String, &'static str, i32)>,
    /// (namespace, name, completions) of the Jobs.
    pub jobs: Vec<(String, String, i32)>,
    /// Nodes, for the DaemonSet's one pod each.
    pub nodes: usize,
}

/// The DaemonSet every node runs a pod of.
pub const DAEMONSET: (&str, &str) = ("kube-system", "node-agent");

impl Workload {
    /// About `pods` pods on `nodes` nodes: one DaemonSet pod per node, a few troubled
    /// pods and Jobs, and the rest in Deployments (four per namespace) and a StatefulSet
    /// per namespace, spread over one namespace per 5,000 pods (at least two).
    pub fn sized(nodes: usize, pods: usize) -> Workload {
        let namespaces: Vec<String> = (0..(pods / 5_000).max(2))
            .map(|i| format!("team-{}", (b'a' + i as u8) as char))
            .collect();
        let troubled = vec![
            (
                namespaces[0].clone(),
                "payments-crash".into(),
                "crashloop",
                3,
            ),
            (namespaces[0].clone(), "ledger-pull".into(), "imagepull", 2),
            (namespaces[1].clone(), "search-unready".into(), "unready", 2),
        ];
        let jobs = vec![(namespaces[1].clone(), "nightly-report".into(), 5)];
        let fixed = nodes + troubled.iter().map(|t| t.3 as usize).sum::<usize>() + 5;
        let rest = pods.saturating_sub(fixed);
        // Per namespace: four Deployments and a StatefulSet a tenth of the size.
        let per_ns = rest / namespaces.len();
        let sts = (per_ns / 10).max(1);
        let dep = (per_ns - sts) / 4;
        let mut deployments = Vec::new();
        let mut statefulsets = Vec::new();
        for ns in &namespaces {
            for (i, app) in ["web", "api", "worker", "cache"].iter().enumerate() {
                // The last one takes the rounding, so the total is exact.
                let n = if i == 3 { per_ns - sts - 3 * dep } else { dep };
                deployments.push((ns.clone(), app.to_string(), n as i32));
            }
            statefulsets.push((ns.clone(), "db".to_string(), sts as i32));
        }
        // Division leftovers go to the first Deployment.
        let placed = per_ns * namespaces.len();
        if let Some(first) = deployments.first_mut() {
            first.2 += (rest - placed) as i32;
        }
        Workload {
            namespaces,
            deployments,
            statefulsets,
            troubled,
            jobs,
            nodes,
        }
    }

    /// The pods this workload makes once settled (Jobs' completed pods included).
    pub fn pods(&self) -> usize {
        let sum = |v: &[(String, String, i32)]| v.iter().map(|x| x.2 as usize).sum::<usize>();
        self.nodes
            + sum(&self.deployments)
            + sum(&self.statefulsets)
            + sum(&self.jobs)
            + self.troubled.iter().map(|t| t.3 as usize).sum::<usize>()
    }

    /// Creates everything through the API.
    pub async fn create(&self, client: &kube::Client) {
        for ns in &self.namespaces {
            create_namespace(client, ns).await;
        }
        let (ns, name) = DAEMONSET;
        create(
            &Api::<DaemonSet>::namespaced(client.clone(), ns),
            json!({
                "metadata": {"name": name},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": pod_template(name, &json!({}), &json!({})),
                },
            }),
        )
        .await;
        for (ns, name, replicas) in &self.deployments {
            create_deployment(client, ns, name, *replicas).await;
        }
        for (ns, name, trouble, replicas) in &self.troubled {
            // The stock stage the trouble replaces never runs for these pods.
            let skip = match *trouble {
                "imagepull" => json!({
                    "pod-create.stage.kwok.x-k8s.io/weight": "0",
                    "pod-ready.stage.kwok.x-k8s.io/weight": "0",
                }),
                "unready" => json!({"pod-ready.stage.kwok.x-k8s.io/weight": "0"}),
                _ => json!({}),
            };
            create(
                &Api::<Deployment>::namespaced(client.clone(), ns),
                deployment(
                    name,
                    *replicas,
                    &json!({TROUBLE_LABEL: trouble}),
                    &skip,
                    &json!({}),
                ),
            )
            .await;
        }
        for (ns, name, replicas) in &self.statefulsets {
            create(
                &Api::<StatefulSet>::namespaced(client.clone(), ns),
                json!({
                    "metadata": {"name": name},
                    "spec": {
                        "replicas": replicas,
                        "serviceName": name,
                        "podManagementPolicy": "Parallel",
                        "selector": {"matchLabels": {"app": name}},
                        "template": pod_template(name, &json!({}), &json!({})),
                    },
                }),
            )
            .await;
        }
        for (ns, name, completions) in &self.jobs {
            let mut template = pod_template(name, &json!({}), &json!({}));
            template["spec"]["restartPolicy"] = json!("Never");
            // A Job's template must not carry the selector's label itself (the Job
            // controller adds its own).
            template["metadata"] = json!({});
            create(
                &Api::<Job>::namespaced(client.clone(), ns),
                json!({
                    "metadata": {"name": name},
                    "spec": {"completions": completions, "parallelism": completions, "template": template},
                }),
            )
            .await;
        }
    }
}

/// A pod template: one small container, requests a scheduler can pack.
fn pod_template(app: &str, labels: &Value, annotations: &Value) -> Value {
    let mut l = json!({"app": app});
    merge(&mut l, labels);
    json!({
        "metadata": {"labels": l, "annotations": annotations},
        "spec": {
            "containers": [{
                "name": app,
                "image": format!("registry.example/{app}:1.0"),
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            }],
            "terminationGracePeriodSeconds": 5,
        },
    })
}

fn deployment(
    name: &str,
    replicas: i32,
    labels: &Value,
    annotations: &Value,
    spec: &Value,
) -> Value {
    let mut template = pod_template(name, labels, annotations);
    merge(&mut template["spec"], spec);
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        },
    })
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

async fn create<K>(api: &Api<K>, object: Value)
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &typed)
        .await
        .expect("the API server accepts it");
}

/// Whether `pod` has an owner of `kind` (`ReplicaSet`, `DaemonSet`, …).
pub fn owned_by(pod: &Pod, kind: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == kind)
}

/// Creates a Deployment of `replicas` plain pods (the working day's kind) in `ns`.
pub async fn create_deployment(client: &kube::Client, ns: &str, name: &str, replicas: i32) {
    create(
        &Api::<Deployment>::namespaced(client.clone(), ns),
        deployment(name, replicas, &json!({}), &json!({}), &json!({})),
    )
    .await;
}

/// Creates a namespace.
pub async fn create_namespace(client: &kube::Client, name: &str) {
    create(
        &Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": name}}),
    )
    .await;
}

/// One step of the working day, as the API saw it: what was done and when.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step did, for the run's log.
    pub what: String,
    /// When the driver made the (first) write.
    pub at: Instant,
}

/// The working day's writes, against a cluster the controllers and KWOK run.
pub struct Day {
    client: kube::Client,
    rollouts: u32,
}

impl Day {
    /// A day on this cluster.
    pub fn new(client: kube::Client) -> Day {
        Day {
            client,
            rollouts: 0,
        }
    }

    /// A rolling update of a Deployment: a new template, so a new ReplicaSet; old pods
    /// terminate as new ones start (25 % surge, 25 % unavailable: the defaults).
    pub async fn rollout(&mut self, ns: &str, name: &str) -> Step {
        self.rollouts += 1;
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {"podwall.test/rollout": self.rollouts.to_string()}}}}});
        let at = Instant::now();
        Api::<Deployment>::namespaced(self.client.clone(), ns)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("rollout patch");
        Step {
            what: format!("rollout {ns}/{name} #{}", self.rollouts),
            at,
        }
    }

    /// Scales a Deployment.
    pub async fn scale(&self, ns: &str, name: &str, replicas: i32) -> Step {
        let at = Instant::now();
        Api::<Deployment>::namespaced(self.client.clone(), ns)
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("scale patch");
        Step {
            what: format!("scale {ns}/{name} to {replicas}"),
            at,
        }
    }

    /// `kubectl drain`: cordons the node, then evicts its pods but the DaemonSet's,
    /// through the Eviction API (PodDisruptionBudgets would apply; there are none).
    pub async fn drain(&self, node: &str) -> Step {
        let at = Instant::now();
        Api::<Node>::all(self.client.clone())
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"unschedulable": true}})),
            )
            .await
            .expect("cordon");
        let pods = Api::<Pod>::all(self.client.clone())
            .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await
            .expect("pods of the node");
        let mut evicted = 0;
        for pod in pods.items {
            let owned_by_ds = owned_by(&pod, "DaemonSet");
            let (Some(ns), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
                continue;
            };
            if owned_by_ds {
                continue;
            }
            // A pod already gone (a Job's, a rollout's) is no failure of the drain.
            if Api::<Pod>::namespaced(self.client.clone(), &ns)
                .evict(&name, &EvictParams::default())
                .await
                .is_ok()
            {
                evicted += 1;
            }
        }
        Step {
            what: format!("drain {node} ({evicted} pods evicted)"),
            at,
        }
    }

    /// A burst of pods no node can take: a Deployment whose node selector matches none.
    pub async fn unschedulable_burst(&self, ns: &str, replicas: i32) -> Step {
        let at = Instant::now();
        create(
            &Api::<Deployment>::namespaced(self.client.clone(), ns),
            deployment(
                "gpu-batch",
                replicas,
                &json!({}),
                &json!({}),
                &json!({"nodeSelector": {"podwall.test/gpu": "h100"}}),
            ),
        )
        .await;
        Step {
            what: format!("{replicas} unschedulable pods in {ns}"),
            at,
        }
    }
}

/// Waits until the cluster has at least `want` pods, none of them without a node but
/// those meant to be (the unschedulable burst), and none still starting; `deadline` is
/// generous: the scheduler binds a few hundred pods a second on two cores.
pub async fn settle(
    client: &kube::Client,
    want: usize,
    deadline: Duration,
) -> BTreeMap<String, usize> {
    let start = Instant::now();
    loop {
        let phases = phases(client).await;
        let total: usize = phases.values().sum();
        let starting = phases.get("Pending").copied().unwrap_or(0);
        if total >= want && starting == 0 {
            return phases;
        }
        assert!(
            start.elapsed() < deadline,
            "the cluster did not settle at {want} pods in {deadline:?}: {phases:?}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Pods by phase (Pending counts only pods expected to start: not the troubled ones, nor
/// those being deleted — a node that missed its lease under load has its pods evicted, and
/// they wait for their kubelet's confirmation).
pub async fn phases(client: &kube::Client) -> BTreeMap<String, usize> {
    let api = Api::<Pod>::all(client.clone());
    let mut counts = BTreeMap::new();
    let mut params = ListParams::default().limit(5_000);
    loop {
        let page = api.list(&params).await.expect("list pods");
        for pod in &page.items {
            let labels = pod.metadata.labels.as_ref();
            let troubled = labels.is_some_and(|l| l.contains_key(TROUBLE_LABEL));
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into());
            let key = if pod.metadata.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else if troubled && phase == "Pending" {
                "Pending (troubled)".to_string()
            } else {
                phase
            };
            *counts.entry(key).or_insert(0) += 1;
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return counts,
        }
    }
}
