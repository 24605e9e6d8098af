//! The resource types the simulator serves, and what the API says about each.

use serde_json::{Value, json};

/// A core/v1 resource type served by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// `pods` (namespaced).
    Pods,
    /// `nodes` (cluster-scoped).
    Nodes,
    /// `namespaces` (cluster-scoped).
    Namespaces,
    /// `events` (namespaced): stored once as core/v1, also served as `events.k8s.io/v1`.
    Events,
}

impl Resource {
    /// Every served resource, in a fixed order.
    pub const ALL: [Resource; 4] = [
        Resource::Pods,
        Resource::Nodes,
        Resource::Namespaces,
        Resource::Events,
    ];

    /// Index into per-resource arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The plural name used in paths, e.g. `pods`.
    pub fn plural(self) -> &'static str {
        match self {
            Resource::Pods => "pods",
            Resource::Nodes => "nodes",
            Resource::Namespaces => "namespaces",
            Resource::Events => "events",
        }
    }

    /// Parses a plural path segment.
    pub fn from_plural(s: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.plural() == s)
    }

    /// The object kind, e.g. `Pod`.
    pub fn kind(self) -> &'static str {
        match self {
            Resource::Pods => "Pod",
            Resource::Nodes => "Node",
            Resource::Namespaces => "Namespace",
            Resource::Events => "Event",
        }
    }

    /// The list kind, e.g. `PodList`.
    pub fn list_kind(self) -> &'static str {
        match self {
            Resource::Pods => "PodList",
            Resource::Nodes => "NodeList",
            Resource::Namespaces => "NamespaceList",
            Resource::Events => "EventList",
        }
    }

    /// Whether objects live inside a namespace.
    pub fn namespaced(self) -> bool {
        matches!(self, Resource::Pods | Resource::Events)
    }

    /// The field selector labels the real apiserver supports for this resource
    /// (`pkg/registry/core/*/strategy.go` `*ToSelectableFields`).
    pub fn selectable_fields(self) -> &'static [&'static str] {
        match self {
            Resource::Pods => &[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ],
            Resource::Nodes => &["metadata.name", "spec.unschedulable"],
            Resource::Namespaces => &["metadata.name", "status.phase"],
            // core/v1 names (`pkg/apis/core/v1/conversion.go`); events.k8s.io/v1 maps its
            // own onto these (`events::internal_label`).
            Resource::Events => &[
                "metadata.name",
                "metadata.namespace",
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ],
        }
    }

    /// The `APIResource` entries for discovery (`/api/v1`), this resource and its subresources.
    pub fn discovery(self) -> Vec<Value> {
        let namespaced = self.namespaced();
        let (short, singular) = match self {
            Resource::Pods => ("po", "pod"),
            Resource::Nodes => ("no", "node"),
            Resource::Namespaces => ("ns", "namespace"),
            Resource::Events => ("ev", "event"),
        };
        let mut out = vec![json!({
            "name": self.plural(),
            "singularName": singular,
            "namespaced": namespaced,
            "kind": self.kind(),
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": [short],
            "categories": if self == Resource::Pods { json!(["all"]) } else { json!([]) },
        })];
        if self == Resource::Events {
            // Events have no subresources.
            return out;
        }
        out.push(json!({
            "name": format!("{}/status", self.plural()),
            "singularName": "",
            "namespaced": namespaced,
            "kind": self.kind(),
            "verbs": ["get", "patch", "update"],
        }));
        if self == Resource::Pods {
            out.push(json!({
                "name": "pods/binding",
                "singularName": "",
                "namespaced": true,
                "kind": "Binding",
                "verbs": ["create"],
            }));
        }
        out
    }
}
