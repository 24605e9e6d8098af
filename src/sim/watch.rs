//! Watch streams: newline-delimited JSON events read from the store's history ring by
//! cursor, one task per watch, bounded by a small channel (a slow client falls behind and
//! eventually out of the window, and then gets 410 like from a real apiserver).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::SimContext;
use super::events::View;
use super::query::ListOptions;
use super::resource::Resource;
use super::store::{Event, EventKind, Stored, watch_frame};
use super::table::table;

/// How often an idle watch that asked for bookmarks gets one. The real apiserver sends
/// them about once a minute; the simulator is more eager so tests need not wait.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(2);

/// Time between the half line and the abort of a cut watch, so the half line is flushed.
const CUT_FLUSH_DELAY: Duration = Duration::from_millis(100);

/// Events read from the ring per lock.
const BATCH: usize = 256;

/// Why a watch body ended with an error (the connection is then aborted).
#[derive(Debug, thiserror::Error)]
#[error("watch stream cut by fault injection")]
pub struct WatchCut;

type Chunk = Result<Bytes, WatchCut>;

/// One open watch.
struct Watch {
    ctx: Arc<SimContext>,
    resource: Resource,
    /// The API version objects are sent in.
    view: View,
    namespace: Option<String>,
    opts: ListOptions,
    tx: mpsc::Sender<Chunk>,
    /// Objects are sent as one-row Tables (kubectl's `get -w`).
    table: bool,
    /// Whether the first Table (with column definitions) went out.
    columns_sent: bool,
    /// Counted in `/_sim/state` while the watch runs.
    _open: super::traffic::OpenWatch,
}

/// Starts a watch and returns the streaming response.
pub fn serve(
    ctx: Arc<SimContext>,
    resource: Resource,
    view: View,
    namespace: Option<String>,
    opts: ListOptions,
    table: bool,
) -> HttpResponse {
    let (tx, rx) = mpsc::channel::<Chunk>(32);
    let watch = Watch {
        _open: ctx.traffic.open_watch(),
        ctx,
        resource,
        view,
        namespace,
        opts,
        tx,
        table,
        columns_sent: false,
    };
    let span =
        tracing::debug_span!("watch", resource = resource.plural(), namespace = ?watch.namespace);
    tokio::spawn(watch.run().instrument(span));
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(ReceiverStream::new(rx))
}

impl Watch {
    async fn run(mut self) {
        let deadline = self.opts.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut rv_rx = self.ctx.store.subscribe();
        let (mut cut_rx, mut stall_rx) = self.ctx.faults.watch_signals();
        cut_rx.borrow_and_update();
        let Some(mut cursor) = self.initial().await else {
            return;
        };
        let mut bookmark = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_INTERVAL,
            BOOKMARK_INTERVAL,
        );
        loop {
            let stalled = *stall_rx.borrow_and_update();
            if !stalled {
                match self.ctx.store.events_after(cursor, BATCH) {
                    Err(gone) => {
                        let frame = watch_frame("ERROR", gone.status_json().to_string().as_bytes());
                        let _ = self.tx.send(Ok(frame)).await;
                        return;
                    }
                    Ok((events, _)) => {
                        let full = events.len() == BATCH;
                        for e in events {
                            cursor = e.rv;
                            let Some(frame) = self.frame_for(&e) else {
                                continue;
                            };
                            let frame = self.shape(frame);
                            if self.tx.send(Ok(frame)).await.is_err() {
                                return;
                            }
                        }
                        if full {
                            continue;
                        }
                    }
                }
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.ctx.shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                _ = cut_rx.changed() => {
                    // Half a line, then an error: the chunked body is aborted mid-event.
                    let _ = self.tx.send(Ok(Bytes::from_static(b"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Po"))).await;
                    // Let the half line reach the socket before the abort.
                    tokio::time::sleep(CUT_FLUSH_DELAY).await;
                    let _ = self.tx.send(Err(WatchCut)).await;
                    return;
                }
                _ = sleep => return,
                changed = rv_rx.changed() => if changed.is_err() { return },
                _ = stall_rx.changed() => {}
                _ = bookmark.tick(), if self.opts.bookmarks && !stalled => {
                    if self.tx.send(Ok(self.bookmark(cursor, false))).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Sends what comes before the live events and returns the cursor to follow from.
    async fn initial(&mut self) -> Option<u64> {
        let synthetic = match (self.opts.send_initial_events, self.opts.resource_version) {
            (Some(send), _) => send,
            (None, None | Some(0)) => true,
            (None, Some(_)) => false,
        };
        if !synthetic {
            return Some(match self.opts.resource_version {
                Some(rv) if rv > 0 => rv,
                _ => self.ctx.store.rv(),
            });
        }
        let (rv, items) = self
            .ctx
            .store
            .snapshot(self.resource, self.namespace.as_deref());
        let mut buf = BytesMut::with_capacity(64 * 1024);
        for item in items.iter() {
            if !self.opts.matches(&item.index) {
                continue;
            }
            if self.table {
                let frame = self.shape(watch_frame("ADDED", &item.bytes));
                buf.put_slice(&frame);
            } else {
                buf.put_slice(b"{\"type\":\"ADDED\",\"object\":");
                buf.put_slice(&self.view.outgoing(item));
                buf.put_slice(b"}\n");
            }
            if buf.len() >= 64 * 1024 && self.tx.send(Ok(buf.split().freeze())).await.is_err() {
                return None;
            }
        }
        if self.opts.send_initial_events == Some(true) {
            buf.put_slice(&self.bookmark(rv, true));
        }
        if !buf.is_empty() && self.tx.send(Ok(buf.freeze())).await.is_err() {
            return None;
        }
        Some(rv)
    }

    /// The frame as this client wants it: as is, in its API version, or its object as
    /// a one-row Table.
    fn shape(&mut self, frame: Bytes) -> Bytes {
        if !self.table && self.view == View::Core {
            return frame;
        }
        let Ok(mut event) = serde_json::from_slice::<serde_json::Value>(&frame) else {
            return frame;
        };
        if !matches!(
            event["type"].as_str(),
            Some("ADDED" | "MODIFIED" | "DELETED")
        ) {
            return frame;
        }
        let object = event["object"].take();
        if !self.table {
            event["object"] = self.view.outgoing_value(object);
            let mut line = event.to_string().into_bytes();
            line.push(b'\n');
            return Bytes::from(line);
        }
        let rv = object["metadata"]["resourceVersion"].clone();
        event["object"] = table(
            self.resource,
            &[object],
            json!({"resourceVersion": rv}),
            !self.columns_sent,
        );
        self.columns_sent = true;
        let mut line = event.to_string().into_bytes();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_events_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.resource.kind(), "apiVersion": self.view.api_version(), "metadata": meta});
        watch_frame("BOOKMARK", object.to_string().as_bytes())
    }

    /// The line this watcher sends for `e`, if any — filtered like the apiserver's watch
    /// cache (`cacheWatcher.convertToWatchEvent`): an object that starts matching is
    /// ADDED, one that stops matching is DELETED (previous content, new resourceVersion).
    fn frame_for(&self, e: &Event) -> Option<Bytes> {
        if e.resource != self.resource {
            return None;
        }
        if let Some(ns) = &self.namespace
            && &e.object.index.namespace != ns
        {
            return None;
        }
        if !self.opts.filtered() {
            return Some(e.frame.clone());
        }
        let cur = e.kind != EventKind::Deleted && self.opts.matches(&e.object.index);
        let old = e.prev.as_ref().is_some_and(|p| self.opts.matches(&p.index));
        match (cur, old) {
            (false, false) => None,
            (true, false) => Some(watch_frame("ADDED", &e.object.bytes)),
            (true, true) => Some(e.frame.clone()),
            (false, true) if e.kind == EventKind::Deleted => Some(e.frame.clone()),
            (false, true) => {
                let prev = e.prev.as_ref()?;
                let mut value = prev.decode();
                value["metadata"]["resourceVersion"] = e.rv.to_string().into();
                let restamped = Stored::encode(self.resource, &value);
                Some(watch_frame("DELETED", &restamped.bytes))
            }
        }
    }
}
