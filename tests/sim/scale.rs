//! Scale check of the simulator (not a timed test; prints numbers for BENCHMARKS.md):
//! 100,000 pods on 5,000 nodes — RSS, full-list time, and 1,000 watches receiving one
//! event. Run with:
//! `cargo test --release --test sim -- --ignored --nocapture`

use std::time::{Duration, Instant};

use futures::StreamExt;
use testkit::Stack;
use testkit::process::Memory;

/// A list decoded only as far as the check needs (decoding 500 MB into `Value`s would
/// dwarf the simulator's own memory in the RSS numbers).
#[derive(serde::Deserialize)]
struct Items {
    items: Vec<serde::de::IgnoredAny>,
    metadata: ListMeta,
}

#[derive(serde::Deserialize)]
struct ListMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

fn rss_mib() -> f64 {
    Memory::own().rss_kib as f64 / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale check: run explicitly in release mode"]
async fn hundred_thousand_pods_five_thousand_nodes_thousand_watches() {
    const PODS: usize = 100_000;
    const NODES: usize = 5_000;
    const WATCHES: usize = 1_000;
    let rss_before = rss_mib();
    let t = Instant::now();
    let stack = Stack::sim_only(NODES, PODS, 1).await;
    let sim = stack.sim();
    let generated = t.elapsed();
    let rss_after = rss_mib();
    println!(
        "generate {PODS} pods / {NODES} nodes: {generated:?}; RSS {rss_before:.0} MiB -> {rss_after:.0} MiB"
    );

    let http = reqwest::Client::new();
    for round in 0..3 {
        let t = Instant::now();
        let body = http
            .get(format!("{}/api/v1/pods", sim.url()))
            .send()
            .await
            .expect("list")
            .bytes()
            .await
            .expect("body");
        println!(
            "full list #{round}: {} MiB in {:?}",
            body.len() / (1024 * 1024),
            t.elapsed()
        );
        let list: Items = serde_json::from_slice(&body).expect("list JSON");
        assert_eq!(list.items.len(), PODS);
    }
    let t = Instant::now();
    let mut token_next: Option<String> = None;
    let mut items = 0;
    loop {
        let mut url = format!("{}/api/v1/pods?limit=500", sim.url());
        if let Some(c) = &token_next {
            url.push_str(&format!("&continue={c}"));
        }
        let page: Items = http
            .get(url)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("page JSON");
        items += page.items.len();
        token_next = page.metadata.continue_token;
        if token_next.is_none() {
            break;
        }
    }
    assert_eq!(items, PODS);
    println!(
        "paged list (limit=500, {} pages): {:?}",
        PODS / 500,
        t.elapsed()
    );
    println!(
        "RSS after lists (simulator and this client): {:.0} MiB",
        rss_mib()
    );

    let state: serde_json::Value = http
        .get(format!("{}/_sim/state", sim.url()))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let rv = state["store"]["resource_version"].as_u64().expect("rv");
    let t = Instant::now();
    let mut waiters = Vec::new();
    for _ in 0..WATCHES {
        let resp = http
            .get(format!(
                "{}/api/v1/pods?watch=1&resourceVersion={rv}",
                sim.url()
            ))
            .send()
            .await
            .expect("watch opens");
        waiters.push(tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut seen = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                seen.extend_from_slice(&chunk);
                if seen.windows(11).any(|w| w == b"scale-probe") {
                    return Some(Instant::now());
                }
            }
            None
        }));
    }
    println!(
        "{WATCHES} watches opened in {:?}; RSS {:.0} MiB",
        t.elapsed(),
        rss_mib()
    );
    let pod = serde_json::json!({"metadata": {"name": "scale-probe"}, "spec": {"containers": [{"name": "m", "image": "i"}]}});
    let sent = Instant::now();
    let r = http
        .post(format!("{}/api/v1/namespaces/default/pods", sim.url()))
        .json(&pod)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let mut latest = Duration::ZERO;
    let mut received = 0;
    for w in waiters {
        if let Ok(Ok(Some(at))) = tokio::time::timeout(Duration::from_secs(60), w).await {
            received += 1;
            latest = latest.max(at.saturating_duration_since(sent));
        }
    }
    assert_eq!(received, WATCHES);
    println!(
        "one event reached all {WATCHES} watches within {latest:?}; RSS {:.0} MiB",
        rss_mib()
    );
    stack.stop().await;
}
