//! Days on a wall without leaking, compressed (on request).

use std::time::Duration;

use kube::api::ListParams;
use testkit::browser::Browser;

use super::{churn, keys, sim_pods, url};

/// Days on a wall without leaking, compressed: the page runs under churn for
/// `PODWALL_SOAK_MINUTES` (default 2) while the JS heap (after a forced garbage
/// collection) and the DOM are sampled every 20 s; both must stay bounded, and the DOM must
/// still equal the cluster at the end. On request:
/// `PODWALL_SOAK_MINUTES=30 cargo test --release --test browser -- --ignored page_soak --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak run; see the doc comment"]
async fn page_soak() {
    testkit::init();
    let minutes: f64 = testkit::setting("PODWALL_SOAK_MINUTES").unwrap_or(2.0);
    let browser = Browser::start().await;
    let cluster = super::cluster(40, 1200).await;
    browser.open(&url(&cluster, "")).await;
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("the wall", &all).await;
    churn(&cluster, 100.0).await;
    // Warm up first: caches, JIT and the first pulses settle.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let first_heap = browser.heap_after_gc().await;
    let first_extra = other_elements(&browser).await;
    let (mut max_heap, mut max_extra) = (first_heap, first_extra);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs_f64(minutes * 60.0) {
        tokio::time::sleep(Duration::from_secs(20)).await;
        let heap = browser.heap_after_gc().await;
        let extra = other_elements(&browser).await;
        let pods = browser
            .js("return document.querySelectorAll('[data-pod]').length")
            .await;
        tracing::warn!(elapsed = ?start.elapsed(), heap_mb = heap / 1e6, extra, %pods, seq = cluster.seq(), "soak sample");
        max_heap = max_heap.max(heap);
        max_extra = max_extra.max(extra);
    }
    churn(&cluster, 0.0).await;
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser
        .wait_for_pods("the DOM to equal the cluster after the soak", &all)
        .await;
    tracing::warn!(
        first_heap_mb = first_heap / 1e6,
        max_heap_mb = max_heap / 1e6,
        first_extra,
        max_extra,
        "soak done"
    );
    // Bounded, not constant: pod counts and status mixes wander under churn.
    assert!(
        max_heap < first_heap * 1.5 + 2e6,
        "the JS heap grew from {first_heap} to {max_heap} bytes"
    );
    assert!(
        max_extra <= first_extra + 300,
        "elements besides pod blocks grew from {first_extra} to {max_extra}"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.client.close().await.expect("close browser");
}

/// Elements in the page that are not live pod blocks (boxes, headers, fading blocks…).
async fn other_elements(browser: &Browser) -> i64 {
    let v = browser
        .js("return document.getElementsByTagName('*').length - \
             document.querySelectorAll('#wall [data-pod]').length * 1")
        .await;
    v.as_i64().unwrap_or(i64::MAX)
}
