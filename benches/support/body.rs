//! What a browser does with an SSE response before its parser sees it: read the HTTP/1.1
//! head, undo the chunked framing, and inflate a `Content-Encoding: deflate` body.

use super::inflate::inflate_into;

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
