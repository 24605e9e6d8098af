//! The generated cluster: namespaces, nodes and workload pods that look like a real
//! cluster's (owner references, managedFields, conditions, container statuses), built
//! deterministically from a seed. The churn generator reuses the object builders.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::resource::Resource;
use super::store::{Store, now_rfc3339, uid_from};

/// Namespaces every cluster has, then the application namespaces pods spread over.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];
const APP_NAMESPACES: [&str; 6] = ["web", "payments", "data", "monitoring", "batch", "ingress"];
const APP_NAMES: [&str; 20] = [
    "frontend",
    "api",
    "checkout",
    "cart",
    "catalog",
    "search",
    "auth",
    "billing",
    "notifications",
    "recommendations",
    "ads",
    "shipping",
    "inventory",
    "gateway",
    "worker",
    "scheduler",
    "reports",
    "ledger",
    "profile",
    "media",
];
const IMAGES: [&str; 8] = [
    "nginx:1.27.3",
    "ghcr.io/acme/api:2.14.1",
    "redis:7.4.1",
    "postgres:16.6",
    "ghcr.io/acme/worker:1.9.0",
    "envoyproxy/envoy:v1.32.2",
    "python:3.12-slim",
    "ghcr.io/acme/web:5.2.0",
];
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

/// What kind of controller owns a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Deployment (pods owned by its ReplicaSet).
    Deployment,
    /// A StatefulSet (ordinal pod names).
    StatefulSet,
    /// A DaemonSet (one pod per node).
    DaemonSet,
    /// A Job (pods run to completion).
    Job,
}

impl WorkloadKind {
    fn owner_kind(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
        }
    }
}

/// A controller and the pods it currently owns.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Kind of controller.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Controller name (the Deployment's, not the ReplicaSet's).
    pub name: String,
    /// `pod-template-hash` of the current ReplicaSet.
    pub hash: String,
    /// uid of the owning object.
    pub owner_uid: String,
    /// Container images (one container each).
    pub images: Vec<String>,
    /// CPU request in millicores per container.
    pub cpu_m: u32,
    /// Memory request in MiB per container.
    pub mem_mi: u32,
    /// Names of the pods it owns.
    pub pods: Vec<String>,
    /// Next ordinal / serial for pod names.
    pub next: u64,
}

impl Workload {
    /// The owner's name as written in ownerReferences.
    pub fn owner_name(&self) -> String {
        match self.kind {
            WorkloadKind::Deployment => format!("{}-{}", self.name, self.hash),
            _ => self.name.clone(),
        }
    }

    /// The `generateName` its controller gives pods (none for a StatefulSet, whose pods
    /// have fixed names).
    pub fn generate_name(&self) -> Option<String> {
        match self.kind {
            WorkloadKind::StatefulSet => None,
            WorkloadKind::Deployment => Some(format!("{}-{}-", self.name, self.hash)),
            WorkloadKind::DaemonSet | WorkloadKind::Job => Some(format!("{}-", self.name)),
        }
    }

    /// A fresh pod name for this workload: its `generateName` and a random suffix, or a
    /// StatefulSet's next ordinal.
    pub fn new_pod_name(&mut self, rng: &mut ChaCha8Rng) -> String {
        self.next += 1;
        match self.generate_name() {
            Some(prefix) => format!("{prefix}{}", suffix(rng, 5)),
            None => format!("{}-{}", self.name, self.next - 1),
        }
    }
}

/// A name for a new pod of `w` that no stored pod has.
pub fn fresh_pod_name(store: &Store, w: &mut Workload, rng: &mut ChaCha8Rng) -> String {
    loop {
        let name = w.new_pod_name(rng);
        if store.get(Resource::Pods, &w.namespace, &name).is_none() {
            return name;
        }
    }
}

/// The life stage a pod is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Not scheduled yet.
    Pending,
    /// Bound to a node by the scheduler; the kubelet has written nothing yet.
    Bound,
    /// Scheduled, containers being created.
    ContainerCreating,
    /// Running; ready or not.
    Running {
        /// Readiness probes pass.
        ready: bool,
    },
    /// Container keeps crashing.
    CrashLoopBackOff,
    /// Scheduled, the first container's image cannot be pulled (first failure).
    ErrImagePull,
    /// Scheduled, the kubelet backs off pulling the first container's image.
    ImagePullBackOff,
    /// Scheduled, the first container's secret is missing.
    CreateContainerConfigError,
    /// Evicted by the kubelet (phase Failed, reason Evicted).
    Evicted,
    /// Finished successfully (jobs).
    Completed,
    /// Finished with an error.
    Failed,
}

/// Node names and roles, workloads: what the churn generator works on.
#[derive(Debug, Clone, Default)]
pub struct ClusterModel {
    /// Node names, control plane first.
    pub nodes: Vec<String>,
    /// How many of `nodes` are control-plane nodes.
    pub control_plane: usize,
    /// Every workload.
    pub workloads: Vec<Workload>,
    /// Names handed out for joining nodes.
    pub next_node: usize,
    /// Pods generated in trouble (unschedulable, crash-looping), a bounded few, whose
    /// events the simulator records at start.
    pub troubled: Vec<(String, String)>,
}

/// How many generated troubled pods get their events recorded at start.
pub const TROUBLED_AT_START: usize = 100;

/// `length` characters from the apimachinery random-name alphabet.
pub fn suffix(rng: &mut ChaCha8Rng, length: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..length)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A time `secs` seconds ago as the API writes it.
pub fn ago(secs: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A namespace object.
pub fn namespace_object(name: &str, uid: String) -> Value {
    json!({
        "kind": "Namespace", "apiVersion": "v1",
        "metadata": {
            "name": name, "uid": uid, "creationTimestamp": ago(86_400 * 30),
            "labels": {"kubernetes.io/metadata.name": name},
            "managedFields": [{"manager": "kube-apiserver", "operation": "Update", "apiVersion": "v1", "time": ago(86_400 * 30),
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}}}]
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}
    })
}

/// A node object; `index` picks its addresses.
pub fn node_object(
    name: &str,
    uid: String,
    index: usize,
    control_plane: bool,
    rng: &mut ChaCha8Rng,
) -> Value {
    let zone = ZONES[index % ZONES.len()];
    let (cpu, mem_gi) = if control_plane {
        (4, 16)
    } else {
        *[(8, 32), (16, 64), (4, 16)].choose(rng).unwrap_or(&(8, 32))
    };
    let ip = format!("10.0.{}.{}", (index / 250) % 256, index % 250 + 2);
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": format!("m6i.{}xlarge", cpu / 4),
        "topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": zone,
    });
    let mut taints = json!([]);
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
        taints = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
    } else {
        labels["node-role.kubernetes.io/worker"] = json!("");
    }
    let created = ago(86_400 * 20 + rng.random_range(0..86_400));
    let heartbeat = now_rfc3339();
    let cond = |t: &str, s: &str, reason: &str, msg: &str| json!({"type": t, "status": s, "lastHeartbeatTime": heartbeat, "lastTransitionTime": created, "reason": reason, "message": msg});
    let machine: String = (0..32)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    json!({
        "kind": "Node", "apiVersion": "v1",
        "metadata": {
            "name": name, "uid": uid, "creationTimestamp": created, "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock"
            },
            "managedFields": [
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": created, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}},
                   "f:labels": {".": {}, "f:beta.kubernetes.io/arch": {}, "f:beta.kubernetes.io/os": {}, "f:kubernetes.io/arch": {}, "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": heartbeat, "fieldsType": "FieldsV1", "subresource": "status",
                 "fieldsV1": {"f:status": {"f:allocatable": {"f:cpu": {}, "f:memory": {}}, "f:conditions": {"k:{\"type\":\"Ready\"}": {"f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}}}, "f:nodeInfo": {"f:bootID": {}}}}}
            ]
        },
        "spec": {
            "podCIDR": format!("10.244.{}.0/24", index % 256), "podCIDRs": [format!("10.244.{}.0/24", index % 256)],
            "providerID": format!("aws:///{zone}/i-{}", &machine[..17]),
            "taints": taints
        },
        "status": {
            "capacity": {"cpu": cpu.to_string(), "memory": format!("{}Ki", mem_gi * 1024 * 1024), "pods": "110", "ephemeral-storage": "104845292Ki", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": format!("{}m", cpu * 1000 - 100), "memory": format!("{}Ki", mem_gi * 1024 * 1024 - 512 * 1024), "pods": "110", "ephemeral-storage": "96625420948", "hugepages-2Mi": "0"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            ],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine, "systemUUID": machine.to_uppercase(), "bootID": machine.chars().rev().collect::<String>(),
                "kernelVersion": "6.8.0-1021-aws", "osImage": "Ubuntu 24.04.1 LTS", "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": "v1.33.4", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"
            }
        }
    })
}

/// Sets (or adds) a condition of a pod or node.
pub fn set_condition(obj: &mut Value, kind: &str, status: &str, reason: Option<&str>) {
    let now = now_rfc3339();
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let Some(conds) = obj["status"]["conditions"].as_array_mut() else {
        return;
    };
    let mut c =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = r.into();
    }
    match conds.iter_mut().find(|c| c["type"] == kind) {
        Some(existing) => {
            if existing["status"] != status {
                *existing = c;
            } else if let Some(r) = reason {
                existing["reason"] = r.into();
            }
        }
        None => conds.push(c),
    }
}

/// Builds a pod of `workload` in `state` on `node`.
pub fn pod_object(
    w: &Workload,
    name: &str,
    uid: String,
    node: Option<&str>,
    state: PodState,
    age_secs: i64,
    rng: &mut ChaCha8Rng,
) -> Value {
    let created = ago(age_secs);
    let mut labels = json!({"app": w.name, "app.kubernetes.io/name": w.name, "app.kubernetes.io/part-of": w.namespace});
    match w.kind {
        WorkloadKind::Deployment => labels["pod-template-hash"] = w.hash.clone().into(),
        WorkloadKind::StatefulSet => {
            labels["controller-revision-hash"] = format!("{}-{}", w.name, w.hash).into();
            labels["statefulset.kubernetes.io/pod-name"] = name.into();
        }
        WorkloadKind::DaemonSet => {
            labels["controller-revision-hash"] = w.hash.clone().into();
            labels["pod-template-generation"] = "1".into();
        }
        WorkloadKind::Job => {
            labels["batch.kubernetes.io/job-name"] = w.name.clone().into();
            labels["job-name"] = w.name.clone().into();
            labels["batch.kubernetes.io/controller-uid"] = w.owner_uid.clone().into();
        }
    }
    let token_volume = format!("kube-api-access-{}", suffix(rng, 5));
    let containers: Vec<Value> = w
        .images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let cname = if i == 0 { w.name.clone() } else { format!("sidecar-{i}") };
            json!({
                "name": cname, "image": image, "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "http", "containerPort": 8080 + i, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {
                    "requests": {"cpu": format!("{}m", w.cpu_m), "memory": format!("{}Mi", w.mem_mi)},
                    "limits": {"memory": format!("{}Mi", w.mem_mi * 2)}
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080 + i, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080 + i, "scheme": "HTTP"}, "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "volumeMounts": [{"name": token_volume, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
            })
        })
        .collect();
    let restart_policy = if w.kind == WorkloadKind::Job {
        "OnFailure"
    } else {
        "Always"
    };
    let mut pod = json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "generateName": w.generate_name(), "namespace": w.namespace, "uid": uid, "creationTimestamp": created, "generation": 1,
            "labels": labels,
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "kubectl.kubernetes.io/default-container": w.name},
            "ownerReferences": [{"apiVersion": if w.kind == WorkloadKind::Job { "batch/v1" } else { "apps/v1" }, "kind": w.kind.owner_kind(),
                "name": w.owner_name(), "uid": w.owner_uid, "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": created, "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}}, "f:ownerReferences": {".": {}, format!("k:{{\"uid\":\"{}\"}}", w.owner_uid): {}}},
                   "f:spec": {"f:containers": {format!("k:{{\"name\":\"{}\"}}", w.name): {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {"f:limits": {"f:memory": {}}, "f:requests": {"f:cpu": {}, "f:memory": {}}}}},
                     "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": created, "fieldsType": "FieldsV1", "subresource": "status",
                 "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                   "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                   "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
                   "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.0.0\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}}}
            ]
        },
        "spec": {
            "volumes": [{"name": token_volume, "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ], "defaultMode": 420}}],
            "containers": containers,
            "restartPolicy": restart_policy, "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "securityContext": {},
            "schedulerName": "default-scheduler", "enableServiceLinks": true, "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    });
    if w.kind == WorkloadKind::DaemonSet
        && let Some(t) = pod["spec"]["tolerations"].as_array_mut()
    {
        t.push(json!({"operator": "Exists"}));
    }
    if let Some(node) = node {
        pod["spec"]["nodeName"] = node.into();
        pod["status"]["hostIP"] = node_ip_hint(node).into();
        pod["status"]["podIP"] = format!(
            "10.244.{}.{}",
            rng.random_range(0..256),
            rng.random_range(2..254)
        )
        .into();
        pod["status"]["startTime"] = created.clone().into();
    }
    set_pod_state(&mut pod, state);
    pod
}

fn node_ip_hint(node: &str) -> String {
    let n: u64 = node
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    format!("10.0.{}.{}", n % 250, (n / 250) % 250 + 2)
}

/// Why a crashing container last ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The process exited with status 1.
    Error,
    /// The kernel killed it at its memory limit (exit code 137).
    OomKilled,
}

impl Termination {
    /// The `reason` and `exitCode` the kubelet reports.
    pub fn reason_and_code(self) -> (&'static str, i64) {
        match self {
            Termination::Error => ("Error", 1),
            Termination::OomKilled => ("OOMKilled", 137),
        }
    }

    /// Parses `Error` or `OOMKilled`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Error" => Some(Termination::Error),
            "OOMKilled" => Some(Termination::OomKilled),
            _ => None,
        }
    }
}

/// The kubelet's crash-loop back-off after `restarts` restarts (10 s doubling, at most
/// 5 min), written as Go prints a `time.Duration`.
pub fn back_off(restarts: i64) -> String {
    let secs = (10i64 << restarts.clamp(1, 10).saturating_sub(1)).min(300);
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

/// `format.Pod`: how the kubelet names a pod in messages, `name_namespace(uid)`.
pub fn pod_ref(pod: &Value) -> String {
    let meta = &pod["metadata"];
    format!(
        "{}_{}({})",
        meta["name"].as_str().unwrap_or_default(),
        meta["namespace"].as_str().unwrap_or_default(),
        meta["uid"].as_str().unwrap_or_default()
    )
}

/// Which way a pod's crashes end: decided by its uid, so a pod crashes the same way
/// every time (about one in four is OOMKilled).
fn termination_of(pod: &Value) -> Termination {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    if uid.bytes().next().is_some_and(|b| b < b'4') {
        Termination::OomKilled
    } else {
        Termination::Error
    }
}

/// The registry reference of an image, as containerd resolves it.
fn image_reference(image: &str) -> String {
    match image.split_once('/') {
        None => format!("docker.io/library/{image}"),
        Some((host, _)) if host.contains('.') || host.contains(':') => image.to_string(),
        Some(_) => format!("docker.io/{image}"),
    }
}

/// The message of a failed image pull (containerd's NotFound).
pub fn pull_error(image: &str) -> String {
    let r = image_reference(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{r}\": failed to resolve reference \"{r}\": {r}: not found"
    )
}

/// The secret a pod in CreateContainerConfigError misses.
pub fn missing_secret(pod: &Value) -> String {
    let app = pod["metadata"]["labels"]["app"].as_str().unwrap_or("app");
    format!("{app}-credentials")
}

/// The eviction message of the kubelet's eviction manager for memory.
pub fn eviction_message(container: &str, request_mi: i64) -> String {
    format!(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. Container {container} was using {}Mi, request is {request_mi}Mi, has larger consumption of memory. ",
        request_mi * 6 + 300
    )
}

/// The default message of a pod no node fits, for a cluster with `nodes` nodes of which
/// `control_plane` are tainted control-plane nodes (the scheduler's wording: reasons
/// counted and sorted, then the preemption verdict).
pub fn unschedulable_message(nodes: usize, control_plane: usize) -> String {
    let workers = nodes.saturating_sub(control_plane);
    let mut reasons = Vec::new();
    let mut preemption = Vec::new();
    if workers > 0 {
        reasons.push(format!("{workers} Insufficient cpu"));
        preemption.push(format!(
            "{workers} No preemption victims found for incoming pod"
        ));
    }
    if control_plane > 0 {
        reasons.push(format!(
            "{control_plane} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}"
        ));
        preemption.push(format!(
            "{control_plane} Preemption is not helpful for scheduling"
        ));
    }
    preemption.sort();
    format!(
        "0/{nodes} nodes are available: {}. preemption: 0/{nodes} nodes are available: {}.",
        reasons.join(", "),
        preemption.join(", ")
    )
}

/// Rewrites a pod's status for `state`, keeping restart counts (CrashLoopBackOff adds one).
pub fn set_pod_state(pod: &mut Value, state: PodState) {
    if state == PodState::Bound {
        // The scheduler's binding: a node and PodScheduled, nothing of the kubelet's.
        if let Some(m) = pod["status"].as_object_mut() {
            m.remove("containerStatuses");
            m.remove("conditions");
        }
        pod["status"]["phase"] = "Pending".into();
        set_condition(pod, "PodScheduled", "True", None);
        return;
    }
    let now = now_rfc3339();
    let scheduled = pod["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let names: Vec<(String, String)> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("app").to_string(),
                        c["image"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let old_restarts = |name: &str| -> i64 {
        pod["status"]["containerStatuses"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .and_then(|c| c["restartCount"].as_i64())
            .unwrap_or(0)
    };
    let pulling = matches!(
        state,
        PodState::ErrImagePull | PodState::ImagePullBackOff | PodState::CreateContainerConfigError
    );
    let (phase, ready) = match state {
        PodState::Pending | PodState::ContainerCreating => ("Pending", false),
        _ if pulling => ("Pending", false),
        PodState::Running { ready } => ("Running", ready),
        PodState::CrashLoopBackOff => ("Running", false),
        PodState::Completed => ("Succeeded", false),
        PodState::Failed | PodState::Evicted => ("Failed", false),
        _ => ("Pending", false),
    };
    // Only the states that print them pay for these strings (generation builds 150k pods).
    let termination = termination_of(pod);
    let pod_name = match state {
        PodState::CrashLoopBackOff => pod_ref(pod),
        _ => String::new(),
    };
    let secret = match state {
        PodState::CreateContainerConfigError => missing_secret(pod),
        _ => String::new(),
    };
    let statuses: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, (name, image))| {
            let mut restarts = old_restarts(name);
            let crashing = state == PodState::CrashLoopBackOff && i == 0;
            if crashing {
                restarts += 1;
            }
            let st = match state {
                PodState::Pending | PodState::ContainerCreating => json!({"waiting": {"reason": "ContainerCreating"}}),
                PodState::CrashLoopBackOff if crashing => json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off {} restarting failed container={name} pod={pod_name}", back_off(restarts))}}),
                PodState::ErrImagePull if i == 0 => json!({"waiting": {"reason": "ErrImagePull", "message": pull_error(image)}}),
                PodState::ImagePullBackOff if i == 0 => json!({"waiting": {"reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\": ErrImagePull: {}", pull_error(image))}}),
                PodState::CreateContainerConfigError if i == 0 => json!({"waiting": {"reason": "CreateContainerConfigError",
                    "message": format!("secret \"{secret}\" not found")}}),
                _ if pulling => json!({"waiting": {"reason": "ContainerCreating"}}),
                PodState::Completed => json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}),
                PodState::Failed => json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}}),
                PodState::Evicted => json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated", "startedAt": null, "finishedAt": null}}),
                _ => json!({"running": {"startedAt": now}}),
            };
            let mut s = json!({
                "name": name, "state": st, "ready": ready, "restartCount": restarts, "image": image,
                "imageID": format!("{image}@sha256:{:064x}", name.len() * 7919 + image.len()),
                "started": matches!(state, PodState::Running { .. })
            });
            if pulling && i == 0 {
                s["imageID"] = "".into();
            }
            if matches!(state, PodState::Running { .. } | PodState::CrashLoopBackOff | PodState::Completed | PodState::Failed) {
                s["containerID"] = format!("containerd://{:064x}", restarts as usize * 104_729 + name.len()).into();
            }
            if crashing {
                let (reason, code) = termination.reason_and_code();
                s["lastState"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": ago(25), "finishedAt": now,
                    "containerID": format!("containerd://{:064x}", (restarts as usize).saturating_sub(1) * 104_729 + name.len())}});
            }
            s
        })
        .collect();
    let status = &mut pod["status"];
    status["phase"] = phase.into();
    if let Some(m) = status.as_object_mut() {
        m.remove("reason");
        m.remove("message");
    }
    if state == PodState::Pending && !scheduled {
        // A pod that stays unschedulable keeps the scheduler's message.
        let kept = status["conditions"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
            })
            .cloned();
        let condition = kept.unwrap_or_else(|| json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
            "reason": "Unschedulable", "message": unschedulable_message(3, 0)}));
        status["conditions"] = json!([condition]);
        if let Some(m) = status.as_object_mut() {
            m.remove("containerStatuses");
        }
        return;
    }
    status["containerStatuses"] = Value::Array(statuses);
    if state == PodState::Evicted {
        let container = names.first().map(|(n, _)| n.as_str()).unwrap_or("app");
        let request = pod["spec"]["containers"][0]["resources"]["requests"]["memory"]
            .as_str()
            .and_then(|m| m.strip_suffix("Mi"))
            .and_then(|m| m.parse().ok())
            .unwrap_or(128);
        let message = eviction_message(container, request);
        let status = &mut pod["status"];
        status["reason"] = "Evicted".into();
        status["message"] = message.clone().into();
        set_condition(
            pod,
            "DisruptionTarget",
            "True",
            Some("TerminationByKubelet"),
        );
        if let Some(c) = pod["status"]["conditions"]
            .as_array_mut()
            .and_then(|cs| cs.iter_mut().find(|c| c["type"] == "DisruptionTarget"))
        {
            c["message"] = message.into();
        }
    }
    let t = |b: bool| if b { "True" } else { "False" };
    set_condition(
        pod,
        "PodReadyToStartContainers",
        t(state != PodState::ContainerCreating),
        None,
    );
    set_condition(pod, "Initialized", "True", None);
    let reason = (!ready && (phase == "Running" || pulling)).then_some("ContainersNotReady");
    set_condition(
        pod,
        "Ready",
        t(ready),
        reason.or((phase == "Succeeded").then_some("PodCompleted")),
    );
    set_condition(
        pod,
        "ContainersReady",
        t(ready),
        reason.or((phase == "Succeeded").then_some("PodCompleted")),
    );
    set_condition(pod, "PodScheduled", "True", None);
}

/// Makes a pod's next crash end as `how` (its lastState), after [`set_pod_state`].
pub fn set_last_termination(pod: &mut Value, how: Termination) {
    let (reason, code) = how.reason_and_code();
    if let Some(last) = pod["status"]["containerStatuses"][0]["lastState"]
        .get_mut("terminated")
        .filter(|t| t.is_object())
    {
        last["reason"] = reason.into();
        last["exitCode"] = code.into();
    }
}

/// A pod as its controller creates it: phase Pending and nothing else in its status (the
/// scheduler adds PodScheduled, the kubelet the rest).
pub fn as_just_created(pod: &mut Value) {
    let qos = pod["status"]["qosClass"].take();
    pod["status"] = json!({"phase": "Pending"});
    if !qos.is_null() {
        pod["status"]["qosClass"] = qos;
    }
}

/// Sets an unschedulable pod's PodScheduled condition to the scheduler's `message`.
pub fn set_unschedulable(pod: &mut Value, message: &str) {
    if let Some(m) = pod["spec"].as_object_mut() {
        m.remove("nodeName");
    }
    if let Some(m) = pod["status"].as_object_mut() {
        for k in [
            "hostIP",
            "hostIPs",
            "podIP",
            "podIPs",
            "startTime",
            "conditions",
        ] {
            m.remove(k);
        }
    }
    pod["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
        "lastTransitionTime": now_rfc3339(), "reason": "Unschedulable", "message": message}]);
    set_pod_state(pod, PodState::Pending);
}

/// Picks a pod's initial state for a generated cluster.
fn initial_state(kind: WorkloadKind, rng: &mut ChaCha8Rng) -> PodState {
    if kind == WorkloadKind::Job {
        return if rng.random_bool(0.9) {
            PodState::Completed
        } else {
            PodState::Failed
        };
    }
    match rng.random_range(0..100) {
        0..=2 => PodState::CrashLoopBackOff,
        3 => PodState::ContainerCreating,
        4 => PodState::Running { ready: false },
        _ => PodState::Running { ready: true },
    }
}

/// Builds the cluster into `store`: exactly `nodes` nodes and `pods` pods.
pub fn generate(store: &Store, nodes: usize, pods: usize, rng: &mut ChaCha8Rng) -> ClusterModel {
    let mut model = ClusterModel::default();
    for ns in SYSTEM_NAMESPACES.iter().chain(APP_NAMESPACES.iter()) {
        store.load(Resource::Namespaces, namespace_object(ns, uid_from(rng)));
    }
    model.control_plane = if nodes >= 4 {
        (nodes / 20).clamp(1, 3)
    } else {
        0
    };
    for i in 0..nodes {
        let cp = i < model.control_plane;
        let name = if cp {
            format!("control-plane-{i}")
        } else {
            format!("worker-{}", i - model.control_plane)
        };
        store.load(
            Resource::Nodes,
            node_object(&name, uid_from(rng), i, cp, rng),
        );
        model.nodes.push(name);
    }
    model.next_node = nodes.saturating_sub(model.control_plane);
    let workers: Vec<String> = model.nodes[model.control_plane..].to_vec();

    // Daemon sets first: one pod per node, counted in the total.
    let mut daemonsets = Vec::new();
    if nodes > 0 {
        if pods >= 4 * nodes {
            daemonsets.push((
                "kube-system",
                "kube-proxy",
                "registry.k8s.io/kube-proxy:v1.33.4",
            ));
        }
        if pods >= 8 * nodes {
            daemonsets.push((
                "monitoring",
                "node-exporter",
                "quay.io/prometheus/node-exporter:v1.8.2",
            ));
        }
    }
    let new_workload = |kind, ns: &str, name: String, rng: &mut ChaCha8Rng| Workload {
        kind,
        namespace: ns.to_string(),
        name,
        hash: format!("{:x}", rng.random_range(0x1000_0000u32..0xffff_ffff))
            .chars()
            .take(10)
            .collect(),
        owner_uid: uid_from(rng),
        images: (0..if rng.random_bool(0.2) { 2 } else { 1 })
            .map(|_| IMAGES.choose(rng).unwrap_or(&"nginx").to_string())
            .collect(),
        // Sized like typical service pods, so ~20 pods fit a 4-core worker's allocatable
        // as a scheduler would have placed them (the sim does not model node capacity).
        cpu_m: *[25u32, 50, 100, 100, 200, 250].choose(rng).unwrap_or(&100),
        mem_mi: *[32u32, 64, 128, 128, 256, 512].choose(rng).unwrap_or(&128),
        pods: Vec::new(),
        next: 0,
    };
    for (ns, name, image) in daemonsets {
        let mut w = new_workload(WorkloadKind::DaemonSet, ns, name.to_string(), rng);
        w.images = vec![image.to_string()];
        for node in &model.nodes {
            let pod_name = fresh_pod_name(store, &mut w, rng);
            let state = initial_state(w.kind, rng);
            let age = rng.random_range(3_600..86_400 * 20);
            store.load(
                Resource::Pods,
                pod_object(&w, &pod_name, uid_from(rng), Some(node), state, age, rng),
            );
            w.pods.push(pod_name);
        }
        model.workloads.push(w);
    }
    let placed: usize = model.workloads.iter().map(|w| w.pods.len()).sum();
    let rest = pods.saturating_sub(placed);
    let pending = if rest >= 50 { rest / 50 } else { 0 };
    let jobs = rest * 5 / 100;
    let stateful = rest * 10 / 100;
    let mut budget = [
        (WorkloadKind::Job, jobs),
        (WorkloadKind::StatefulSet, stateful),
        (WorkloadKind::Deployment, rest - jobs - stateful),
    ];
    let mut pending_left = pending;
    let mut serial = 0usize;
    for (kind, total) in budget.iter_mut() {
        while *total > 0 {
            serial += 1;
            let ns = APP_NAMESPACES[serial % APP_NAMESPACES.len()];
            let base = APP_NAMES[(serial / APP_NAMESPACES.len()) % APP_NAMES.len()];
            let round = serial / (APP_NAMESPACES.len() * APP_NAMES.len());
            let name = match (*kind, round) {
                (WorkloadKind::Job, _) => format!("{base}-job-{}", 28_900_000 + serial),
                (WorkloadKind::StatefulSet, 0) => format!("{base}-db"),
                (WorkloadKind::StatefulSet, r) => format!("{base}-db-{r}"),
                (_, 0) => base.to_string(),
                (_, r) => format!("{base}-{r}"),
            };
            let size = match kind {
                WorkloadKind::Job => 1,
                WorkloadKind::StatefulSet => rng.random_range(1..=5),
                _ => rng.random_range(2..=12),
            }
            .min(*total);
            let mut w = new_workload(*kind, ns, name, rng);
            for _ in 0..size {
                let pod_name = fresh_pod_name(store, &mut w, rng);
                let unscheduled =
                    *kind == WorkloadKind::Deployment && pending_left > 0 && rng.random_bool(0.3);
                let (node, state) = if unscheduled || workers.is_empty() && model.nodes.is_empty() {
                    pending_left = pending_left.saturating_sub(1);
                    (None, PodState::Pending)
                } else {
                    let pool = if workers.is_empty() {
                        &model.nodes
                    } else {
                        &workers
                    };
                    (pool.choose(rng).cloned(), initial_state(*kind, rng))
                };
                let age = rng.random_range(60..86_400 * 10);
                let mut pod = pod_object(
                    &w,
                    &pod_name,
                    uid_from(rng),
                    node.as_deref(),
                    state,
                    age,
                    rng,
                );
                if node.is_none() {
                    let message = unschedulable_message(model.nodes.len(), model.control_plane);
                    set_unschedulable(&mut pod, &message);
                }
                store.load(Resource::Pods, pod);
                if matches!(state, PodState::Pending | PodState::CrashLoopBackOff)
                    && model.troubled.len() < TROUBLED_AT_START
                {
                    model.troubled.push((w.namespace.clone(), pod_name.clone()));
                }
                w.pods.push(pod_name);
            }
            *total -= size;
            model.workloads.push(w);
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn workload() -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            namespace: "web".into(),
            name: "api".into(),
            hash: "5d8f9c7b6".into(),
            owner_uid: "owner".into(),
            images: vec!["nginx:1.27.3".into()],
            cpu_m: 100,
            mem_mi: 128,
            pods: Vec::new(),
            next: 0,
        }
    }

    fn pod(state: PodState) -> Value {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        pod_object(
            &workload(),
            "api-x",
            "0abc".into(),
            Some("worker-1"),
            state,
            60,
            &mut rng,
        )
    }

    #[test]
    fn back_off_doubles_from_10_s_to_5_min_printed_like_go() {
        let printed: Vec<String> = (1..=7).map(back_off).collect();
        assert_eq!(
            printed,
            ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"]
        );
    }

    #[test]
    fn the_schedulers_message_counts_and_sorts_its_reasons() {
        assert_eq!(
            unschedulable_message(12, 3),
            "0/12 nodes are available: 9 Insufficient cpu, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/12 nodes are available: 3 Preemption is not helpful for scheduling, 9 No preemption victims found for incoming pod."
        );
        assert_eq!(
            unschedulable_message(3, 0),
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn image_references_resolve_like_containerd() {
        assert_eq!(
            image_reference("nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(
            image_reference("envoyproxy/envoy:v1"),
            "docker.io/envoyproxy/envoy:v1"
        );
        assert_eq!(image_reference("ghcr.io/acme/api:2"), "ghcr.io/acme/api:2");
    }

    #[test]
    fn a_crash_loop_shows_its_back_off_and_last_termination() {
        let mut p = pod(PodState::Running { ready: true });
        set_pod_state(&mut p, PodState::CrashLoopBackOff);
        set_pod_state(&mut p, PodState::CrashLoopBackOff);
        let c = &p["status"]["containerStatuses"][0];
        assert_eq!(c["restartCount"], 2);
        assert_eq!(
            c["state"]["waiting"]["message"],
            "back-off 20s restarting failed container=api pod=api-x_web(0abc)"
        );
        // The uid starts with '0': this pod's crashes are OOM kills.
        let last = &c["lastState"]["terminated"];
        assert_eq!(
            (last["reason"].as_str(), last["exitCode"].as_i64()),
            (Some("OOMKilled"), Some(137))
        );
        set_last_termination(&mut p, Termination::Error);
        let last = &p["status"]["containerStatuses"][0]["lastState"]["terminated"];
        assert_eq!(
            (last["reason"].as_str(), last["exitCode"].as_i64()),
            (Some("Error"), Some(1))
        );
        assert!(last["startedAt"].is_string() && last["finishedAt"].is_string());
    }

    #[test]
    fn pull_config_and_eviction_states_carry_their_messages() {
        let mut p = pod(PodState::Running { ready: true });
        set_pod_state(&mut p, PodState::ImagePullBackOff);
        assert_eq!(p["status"]["phase"], "Pending");
        let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
        assert_eq!(waiting["reason"], "ImagePullBackOff");
        assert!(waiting["message"].as_str().is_some_and(|m| m.starts_with(
            "Back-off pulling image \"nginx:1.27.3\": ErrImagePull: rpc error: code = NotFound"
        )));
        set_pod_state(&mut p, PodState::CreateContainerConfigError);
        let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
        assert_eq!(waiting["message"], "secret \"api-credentials\" not found");
        set_pod_state(&mut p, PodState::Evicted);
        assert_eq!(
            (
                p["status"]["phase"].as_str(),
                p["status"]["reason"].as_str()
            ),
            (Some("Failed"), Some("Evicted"))
        );
        assert!(
            p["status"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("The node was low on resource: memory."))
        );
        let disruption = p["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionTarget"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(disruption["reason"], "TerminationByKubelet");
        // Healthy again: no reason or message left over.
        set_pod_state(&mut p, PodState::Running { ready: true });
        assert!(p["status"].get("reason").is_none() && p["status"].get("message").is_none());
    }

    #[test]
    fn an_unschedulable_pod_loses_its_node_and_keeps_the_message() {
        let mut p = pod(PodState::Running { ready: true });
        set_unschedulable(&mut p, "0/1 nodes are available: 1 Insufficient cpu.");
        assert!(p["spec"].get("nodeName").is_none() && p["status"].get("podIP").is_none());
        assert_eq!(p["status"]["phase"], "Pending");
        let c = &p["status"]["conditions"][0];
        assert_eq!(
            (
                c["type"].as_str(),
                c["status"].as_str(),
                c["reason"].as_str()
            ),
            (Some("PodScheduled"), Some("False"), Some("Unschedulable"))
        );
        set_pod_state(&mut p, PodState::Pending);
        assert_eq!(
            p["status"]["conditions"][0]["message"],
            "0/1 nodes are available: 1 Insufficient cpu."
        );
    }
}
