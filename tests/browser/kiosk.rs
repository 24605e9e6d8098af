//! The kiosk board in a real browser, and (on request) the same at 1,000 nodes and 20,000
//! pods under churn.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use serde_json::json;
use testkit::browser::Browser;
use testkit::eventually;

use super::{churn, crash_loop, key, keys, running_ready_pod, screenshot_path, sim_pods, url};

/// Finds where the kiosk board draws each pod by moving the pointer over its canvases (every
/// other pixel) and noting which pod's details show; then reads the pixels under each pod's
/// hits: one must be its status colour (except for completed pods, round, whose corners may
/// be all that was hit) and none another status's colour. Returns `{drawn: {pod: [canvas,
/// x, y]}, wrong: [[pod, class, want, got]], checked, colours: {class: "r,g,b"}}`, `drawn`
/// at a pixel of its colour.
const BOARD_SCAN: &str = r#"
const wall = document.getElementById('wall');
const detail = document.getElementById('detail');
const canvases = Array.from(document.querySelectorAll('#wall-board canvas'));
let current = null;
const track = e => { current = e.target.closest('[data-pod]'); };
wall.addEventListener('mouseover', track);
const hits = new Map();
canvases.forEach((c, i) => {
  const r = c.getBoundingClientRect();
  for (let y = 0; y < r.height; y += 2) for (let x = 0; x < r.width; x += 2) {
    c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + x + 0.5, clientY: r.top + y + 0.5, bubbles: true}));
    if (detail.classList.contains('hidden') || !current) continue;
    const key = current.dataset.pod;
    if (!hits.has(key)) hits.set(key, {pod: current, points: []});
    hits.get(key).points.push([i, x, y]);
  }
});
wall.removeEventListener('mouseover', track);
if (canvases.length) canvases[0].dispatchEvent(new MouseEvent('mouseleave'));
const probe = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
const rgb = color => { probe.clearRect(0, 0, 1, 1); probe.fillStyle = color; probe.fillRect(0, 0, 1, 1);
  return Array.from(probe.getImageData(0, 0, 1, 1).data.slice(0, 3)).join(','); };
const style = getComputedStyle(document.documentElement);
const classes = ['ok', 'notready', 'starting', 'bad', 'done', 'terminating', 'unknown'];
const colours = new Map(classes.map(c => [c, rgb(style.getPropertyValue('--' + c).trim())]));
const statusColours = new Set(colours.values());
const pixelAt = ([i, x, y]) => Array.from(canvases[i].getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)).join(',');
const drawn = {};
const wrong = [];
let checked = 0;
for (const [key, h] of hits) {
  const cls = (/\bs-(\w+)/.exec(h.pod.className) || [])[1] || 'unknown';
  const want = colours.get(cls) || colours.get('unknown');
  const got = h.points.map(pixelAt);
  const at = got.indexOf(want);
  drawn[key] = h.points[Math.max(0, at)];
  const foreign = got.filter(c => statusColours.has(c) && c !== want);
  checked += 1;
  if ((at < 0 && cls !== 'done') || foreign.length) wrong.push([key, cls, want, got.join(' ')]);
}
return {drawn, wrong: wrong.slice(0, 10), checked, colours: Object.fromEntries(colours)};
"#;

/// The kiosk board: a wall that only fits at the smallest size is drawn on canvases (one
/// per row of node boxes) while the boxes stay in the DOM unrendered. Every pod of the
/// cluster is drawn once, in its status colour, hovering it shows its details, a crash-loop
/// turns its pixels red, and the wall still fits the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_board_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    // 100 nodes of 20 pods fit an 800×600 screen only at the smallest size.
    let cluster = super::cluster(100, 2000).await;
    browser.viewport(800, 600).await;
    browser.open(&url(&cluster, "?kiosk=1")).await;
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("the kiosk wall's pods", &all).await;
    eventually("the wall to shrink to the board and fit", || async {
        let v = browser
            .js("return [document.documentElement.dataset.density, \
                 document.querySelectorAll('#wall-board canvas').length > 0, \
                 getComputedStyle(document.querySelector('#wall .nodes')).display, \
                 document.getElementById('wall-root').offsetHeight <= innerHeight]")
            .await;
        (v == json!(["micro", true, "none", true])).then_some(())
    })
    .await;

    // Changes land on the board: churn, then every pod drawn in its status colour.
    let start = cluster.seq();
    churn(&cluster, 100.0).await;
    eventually("200 changes of churn", || async {
        (cluster.seq() > start + 200).then_some(())
    })
    .await;
    churn(&cluster, 0.0).await;
    let bound = |pods: &[Pod]| {
        keys(
            pods.iter()
                .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some())),
        )
    };
    let pods = sim_pods(&cluster, &ListParams::default()).await;
    browser
        .wait_for_pods("the DOM to equal the cluster after churn", &keys(&pods))
        .await;
    browser
        .until(
            "pulses and fades to end",
            "return document.querySelectorAll('#wall .pulse, #wall .gone').length === 0",
        )
        .await;
    let scan = browser.js(BOARD_SCAN).await;
    let drawn: BTreeSet<String> = scan["drawn"]
        .as_object()
        .expect("drawn pods")
        .keys()
        .cloned()
        .collect();
    assert_eq!(drawn, bound(&pods), "every pod on a node is drawn, once");
    assert_eq!(
        scan["wrong"],
        json!([]),
        "pods drawn in their status colour"
    );
    assert!(
        scan["checked"].as_u64().is_some_and(|n| n > 1000),
        "colours checked: {}",
        scan["checked"]
    );

    // A crash-looping pod turns red where it is drawn, and hovering it tells why.
    let victim = running_ready_pod(&pods);
    let victim_key = key(&victim);
    let [canvas, x, y] = [0, 1, 2].map(|i| scan["drawn"][&victim_key][i].as_u64().expect("drawn"));
    crash_loop(&cluster, &victim).await;
    let bad = &scan["colours"]["bad"];
    let pixel = format!(
        "const c = document.querySelectorAll('#wall-board canvas')[{canvas}]; \
         return Array.from(c.getContext('2d').getImageData({x}, {y}, 1, 1).data.slice(0, 3)).join(',')"
    );
    eventually(
        "the crash-looping pod drawn in the failure colour",
        || async { (browser.js(&pixel).await == *bad).then_some(()) },
    )
    .await;
    let rect = browser
        .js(&format!(
            "const r = document.querySelectorAll('#wall-board canvas')[{canvas}].getBoundingClientRect(); \
             return [r.left + {x} + 0.5, r.top + {y} + 0.5]"
        ))
        .await;
    browser
        .cdp(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": rect[0], "y": rect[1]}),
        )
        .await;
    let text = browser
        .until(
            "the hovered pod's details",
            "const d = document.getElementById('detail'); \
             return d.classList.contains('hidden') ? null : d.textContent",
        )
        .await;
    let text = text.as_str().unwrap_or("");
    for part in [
        victim.metadata.name.as_deref().unwrap_or(""),
        "CrashLoopBackOff",
        "restarts5",
    ] {
        assert!(text.contains(part), "detail {text:?} lacks {part:?}");
    }
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let shot = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_path("wall-kiosk-board.png"), shot).expect("write screenshot");
    browser.client.close().await.expect("close browser");
}

/// 1,000 nodes and 20,000 pods under 500 changes/s: the page renders, fits a 1080p and a
/// 4K kiosk screen, keeps up, and ends equal to the cluster (long tasks are logged; the
/// numbers to compare live in `benches/page.rs`). Slow on a small machine (the simulator
/// alone builds for ~30 s), so it runs on request:
/// `cargo test --release --test browser -- --ignored big_cluster`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full-scale run; see the doc comment"]
async fn big_cluster_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    browser.record_performance().await;
    let cluster = super::cluster(1000, 20_000).await;
    browser.viewport(1920, 1080).await;
    let started = std::time::Instant::now();
    browser.open(&url(&cluster, "?kiosk=1")).await;
    let loaded = started.elapsed();
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("20,000 pods in the DOM", &all).await;
    tracing::info!(?loaded, live = ?started.elapsed(), "big wall rendered");

    browser.js("window.__perf.reset(); return true").await;
    let start = cluster.seq();
    churn(&cluster, 500.0).await;
    eventually("2,000 changes of churn", || async {
        (cluster.seq() > start + 2000).then_some(())
    })
    .await;
    churn(&cluster, 0.0).await;
    let perf = browser.js("return window.__perf").await;
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser
        .wait_for_pods("the DOM to equal the cluster after churn", &all)
        .await;
    let fits = browser
        .js("return document.getElementById('wall-root').offsetHeight <= window.innerHeight")
        .await;
    assert_eq!(fits, json!(true), "the kiosk wall fits the screen");
    let density = browser
        .js("return document.documentElement.dataset.density")
        .await;
    tracing::warn!(long_tasks = %perf["long"], frame_gaps = %perf["gaps"], %density, "big wall under churn");
    let shot = browser.client.screenshot().await.expect("screenshot");
    let out = screenshot_path("wall-kiosk-1000-nodes.png");
    std::fs::write(&out, shot).expect("write screenshot");

    // The same wall on a 4K screen at device scale 1: zoomed to read like 1080p, fitting.
    browser.viewport(3840, 2160).await;
    browser.open(&url(&cluster, "?kiosk=1")).await;
    browser.wait_for_pods("the 4K wall", &all).await;
    eventually("the 4K wall to fit its screen, zoomed", || async {
        let v = browser
            .js("return [document.getElementById('wall-root').getBoundingClientRect().height <= innerHeight, \
                 getComputedStyle(document.documentElement).zoom]")
            .await;
        (v == json!([true, "2"])).then_some(())
    })
    .await;
    let shot = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_path("wall-kiosk-4k.png"), shot).expect("write screenshot");
    browser.client.close().await.expect("close browser");
}
