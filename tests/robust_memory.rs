//! Memory under many clients: what an idle SSE client costs, and clients that never
//! read (a separate test binary, so no other test's allocations skew the measurement).

use std::time::Instant;

use testkit::process::Memory;
use testkit::wire::{has_reset, open_stream};
use testkit::{DEADLINE, Stack};
use tokio::io::AsyncReadExt;

/// Bytes of server memory (RSS) one idle SSE client may cost: its connection task, socket
/// registration, broadcast receiver and stream state, and its share of the reset frame.
/// Measured ~3 KiB with a 47 KB reset frame; 17 KiB while actix-http kept its two 8 KiB
/// buffers per connection (`vendor/`), ~50 KiB before the HTTP write buffer was capped.
/// The bound catches either coming back and leaves room for allocator noise.
const MAX_RSS_PER_IDLE_CLIENT: u64 = 10 * 1024;

/// Opens `/api/events` on a bare socket and reads until the reset frame is complete;
/// returns the socket and how many bytes that took.
async fn read_reset(addr: std::net::SocketAddr) -> (tokio::net::TcpStream, usize) {
    let mut s = open_stream(addr, "/api/events", None, None)
        .await
        .expect("connect");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    let start = Instant::now();
    loop {
        let n = tokio::time::timeout(DEADLINE, s.read(&mut chunk))
            .await
            .expect("reset within the deadline")
            .expect("read");
        assert!(n > 0, "stream closed before its reset");
        seen.extend_from_slice(&chunk[..n]);
        if has_reset(&seen) {
            return (s, seen.len());
        }
        assert!(start.elapsed() < DEADLINE, "no reset");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_cost_bounded_memory_and_never_reading_ones_delay_nobody() {
    let stack = Stack::builder()
        .nodes(6)
        .pods(120)
        .churn(50.0)
        .seed(11)
        .start()
        .await;
    let mut watcher = stack.sse("/api/events", None).await;
    watcher.next().await;

    // Clients that send a request and never read a byte: the server can only stall
    // on them, and must not buffer for them or wait for them.
    let addr = stack.server().addr;
    let mut deaf = Vec::new();
    for _ in 0..50 {
        let s = open_stream(addr, "/api/events", None, None)
            .await
            .expect("connect");
        deaf.push(s);
    }
    // Enough changes to overflow the shared channel for every deaf client.
    stack.sim().handle().set_churn(2000.0);
    let base = stack.server().cache().position().seq;
    let target = base + podwall::CHANNEL_CAPACITY as u64 * 2;
    let start = Instant::now();
    while stack.server().cache().position().seq < target {
        assert!(start.elapsed() < DEADLINE * 3, "churn too slow to overflow");
        // The reading client stays current the whole time.
        let seq = stack.server().cache().position().seq;
        watcher
            .event_after(seq.saturating_sub(1), "live changes")
            .await;
    }
    stack.sim().handle().set_churn(0.0);

    // Idle clients that read their reset and then wait: measure what each costs the
    // server. The client side is a bare socket (kernel memory, not in this RSS).
    let before = Memory::own().rss_kib * 1024;
    let n = 1000u64;
    let mut idle = Vec::new();
    for _ in 0..n {
        idle.push(read_reset(addr).await);
    }
    let after = Memory::own().rss_kib * 1024;
    let per_client = after.saturating_sub(before) / n;
    eprintln!(
        "RSS {before} -> {after} bytes for {n} idle clients: {per_client} bytes each; reset frame {} bytes",
        idle.first().map_or(0, |(_, len)| *len)
    );
    assert!(
        per_client < MAX_RSS_PER_IDLE_CLIENT,
        "{per_client} bytes per idle client"
    );
    drop(deaf);
    drop(idle);
}
