//! A checkpoint: the whole state at one change, as records with zero deltas and every
//! field present. Rebuilding a moment starts at the nearest checkpoint before it, so no
//! rebuild replays more than one segment's records.

use super::super::change::{ApiStatus, EventsState};
use super::super::view::{NodeView, PodView};
use super::super::warnings::WarningView;
use super::record::{self, Dict};

/// The whole state at one change, as the cache lends it to a checkpoint (what a checkpoint holds).
pub struct Contents<'a, N, P, W> {
    /// Every node.
    pub nodes: N,
    /// Every pod.
    pub pods: P,
    /// Every kept warning.
    pub warnings: W,
    /// The API server's health.
    pub status: &'a ApiStatus,
    /// The events watch's state.
    pub events: EventsState,
}

/// Encodes the state (nodes, pods, warnings, health) as a checkpoint.
pub fn encode<'a, N, P, W>(dict: &mut Dict, contents: Contents<'a, N, P, W>) -> Vec<u8>
where
    N: Iterator<Item = &'a NodeView>,
    P: Iterator<Item = &'a PodView>,
    W: Iterator<Item = &'a WarningView>,
{
    let Contents {
        nodes,
        pods,
        warnings,
        status,
        events,
    } = contents;
    let mut out = Vec::new();
    record::put_header(&mut out, record::STATUS, 0, 0);
    record::put_status(&mut out, dict, status);
    record::put_header(&mut out, record::EVENTS, 0, 0);
    record::put_events(&mut out, events);
    for node in nodes {
        record::put_header(&mut out, record::NODE_UPSERT, 0, 0);
        record::put_node(&mut out, dict, None, node);
    }
    for pod in pods {
        record::put_header(&mut out, record::POD_UPSERT, 0, 0);
        record::put_pod(&mut out, dict, None, pod);
    }
    for warning in warnings {
        record::put_header(&mut out, record::WARNING_UPSERT, 0, 0);
        record::put_warning(&mut out, dict, None, warning, false);
    }
    out.shrink_to_fit();
    out
}
