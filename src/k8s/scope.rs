//! What one list+watch covers (a kind, cluster-wide or in one namespace) and how it is
//! doing: the words the informer and the cache share about a watch.

use std::fmt;
use std::sync::Arc;

/// The kind of object a watch scope lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Pods.
    Pod,
    /// Nodes.
    Node,
    /// Events (`events.k8s.io/v1`, warnings only): optional, readiness never waits.
    Event,
}

impl Kind {
    /// Lower-case plural, for messages ("pods").
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::Node => "nodes",
            Self::Event => "events",
        }
    }

    /// Lower-case singular, the value of metric labels ("pod").
    pub fn label(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::Node => "node",
            Self::Event => "event",
        }
    }
}

/// One list+watch: a kind, cluster-wide or in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// What it lists.
    pub kind: Kind,
    /// The namespace, or all.
    pub namespace: Option<Arc<str>>,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} in namespace {ns}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

/// The health of one watch scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Events flow.
    Ok,
    /// Transient failure, retrying with backoff.
    Reconnecting(String),
    /// 403: the ServiceAccount lacks a permission.
    Forbidden(String),
    /// 404: the API server does not serve the resource (an optional API).
    Unavailable(String),
    /// Anything else.
    Error(String),
}

impl Health {
    /// How bad it is: the wall shows the worst scope's health.
    pub fn rank(&self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Reconnecting(_) => 1,
            Self::Error(_) | Self::Unavailable(_) => 2,
            Self::Forbidden(_) => 3,
        }
    }

    /// What is wrong, `None` when ok.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Ok => None,
            Self::Reconnecting(m) | Self::Forbidden(m) | Self::Unavailable(m) | Self::Error(m) => {
                Some(m)
            }
        }
    }
}
