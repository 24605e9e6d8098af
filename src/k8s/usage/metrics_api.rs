//! The wire types of `metrics.k8s.io/v1beta1` (PodMetrics, NodeMetrics): names and
//! usage only.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::report::Sample;

/// A container's, pod's or node's `usage` map.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceUsage {
    /// CPU, e.g. `"12345678n"`.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory, e.g. `"123456Ki"`.
    #[serde(default)]
    pub memory: Option<String>,
}

impl ResourceUsage {
    pub(super) fn sample(&self) -> Sample {
        let cores = self
            .cpu
            .as_deref()
            .and_then(crate::k8s::quantity::parse)
            .unwrap_or(0.0);
        let bytes = self
            .memory
            .as_deref()
            .and_then(crate::k8s::quantity::parse)
            .unwrap_or(0.0);
        Sample {
            cpu_millis: (cores * 1000.0).round().max(0.0) as u64,
            memory_bytes: bytes.max(0.0) as u64,
        }
    }
}

/// A container's usage in a PodMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    /// Container name.
    #[serde(default)]
    pub name: String,
    /// Its usage.
    #[serde(default)]
    pub usage: ResourceUsage,
}

/// `metrics.k8s.io/v1beta1` PodMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    /// Name and namespace (nothing else is decoded: a big cluster's list is 100k items).
    #[serde(deserialize_with = "crate::k8s::wire::name_meta")]
    pub metadata: ObjectMeta,
    /// Scrape time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Per-container usage.
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

/// `metrics.k8s.io/v1beta1` NodeMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeMetrics {
    /// Name (nothing else is decoded).
    #[serde(deserialize_with = "crate::k8s::wire::name_meta")]
    pub metadata: ObjectMeta,
    /// Scrape time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The node's usage.
    #[serde(default)]
    pub usage: ResourceUsage,
}

crate::k8s::wire::slim_resource!(
    PodMetrics,
    "metrics.k8s.io",
    "v1beta1",
    "PodMetrics",
    "pods",
    k8s_openapi::NamespaceResourceScope
);
crate::k8s::wire::slim_resource!(
    NodeMetrics,
    "metrics.k8s.io",
    "v1beta1",
    "NodeMetrics",
    "nodes",
    k8s_openapi::ClusterResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_become_millicores_and_bytes() {
        let u = ResourceUsage {
            cpu: Some("123456789n".into()),
            memory: Some("2048Ki".into()),
        };
        assert_eq!(
            u.sample(),
            Sample {
                cpu_millis: 123,
                memory_bytes: 2 * 1024 * 1024
            }
        );
    }
}
