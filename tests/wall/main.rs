//! The wall end to end against the simulator, in this process: real HTTP, the real kube
//! client. One test binary (see tests/README.md); `cargo test --test wall MODULE::` runs a
//! part of it.

mod clusters;
mod convergence;
mod format_agreement;
mod http;
mod live;
mod resume;
mod usage_links;
mod warnings;

/// The binary under test (only the package's own targets see its path).
const PODWALL: &str = env!("CARGO_BIN_EXE_podwall");
