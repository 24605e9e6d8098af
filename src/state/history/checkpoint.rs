//! A checkpoint: the whole state at one change, as records with zero deltas and every
//! field present. Rebuilding a moment starts at the nearest checkpoint before it, so no
//! rebuild replays more than one segment's records.

use super::super::change::{ApiStatus, EventsState};
use super::super::view::{NodeView, PodView};
use super::record::{self, Dict};

/// Encodes the state (nodes, pods, health) as a checkpoint.
pub fn encode<'a>(
    dict: &mut Dict,
    nodes: impl Iterator<Item = &'a NodeView>,
    pods: impl Iterator<Item = &'a PodView>,
    status: &ApiStatus,
    events: EventsState,
) -> Vec<u8> {
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
    out.shrink_to_fit();
    out
}
