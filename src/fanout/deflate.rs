//! `Content-Encoding: deflate` (a zlib stream, RFC 1950/1951) for event streams, built from
//! segments that are compressed once and shared by every client.
//!
//! A zlib stream is a two-byte header, deflate blocks, and the Adler-32 of everything it
//! carried. Each [`Segment`] is a run of deflate blocks from a fresh compressor ending in a
//! sync flush: byte-aligned, not final, with no back-references outside itself. So any
//! sequence of segments is a valid deflate body, and the same compressed bytes of a batch
//! can go to ten thousand clients. What differs per client is only the running checksum,
//! which [`Stream`] keeps by combining the segments' own checksums (O(1) each), and small
//! per-client pieces (a retry hint, a ping), which are sent as stored (uncompressed) blocks.

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, FlushCompress};

/// The Adler-32 modulus.
const BASE: u32 = 65_521;
/// The zlib header: deflate, 32 KiB window, default level, no dictionary.
const HEADER: &[u8] = &[0x78, 0x9c];
/// Largest payload of one stored block.
const STORED_MAX: usize = u16::MAX as usize;

/// How hard to compress a segment.
#[derive(Debug, Clone, Copy)]
pub enum Effort {
    /// Small, frequent segments sent to every client (change batches).
    Best,
    /// Large, one-off segments (a reset): speed over the last few percent.
    Fast,
}

/// Deflate blocks for one run of plain bytes, with the Adler-32 and length of the plain
/// bytes so a client's checksum can absorb them without reading them again.
#[derive(Debug, Clone)]
pub struct Segment {
    bytes: Bytes,
    adler: u32,
    len: u64,
}

impl Segment {
    /// Compresses `plain` into self-contained, byte-aligned, non-final deflate blocks.
    pub fn compress(plain: &[u8], effort: Effort) -> Self {
        let level = match effort {
            Effort::Best => Compression::default(),
            Effort::Fast => Compression::fast(),
        };
        let mut deflate = Compress::new(level, false);
        let mut out = Vec::with_capacity(plain.len() / 4 + 64);
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(plain.len());
            let rest = plain.get(consumed..).unwrap_or_default();
            if deflate
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .is_err()
            {
                // Cannot happen with a fresh compressor and valid arguments; stay correct.
                return Self::stored(plain);
            }
            let done = deflate.total_in() == plain.len() as u64;
            // A sync flush is complete only when it left spare room in the output.
            if done && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(256));
        }
        Self {
            bytes: Bytes::from(out),
            adler: adler32(plain),
            len: plain.len() as u64,
        }
    }

    /// `plain` as stored (uncompressed) deflate blocks: no compressor, for small or
    /// per-client pieces.
    pub fn stored(plain: &[u8]) -> Self {
        let blocks = plain.len().div_ceil(STORED_MAX);
        let mut out = BytesMut::with_capacity(plain.len() + 5 * blocks);
        for chunk in plain.chunks(STORED_MAX) {
            // BFINAL = 0, BTYPE = 00, then LEN and its complement, little-endian.
            let len = chunk.len() as u16;
            out.put_u8(0);
            out.put_u16_le(len);
            out.put_u16_le(!len);
            out.put_slice(chunk);
        }
        Self {
            bytes: out.freeze(),
            adler: adler32(plain),
            len: plain.len() as u64,
        }
    }
}

/// One client's zlib stream: what it has sent so far, as a checksum.
#[derive(Debug)]
pub struct Stream {
    adler: u32,
}

impl Default for Stream {
    fn default() -> Self {
        Self { adler: 1 }
    }
}

impl Stream {
    /// The bytes that open the stream.
    pub fn header() -> Bytes {
        Bytes::from_static(HEADER)
    }

    /// The wire bytes of `segment` for this stream (a shared handle, no copy).
    pub fn send(&mut self, segment: &Segment) -> Bytes {
        self.adler = adler32_combine(self.adler, segment.adler, segment.len);
        segment.bytes.clone()
    }

    /// The bytes that close the stream: an empty final block and the checksum.
    pub fn finish(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(9);
        out.put_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
        out.put_u32(self.adler);
        out.freeze()
    }
}

/// Whether an `Accept-Encoding` header value accepts `deflate` (RFC 9110: a listed coding
/// with a q-value other than 0).
pub fn accepted(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        coding.eq_ignore_ascii_case("deflate") && !refused
    })
}

fn adler32(bytes: &[u8]) -> u32 {
    let mut adler = adler2::Adler32::new();
    adler.write_slice(bytes);
    adler.checksum()
}

/// The Adler-32 of `a ++ b` from the checksums of `a` and `b` and the length of `b`
/// (zlib's `adler32_combine`).
fn adler32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    let rem = (len_b % u64::from(BASE)) as u32;
    let a_sum1 = a & 0xffff;
    let a_sum2 = a >> 16;
    let b_sum1 = b & 0xffff;
    let b_sum2 = b >> 16;
    let sum1 = (a_sum1 + b_sum1 + BASE - 1) % BASE;
    let sum2 = ((u64::from(rem) * u64::from(a_sum1)) % u64::from(BASE)) as u32;
    let sum2 = (sum2 + a_sum2 + b_sum2 + BASE - rem) % BASE;
    sum1 | (sum2 << 16)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn inflate(wire: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(wire)
            .read_to_end(&mut out)
            .expect("a valid zlib stream (checksum included)");
        out
    }

    #[test]
    fn shared_and_stored_segments_make_one_valid_zlib_stream() {
        let batch: Vec<u8> = (0..200)
            .flat_map(|i| format!("id: e-{i}\nevent: upsert\ndata: {{\"n\":{i}}}\n\n").into_bytes())
            .collect();
        let shared = Segment::compress(&batch, Effort::Best);
        assert!(
            shared.bytes.len() * 4 < batch.len(),
            "compresses: {} of {}",
            shared.bytes.len(),
            batch.len()
        );
        let big = vec![b'x'; 3 * STORED_MAX + 7];
        let reset = Segment::compress(&big, Effort::Fast);
        let ping = Segment::stored(b": ping\n\n");
        let long = Segment::stored(&big);
        // Two clients interleave the same shared segment with their own pieces.
        for pieces in [
            vec![&ping, &shared, &reset, &ping],
            vec![&long, &shared, &shared],
        ] {
            let mut stream = Stream::default();
            let mut wire = Stream::header().to_vec();
            let mut plain = Vec::new();
            for piece in pieces {
                wire.extend_from_slice(&stream.send(piece));
                plain.extend(if std::ptr::eq(piece, &shared) {
                    batch.clone()
                } else if std::ptr::eq(piece, &ping) {
                    b": ping\n\n".to_vec()
                } else {
                    big.clone()
                });
            }
            wire.extend_from_slice(&stream.finish());
            assert_eq!(inflate(&wire), plain);
        }
    }

    #[test]
    fn an_empty_stream_is_valid() {
        let stream = Stream::default();
        let mut wire = Stream::header().to_vec();
        wire.extend_from_slice(&Stream::default().send(&Segment::stored(b"")));
        wire.extend_from_slice(&stream.finish());
        assert!(inflate(&wire).is_empty());
    }

    #[test]
    fn combined_checksums_equal_the_checksum_of_the_whole() {
        let a = b"the first part, ".repeat(5000);
        let b = b"and the second".repeat(7000);
        let whole = [a.as_slice(), b.as_slice()].concat();
        assert_eq!(
            adler32_combine(adler32(&a), adler32(&b), b.len() as u64),
            adler32(&whole)
        );
        assert_eq!(adler32_combine(adler32(&a), 1, 0), adler32(&a));
    }

    #[test]
    fn accept_encoding_is_read_like_rfc_9110() {
        assert!(accepted("gzip, deflate, br, zstd"));
        assert!(accepted("DEFLATE;q=0.5"));
        assert!(!accepted("gzip, deflate;q=0"));
        assert!(!accepted("gzip, br"));
        assert!(!accepted(""));
        assert!(!accepted("deflatex"));
    }
}
