//! The Kubernetes side.

pub mod client;
pub mod heap;
pub mod informer;
pub mod quantity;
pub mod selector;
pub mod usage;
pub mod wire;
