//! The fan-out.

pub mod batch;
pub mod deflate;
pub(crate) mod frame_data;
pub mod stream;
