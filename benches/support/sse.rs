//! A bare SSE connection, cheap enough to open ten thousand of: no HTTP client state per
//! connection, the body decoded only when a bench asks for it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Body;

/// Opens an SSE stream on a bare socket (no HTTP client state per connection):
/// `GET path`, with `Last-Event-ID` and `Accept-Encoding` when given.
pub async fn open_stream(
    addr: SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
    accept_encoding: Option<&str>,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let accept = accept_encoding.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: wall\r\n{resume}{accept}\r\n").as_bytes())
        .await?;
    Ok(s)
}

/// Whether `buf` holds a complete `reset` event.
pub fn has_reset(buf: &[u8]) -> bool {
    memchr::memmem::find(buf, b"event: reset\n")
        .is_some_and(|at| memchr::memmem::find(&buf[at..], b"\n\n").is_some())
}

/// The sequence number of the last complete event id in `buf` (`id: <epoch>-<seq>`).
pub fn last_seq(buf: &[u8]) -> Option<u64> {
    let at = memchr::memmem::rfind(buf, b"\nid: ")
        .map(|i| i + 1)
        .or_else(|| buf.starts_with(b"id: ").then_some(0))?;
    let line = &buf[at + 4..];
    let end = memchr::memchr(b'\n', line)?;
    let id = std::str::from_utf8(&line[..end]).ok()?;
    id.rsplit_once('-')?.1.parse().ok()
}

/// What Chromium sends as `Accept-Encoding` with an EventSource request.
pub const BROWSER_ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// A bare SSE connection that decodes its body as a browser does (chunked framing, and
/// `deflate` when it asked for it and the server chose it).
pub struct SseConn {
    s: TcpStream,
    body: Body,
    /// The decoded body so far.
    pub decoded: Vec<u8>,
    /// Bytes read off the socket (head and framing included).
    pub wire: usize,
}

impl SseConn {
    /// Opens `path`, resuming after `last_event_id` if given, sending `accept_encoding`.
    pub async fn open(
        addr: SocketAddr,
        path: &str,
        last_event_id: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            s: open_stream(addr, path, last_event_id, accept_encoding).await?,
            body: Body::default(),
            decoded: Vec::new(),
            wire: 0,
        })
    }

    /// Reads until `done(decoded)`; an error when the stream ends first.
    pub async fn read_until(&mut self, mut done: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        while !done(&self.decoded) {
            let n = self.s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.wire += n;
            self.body
                .feed(&chunk[..n], &mut self.decoded)
                .map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// Reads (without decoding) until the server closes the connection.
    pub async fn drain(&mut self) {
        let mut sink = vec![0u8; 16 * 1024];
        while matches!(self.s.read(&mut sink).await, Ok(n) if n > 0) {}
    }
}
