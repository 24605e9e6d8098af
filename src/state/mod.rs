//! The state.

pub mod cache;
pub mod filter;
pub mod intern;
pub mod view;
