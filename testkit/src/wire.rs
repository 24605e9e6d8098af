//! A bare SSE connection, cheap enough to open ten thousand of: no HTTP client state per
//! connection, the body decoded only when asked for, as a browser decodes it (the HTTP/1.1
//! head, chunked framing, `deflate`).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::inflate::inflate_into;

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

/// Decodes one response's raw socket bytes into its body, incrementally.
pub struct Body {
    state: State,
    /// Bytes of a head or chunk-size line not yet complete.
    line: Vec<u8>,
    inflate: Option<flate2::Decompress>,
}

enum State {
    Head,
    Size,
    Data(usize),
    DataEnd(usize),
}

impl Default for Body {
    fn default() -> Self {
        Self {
            state: State::Head,
            line: Vec::new(),
            inflate: None,
        }
    }
}

impl Body {
    /// Whether the server chose `deflate` (known once the head is in).
    pub fn deflated(&self) -> bool {
        self.inflate.is_some()
    }

    /// Feeds bytes read from the socket; appends the decoded body to `out`.
    pub fn feed(&mut self, mut raw: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        while !raw.is_empty() {
            match self.state {
                State::Head => {
                    let (line, rest) = take_until(&mut self.line, raw, b"\r\n\r\n");
                    raw = rest;
                    if let Some(head) = line {
                        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                        if !head.starts_with("http/1.1 200") {
                            return Err(format!(
                                "not a 200: {}",
                                head.lines().next().unwrap_or("")
                            ));
                        }
                        if head.contains("\r\ncontent-encoding: deflate") {
                            self.inflate = Some(flate2::Decompress::new(true));
                        }
                        self.state = State::Size;
                    }
                }
                State::Size => {
                    let (line, rest) = take_until(&mut self.line, raw, b"\r\n");
                    raw = rest;
                    if let Some(line) = line {
                        let hex = String::from_utf8_lossy(&line);
                        let hex = hex.trim().split(';').next().unwrap_or_default();
                        let size = usize::from_str_radix(hex, 16)
                            .map_err(|e| format!("chunk size {hex:?}: {e}"))?;
                        self.state = State::Data(size);
                    }
                }
                State::Data(left) => {
                    let n = left.min(raw.len());
                    self.body(&raw[..n], out)?;
                    raw = &raw[n..];
                    self.state = if n == left {
                        State::DataEnd(2)
                    } else {
                        State::Data(left - n)
                    };
                }
                State::DataEnd(left) => {
                    let n = left.min(raw.len());
                    raw = &raw[n..];
                    self.state = if n == left {
                        State::Size
                    } else {
                        State::DataEnd(left - n)
                    };
                }
            }
        }
        Ok(())
    }

    fn body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let Some(inflate) = &mut self.inflate else {
            out.extend_from_slice(data);
            return Ok(());
        };
        inflate_into(inflate, data, out).map_err(|e| format!("inflate: {e}"))
    }
}

/// Appends `raw` to `line` up to and including `end`; the complete line (without `end`)
/// and what follows it, or `None` and nothing when `end` has not come yet.
fn take_until<'a>(line: &mut Vec<u8>, raw: &'a [u8], end: &[u8]) -> (Option<Vec<u8>>, &'a [u8]) {
    let start = line.len().saturating_sub(end.len() - 1);
    line.extend_from_slice(raw);
    match memchr::memmem::find(&line[start..], end) {
        Some(at) => {
            let at = start + at;
            let consumed = at + end.len() - (line.len() - raw.len());
            let complete = line[..at].to_vec();
            line.clear();
            (Some(complete), &raw[consumed..])
        }
        None => (None, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_body_is_decoded_across_reads_and_its_last_id_found() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
            1f\r\nid: 1-4\nevent: reset\ndata: {}\n\n\r\n11\r\nid: 1-5\ndata: x\n\n\r\n";
        let mut body = Body::default();
        let mut out = Vec::new();
        for piece in raw.chunks(7) {
            body.feed(piece, &mut out).expect("a valid response");
        }
        assert!(!body.deflated());
        assert!(has_reset(&out));
        assert_eq!(last_seq(&out), Some(5));
    }

    #[test]
    fn a_response_other_than_200_is_an_error() {
        let mut out = Vec::new();
        let err = Body::default()
            .feed(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", &mut out)
            .expect_err("not a 200");
        assert!(err.contains("503"), "{err}");
    }
}
