//! A screen's bounds: the namespaces and labels a scoped screen may see, whatever its URL
//! asks for. A [`super::Filter`] carries them and intersects them with its own conditions,
//! so a URL filter can only narrow what a screen sees, never widen it.

use crate::k8s::selector::{self, LabelSelector};

/// What a scoped screen may see of one cluster: pods of these namespaces (all when empty)
/// whose labels match this selector. Nodes stay visible (a box needs its header), but
/// hold only the bounded pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    namespaces: Vec<String>,
    labels: LabelSelector,
    /// The selector as written, for equality and for people.
    label_text: String,
}

impl Bounds {
    /// Checks the namespaces (DNS labels) and compiles the label selector; the error
    /// says which value is wrong.
    pub fn new(namespaces: &[String], labels: &str) -> Result<Self, String> {
        for ns in namespaces {
            selector::validate_dns_label(ns)
                .map_err(|reason| format!("namespace {ns:?}: {reason}"))?;
        }
        let parsed = LabelSelector::parse(labels).map_err(|e| format!("labels {labels:?}: {e}"))?;
        Ok(Self {
            namespaces: namespaces.to_vec(),
            labels: parsed,
            label_text: labels.to_owned(),
        })
    }

    /// Whether objects of namespace `ns` are inside (a cluster-scoped object, `""`, is
    /// inside only an unbounded namespace list).
    pub fn admits_namespace(&self, ns: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns)
    }

    /// Whether the bounds select pods by label (then objects other than pods and nodes,
    /// which have no pod labels, are outside).
    pub fn selects_by_label(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Whether a pod's labels match the bounds' selector.
    pub fn admits_labels<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.labels.matches(get)
    }

    /// The namespaces, empty for all.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// The label selector as written.
    pub fn label_text(&self) -> &str {
        &self.label_text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_check_their_values() {
        let b = Bounds::new(&["shop".into()], "team=a").expect("valid");
        assert!(b.admits_namespace("shop") && !b.admits_namespace("other"));
        assert!(
            !b.admits_namespace(""),
            "cluster-scoped objects are outside"
        );
        assert!(b.selects_by_label());
        let err = Bounds::new(&["Bad_NS".into()], "").expect_err("bad namespace");
        assert!(err.contains("Bad_NS"), "{err}");
        let err = Bounds::new(&[], "a in (x").expect_err("bad selector");
        assert!(err.starts_with("labels"), "{err}");
        assert!(Bounds::new(&[], "").expect("all").admits_namespace("x"));
    }
}
