//! A minimal EventSource over reqwest's byte stream, and the model a `/api/events` client
//! builds from it (reset, then upserts and deletes).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::DEADLINE;
use crate::inflate::inflate_into;

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `id:` field, `<epoch>-<seq>` on podwall's streams.
    pub id: Option<String>,
    /// The `event:` field (`message` when absent).
    pub event: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }

    /// The sequence number of the id `<epoch>-<seq>`.
    pub fn seq(&self) -> u64 {
        let id = self.id.as_deref().expect("event has an id");
        id.rsplit_once('-')
            .and_then(|(_, s)| s.parse().ok())
            .expect("id is <epoch>-<seq>")
    }
}

/// What [`SseClient::next_item`] reads: an event, a comment (podwall's `: ping`), or the
/// end of the stream, or nothing in time.
#[derive(Debug, Clone)]
pub enum SseItem {
    /// An event (a block with `data:`).
    Event(SseEvent),
    /// A comment line's text after the `:`, trimmed.
    Comment(String),
    /// The stream ended (or broke).
    Eof,
    /// Nothing within the timeout.
    Timeout,
}

/// A minimal EventSource: parses `id:`, `event:`, `data:` fields; skips comments (or reads
/// them: [`SseClient::next_item`]).
pub struct SseClient {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: Vec<u8>,
    /// How far `buf` is known to hold no block end: a 50,000-pod reset arrives in
    /// hundreds of chunks, and scanning it from the start on each would take minutes.
    scanned: usize,
    pending: std::collections::VecDeque<SseItem>,
    headers: reqwest::header::HeaderMap,
    /// The id of the last event read (the `Last-Event-ID` it was opened with before one),
    /// for resuming the stream elsewhere.
    pub last_id: Option<String>,
}

impl SseClient {
    /// Opens the event stream at `url`, with a `Last-Event-ID` header when given; it must
    /// answer 200 with `text/event-stream`.
    pub async fn open(http: &reqwest::Client, url: &str, last_event_id: Option<&str>) -> SseClient {
        let resp = Self::request(http, url, last_event_id)
            .send()
            .await
            .expect("SSE connect");
        assert_eq!(resp.status(), 200);
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
        SseClient::from_response(resp).resuming(last_event_id)
    }

    /// [`SseClient::open`] that says why it could not (no answer, or not a success) instead
    /// of failing the test: for polling until a stream opens.
    pub async fn try_open(
        http: &reqwest::Client,
        url: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseClient, String> {
        let resp = Self::request(http, url, last_event_id)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: {}", resp.status()));
        }
        Ok(SseClient::from_response(resp).resuming(last_event_id))
    }

    fn request(
        http: &reqwest::Client,
        url: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = http.get(url).header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req
    }

    fn resuming(mut self, last_event_id: Option<&str>) -> SseClient {
        self.last_id = last_event_id.map(str::to_owned);
        self
    }

    /// Reads events from a response already checked to be an event stream.
    pub fn from_response(resp: reqwest::Response) -> SseClient {
        let headers = resp.headers().clone();
        SseClient {
            headers,
            ..SseClient::over(resp.bytes_stream())
        }
    }

    fn over(
        stream: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
    ) -> SseClient {
        SseClient {
            stream: Box::pin(stream),
            buf: Vec::new(),
            scanned: 0,
            pending: Default::default(),
            headers: Default::default(),
            last_id: None,
        }
    }

    /// The response's headers.
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        &self.headers
    }

    /// Reads events from a `Content-Encoding: deflate` event stream, inflating as it goes.
    pub fn inflating(resp: reqwest::Response) -> SseClient {
        let headers = resp.headers().clone();
        let mut zlib = flate2::Decompress::new(true);
        let inflated = resp.bytes_stream().map(move |chunk| {
            chunk.map(|data| {
                let mut out = Vec::new();
                inflate_into(&mut zlib, &data, &mut out).expect("a valid deflate stream");
                bytes::Bytes::from(out)
            })
        });
        SseClient {
            headers,
            ..SseClient::over(inflated)
        }
    }

    /// The next event, or `None` when the stream ended or `timeout` passed.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.next_item_until(deadline).await {
                SseItem::Event(ev) => return Some(ev),
                SseItem::Comment(_) => {}
                SseItem::Eof | SseItem::Timeout => return None,
            }
        }
    }

    /// The next event or comment, or whether the stream ended or `timeout` passed.
    pub async fn next_item(&mut self, timeout: Duration) -> SseItem {
        self.next_item_until(tokio::time::Instant::now() + timeout)
            .await
    }

    async fn next_item_until(&mut self, deadline: tokio::time::Instant) -> SseItem {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if let SseItem::Event(SseEvent { id: Some(id), .. }) = &item {
                    self.last_id = Some(id.clone());
                }
                return item;
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return SseItem::Timeout,
                Ok(None) | Ok(Some(Err(_))) => return SseItem::Eof,
                Ok(Some(Ok(chunk))) => {
                    self.buf.extend_from_slice(&chunk);
                    self.split();
                }
            }
        }
    }

    /// The next event; panics after [`DEADLINE`].
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(DEADLINE)
            .await
            .expect("an SSE event within the deadline")
    }

    /// Reads events until `pred` matches one; returns it.
    pub async fn until(&mut self, what: &str, pred: impl FnMut(&SseEvent) -> bool) -> SseEvent {
        self.until_within(what, DEADLINE, pred).await
    }

    /// [`SseClient::until`] with another deadline.
    pub async fn until_within(
        &mut self,
        what: &str,
        deadline: Duration,
        mut pred: impl FnMut(&SseEvent) -> bool,
    ) -> SseEvent {
        let start = Instant::now();
        loop {
            let left = deadline.saturating_sub(start.elapsed());
            match self.next_within(left).await {
                Some(ev) if pred(&ev) => return ev,
                Some(_) => {}
                None => panic!("timed out after {deadline:?} waiting for {what}"),
            }
        }
    }

    /// Reads events until one with a sequence number above `seq` arrives; returns it.
    pub async fn event_after(&mut self, seq: u64, what: &str) -> SseEvent {
        self.until(what, |ev| ev.id.is_some() && ev.seq() > seq)
            .await
    }

    /// Moves the complete blocks of the buffer to `pending`: their comments, then their
    /// event if they have data.
    fn split(&mut self) {
        // Blocks end with a blank line; each is parsed once, and the parsed prefix leaves
        // the buffer in one move.
        let mut start = 0;
        while let Some(at) = memchr::memmem::find(&self.buf[self.scanned.max(start)..], b"\n\n") {
            let end = self.scanned.max(start) + at + 2;
            let text = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            start = end;
            self.parse_block(&text);
        }
        self.buf.drain(..start);
        // A block end may straddle this chunk and the next.
        self.scanned = self.buf.len().saturating_sub(1);
    }

    fn parse_block(&mut self, text: &str) {
        let mut ev = SseEvent {
            id: None,
            event: "message".into(),
            data: String::new(),
        };
        let mut has_data = false;
        for line in text.lines() {
            if let Some(c) = line.strip_prefix(':') {
                self.pending
                    .push_back(SseItem::Comment(c.trim().to_owned()));
            } else if let Some(v) = line.strip_prefix("id: ") {
                ev.id = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("event: ") {
                ev.event = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                if has_data {
                    ev.data.push('\n');
                }
                ev.data.push_str(v);
                has_data = true;
            }
        }
        if has_data {
            self.pending.push_back(SseItem::Event(ev));
        }
    }
}

/// The state a `/api/events` client builds: reset, then upserts and deletes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Model {
    /// The sequence number of the last event applied.
    pub seq: u64,
    /// Node views by name.
    pub nodes: BTreeMap<String, Value>,
    /// Pod views by `namespace/name`.
    pub pods: BTreeMap<String, Value>,
    /// Warnings by `namespace/name` of the event.
    pub warnings: BTreeMap<String, Value>,
}

impl Model {
    /// Builds a model from a snapshot JSON (`/api/snapshot` or a reset's data).
    pub fn from_snapshot(snap: &Value) -> Model {
        let mut m = Model {
            seq: snap["seq"].as_u64().expect("seq"),
            ..Model::default()
        };
        for n in snap["nodes"].as_array().expect("nodes") {
            m.nodes
                .insert(n["name"].as_str().expect("name").to_owned(), n.clone());
        }
        for p in snap["pods"].as_array().expect("pods") {
            m.pods.insert(pod_key(p), p.clone());
        }
        // Older servers' snapshots have no warnings.
        for w in snap["warnings"].as_array().into_iter().flatten() {
            m.warnings.insert(pod_key(w), w.clone());
        }
        m
    }

    /// Applies one event of `/api/events`.
    pub fn apply(&mut self, ev: &SseEvent) {
        let d = ev.json();
        match ev.event.as_str() {
            "reset" => *self = Model::from_snapshot(&d),
            "upsert" => {
                let o = d["object"].clone();
                match d["kind"].as_str() {
                    Some("Pod") => self.pods.insert(pod_key(&o), o),
                    Some("Node") => self
                        .nodes
                        .insert(o["name"].as_str().expect("name").to_owned(), o),
                    Some("Warning") => self.warnings.insert(pod_key(&o), o),
                    k => panic!("unknown kind {k:?}"),
                };
            }
            "delete" => {
                match d["kind"].as_str() {
                    Some("Pod") => self.pods.remove(&format!(
                        "{}/{}",
                        d["namespace"].as_str().expect("ns"),
                        d["name"].as_str().expect("name")
                    )),
                    Some("Node") => self.nodes.remove(d["name"].as_str().expect("name")),
                    Some("Warning") => self.warnings.remove(&pod_key(&d)),
                    k => panic!("unknown kind {k:?}"),
                };
            }
            "status" | "events" => {}
            // A stream's own frames (a screen's attention, its end): no change, no id.
            "attention" | "signed-out" => return,
            other => panic!("unknown event {other}"),
        }
        if ev.event != "reset" {
            self.seq = ev.seq();
        }
    }
}

/// `namespace/name` of a pod view.
pub fn pod_key(p: &Value) -> String {
    format!(
        "{}/{}",
        p["namespace"].as_str().expect("namespace"),
        p["name"].as_str().expect("name")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(chunks: &[&'static str]) -> SseClient {
        let stream = futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, reqwest::Error>(bytes::Bytes::from_static(c.as_bytes())))
                .collect::<Vec<_>>(),
        );
        SseClient::over(stream)
    }

    #[tokio::test]
    async fn events_split_across_chunks_join_their_data_lines_and_skip_comments() {
        let mut sse = client(&[
            "retry: 2000\n\n: ping\n\nid: 7-3\nevent: up",
            "sert\ndata: a\ndata: b\n\n",
        ]);
        let ev = sse.next().await;
        assert_eq!(
            (ev.id.as_deref(), ev.event.as_str(), ev.data.as_str()),
            (Some("7-3"), "upsert", "a\nb")
        );
        assert_eq!(ev.seq(), 3);
        assert!(
            sse.next_within(Duration::from_millis(10)).await.is_none(),
            "the stream ended"
        );
    }

    #[tokio::test]
    async fn next_item_reads_comments_and_tells_the_end_from_a_timeout() {
        let mut sse = client(&[": ping\n\nid: 7-4\nevent: upsert\ndata: {}\n\n"]);
        assert!(matches!(sse.next_item(DEADLINE).await, SseItem::Comment(c) if c == "ping"));
        assert!(matches!(sse.next_item(DEADLINE).await, SseItem::Event(ev) if ev.seq() == 4));
        assert_eq!(sse.last_id.as_deref(), Some("7-4"));
        assert!(matches!(sse.next_item(DEADLINE).await, SseItem::Eof));
        let mut idle = SseClient::over(futures::stream::pending());
        assert!(matches!(
            idle.next_item(Duration::from_millis(10)).await,
            SseItem::Timeout
        ));
    }

    #[test]
    fn the_model_applies_a_reset_then_upserts_and_deletes() {
        let event = |event: &str, id: &str, data: Value| SseEvent {
            id: Some(id.into()),
            event: event.into(),
            data: data.to_string(),
        };
        let mut model = Model::default();
        let reset = serde_json::json!({"seq": 1, "nodes": [{"name": "n"}],
            "pods": [{"namespace": "a", "name": "p"}]});
        model.apply(&event("reset", "e-1", reset));
        let pod = serde_json::json!({"kind": "Pod", "object": {"namespace": "a", "name": "q"}});
        model.apply(&event("upsert", "e-2", pod));
        let gone = serde_json::json!({"kind": "Pod", "namespace": "a", "name": "p"});
        model.apply(&event("delete", "e-3", gone));
        assert_eq!(model.seq, 3);
        assert_eq!(model.pods.keys().collect::<Vec<_>>(), ["a/q"]);
        assert_eq!(model.nodes.len(), 1);
    }
}
