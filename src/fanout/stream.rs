//! One client's SSE body: a `retry:` hint, a reset or the missed changes, then every
//! visible change, one write per batch, `: ping` when idle.
//!
//! An unfiltered client gets a batch's bytes as one shared piece, compressed once when it
//! accepted `deflate`; a filtered one picks its frames out of the batch. A client that
//! falls behind the shared channel gets a fresh `reset` instead of an ever-growing queue.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::ClientSlot;
use super::batch::Batch;
use super::deflate::{self, Effort, Segment};
use super::frames::{Format, Frames, frame_for};
use super::metrics::StreamMetrics;
use crate::state::{Change, Filter, Moment, Position, Snapshot, Start};

/// How often an idle stream gets a `: ping` comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How much the HTTP layer buffers before it writes (`web::serve` sets it).
pub const HTTP_WRITE_BUFFER: usize = 4 * 1024;

/// Largest piece of a frame handed to the HTTP layer at once: what it buffered (under
/// [`HTTP_WRITE_BUFFER`]), one piece and its chunk framing stay under 8 KiB, so a
/// connection's write buffer never grows past that, whatever the size of a reset (and the
/// patched actix-http, `vendor/`, frees it once written).
const WRITE_CHUNK: usize = HTTP_WRITE_BUFFER - 96;

/// How long after a lag-reset a second lag disconnects the client instead: a client
/// that cannot keep up even right after a fresh snapshot only wastes resets.
const SLOW_WINDOW: Duration = Duration::from_secs(30);

/// How a stream's bytes go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As they are.
    Identity,
    /// `Content-Encoding: deflate`, from segments compressed once and shared
    /// (see [`crate::fanout::deflate`]).
    Deflate,
}

impl Encoding {
    /// The encoding for a request's `Accept-Encoding` header (browsers all accept deflate).
    pub fn negotiate(accept_encoding: Option<&str>) -> Self {
        if accept_encoding.is_some_and(deflate::accepted) {
            Self::Deflate
        } else {
            Self::Identity
        }
    }
}

/// What every stream sends on its own account.
#[derive(Debug, Clone, Copy)]
enum Own {
    /// The reconnect delay suggested to EventSource clients.
    Retry,
    /// Keeps an idle connection (and the proxies on its way) open.
    Ping,
}

impl Own {
    fn plain(self) -> &'static [u8] {
        match self {
            Self::Retry => b"retry: 2000\n\n",
            Self::Ping => b": ping\n\n",
        }
    }

    /// The piece as stored deflate blocks, made once.
    fn stored(self) -> &'static Segment {
        static STORED: [OnceLock<Segment>; 2] = [const { OnceLock::new() }; 2];
        STORED[self as usize].get_or_init(|| Segment::stored(self.plain()))
    }
}

/// Ends a stream early (its credentials were revoked), after the frame `last_words` makes
/// at that moment.
pub struct Revocation {
    /// Cancelled when the stream must end.
    pub token: tokio_util::sync::CancellationToken,
    /// The stream's last frame.
    pub last_words: Box<dyn FnOnce() -> Bytes + Send>,
}

/// What one stream carries besides the cluster's changes.
#[derive(Default)]
pub struct Extras {
    /// Ends the stream early.
    pub revocation: Option<Revocation>,
    /// A frame of this stream's own that changes now and then (a screen's attention
    /// state): the latest goes out after the start and after every change; empty bytes
    /// send nothing.
    pub side: Option<tokio::sync::watch::Receiver<Bytes>>,
    /// Kept while the stream lives (e.g. a gauge's guard): held for its `Drop`.
    #[allow(dead_code)]
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

struct ClientState {
    filter: Filter,
    format: Format,
    rx: broadcast::Receiver<Arc<Batch>>,
    /// The last change this client has: sent, or in its reset.
    sent: u64,
    /// Wire bytes for the HTTP layer, in order.
    pending: std::collections::VecDeque<Bytes>,
    /// The client's zlib stream, when it accepted `deflate`.
    deflate: Option<deflate::Stream>,
    /// When the oldest change queued since the last write entered the cache.
    oldest_unsent: Option<std::time::Instant>,
    /// Fires [`KEEP_ALIVE`] after the last write; re-armed lazily when it fires, since
    /// moving a timer on every write showed in the fan-out profile.
    ping: Pin<Box<tokio::time::Sleep>>,
    last_write: tokio::time::Instant,
    last_lag: Option<tokio::time::Instant>,
    ended: bool,
    /// The last bytes are queued: end once they are sent.
    closing: bool,
    extras: Extras,
    slot: ClientSlot,
}

/// The SSE body of one client: a `retry:` hint, a reset or the missed changes, then every
/// visible change, one write per batch, `: ping` when idle; ends when the fan-out's shutdown
/// token is cancelled or the client lags twice within [`SLOW_WINDOW`].
///
/// Memory per client is bounded: a broadcast receiver (a cursor, not a queue), the
/// start frames (shared `Bytes` handles, except a filtered reset), and what the socket
/// and HTTP layer buffer; a client that stops reading is not polled, so nothing else
/// accumulates for it, and it never slows the others (the broadcast never waits).
#[cfg(test)]
pub fn client_stream(
    slot: ClientSlot,
    filter: Filter,
    format: Format,
    encoding: Encoding,
    resume: Option<Position>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    client_stream_with(
        slot,
        filter,
        format,
        encoding,
        Origin::Resume(resume),
        Extras::default(),
    )
}

/// Where a stream starts.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// Live: after the `Last-Event-ID` when it can be resumed, else from a reset.
    Resume(Option<Position>),
    /// From the state at a past moment, then every kept change since, then live
    /// (`?since=`); a moment that has left the history meanwhile starts live.
    Since(Moment),
}

/// [`client_stream`] with a stream's own [`Extras`]: a revocation, a side frame.
pub fn client_stream_with(
    slot: ClientSlot,
    filter: Filter,
    format: Format,
    encoding: Encoding,
    origin: Origin,
    extras: Extras,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    // Batches first, then the start: every change is in one or the other (or both, and
    // then skipped in the batch).
    let rx = slot.fanout.feed().subscribe();
    let cache = slot.fanout.cache();
    let (resume, start) = match origin {
        Origin::Resume(resume) => (resume, cache.start(&filter, resume)),
        Origin::Since(moment) => match cache.start_since(&filter, &moment) {
            Ok(start) => (None, start),
            Err(e) => {
                tracing::debug!(error = %e, "a rewound stream starts live");
                (None, cache.start(&filter, None))
            }
        },
    };
    let now = tokio::time::Instant::now();
    let mut st = ClientState {
        slot,
        filter,
        format,
        rx,
        sent: 0,
        pending: std::collections::VecDeque::new(),
        deflate: None,
        oldest_unsent: None,
        ping: Box::pin(tokio::time::sleep_until(now + KEEP_ALIVE)),
        last_write: now,
        last_lag: None,
        ended: false,
        closing: false,
        extras,
    };
    if encoding == Encoding::Deflate {
        st.deflate = Some(deflate::Stream::default());
        st.pending.push_back(deflate::Stream::header());
    }
    st.push_static(Own::Retry);
    match start {
        Start::Reset(snap) => st.push_reset(&snap),
        Start::Replay(changes) => {
            st.sent = resume.map_or(0, |p| p.seq);
            st.take_changes(&changes);
        }
        Start::Rewound {
            reset,
            changes,
            through,
        } => {
            st.push_reset(&reset);
            st.take_changes(&changes);
            // The stream stands at the cache's seq of the rewind (the history keeps every
            // change through it, but a filter may have passed none of the last).
            st.sent = st.sent.max(through);
        }
    }
    st.oldest_unsent = None;
    if let Some(side) = st.extras.side.as_mut() {
        let first = side.borrow_and_update().clone();
        if !first.is_empty() {
            st.push_own(first);
        }
    }
    futures::stream::unfold(st, |mut st| async move {
        let next = if st.ended {
            None
        } else {
            next_bytes(&mut st).await
        };
        let mut bytes = match next {
            Some(bytes) => bytes,
            None => {
                st.ended = true;
                // A complete zlib body: the client's decoder sees a clean end.
                st.deflate.take()?.finish()
            }
        };
        if bytes.len() > WRITE_CHUNK {
            // Zero-copy slices: the HTTP layer's per-connection buffer stays near its own
            // limit instead of growing to the largest frame (a reset) and keeping it.
            let rest = bytes.split_off(WRITE_CHUNK);
            st.pending.push_front(rest);
        }
        Some((Ok(bytes), st))
    })
}

async fn next_bytes(st: &mut ClientState) -> Option<Bytes> {
    loop {
        // Shutdown wakes every stream with an empty batch; the flag is a plain load (a
        // token's check takes its lock, and 10,000 streams contended on it).
        if st.slot.fanout.feed().closing() {
            return None;
        }
        if let Some(bytes) = st.pending.pop_front() {
            return Some(bytes);
        }
        if st.closing {
            return None;
        }
        tokio::select! {
            biased;
            () = revoked(st.extras.revocation.as_ref().map(|r| &r.token)) => {
                if let Some(r) = st.extras.revocation.take() {
                    st.push_own((r.last_words)());
                }
                st.closing = true;
            }
            side = side_changed(&mut st.extras.side) => match side {
                Some(bytes) if !bytes.is_empty() => st.push_own(bytes),
                Some(_) => {}
                // Its sender is gone: nothing more will come.
                None => st.extras.side = None,
            },
            received = st.rx.recv() => {
                match received {
                    Ok(batch) => st.take(&batch)?,
                    Err(RecvError::Lagged(_)) => st.lagged()?,
                    Err(RecvError::Closed) => return None,
                }
                // Batches already waiting go out in the same write.
                loop {
                    match st.rx.try_recv() {
                        Ok(batch) => st.take(&batch)?,
                        Err(TryRecvError::Lagged(_)) => st.lagged()?,
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                if let Some(published) = st.oldest_unsent.take() {
                    // One observation per write, of its oldest change: the histogram
                    // takes a lock, and a lock per change per client would contend.
                    st.metrics()
                        .fanout_latency
                        .observe(published.elapsed().as_secs_f64());
                    st.last_write = tokio::time::Instant::now();
                }
            }
            () = st.ping.as_mut() => {
                let now = tokio::time::Instant::now();
                let due = st.last_write + KEEP_ALIVE;
                if due > now {
                    st.ping.as_mut().reset(due);
                } else {
                    st.push_static(Own::Ping);
                    st.last_write = now;
                    st.ping.as_mut().reset(now + KEEP_ALIVE);
                }
            }
        }
    }
}

/// Resolves when the revocation's token is cancelled; never without one.
async fn revoked(token: Option<&tokio_util::sync::CancellationToken>) {
    match token {
        Some(t) => t.cancelled().await,
        None => std::future::pending().await,
    }
}

/// The side frame's next value; `None` once its sender is gone; never without one.
async fn side_changed(side: &mut Option<tokio::sync::watch::Receiver<Bytes>>) -> Option<Bytes> {
    let Some(rx) = side.as_mut() else {
        return std::future::pending().await;
    };
    match rx.changed().await {
        Ok(()) => Some(rx.borrow_and_update().clone()),
        Err(_) => None,
    }
}

impl ClientState {
    fn metrics(&self) -> &StreamMetrics {
        self.slot.fanout.metrics()
    }

    /// Queues bytes this client alone gets; deflate streams carry them as stored
    /// blocks (no compressor per client).
    fn push_own(&mut self, plain: Bytes) {
        let bytes = match &mut self.deflate {
            Some(stream) => stream.send(&Segment::stored(&plain)),
            None => plain,
        };
        self.pending.push_back(bytes);
    }

    fn push_static(&mut self, own: Own) {
        let bytes = match &mut self.deflate {
            Some(stream) => stream.send(own.stored()),
            None => Bytes::from_static(own.plain()),
        };
        self.pending.push_back(bytes);
    }

    /// Queues bytes many clients share, in their shared compressed form when deflating.
    fn push_shared<'a>(&mut self, plain: &'a Bytes, deflated: impl FnOnce() -> &'a Segment) {
        let bytes = match &mut self.deflate {
            Some(stream) => stream.send(deflated()),
            None => plain.clone(),
        };
        self.pending.push_back(bytes);
    }

    fn push_reset(&mut self, snap: &Snapshot) {
        let reset = self.slot.fanout.reset(snap, &self.filter, self.format);
        self.push_shared(&reset.plain, || reset.deflated());
        self.sent = snap.seq;
        let metrics = self.metrics();
        metrics.resets_sent.inc();
        metrics.frames_sent.inc();
    }

    /// Queues what `batch` holds for this client; `None` ends the stream (it lost its
    /// place and lagged again too soon).
    fn take(&mut self, batch: &Batch) -> Option<()> {
        if batch.after_gap() {
            return self.lagged();
        }
        let Some((first, last)) = batch.seq_range() else {
            return Some(());
        };
        if last <= self.sent {
            return Some(());
        }
        if first > self.sent + 1 {
            // Changes this client never saw: only a reset can put it right.
            return self.lagged();
        }
        if self.filter.is_empty() && first == self.sent + 1 {
            let format = self.format;
            self.push_shared(batch.plain(format), || batch.deflated(format));
            self.sent = last;
            self.oldest_unsent
                .get_or_insert(batch.changes()[0].published);
            self.metrics()
                .frames_sent
                .inc_by(batch.changes().len() as u64);
            return Some(());
        }
        self.take_changes(batch.changes());
        Some(())
    }

    /// Queues the frames of the changes after `sent` this client's filter lets through.
    fn take_changes(&mut self, changes: &[Arc<Change<Frames>>]) {
        let mut plain = bytes::BytesMut::new();
        let mut frames = 0;
        let after = self.sent;
        for change in changes.iter().filter(|c| c.seq > after) {
            self.sent = change.seq;
            if let Some(frame) = frame_for(change, &self.filter, self.format) {
                plain.extend_from_slice(&frame);
                frames += 1;
                self.oldest_unsent.get_or_insert(change.published);
            }
        }
        if frames == 0 {
            return;
        }
        self.metrics().frames_sent.inc_by(frames);
        let plain = plain.freeze();
        match &mut self.deflate {
            // A replay after a long absence is worth compressing, once.
            Some(stream) if plain.len() > WRITE_CHUNK => {
                let bytes = stream.send(&Segment::compress(&plain, Effort::Fast));
                self.pending.push_back(bytes);
            }
            _ => self.push_own(plain),
        }
    }

    /// The client fell behind: a fresh reset, or `None` (disconnect) when it lagged
    /// already within [`SLOW_WINDOW`].
    fn lagged(&mut self) -> Option<()> {
        let now = tokio::time::Instant::now();
        if self.last_lag.is_some_and(|at| now - at < SLOW_WINDOW) {
            tracing::info!(
                incident = "slow_client_disconnect",
                "SSE client too slow even after a reset; disconnecting"
            );
            self.metrics().slow_client_disconnects.inc();
            return None;
        }
        self.last_lag = Some(now);
        // Taken after the lost batches were published, so it holds their changes.
        let snap = self.slot.fanout.cache().snapshot(&self.filter);
        let missed = snap.seq.saturating_sub(self.sent);
        tracing::debug!(
            incident = "lag_reset",
            missed,
            "slow SSE client lagged; sending a reset"
        );
        let metrics = self.metrics();
        metrics.frames_dropped.inc_by(missed);
        metrics.lagged_clients.inc();
        // What is already queued stays: it is part of the byte stream (and a deflate
        // stream's checksum); the reset that follows supersedes it.
        self.push_reset(&snap);
        Some(())
    }
}

#[cfg(test)]
mod tests {

    use futures::StreamExt;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::fanout::{COALESCE, Fanout};
    use crate::k8s::Scope;
    use crate::state::{CHANNEL_CAPACITY, Cache, PodView, fixtures};

    fn pod(name: &str, node: &str) -> PodView {
        fixtures::pod_on("ns", name, node)
    }

    fn pods() -> Scope {
        fixtures::pods_scope()
    }

    fn text(b: &Bytes) -> &str {
        std::str::from_utf8(b).expect("utf-8 frame")
    }

    /// A fan-out of a fresh cache to at most `max` clients.
    fn fanout(max: usize, shutdown: &CancellationToken) -> Fanout {
        Fanout::new(Arc::new(Cache::new()), max, shutdown.clone())
    }

    /// An unfiltered stream holding the only slot of a fresh fan-out.
    fn unfiltered_stream(
        format: Format,
        shutdown: &CancellationToken,
    ) -> (
        Fanout,
        impl Stream<Item = Result<Bytes, Infallible>> + 'static,
    ) {
        let fanout = fanout(1, shutdown);
        let slot = fanout.connect().expect("a free slot");
        let stream = client_stream(slot, Filter::default(), format, Encoding::Identity, None);
        (fanout, stream)
    }

    /// Reads past a fresh stream's `retry:` hint and its reset.
    async fn skip_start<S>(stream: &mut S, what: &str)
    where
        S: Stream<Item = Result<Bytes, Infallible>> + Unpin,
    {
        for _ in 0..2 {
            stream.next().await.and_then(Result::ok).expect(what);
        }
    }

    /// `piece` opens a reset at sequence number `seq`.
    fn assert_reset_at(piece: &Bytes, seq: usize) {
        let piece = text(piece);
        assert!(
            piece.contains("event: reset") && piece.contains(&format!("-{seq}\n")),
            "{}",
            &piece[..80]
        );
    }

    #[tokio::test]
    async fn a_flood_faster_than_the_batching_gets_streams_a_reset() {
        let token = CancellationToken::new();
        let (fanout, stream) = unfiltered_stream(Format::Json, &token);
        let cache = fanout.cache();
        let mut stream = std::pin::pin!(stream);
        let retry = stream
            .next()
            .await
            .and_then(Result::ok)
            .expect("retry hint");
        assert!(text(&retry).starts_with("retry: "));
        let reset = stream.next().await.and_then(Result::ok).expect("reset");
        assert!(text(&reset).contains("event: reset"));
        let total = CHANNEL_CAPACITY + 10;
        for i in 0..total {
            cache.upsert_pod(&pods(), pod(&i.to_string(), "n1"));
        }
        let next = stream.next().await.and_then(Result::ok).expect("a frame");
        assert_reset_at(&next, total);
        assert_eq!(fanout.metrics().lagged_clients.get(), 1);
        assert_eq!(fanout.metrics().frames_dropped.get(), total as u64);
        token.cancel();
        // What the stream had queued before the feed saw the shutdown may still go out
        // (here the rest of a reset, as this test reads without ever yielding); then it ends.
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while stream.next().await.is_some() {}
        });
        assert!(ended.await.is_ok(), "the stream ends on shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_more_than_the_channel_behind_gets_a_reset_not_a_growing_queue() {
        let (fanout, stream) = unfiltered_stream(Format::Json, &CancellationToken::new());
        let cache = fanout.cache();
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        // One change per tick, each its own batch, while this client reads nothing.
        let total = super::super::batch::BATCH_CAPACITY + 5;
        for i in 0..total {
            cache.upsert_pod(&pods(), pod(&i.to_string(), "n1"));
            tokio::time::sleep(COALESCE).await;
        }
        let next = stream.next().await.and_then(Result::ok).expect("a frame");
        assert_reset_at(&next, total);
        assert_eq!(fanout.metrics().lagged_clients.get(), 1);
    }

    #[tokio::test]
    async fn a_client_lagging_again_soon_after_a_reset_is_disconnected() {
        let fanout = fanout(1, &CancellationToken::new());
        let cache = fanout.cache();
        let stream = client_stream(
            fanout.connect().expect("a free slot"),
            Filter::default(),
            Format::Json,
            Encoding::Identity,
            None,
        );
        let mut stream = std::pin::pin!(stream);
        assert!(fanout.connect().is_none(), "one slot, taken");
        skip_start(&mut stream, "retry, reset").await;
        let mut flood = 0..;
        let mut overflow = |cache: &Cache<Frames>| {
            for i in flood.by_ref().take(CHANNEL_CAPACITY + 1) {
                cache.upsert_pod(&pods(), pod(&i.to_string(), "n1"));
            }
        };
        overflow(cache);
        // A large reset comes in several writes.
        let mut reset = Vec::new();
        while !reset.ends_with(b"\n\n") {
            let piece = stream.next().await.and_then(Result::ok).expect("a reset");
            assert!(piece.len() <= WRITE_CHUNK);
            reset.extend_from_slice(&piece);
        }
        assert!(String::from_utf8_lossy(&reset).starts_with("id: "));
        assert!(String::from_utf8_lossy(&reset).contains("event: reset"));
        overflow(cache);
        assert!(
            stream.next().await.is_none(),
            "the second lag ends the stream"
        );
        assert_eq!(fanout.metrics().slow_client_disconnects.get(), 1);
        assert_eq!(
            fanout.metrics().clients.get(),
            0,
            "an ended stream frees its slot"
        );
        assert!(fanout.connect().is_some(), "the slot is free again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_sends_the_first_change_at_once_then_one_batch_per_tick() {
        let (fanout, stream) = unfiltered_stream(Format::Json, &CancellationToken::new());
        let cache = fanout.cache();
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let started = tokio::time::Instant::now();
        cache.upsert_pod(&pods(), pod("first", "n1"));
        let first = stream.next().await.and_then(Result::ok).expect("a frame");
        assert!(text(&first).contains("\"name\":\"first\""));
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "a quiet stream sends at once"
        );
        for name in ["b", "c", "d"] {
            cache.upsert_pod(&pods(), pod(name, "n1"));
        }
        let rest = stream.next().await.and_then(Result::ok).expect("a write");
        for name in ["b", "c", "d"] {
            assert!(text(&rest).contains(&format!("\"name\":\"{name}\"")));
        }
        assert_eq!(
            started.elapsed(),
            COALESCE,
            "the rest waits for the tick, and goes in one write"
        );
        let mut registry = prometheus_client::registry::Registry::with_prefix("podwall");
        fanout.metrics().register(&mut registry);
        let mut metrics = String::new();
        prometheus_client::encoding::text::encode(&mut metrics, &registry).expect("metrics");
        assert!(
            metrics.contains("podwall_fanout_latency_seconds_count 2\n"),
            "one observation per write: {metrics}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_ends_at_once_on_shutdown() {
        let token = CancellationToken::new();
        let (_fanout, stream) = unfiltered_stream(Format::Json, &token);
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let cancelled = tokio::time::Instant::now();
        token.cancel();
        assert!(stream.next().await.is_none(), "the stream ends on shutdown");
        assert_eq!(
            cancelled.elapsed(),
            Duration::ZERO,
            "without waiting for a tick"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_gets_a_ping_every_keep_alive_period() {
        let token = CancellationToken::new();
        let (fanout, stream) = unfiltered_stream(Format::Html, &token);
        let cache = fanout.cache();
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let started = tokio::time::Instant::now();
        let ping = stream.next().await.and_then(Result::ok).expect("a ping");
        assert_eq!(text(&ping), ": ping\n\n");
        assert_eq!(started.elapsed(), KEEP_ALIVE);
        cache.upsert_pod(&pods(), pod("a", "n1"));
        let frame = stream.next().await.and_then(Result::ok).expect("an upsert");
        assert!(text(&frame).contains("event: upsert"));
        let after_change = tokio::time::Instant::now();
        stream
            .next()
            .await
            .and_then(Result::ok)
            .expect("the next ping");
        assert_eq!(
            after_change.elapsed(),
            KEEP_ALIVE,
            "a sent frame restarts the idle timer"
        );
    }
    #[tokio::test(start_paused = true)]
    async fn a_revoked_stream_ends_with_its_last_words_and_side_frames_go_out() {
        let fanout = fanout(1, &CancellationToken::new());
        let revoked = CancellationToken::new();
        let (side_tx, side_rx) =
            tokio::sync::watch::channel(Bytes::from_static(b"event: side\ndata: 1\n\n"));
        let stream = client_stream_with(
            fanout.connect().expect("a free slot"),
            Filter::default(),
            Format::Json,
            Encoding::Identity,
            Origin::Resume(None),
            Extras {
                revocation: Some(Revocation {
                    token: revoked.clone(),
                    last_words: Box::new(|| Bytes::from_static(b"event: bye\ndata: {}\n\n")),
                }),
                side: Some(side_rx),
                guard: None,
            },
        );
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let first = stream
            .next()
            .await
            .and_then(Result::ok)
            .expect("side frame");
        assert_eq!(
            text(&first),
            "event: side\ndata: 1\n\n",
            "the side frame's value at the start"
        );
        side_tx.send_replace(Bytes::from_static(b"event: side\ndata: 2\n\n"));
        let second = stream
            .next()
            .await
            .and_then(Result::ok)
            .expect("side frame");
        assert_eq!(text(&second), "event: side\ndata: 2\n\n");
        revoked.cancel();
        let last = stream
            .next()
            .await
            .and_then(Result::ok)
            .expect("last words");
        assert_eq!(text(&last), "event: bye\ndata: {}\n\n");
        assert!(stream.next().await.is_none(), "then the stream ends");
        assert_eq!(fanout.metrics().clients.get(), 0, "and frees its slot");
    }

    #[tokio::test]
    async fn a_deflate_stream_carries_exactly_what_the_identity_stream_does() {
        let token = CancellationToken::new();
        let fanout = fanout(16, &token);
        let cache = fanout.cache();
        cache.upsert_pod(&pods(), pod("before", "n1"));
        let resume = cache.position();
        cache.upsert_pod(&pods(), pod("missed", "n2"));
        let (on_n1, _) = Filter::from_query("node=n1").expect("filter");
        let mut pairs = Vec::new();
        for (filter, resume) in [
            (Filter::default(), None),
            (on_n1, None),
            (Filter::default(), Some(resume)),
        ] {
            let pair = [Encoding::Identity, Encoding::Deflate].map(|encoding| {
                let stream = client_stream(
                    fanout.connect().expect("a free slot"),
                    filter.clone(),
                    Format::Html,
                    encoding,
                    resume,
                );
                tokio::spawn(
                    stream
                        .map(|piece| piece.expect("infallible").to_vec())
                        .concat(),
                )
            });
            pairs.push(pair);
        }
        for round in 0..3 {
            for (i, node) in ["n1", "n2", "n1"].into_iter().enumerate() {
                cache.upsert_pod(&pods(), pod(&format!("p{round}-{i}"), node));
            }
            tokio::time::sleep(COALESCE * 2).await;
        }
        cache.upsert_pod(&pods(), pod("p0-0", "n2"));
        tokio::time::sleep(COALESCE * 2).await;
        token.cancel();
        for [identity, deflated] in pairs {
            let identity = identity.await.expect("the identity stream");
            let deflated = deflated.await.expect("the deflate stream");
            assert!(String::from_utf8_lossy(&identity).contains("event: upsert"));
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::ZlibDecoder::new(&deflated[..]),
                &mut inflated,
            )
            .expect("a complete zlib stream with a valid checksum");
            assert_eq!(
                String::from_utf8_lossy(&inflated),
                String::from_utf8_lossy(&identity)
            );
        }
    }
}
