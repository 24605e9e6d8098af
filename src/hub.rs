//! Fan-out of cache changes to SSE clients.
//!
//! Each change's frames are encoded once, on first use, and shared by every client as
//! `Bytes` (per format: JSON diffs for `/api/events`, HTML fragments for `/events`).
//! A client's filter only decides which of a change's frames it gets: the change itself,
//! a delete (the object left the client's filter), or nothing. A client that falls behind
//! the shared broadcast channel gets a fresh `reset` instead of an ever-growing queue.

use std::convert::Infallible;
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

use crate::cache::{Cache, Change, Diff, Position, Snapshot, Start};
use crate::filter::Filter;
use crate::render;

/// How often an idle stream gets a `: ping` comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reconnect delay suggested to EventSource clients.
const RETRY_MS: u64 = 2000;

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
                serde_json::to_string(&crate::frame_data::PodUpsert {
                    cluster: change.cluster.as_deref(),
                    kind: "Pod",
                    object: p.as_ref().into(),
                }),
            ),
            None => {
                let p = old.as_ref().or(new.as_ref());
                (
                    "delete",
                    serde_json::to_string(&crate::frame_data::PodDelete {
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
                    serde_json::to_string(&crate::frame_data::HtmlUpsert {
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
                    serde_json::to_string(&crate::frame_data::HtmlDelete { id: id.as_deref() }),
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

fn pod_id(p: &crate::view::PodView) -> String {
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

/// Largest piece of a frame handed to the HTTP layer at once.
const WRITE_CHUNK: usize = 8 * 1024;

/// How long a busy stream gathers changes before handing them on. The first change after
/// a quiet spell goes out at once; while changes keep coming, a client wakes once per tick
/// and writes everything since in one go, instead of waking (and writing) once per change:
/// at 500 changes/s that is 10 wake-ups per client per second instead of 500, which is
/// what lets two cores serve 10,000 clients. Costs at most one tick of latency.
pub const COALESCE: Duration = Duration::from_millis(100);

/// How long after a lag-reset a second lag disconnects the client instead: a client
/// that cannot keep up even right after a fresh snapshot only wastes resets.
const SLOW_WINDOW: Duration = Duration::from_secs(30);

/// What every stream of a server shares: the connected-client limit (`--max-clients`)
/// and the latest unfiltered reset frame per format, so a connect storm encodes the
/// snapshot once per change, not once per client.
#[derive(Debug, Clone)]
pub struct ClientSlots {
    used: Arc<AtomicUsize>,
    max: usize,
    resets: Arc<LatestResets>,
}

/// The latest unfiltered reset frame and its position, per [`Format`].
type LatestResets = parking_lot::Mutex<[Option<(Position, Bytes)>; 2]>;

impl ClientSlots {
    /// Room for `max` concurrent streams.
    pub fn new(max: usize) -> Self {
        Self {
            used: Arc::default(),
            max,
            resets: Arc::default(),
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

    /// The reset frame of `snap`, shared when the filter is empty.
    fn reset_frame(&self, snap: &Snapshot, filter: &Filter, format: Format) -> Bytes {
        if !filter.is_empty() {
            return reset_frame(snap, format);
        }
        let position = snap.position();
        let mut resets = self.resets.lock();
        let cell = &mut resets[format as usize];
        match cell {
            Some((at, bytes)) if *at == position => bytes.clone(),
            _ => {
                let bytes = reset_frame(snap, format);
                *cell = Some((position, bytes.clone()));
                bytes
            }
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

struct ClientState {
    cache: Arc<Cache>,
    filter: Filter,
    format: Format,
    rx: broadcast::Receiver<Arc<Change>>,
    pending: std::collections::VecDeque<Bytes>,
    ping: tokio::time::Interval,
    /// While changes keep coming: when to gather the next batch.
    next_batch: Option<tokio::time::Instant>,
    last_lag: Option<tokio::time::Instant>,
    shutdown: CancellationToken,
    slot: ClientSlot,
}

/// The SSE body of one client: a `retry:` hint, a reset or the missed changes, then every
/// visible change as it happens, `: ping` when idle; ends when `shutdown` is cancelled or
/// the client lags twice within [`SLOW_WINDOW`].
///
/// Memory per client is bounded: a broadcast receiver (a cursor, not a queue), the
/// start frames (shared `Bytes` handles, except a filtered reset), and what the socket
/// and HTTP layer buffer; a client that stops reading is not polled, so nothing else
/// accumulates for it, and it never slows the others (the broadcast never waits).
pub fn client_stream(
    slot: ClientSlot,
    filter: Filter,
    format: Format,
    resume: Option<Position>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let cache = slot.cache.clone();
    let (rx, start) = cache.subscribe(&filter, resume);
    let mut pending = std::collections::VecDeque::new();
    pending.push_back(Bytes::from(format!("retry: {RETRY_MS}\n\n")));
    match start {
        Start::Reset(snap) => {
            cache.metrics().resets_sent.inc();
            pending.push_back(slot.slots.reset_frame(&snap, &filter, format));
        }
        Start::Replay(changes) => {
            pending.extend(changes.iter().filter_map(|c| frame_for(c, &filter, format)))
        }
    }
    let state = ClientState {
        slot,
        cache,
        filter,
        format,
        rx,
        pending,
        ping: tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
        next_batch: None,
        last_lag: None,
        shutdown,
    };
    futures::stream::unfold(state, |mut st| async move {
        let mut bytes = next_frame(&mut st).await?;
        if bytes.len() > WRITE_CHUNK {
            // Zero-copy slices: the HTTP layer's per-connection buffer stays near its own
            // limit instead of growing to the largest frame (a reset) and keeping it.
            let rest = bytes.split_off(WRITE_CHUNK);
            st.pending.push_front(rest);
        } else {
            st.cache.metrics().frames_sent.inc();
        }
        Some((Ok(bytes), st))
    })
}

async fn next_frame(st: &mut ClientState) -> Option<Bytes> {
    loop {
        if st.shutdown.is_cancelled() {
            return None;
        }
        if let Some(bytes) = st.pending.pop_front() {
            return Some(bytes);
        }
        if let Some(at) = st.next_batch {
            // Busy: sleep through the tick without listening, then take all that came.
            tokio::select! {
                biased;
                _ = st.shutdown.cancelled() => return None,
                _ = tokio::time::sleep_until(at) => {}
            }
            if !gather(st)? {
                st.next_batch = None;
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = st.shutdown.cancelled() => return None,
            received = st.rx.recv() => match received {
                Ok(change) => {
                    if let Some(bytes) = frame_for(&change, &st.filter, st.format) {
                        st.cache
                            .metrics()
                            .fanout_latency
                            .observe(change.published.elapsed().as_secs_f64());
                        st.ping.reset();
                        st.next_batch = Some(tokio::time::Instant::now() + COALESCE);
                        return Some(bytes);
                    }
                }
                Err(RecvError::Lagged(missed)) => lagged(st, missed)?,
                Err(RecvError::Closed) => return None,
            },
            _ = st.ping.tick() => return Some(Bytes::from_static(b": ping\n\n")),
        }
    }
}

/// Queues the frames of every change waiting in the channel; whether there were any.
/// `None` ends the stream (the cache is gone, or the client is too slow).
fn gather(st: &mut ClientState) -> Option<bool> {
    let mut oldest = None;
    let mut any = false;
    loop {
        match st.rx.try_recv() {
            Ok(change) => {
                any = true;
                if let Some(bytes) = frame_for(&change, &st.filter, st.format) {
                    oldest.get_or_insert(change.published);
                    st.pending.push_back(bytes);
                }
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Lagged(missed)) => {
                lagged(st, missed)?;
                break;
            }
            Err(TryRecvError::Closed) => return None,
        }
    }
    if let Some(published) = oldest {
        // One observation per write, of its oldest change: the histogram takes a lock,
        // and a lock per change per client is what coalescing is here to avoid.
        st.cache
            .metrics()
            .fanout_latency
            .observe(published.elapsed().as_secs_f64());
        st.ping.reset();
    }
    st.next_batch = Some(tokio::time::Instant::now() + COALESCE);
    Some(any)
}

/// The client fell behind the channel: a fresh reset, or `None` (disconnect) when it
/// lagged already within [`SLOW_WINDOW`].
fn lagged(st: &mut ClientState, missed: u64) -> Option<()> {
    let metrics = st.cache.metrics();
    metrics.frames_dropped.inc_by(missed);
    let now = tokio::time::Instant::now();
    if st.last_lag.is_some_and(|at| now - at < SLOW_WINDOW) {
        tracing::info!(
            incident = "slow_client_disconnect",
            missed,
            "SSE client too slow even after a reset; disconnecting"
        );
        metrics.slow_client_disconnects.inc();
        return None;
    }
    st.last_lag = Some(now);
    tracing::debug!(
        incident = "lag_reset",
        missed,
        "slow SSE client lagged; sending a reset"
    );
    metrics.lagged_clients.inc();
    metrics.resets_sent.inc();
    let (rx, start) = st.cache.subscribe(&st.filter, None);
    st.rx = rx;
    // Changes queued before the reset are in it.
    st.pending.clear();
    if let Start::Reset(snap) = start {
        let frame = st.slot.slots.reset_frame(&snap, &st.filter, st.format);
        st.pending.push_back(frame);
    }
    Some(())
}

#[cfg(test)]
mod tests {

    use futures::StreamExt;

    use super::*;
    use crate::cache::{CHANNEL_CAPACITY, Kind, Scope};
    use crate::view::PodView;

    fn pod(name: &str, node: &str) -> PodView {
        PodView {
            namespace: Arc::from("ns"),
            name: name.into(),
            node: Some(Arc::from(node)),
            phase: "Running".into(),
            status: "Running".into(),
            ready: crate::view::Ready { ready: 1, total: 1 },
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
        let slot = ClientSlots::new(1).try_acquire(cache).expect("a free slot");
        client_stream(slot, Filter::default(), format, None, shutdown)
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

    #[tokio::test]
    async fn a_lagging_client_gets_a_reset_not_a_growing_queue() {
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
        let next = text(&next);
        assert!(
            next.contains("event: reset") && next.contains(&format!("-{total}\n")),
            "{}",
            &next[..80]
        );
        assert_eq!(cache.metrics().lagged_clients.get(), 1);
        assert_eq!(cache.metrics().frames_dropped.get(), 10);
        token.cancel();
        assert!(stream.next().await.is_none(), "the stream ends on shutdown");
    }

    #[tokio::test]
    async fn a_client_lagging_again_soon_after_a_reset_is_disconnected() {
        let cache = Arc::new(Cache::new(Arc::default()));
        let slots = ClientSlots::new(1);
        let stream = client_stream(
            slots.try_acquire(&cache).expect("a free slot"),
            Filter::default(),
            Format::Json,
            None,
            CancellationToken::new(),
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
        for name in ["b", "c", "d"] {
            let frame = stream.next().await.and_then(Result::ok).expect("a frame");
            assert!(text(&frame).contains(&format!("\"name\":\"{name}\"")));
            assert_eq!(
                started.elapsed(),
                COALESCE,
                "the rest waits for the tick, together"
            );
        }
        let metrics = cache.metrics().encode().expect("metrics");
        assert!(
            metrics.contains("podwall_fanout_latency_seconds_count 2\n"),
            "one observation per write: {metrics}"
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
}
