//! Inflating a `Content-Encoding: deflate` event stream piece by piece, as a browser does.

/// Inflates `data`, the next piece of the zlib stream `zlib` reads, onto the end of `out`.
pub fn inflate_into(
    zlib: &mut flate2::Decompress,
    mut data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), flate2::DecompressError> {
    loop {
        // Into a window of fresh room, not `decompress_vec`: flate2's Rust backend zeroes
        // all of a Vec's spare capacity on every call, and a reader that keeps its buffer
        // (the fan-out bench's clients) paid that per read. Event text inflates about 8×.
        let room = data.len() * 8 + 4096;
        let len = out.len();
        out.resize(len + room, 0);
        let (before_in, before_out) = (zlib.total_in(), zlib.total_out());
        let status = zlib.decompress(data, &mut out[len..], flate2::FlushDecompress::None);
        let made = usize::try_from(zlib.total_out() - before_out).expect("a length");
        out.truncate(len + made);
        status?;
        let used = usize::try_from(zlib.total_in() - before_in).expect("a length");
        data = &data[used..];
        // Done when the input is used up and the window was not filled (nothing held back),
        // or when nothing moves (the stream ended).
        if (data.is_empty() && made < room) || (used == 0 && made == 0) {
            return Ok(());
        }
    }
}
