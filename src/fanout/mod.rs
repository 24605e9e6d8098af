//! The fan-out: from a cache's changes to bytes on every client's wire, encoded once.
//!
//! - `frames`: a change's SSE frames (JSON for `/api/events`, HTML fragments for
//!   `/events`), encoded on first use and shared as `Bytes` by every client;
//! - `batch`: the changes gathered per tick, their frames concatenated (and compressed)
//!   once for every unfiltered client;
//! - `deflate`: compressed segments shared by many zlib streams;
//! - `stream`: one client's SSE body;
//! - [`Fanout`] (here): what every stream of one cluster shares — the client limit, the
//!   batches, the latest reset.
//!
//! So a change costs one encoding and one compression per tick, whatever the number of
//! clients: the work per client is handing over shared bytes.

mod batch;
mod deflate;
mod frames;
mod metrics;
mod stream;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

pub use batch::COALESCE;
pub use frames::{Format, Frames, frame_for};
pub use metrics::StreamMetrics;
pub use stream::{
    Encoding, Extras, HTTP_WRITE_BUFFER, KEEP_ALIVE, Origin, Revocation, client_stream_with,
};

use batch::Feed;
use deflate::{Effort, Segment};
use frames::reset_frame;

use crate::state::{Cache, Filter, Position, Snapshot};

/// What every stream of one cluster shares: its cache, the connected-client limit
/// (`--max-clients`), the change batches, and the latest unfiltered reset frame per
/// format, so a connect storm encodes (and compresses) the snapshot once per change, not
/// once per client. Cheap to clone.
#[derive(Clone)]
pub struct Fanout(Arc<Shared>);

struct Shared {
    cache: Arc<Cache<Frames>>,
    used: AtomicUsize,
    max: usize,
    resets: LatestResets,
    feed: OnceLock<Feed>,
    metrics: StreamMetrics,
    shutdown: CancellationToken,
}

/// The latest unfiltered reset, per [`Format`].
type LatestResets = parking_lot::Mutex<[Option<Arc<Reset>>; 2]>;

/// A reset frame, and its compressed form once a client asked for it.
#[derive(Debug)]
struct Reset {
    position: Position,
    plain: Bytes,
    deflated: OnceLock<Segment>,
}

impl Reset {
    fn new(snap: &Snapshot, format: Format) -> Self {
        Self {
            position: snap.position(),
            plain: reset_frame(snap, format),
            deflated: OnceLock::new(),
        }
    }

    fn deflated(&self) -> &Segment {
        self.deflated
            .get_or_init(|| Segment::compress(&self.plain, Effort::Fast))
    }
}

impl Fanout {
    /// The fan-out of `cache` to at most `max_clients` concurrent streams, which end when
    /// `shutdown` is cancelled.
    pub fn new(cache: Arc<Cache<Frames>>, max_clients: usize, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Shared {
            cache,
            used: AtomicUsize::new(0),
            max: max_clients,
            resets: LatestResets::default(),
            feed: OnceLock::new(),
            metrics: StreamMetrics::default(),
            shutdown,
        }))
    }

    /// The cache it fans out.
    pub fn cache(&self) -> &Arc<Cache<Frames>> {
        &self.0.cache
    }

    /// What its streams did.
    pub fn metrics(&self) -> &StreamMetrics {
        &self.0.metrics
    }

    /// The limit on concurrent streams.
    pub fn max_clients(&self) -> usize {
        self.0.max
    }

    /// A slot for one more stream, or `None` when `max_clients` are connected.
    pub fn connect(&self) -> Option<ClientSlot> {
        let shared = &self.0;
        let before = shared.used.fetch_add(1, Ordering::AcqRel);
        if before >= shared.max {
            shared.used.fetch_sub(1, Ordering::AcqRel);
            shared.metrics.clients_rejected.inc();
            return None;
        }
        shared.metrics.clients.inc();
        Some(ClientSlot {
            fanout: self.clone(),
        })
    }

    /// The batches of the cache's changes, gathered from the first stream on.
    fn feed(&self) -> &Feed {
        self.0
            .feed
            .get_or_init(|| Feed::start(&self.0.cache, self.0.shutdown.clone()))
    }

    /// The reset of `snap`, shared when the filter is empty.
    fn reset(&self, snap: &Snapshot, filter: &Filter, format: Format) -> Arc<Reset> {
        if !filter.is_empty() {
            return Arc::new(Reset::new(snap, format));
        }
        let position = snap.position();
        let mut resets = self.0.resets.lock();
        let cell = &mut resets[format as usize];
        match cell {
            Some(reset) if reset.position == position => reset.clone(),
            _ => cell.insert(Arc::new(Reset::new(snap, format))).clone(),
        }
    }
}

/// One connected client, counted until its stream is dropped.
pub struct ClientSlot {
    fanout: Fanout,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.fanout.0.used.fetch_sub(1, Ordering::AcqRel);
        self.fanout.0.metrics.clients.dec();
    }
}
