//! What identifies one cluster on the wall beyond its data: its name and the links
//! its pods and nodes open.

use std::time::Duration;

use super::link::{LinkTemplate, LinkValues};

/// The name a cluster gets when none is given.
pub const DEFAULT_NAME: &str = "default";

/// One cluster's name and click-through links.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// The name (`{{cluster}}` in link templates).
    pub name: String,
    /// Where a click on a pod goes (`--link-template`).
    pub pod_link: Option<LinkTemplate>,
    /// Where a click on a node's name goes (`--node-link-template`).
    pub node_link: Option<LinkTemplate>,
    /// Set by the server when it shows more than one cluster (the page then offers the others).
    pub several: bool,
}

impl Default for ClusterInfo {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            pod_link: None,
            node_link: None,
            several: false,
        }
    }
}

impl ClusterInfo {
    /// The link of a pod, when a pod template is set.
    pub fn pod_link(&self, namespace: &str, name: &str) -> Option<String> {
        self.pod_link.as_ref().map(|t| {
            t.expand(&LinkValues {
                cluster: &self.name,
                namespace,
                name,
            })
        })
    }

    /// The link of a node, when a node template is set.
    pub fn node_link(&self, name: &str) -> Option<String> {
        self.node_link.as_ref().map(|t| {
            t.expand(&LinkValues {
                cluster: &self.name,
                namespace: "",
                name,
            })
        })
    }

    /// The `data-*` attributes of `#wall-root` the overlay script reads.
    pub fn page_attributes(&self, usage_interval: Duration) -> Vec<(&'static str, String)> {
        let mut attrs = vec![("cluster", self.name.clone())];
        if !usage_interval.is_zero() {
            attrs.push(("usage-interval-ms", usage_interval.as_millis().to_string()));
        }
        if self.pod_link.is_some() {
            attrs.push(("pod-links", String::new()));
        }
        if self.node_link.is_some() {
            attrs.push(("node-links", String::new()));
        }
        if self.several {
            attrs.push(("clusters", String::new()));
        }
        attrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_cluster() {
        let info = ClusterInfo {
            name: "eu-1".into(),
            pod_link: LinkTemplate::parse("https://l/{{cluster}}/{{namespace}}/{{name}}").ok(),
            ..ClusterInfo::default()
        };
        assert_eq!(
            info.pod_link("web", "a b").as_deref(),
            Some("https://l/eu-1/web/a%20b")
        );
        assert_eq!(info.node_link("n"), None);
    }
}
