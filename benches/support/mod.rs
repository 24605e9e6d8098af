//! What the benchmarks share: the scale switch, the runtime, a scratch directory,
//! `podwall sim` and `podwall serve` as separate processes measured from `/proc`
//! (`process.rs`), a bare SSE connection cheap enough to open ten thousand of (`sse.rs`),
//! and how reports write numbers.

#![allow(dead_code)] // each bench uses a different part

mod body;
mod process;
mod sse;
// The tests' parsers, so that benches and tests read podwall's output the same way.
#[path = "../../tests/common/inflate.rs"]
mod inflate;
#[path = "../../tests/common/metrics_text.rs"]
mod metrics_text;

// Each bench takes what it needs of these.
#[allow(unused_imports)]
pub use body::Body;
#[allow(unused_imports)]
pub use process::{Cluster, Memory, Proc, Server, Sim, Workspace, free_addr, podwall};
#[allow(unused_imports)]
pub use sse::{BROWSER_ACCEPT_ENCODING, SseConn, has_reset, last_seq, open_stream};

/// How big a run is: `PODWALL_BENCH_SCALE=full|quick` wins; else `--bench` (passed by
/// `cargo bench`) means full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `cargo bench --bench NAME`: the sizes the issue asks for, the numbers for
    /// BENCHMARKS.md.
    Full,
    /// Without `--bench` (`cargo test --all-targets`): a smoke run in seconds that asserts
    /// that numbers came out, not what they are.
    Quick,
}

impl Scale {
    /// The scale of this run.
    pub fn detect() -> Self {
        match std::env::var("PODWALL_BENCH_SCALE").as_deref() {
            Ok("full") => Self::Full,
            Ok("quick") => Self::Quick,
            _ if std::env::args().any(|a| a == "--bench") => Self::Full,
            _ => Self::Quick,
        }
    }

    /// `full` or `quick`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it) and fails
/// unless `needed` files fit under it.
pub fn raise_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    let fds = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            limit.rlim_cur
        } else {
            1024
        }
    };
    assert!(
        needed < fds,
        "open-file limit {fds} too low: this run needs about {needed}"
    );
}

/// Runs a benchmark's async body on a two-worker runtime (the machine has two cores).
pub fn block_on<F: std::future::Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body)
}

/// `GET url`, which must answer 2xx.
pub async fn get_ok(url: &str) -> reqwest::Response {
    reqwest::get(url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// p-th percentile (0–100) of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Bytes as KiB/MiB for reports.
pub fn human_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
