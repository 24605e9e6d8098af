//! Inflating a `Content-Encoding: deflate` event stream piece by piece, as a browser does.
//! Also included by the benches (`benches/support`), which are a crate of their own.

/// Inflates `data`, the next piece of the zlib stream `zlib` reads, onto the end of `out`.
pub fn inflate_into(
    zlib: &mut flate2::Decompress,
    mut data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), flate2::DecompressError> {
    while !data.is_empty() {
        // decompress_vec writes only into spare capacity; event text inflates about 8×.
        out.reserve(data.len() * 8 + 4096);
        let before = zlib.total_in();
        zlib.decompress_vec(data, out, flate2::FlushDecompress::None)?;
        let used = usize::try_from(zlib.total_in() - before).expect("a length");
        data = &data[used..];
    }
    Ok(())
}
