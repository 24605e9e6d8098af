//! Fan-out of cache changes to SSE clients.
//!
//! Each change's frames are encoded once, on first use, and shared by every client as
//! `Bytes` (per format: JSON diffs for `/api/events`, HTML fragments for `/events`).
//! A client's filter only decides which of a change's frames it gets: the change itself,
//! a delete (the object left the client's filter), or nothing. Streams take the changes
//! in per-tick batches ([`crate::fanout::batch`]): an unfiltered client gets a batch's bytes as
//! one shared piece, compressed once when it accepted `deflate` ([`crate::fanout::deflate`]). A
//! client that falls behind the shared channel gets a fresh `reset` instead of an
//! ever-growing queue.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio_util::sync::CancellationToken;

use crate::fanout::batch::{Batch, Feed};
use crate::fanout::deflate::{self, Effort, Segment};
use crate::render;
use crate::state::cache::{Cache, Change, Diff, Position, Snapshot, Start};
use crate::state::filter::Filter;

/// How often an idle stream gets a `: ping` comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which encoding a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/api/events`: JSON views.
    Json,
    /// `/events`: rendered HTML fragments keyed by element id.
    Html,
}

/// The lazily encoded frames of one change.
#[derive(Debug, Default)]
pub struct Frames {
    json: OnceLock<Bytes>,
    json_as_delete: OnceLock<Bytes>,
    html: OnceLock<Bytes>,
    html_as_delete: OnceLock<Bytes>,
}

/// What a filter makes of one change.
enum Visible {
    /// Send the change as it is.
    AsIs,
    /// The object left the filter: send a delete.
    AsDelete,
    /// Not visible to this client.
    Skip,
}

fn visibility(diff: &Diff, filter: &Filter) -> Visible {
    let (old, new) = match diff {
        Diff::Pod { old, new } => (
            old.as_ref().is_some_and(|p| filter.matches_pod(p)),
            new.as_ref().is_some_and(|p| filter.matches_pod(p)),
        ),
        Diff::Node { old, new } => (
            old.as_ref().is_some_and(|n| filter.matches_node(n)),
            new.as_ref().is_some_and(|n| filter.matches_node(n)),
        ),
        Diff::Status(_) => return Visible::AsIs,
    };
    match (old, new) {
        (_, true) => Visible::AsIs,
        (true, false) if is_delete(diff) => Visible::AsIs,
        (true, false) => Visible::AsDelete,
        (false, false) => Visible::Skip,
    }
}

fn is_delete(diff: &Diff) -> bool {
    matches!(
        diff,
        Diff::Pod { new: None, .. } | Diff::Node { new: None, .. }
    )
}

/// The frame of `change` for a client with `filter`, if it should see it.
pub fn frame_for(change: &Change, filter: &Filter, format: Format) -> Option<Bytes> {
    let as_delete = match visibility(&change.diff, filter) {
        Visible::Skip => return None,
        Visible::AsIs => false,
        Visible::AsDelete => true,
    };
    let f = &change.frames;
    let cell = match (format, as_delete) {
        (Format::Json, false) => &f.json,
        (Format::Json, true) => &f.json_as_delete,
        (Format::Html, false) => &f.html,
        (Format::Html, true) => &f.html_as_delete,
    };
    Some(
        cell.get_or_init(|| encode_change(change, format, as_delete))
            .clone(),
    )
}

fn encode_change(change: &Change, format: Format, as_delete: bool) -> Bytes {
    let position = Position {
        epoch: change.epoch,
        seq: change.seq,
    };
    let (event, data) = match (&change.diff, format) {
        (Diff::Status(status), Format::Json) => (
            "status",
            serde_json::to_value(status).and_then(|v| json_data(change, v)),
        ),
        (Diff::Status(status), Format::Html) => ("status", serde_json::to_string(status)),
        (Diff::Pod { old, new }, Format::Json) => match new.as_ref().filter(|_| !as_delete) {
            // Pods, the bulk of the changes, serialize from the borrowed view (no `Value`).
            Some(p) => (
                "upsert",
                serde_json::to_string(&crate::fanout::frame_data::PodUpsert {
                    cluster: change.cluster.as_deref(),
                    kind: "Pod",
                    object: p.as_ref().into(),
                }),
            ),
            None => {
                let p = old.as_ref().or(new.as_ref());
                (
                    "delete",
                    serde_json::to_string(&crate::fanout::frame_data::PodDelete {
                        cluster: change.cluster.as_deref(),
                        kind: "Pod",
                        name: p.map(|p| &*p.name),
                        namespace: p.map(|p| &*p.namespace),
                    }),
                )
            }
        },
        (Diff::Node { old, new }, Format::Json) => match new.as_ref().filter(|_| !as_delete) {
            Some(n) => (
                "upsert",
                json_data(change, json!({"kind": "Node", "object": n})),
            ),
            None => {
                let name = old.as_ref().or(new.as_ref()).map(|n| &*n.name);
                (
                    "delete",
                    json_data(
                        change,
                        json!({"kind": "Node", "namespace": null, "name": name}),
                    ),
                )
            }
        },
        (Diff::Pod { old, new }, Format::Html) => match new.as_ref().filter(|_| !as_delete) {
            Some(p) => {
                let parent = p
                    .node
                    .as_ref()
                    .map_or_else(|| "unscheduled".to_owned(), |n| format!("node/{n}"));
                let html = rendered(render::pod(p));
                (
                    "upsert",
                    serde_json::to_string(&crate::fanout::frame_data::HtmlUpsert {
                        html: &html,
                        id: &pod_id(p),
                        parent: &parent,
                    }),
                )
            }
            None => {
                let id = old.as_ref().or(new.as_ref()).map(|p| pod_id(p));
                (
                    "delete",
                    serde_json::to_string(&crate::fanout::frame_data::HtmlDelete {
                        id: id.as_deref(),
                    }),
                )
            }
        },
        (Diff::Node { old, new }, Format::Html) => match new.as_ref().filter(|_| !as_delete) {
            Some(n) => {
                let html = rendered(render::node_header(n));
                (
                    "upsert",
                    serde_json::to_string(&json!({"id": format!("node/{}", n.name), "html": html})),
                )
            }
            None => {
                let name = old
                    .as_ref()
                    .or(new.as_ref())
                    .map(|n| n.name.to_string())
                    .unwrap_or_default();
                // Pods may still run there: the page keeps the box, with this header.
                let html = rendered(render::unavailable_node_header(&name));
                (
                    "delete",
                    serde_json::to_string(&json!({"id": format!("node/{name}"), "html": html})),
                )
            }
        },
    };
    frame(
        &position.to_string(),
        event,
        &data.unwrap_or_else(|_| "{}".to_owned()),
    )
}

/// The rendered HTML, or empty (logged) if a template failed; the page then resyncs.
fn rendered(html: Result<String, askama::Error>) -> String {
    html.unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot render a fragment");
        String::new()
    })
}

/// The JSON of an `/api/events` event; on a wall of several clusters it names the cluster.
fn json_data(change: &Change, mut data: serde_json::Value) -> serde_json::Result<String> {
    if let (Some(cluster), Some(fields)) = (&change.cluster, data.as_object_mut()) {
        fields.insert("cluster".to_owned(), cluster.as_ref().into());
    }
    serde_json::to_string(&data)
}

fn pod_id(p: &crate::state::view::PodView) -> String {
    format!("pod/{}/{}", p.namespace, p.name)
}

/// Encodes a `reset` frame for a snapshot.
pub fn reset_frame(snap: &Snapshot, format: Format) -> Bytes {
    let data = match format {
        Format::Json => serde_json::to_string(snap),
        Format::Html => serde_json::to_string(&json!({
            "html": rendered(render::wall(snap)),
            "apiserver": snap.apiserver,
        })),
    };
    frame(
        &snap.position().to_string(),
        "reset",
        &data.unwrap_or_else(|_| "{}".to_owned()),
    )
}

fn frame(id: &str, event: &str, data: &str) -> Bytes {
    // serde_json never emits raw newlines, so one `data:` line carries the whole payload.
    let parts = ["id: ", id, "\nevent: ", event, "\ndata: ", data, "\n\n"];
    // Sized up front: `format!` would grow the buffer a few times for a KB of HTML.
    let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| text.push_str(p));
    Bytes::from(text)
}

/// How much the HTTP layer buffers before it writes (`server.rs`).
pub const HTTP_WRITE_BUFFER: usize = 4 * 1024;

/// Largest piece of a frame handed to the HTTP layer at once: what it buffered (under
/// [`HTTP_WRITE_BUFFER`]), one piece and its chunk framing stay under 8 KiB, so a
/// connection's write buffer never grows past that, whatever the size of a reset (and the
/// patched actix-http, `vendor/`, frees it once written).
const WRITE_CHUNK: usize = HTTP_WRITE_BUFFER - 96;

pub use crate::fanout::batch::COALESCE;

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

/// What every stream of a server's cluster shares: the connected-client limit
/// (`--max-clients`), the change batches, and the latest unfiltered reset frame per
/// format, so a connect storm encodes (and compresses) the snapshot once per change, not
/// once per client. One per cache.
#[derive(Debug, Clone)]
pub struct ClientSlots {
    used: Arc<AtomicUsize>,
    max: usize,
    resets: Arc<LatestResets>,
    feed: Arc<OnceLock<Feed>>,
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

impl ClientSlots {
    /// Room for `max` concurrent streams, which end when `shutdown` is cancelled.
    pub fn new(max: usize, shutdown: CancellationToken) -> Self {
        Self {
            used: Arc::default(),
            max,
            resets: Arc::default(),
            feed: Arc::default(),
            shutdown,
        }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more stream, or `None` when `max` are connected.
    pub fn try_acquire(&self, cache: &Arc<Cache>) -> Option<ClientSlot> {
        let before = self.used.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.used.fetch_sub(1, Ordering::AcqRel);
            cache.metrics().clients_rejected.inc();
            return None;
        }
        cache.metrics().clients.inc();
        Some(ClientSlot {
            slots: self.clone(),
            cache: cache.clone(),
        })
    }

    /// The feed of `cache`'s batches, gathered from the first stream on.
    fn feed(&self, cache: &Cache) -> &Feed {
        self.feed
            .get_or_init(|| Feed::start(cache, self.shutdown.clone()))
    }

    /// The reset of `snap`, shared when the filter is empty.
    fn reset(&self, snap: &Snapshot, filter: &Filter, format: Format) -> Arc<Reset> {
        if !filter.is_empty() {
            return Arc::new(Reset::new(snap, format));
        }
        let position = snap.position();
        let mut resets = self.resets.lock();
        let cell = &mut resets[format as usize];
        match cell {
            Some(reset) if reset.position == position => reset.clone(),
            _ => cell.insert(Arc::new(Reset::new(snap, format))).clone(),
        }
    }
}

/// One connected client, counted until its stream is dropped.
pub struct ClientSlot {
    slots: ClientSlots,
    cache: Arc<Cache>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.slots.used.fetch_sub(1, Ordering::AcqRel);
        self.cache.metrics().clients.dec();
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

struct ClientState {
    cache: Arc<Cache>,
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
    slot: ClientSlot,
}

/// The SSE body of one client: a `retry:` hint, a reset or the missed changes, then every
/// visible change, one write per batch, `: ping` when idle; ends when the slots' shutdown
/// token is cancelled or the client lags twice within [`SLOW_WINDOW`].
///
/// Memory per client is bounded: a broadcast receiver (a cursor, not a queue), the
/// start frames (shared `Bytes` handles, except a filtered reset), and what the socket
/// and HTTP layer buffer; a client that stops reading is not polled, so nothing else
/// accumulates for it, and it never slows the others (the broadcast never waits).
pub fn client_stream(
    slot: ClientSlot,
    filter: Filter,
    format: Format,
    encoding: Encoding,
    resume: Option<Position>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let cache = slot.cache.clone();
    // Batches first, then the start: every change is in one or the other (or both, and
    // then skipped in the batch).
    let rx = slot.slots.feed(&cache).subscribe();
    let start = cache.start(&filter, resume);
    let now = tokio::time::Instant::now();
    let mut st = ClientState {
        slot,
        cache,
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
    }
    st.oldest_unsent = None;
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
        if st.slot.slots.feed(&st.cache).closing() {
            return None;
        }
        if let Some(bytes) = st.pending.pop_front() {
            return Some(bytes);
        }
        tokio::select! {
            biased;
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
                    st.cache
                        .metrics()
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

impl ClientState {
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
        let reset = self.slot.slots.reset(snap, &self.filter, self.format);
        self.push_shared(&reset.plain, || reset.deflated());
        self.sent = snap.seq;
        let metrics = self.cache.metrics();
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
            self.cache
                .metrics()
                .frames_sent
                .inc_by(batch.changes().len() as u64);
            return Some(());
        }
        self.take_changes(batch.changes());
        Some(())
    }

    /// Queues the frames of the changes after `sent` this client's filter lets through.
    fn take_changes(&mut self, changes: &[Arc<Change>]) {
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
        self.cache.metrics().frames_sent.inc_by(frames);
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
        let metrics = self.cache.metrics().clone();
        let now = tokio::time::Instant::now();
        if self.last_lag.is_some_and(|at| now - at < SLOW_WINDOW) {
            tracing::info!(
                incident = "slow_client_disconnect",
                "SSE client too slow even after a reset; disconnecting"
            );
            metrics.slow_client_disconnects.inc();
            return None;
        }
        self.last_lag = Some(now);
        // Taken after the lost batches were published, so it holds their changes.
        let snap = self.cache.snapshot(&self.filter);
        let missed = snap.seq.saturating_sub(self.sent);
        tracing::debug!(
            incident = "lag_reset",
            missed,
            "slow SSE client lagged; sending a reset"
        );
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

    use super::*;
    use crate::state::cache::{CHANNEL_CAPACITY, Kind, Scope};
    use crate::state::view::PodView;

    fn pod(name: &str, node: &str) -> PodView {
        PodView {
            namespace: Arc::from("ns"),
            name: name.into(),
            node: Some(Arc::from(node)),
            phase: "Running".into(),
            status: "Running".into(),
            ready: crate::state::view::Ready { ready: 1, total: 1 },
            restarts: 0,
            owner: None,
            labels: Default::default(),
            cpu_request_millis: 0,
            memory_request_bytes: 0,
            created: None,
        }
    }

    const PODS: Scope = Scope {
        kind: Kind::Pod,
        namespace: None,
    };

    fn text(b: &Bytes) -> &str {
        std::str::from_utf8(b).expect("utf-8 frame")
    }

    #[test]
    fn a_filter_turns_leaving_objects_into_deletes() {
        let cache = Cache::new(Arc::default());
        let (mut rx, _) = cache.subscribe(&Filter::default(), None);
        let (on_n1, _) = Filter::from_query("node=n1").expect("filter");
        cache.upsert_pod(&PODS, pod("a", "n2"));
        cache.upsert_pod(&PODS, pod("a", "n1"));
        cache.upsert_pod(&PODS, pod("a", "n2"));
        let enter = rx.try_recv().expect("change");
        let arrive = rx.try_recv().expect("change");
        let leave = rx.try_recv().expect("change");
        assert!(frame_for(&enter, &on_n1, Format::Json).is_none());
        let up = frame_for(&arrive, &on_n1, Format::Json).expect("upsert");
        assert!(text(&up).contains("event: upsert"), "{}", text(&up));
        let del = frame_for(&leave, &on_n1, Format::Json).expect("delete");
        assert!(text(&del).contains("event: delete") && text(&del).contains("\"name\":\"a\""));
        let html_del = frame_for(&leave, &on_n1, Format::Html).expect("delete");
        assert!(
            text(&html_del).contains("\"id\":\"pod/ns/a\""),
            "{}",
            text(&html_del)
        );
        // Unfiltered clients share the one upsert frame.
        let all = frame_for(&leave, &Filter::default(), Format::Json).expect("upsert");
        assert!(text(&all).contains("event: upsert"));
        let again = frame_for(&leave, &Filter::default(), Format::Json).expect("upsert");
        assert_eq!(all.as_ptr(), again.as_ptr(), "encoded once, shared");
    }

    /// An unfiltered stream on `cache` holding the only slot of its own `ClientSlots`.
    fn unfiltered_stream(
        cache: &Arc<Cache>,
        format: Format,
        shutdown: CancellationToken,
    ) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
        let slot = ClientSlots::new(1, shutdown)
            .try_acquire(cache)
            .expect("a free slot");
        client_stream(slot, Filter::default(), format, Encoding::Identity, None)
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
        let cache = Arc::new(Cache::new(Arc::default()));
        let token = CancellationToken::new();
        let stream = unfiltered_stream(&cache, Format::Json, token.clone());
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
            cache.upsert_pod(&PODS, pod(&i.to_string(), "n1"));
        }
        let next = stream.next().await.and_then(Result::ok).expect("a frame");
        assert_reset_at(&next, total);
        assert_eq!(cache.metrics().lagged_clients.get(), 1);
        assert_eq!(cache.metrics().frames_dropped.get(), total as u64);
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
        let cache = Arc::new(Cache::new(Arc::default()));
        let stream = unfiltered_stream(&cache, Format::Json, CancellationToken::new());
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        // One change per tick, each its own batch, while this client reads nothing.
        let total = crate::fanout::batch::BATCH_CAPACITY + 5;
        for i in 0..total {
            cache.upsert_pod(&PODS, pod(&i.to_string(), "n1"));
            tokio::time::sleep(COALESCE).await;
        }
        let next = stream.next().await.and_then(Result::ok).expect("a frame");
        assert_reset_at(&next, total);
        assert_eq!(cache.metrics().lagged_clients.get(), 1);
    }

    #[tokio::test]
    async fn a_client_lagging_again_soon_after_a_reset_is_disconnected() {
        let cache = Arc::new(Cache::new(Arc::default()));
        let slots = ClientSlots::new(1, CancellationToken::new());
        let stream = client_stream(
            slots.try_acquire(&cache).expect("a free slot"),
            Filter::default(),
            Format::Json,
            Encoding::Identity,
            None,
        );
        let mut stream = std::pin::pin!(stream);
        assert!(slots.try_acquire(&cache).is_none(), "one slot, taken");
        skip_start(&mut stream, "retry, reset").await;
        let mut flood = 0..;
        let mut overflow = |cache: &Cache| {
            for i in flood.by_ref().take(CHANNEL_CAPACITY + 1) {
                cache.upsert_pod(&PODS, pod(&i.to_string(), "n1"));
            }
        };
        overflow(&cache);
        // A large reset comes in several writes.
        let mut reset = Vec::new();
        while !reset.ends_with(b"\n\n") {
            let piece = stream.next().await.and_then(Result::ok).expect("a reset");
            assert!(piece.len() <= WRITE_CHUNK);
            reset.extend_from_slice(&piece);
        }
        assert!(String::from_utf8_lossy(&reset).starts_with("id: "));
        assert!(String::from_utf8_lossy(&reset).contains("event: reset"));
        overflow(&cache);
        assert!(
            stream.next().await.is_none(),
            "the second lag ends the stream"
        );
        assert_eq!(cache.metrics().slow_client_disconnects.get(), 1);
        assert_eq!(
            cache.metrics().clients.get(),
            0,
            "an ended stream frees its slot"
        );
        assert!(
            slots.try_acquire(&cache).is_some(),
            "the slot is free again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_sends_the_first_change_at_once_then_one_batch_per_tick() {
        let cache = Arc::new(Cache::new(Arc::default()));
        let stream = unfiltered_stream(&cache, Format::Json, CancellationToken::new());
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let started = tokio::time::Instant::now();
        cache.upsert_pod(&PODS, pod("first", "n1"));
        let first = stream.next().await.and_then(Result::ok).expect("a frame");
        assert!(text(&first).contains("\"name\":\"first\""));
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "a quiet stream sends at once"
        );
        for name in ["b", "c", "d"] {
            cache.upsert_pod(&PODS, pod(name, "n1"));
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
        let metrics = cache.metrics().encode().expect("metrics");
        assert!(
            metrics.contains("podwall_fanout_latency_seconds_count 2\n"),
            "one observation per write: {metrics}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_ends_at_once_on_shutdown() {
        let cache = Arc::new(Cache::new(Arc::default()));
        let token = CancellationToken::new();
        let stream = unfiltered_stream(&cache, Format::Json, token.clone());
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
        let cache = Arc::new(Cache::new(Arc::default()));
        let token = CancellationToken::new();
        let stream = unfiltered_stream(&cache, Format::Html, token.clone());
        let mut stream = std::pin::pin!(stream);
        skip_start(&mut stream, "retry and reset").await;
        let started = tokio::time::Instant::now();
        let ping = stream.next().await.and_then(Result::ok).expect("a ping");
        assert_eq!(text(&ping), ": ping\n\n");
        assert_eq!(started.elapsed(), KEEP_ALIVE);
        cache.upsert_pod(&PODS, pod("a", "n1"));
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
    #[tokio::test]
    async fn a_deflate_stream_carries_exactly_what_the_identity_stream_does() {
        let cache = Arc::new(Cache::new(Arc::default()));
        cache.upsert_pod(&PODS, pod("before", "n1"));
        let resume = cache.position();
        cache.upsert_pod(&PODS, pod("missed", "n2"));
        let token = CancellationToken::new();
        let slots = ClientSlots::new(16, token.clone());
        let (on_n1, _) = Filter::from_query("node=n1").expect("filter");
        let mut pairs = Vec::new();
        for (filter, resume) in [
            (Filter::default(), None),
            (on_n1, None),
            (Filter::default(), Some(resume)),
        ] {
            let pair = [Encoding::Identity, Encoding::Deflate].map(|encoding| {
                let stream = client_stream(
                    slots.try_acquire(&cache).expect("a free slot"),
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
                cache.upsert_pod(&PODS, pod(&format!("p{round}-{i}"), node));
            }
            tokio::time::sleep(COALESCE * 2).await;
        }
        cache.upsert_pod(&PODS, pod("p0-0", "n2"));
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
