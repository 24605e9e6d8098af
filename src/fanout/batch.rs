//! The cache's changes gathered per tick and shared by every stream of one cluster.
//!
//! One task per cache takes the changes off the cache's channel and hands them on in
//! batches, at most one per [`COALESCE`]: the first change after a quiet spell at once,
//! then whatever came during the tick. Every client wakes once per batch, and a batch's
//! frames are concatenated — and compressed, for clients that accept `deflate` — once for
//! all unfiltered clients, whatever their number.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::sync::CancellationToken;

use super::deflate::{Effort, Segment};
use super::frames::{Format, Frames, frame_for};
use crate::state::{Cache, Change, Filter};

/// How long a busy stream gathers changes before handing them on. The first change after
/// a quiet spell goes out at once; while changes keep coming, they go out once per tick,
/// together: at 500 changes/s that is 10 wake-ups and writes per client per second
/// instead of 500, and one encoding and compression per tick for all clients, which is
/// what lets two cores serve 10,000 clients. Costs at most one tick of latency.
pub const COALESCE: Duration = Duration::from_millis(100);

/// How many batches the shared channel keeps for slow clients: at most ten a second, so
/// a client may fall more than ten seconds behind before it is reset.
pub const BATCH_CAPACITY: usize = 128;

/// The changes of one tick, in order, with their shared encodings.
#[derive(Debug)]
pub struct Batch {
    changes: Vec<Arc<Change<Frames>>>,
    gap: bool,
    encoded: [OnceLock<Encoded>; 2],
}

/// A batch's frames for an unfiltered client, plain and compressed.
#[derive(Debug)]
struct Encoded {
    plain: Bytes,
    deflated: OnceLock<Segment>,
}

impl Batch {
    fn new(changes: Vec<Arc<Change<Frames>>>, gap: bool) -> Self {
        Self {
            changes,
            gap,
            encoded: Default::default(),
        }
    }

    /// The changes, oldest first.
    pub fn changes(&self) -> &[Arc<Change<Frames>>] {
        &self.changes
    }

    /// Whether changes were lost just before this batch (the tick fell behind the cache):
    /// a stream cannot continue from it and needs a reset.
    pub fn after_gap(&self) -> bool {
        self.gap
    }

    /// The sequence numbers of the first and last change, if any.
    pub fn seq_range(&self) -> Option<(u64, u64)> {
        Some((self.changes.first()?.seq, self.changes.last()?.seq))
    }

    /// Every frame of the batch for an unfiltered client, concatenated once.
    pub fn plain(&self, format: Format) -> &Bytes {
        &self.encoded(format).plain
    }

    /// [`Batch::plain`] compressed once, for clients that accept `deflate`.
    pub fn deflated(&self, format: Format) -> &Segment {
        let encoded = self.encoded(format);
        encoded
            .deflated
            .get_or_init(|| Segment::compress(&encoded.plain, Effort::Best))
    }

    fn encoded(&self, format: Format) -> &Encoded {
        self.encoded[format as usize].get_or_init(|| {
            let all = Filter::default();
            let frames: Vec<Bytes> = self
                .changes
                .iter()
                .filter_map(|c| frame_for(c, &all, format))
                .collect();
            let mut plain = BytesMut::with_capacity(frames.iter().map(Bytes::len).sum());
            for frame in &frames {
                plain.extend_from_slice(frame);
            }
            Encoded {
                plain: plain.freeze(),
                deflated: OnceLock::new(),
            }
        })
    }
}

/// The batches of one cache; the gathering task runs while the cache does, until shutdown.
#[derive(Debug)]
pub struct Feed {
    tx: broadcast::Sender<Arc<Batch>>,
    closing: Arc<AtomicBool>,
}

impl Feed {
    /// Starts gathering `cache`'s changes (on the current tokio runtime) until `shutdown`.
    pub fn start(cache: &Cache<Frames>, shutdown: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(BATCH_CAPACITY);
        let closing = Arc::new(AtomicBool::new(false));
        tokio::spawn(gather_until(
            cache.changes(),
            tx.clone(),
            shutdown,
            closing.clone(),
        ));
        Self { tx, closing }
    }

    /// Batches from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.tx.subscribe()
    }

    /// Whether the server is shutting down: streams end. They are woken by one last,
    /// empty batch.
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

async fn gather_until(
    rx: broadcast::Receiver<Arc<Change<Frames>>>,
    tx: broadcast::Sender<Arc<Batch>>,
    shutdown: CancellationToken,
    closing: Arc<AtomicBool>,
) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = gather(rx, &tx) => return,
    }
    closing.store(true, Ordering::Release);
    let _ = tx.send(Arc::new(Batch::new(Vec::new(), false)));
}

async fn gather(
    mut rx: broadcast::Receiver<Arc<Change<Frames>>>,
    tx: &broadcast::Sender<Arc<Batch>>,
) {
    let mut next_tick = tokio::time::Instant::now();
    loop {
        let (mut changes, mut gap) = match rx.recv().await {
            Ok(change) => (vec![change], false),
            Err(RecvError::Lagged(_)) => (Vec::new(), true),
            Err(RecvError::Closed) => return,
        };
        // Within a tick of the last batch: wait for the tick and take what came meanwhile.
        tokio::time::sleep_until(next_tick).await;
        loop {
            match rx.try_recv() {
                Ok(change) => changes.push(change),
                Err(TryRecvError::Lagged(_)) => {
                    // What was gathered precedes the lost changes; streams reset past both.
                    changes.clear();
                    gap = true;
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if gap {
            tracing::debug!("change batching fell behind the cache; streams will reset");
        }
        // No receivers is fine: nobody is watching the wall right now.
        let _ = tx.send(Arc::new(Batch::new(changes, gap)));
        next_tick = tokio::time::Instant::now() + COALESCE;
    }
}
