//! Slim wire types for Pods and Nodes: only the fields the wall shows are decoded.
//!
//! A real Pod is several KB of JSON (managedFields, annotations, full specs, env).
//! These types let serde skip everything else while the watcher streams, so the
//! informer never materialises whole `Pod` objects. They implement `kube::Resource`
//! (core/v1 `pods` and `nodes`) so `kube::Api` and `kube_runtime::watcher` accept them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::{Deserialize, Deserializer};

/// Metadata fields the wall needs; everything else in `metadata` is skipped by serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<SlimOwner>>,
    deletion_timestamp: Option<Time>,
    creation_timestamp: Option<Time>,
}

/// The owner fields the wall shows ("Kind/name" of the controller); `apiVersion` and
/// `uid` are skipped, two allocations per owner on every watch event.
#[derive(Deserialize)]
struct SlimOwner {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    controller: Option<bool>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = SlimMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        labels: m.labels,
        owner_references: m.owner_references.map(|owners| {
            owners
                .into_iter()
                .map(|o| OwnerReference {
                    kind: o.kind,
                    name: o.name,
                    controller: o.controller,
                    ..OwnerReference::default()
                })
                .collect()
        }),
        deletion_timestamp: m.deletion_timestamp,
        creation_timestamp: m.creation_timestamp,
        ..ObjectMeta::default()
    })
}

/// A field's value, or its default when absent or `null`: a real API server omits empty
/// fields, but a `null` from any other writer must not fail the whole list.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Metadata reduced to name and namespace: for lists where nothing else is read (usage).
pub(crate) fn name_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    struct NameOnly {
        name: Option<String>,
        namespace: Option<String>,
    }
    let m = NameOnly::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        ..ObjectMeta::default()
    })
}

/// A Pod as the wall decodes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodFields {
    /// Slim metadata.
    #[serde(deserialize_with = "slim_meta", default)]
    pub metadata: ObjectMeta,
    /// The parts of the spec the wall shows.
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpecFields,
    /// The parts of the status the wall shows.
    #[serde(default, deserialize_with = "nullable")]
    pub status: PodStatusFields,
}

/// `spec` of a Pod: node binding and container requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpecFields {
    /// The node the pod is bound to.
    pub node_name: Option<String>,
    /// App containers (names and requests only).
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<ContainerFields>,
    /// Init containers (names, requests, restart policy).
    #[serde(default, deserialize_with = "nullable")]
    pub init_containers: Vec<ContainerFields>,
}

/// A container of the spec: requests only, never env or command.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerFields {
    /// `resources.requests`.
    #[serde(default, deserialize_with = "nullable")]
    pub resources: ResourcesFields,
    /// `Always` marks a sidecar init container.
    pub restart_policy: Option<String>,
}

/// `resources` of a container.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourcesFields {
    /// Requested quantities by resource name.
    #[serde(default, deserialize_with = "nullable")]
    pub requests: BTreeMap<String, String>,
}

/// `status` of a Pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatusFields {
    /// Pending, Running, Succeeded, Failed, Unknown.
    pub phase: Option<String>,
    /// e.g. Evicted, NodeLost.
    pub reason: Option<String>,
    /// Why, in words (the eviction's message).
    pub message: Option<String>,
    /// Conditions (type, status, and the reason and message of `PodScheduled`).
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<ConditionFields>,
    /// App container states.
    #[serde(default, deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatusFields>,
    /// Init container states.
    #[serde(default, deserialize_with = "nullable")]
    pub init_container_statuses: Vec<ContainerStatusFields>,
}

/// A condition: type, status, and why.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConditionFields {
    /// e.g. Ready, Initialized.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// "True", "False", "Unknown".
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    /// A one-word reason, e.g. Unschedulable.
    pub reason: Option<String>,
    /// The reason in words, e.g. the scheduler's "0/12 nodes are available: …".
    pub message: Option<String>,
}

/// One container's status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatusFields {
    /// Ready per the readiness probe.
    #[serde(default, deserialize_with = "nullable")]
    pub ready: bool,
    /// Restarts so far.
    #[serde(default, deserialize_with = "nullable")]
    pub restart_count: i64,
    /// Whether the container has started (sidecars).
    pub started: Option<bool>,
    /// Current state.
    #[serde(default, deserialize_with = "nullable")]
    pub state: ContainerStateFields,
    /// The state before the last restart: how the previous run ended.
    #[serde(default, deserialize_with = "nullable")]
    pub last_state: ContainerStateFields,
}

/// The state of a container: at most one of the three is set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerStateFields {
    /// Waiting, with a reason.
    pub waiting: Option<StateReason>,
    /// Running (its details are not needed).
    pub running: Option<serde::de::IgnoredAny>,
    /// Terminated, with a reason and exit code.
    pub terminated: Option<StateReason>,
}

/// Reason and exit details of a waiting or terminated container.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReason {
    /// e.g. CrashLoopBackOff, Completed, OOMKilled.
    #[serde(default, deserialize_with = "nullable")]
    pub reason: String,
    /// The reason in words, e.g. `secret "db" not found`.
    pub message: Option<String>,
    /// When a terminated container finished.
    pub finished_at: Option<Time>,
    /// Exit code of a terminated container.
    #[serde(default, deserialize_with = "nullable")]
    pub exit_code: i32,
    /// Signal of a terminated container.
    #[serde(default, deserialize_with = "nullable")]
    pub signal: i32,
}

/// A Node as the wall decodes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeFields {
    /// Slim metadata.
    #[serde(deserialize_with = "slim_meta", default)]
    pub metadata: ObjectMeta,
    /// `spec.unschedulable`.
    #[serde(default, deserialize_with = "nullable")]
    pub spec: NodeSpecFields,
    /// Conditions and allocatable resources.
    #[serde(default, deserialize_with = "nullable")]
    pub status: NodeStatusFields,
}

/// `spec` of a Node.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeSpecFields {
    /// Cordoned.
    #[serde(default, deserialize_with = "nullable")]
    pub unschedulable: bool,
    /// Taints: which pods the node repels.
    #[serde(default, deserialize_with = "nullable")]
    pub taints: Vec<TaintFields>,
}

/// A node taint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaintFields {
    /// e.g. `node.kubernetes.io/disk-pressure`.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// Optional value.
    pub value: Option<String>,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    #[serde(default, deserialize_with = "nullable")]
    pub effect: String,
}

/// `status` of a Node.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeStatusFields {
    /// Allocatable quantities by resource name.
    #[serde(default, deserialize_with = "nullable")]
    pub allocatable: BTreeMap<String, String>,
    /// Conditions (Ready, the pressures, NetworkUnavailable).
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<ConditionFields>,
}

/// `kube::Resource` for a slim type: its API group and version, kind, plural and scope,
/// with no dynamic type (the same for the metrics API's types in `usage`).
macro_rules! slim_resource {
    ($ty:ty, $group:literal, $version:literal, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($kind)
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($group)
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($version)
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
pub(crate) use slim_resource;

slim_resource!(
    PodFields,
    "",
    "v1",
    "Pod",
    "pods",
    k8s_openapi::NamespaceResourceScope
);
slim_resource!(
    NodeFields,
    "",
    "v1",
    "Node",
    "nodes",
    k8s_openapi::ClusterResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_the_needed_fields_of_a_real_pod() {
        let json = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "shop", "resourceVersion": "42",
                "labels": {"app": "web"},
                "annotations": {"big": "x".repeat(4096)},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-abc", "uid": "u1", "controller": true}],
                "creationTimestamp": "2026-01-01T00:00:00Z"
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
                "env": [{"name": "SECRET", "value": "hunter2"}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": true,
                "restartCount": 3, "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}}]}
        });
        let pod: PodFields = serde_json::from_value(json).expect("decodes");
        assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
        assert!(pod.metadata.annotations.is_none());
        assert!(pod.metadata.managed_fields.is_none());
        assert_eq!(
            pod.metadata.owner_references.as_ref().map(Vec::len),
            Some(1)
        );
        assert_eq!(pod.spec.containers[0].resources.requests["cpu"], "250m");
        assert!(pod.status.container_statuses[0].state.running.is_some());
        assert!(!format!("{pod:?}").contains("hunter2"));
    }

    #[test]
    fn null_fields_decode_as_empty() {
        let node: NodeFields = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "spec": {"taints": null, "unschedulable": null},
            "status": {"conditions": null, "allocatable": null}
        }))
        .expect("decodes");
        assert!(node.spec.taints.is_empty() && !node.spec.unschedulable);
        assert!(node.status.conditions.is_empty());
    }
}
