//! Usage, links and several clusters in a real browser (headless Chromium through
//! chromedriver) against simulators: usage rows appear in node headers and pod details,
//! a missing metrics-server turns them into a quiet note, pods and node names open their
//! links, and the overview shows one live wall per cluster with a clean console.

use std::time::Duration;

use podwall::sim::MetricsMode;
use podwall::{ClusterConfig, LinkTemplate, WallOptions};
use serde_json::Value;
use testkit::browser::Browser;
use testkit::{Stack, StackBuilder};

/// Simulated clusters of these names (churning a little) with pod and node links and
/// usage every 500 ms; the wall's readiness is the test's to check.
fn clusters<'a>(names: impl IntoIterator<Item = &'a str>) -> StackBuilder {
    Stack::builder()
        .clusters(names)
        .churn(1.0)
        .each_cluster(|c: ClusterConfig| {
            let name = c.wall.name.clone();
            c.wall(WallOptions {
                name,
                pod_link: LinkTemplate::parse(
                    "https://logs.example/{{cluster}}/{{namespace}}/{{name}}",
                )
                .ok(),
                node_link: LinkTemplate::parse("https://grafana.example/d/node?var-node={{name}}")
                    .ok(),
                usage_interval: Duration::from_millis(500),
                ..WallOptions::default()
            })
        })
        .no_wait()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_links_and_clusters_in_a_real_browser() {
    testkit::init();
    let stack = clusters(["one"]).nodes(4).pods(50).seed(41).start().await;
    let (sim, server) = (stack.sim(), stack.server());
    let browser = Browser::start().await;
    browser
        .client
        .goto(&server.url())
        .await
        .expect("open the wall");

    // Usage rows in the headers of nodes metrics-server reports.
    let rows = browser
        .until(
            "usage rows in node headers",
            "const n = document.querySelectorAll('[data-node] > .node-head .live-usage').length; return n > 0 ? n : null",
        )
        .await;
    let text = browser
        .js("return document.querySelector('.live-usage .cpu-used-text').textContent")
        .await;
    assert!(
        text.as_str().is_some_and(|t| t.contains('/')),
        "used/allocatable: {text} ({rows} rows)"
    );

    // Pod details: a usage row and the link hint; a click opens the pod's link.
    let detail = browser
        .until(
            "usage in the pod details",
            "const pod = Array.from(document.querySelectorAll('#wall [data-pod]')).find(p => p.closest('[data-node]') && p.dataset.status === 'Running');
             if (!pod) return null;
             pod.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
             const dd = document.querySelector('#detail .overlay-usage');
             return dd && dd.textContent.startsWith('cpu ') ? [pod.dataset.pod, dd.textContent, !!document.querySelector('#detail .overlay-link')] : null",
        )
        .await;
    assert_eq!(detail[2], true, "the link row: {detail}");
    let pod = detail[0].as_str().expect("pod key").to_owned();
    let opened = browser
        .js(&format!(
            "window.__opened = []; window.open = u => window.__opened.push(u);
             document.querySelector('[data-pod=\"{pod}\"]').click();
             document.querySelector('[data-node] > .node-head:not(.unavailable) .node-name').click();
             return window.__opened"
        ))
        .await;
    let (ns, name) = pod.split_once('/').expect("ns/name");
    assert_eq!(opened[0], format!("link/pod/{ns}/{name}"), "{opened}");
    assert!(
        opened[1]
            .as_str()
            .is_some_and(|u| u.starts_with("link/node/")),
        "{opened}"
    );

    // No metrics-server: the rows go, a quiet note comes, no banner.
    sim.handle().set_metrics_mode(MetricsMode::Absent);
    browser
        .until(
            "the usage note",
            "const note = document.getElementById('usage-note');
             return note && note.dataset.usageStatus === 'unavailable' && document.querySelectorAll('.live-usage').length === 0",
        )
        .await;
    let banner = browser
        .js("return document.getElementById('api-banner').classList.contains('hidden')")
        .await;
    assert_eq!(
        banner, true,
        "no API server banner for a missing metrics-server"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // Leave the page before its server goes, so its polls log no refused connections.
    browser.client.goto("about:blank").await.expect("leave");
    drop(stack);

    // Two clusters: the overview frames one live wall each.
    let stack = clusters(["east", "west"])
        .nodes(3)
        .pods(30)
        .seed(42)
        .start()
        .await;
    let server = stack.server();
    browser
        .client
        .goto(&server.url())
        .await
        .expect("open the overview");
    let walls = browser
        .until(
            "both walls live in their frames",
            "const frames = Array.from(document.querySelectorAll('section.cluster iframe'));
             const roots = frames.map(f => f.contentDocument && f.contentDocument.getElementById('wall-root'));
             if (frames.length !== 2 || roots.some(r => !r || !r.querySelector('[data-node]'))) return null;
             return roots.map(r => [r.dataset.cluster, r.dataset.seq, r.querySelectorAll('[data-pod]').length]);",
        )
        .await;
    for (i, name) in ["east", "west"].iter().enumerate() {
        assert_eq!(walls[i][0], *name, "{walls}");
        assert!(walls[i][2].as_u64() > Some(20), "{walls}");
        let snap: Value = reqwest::get(format!("{}/clusters/{name}/api/snapshot", server.url()))
            .await
            .expect("snapshot")
            .json()
            .await
            .expect("JSON");
        let epoch = snap["epoch"].as_str().expect("epoch");
        assert!(
            walls[i][1].as_str().is_some_and(|s| s.starts_with(epoch)),
            "{name}'s frame follows {name}'s own epoch: {walls}"
        );
    }
    // One title, clock and legend for both walls: the overview's, shown and ticking; each
    // frame hides its own and keeps its counts, update age and indicator.
    let chrome = browser
        .until(
            "the overview's clock ticking",
            "const shown = el => !!el && el.getClientRects().length > 0;
             const clocks = Array.from(document.querySelectorAll('#clock'));
             if (clocks.length !== 1 || !clocks[0].textContent) return null;
             const frames = Array.from(document.querySelectorAll('section.cluster iframe')).map(f => f.contentDocument);
             return [
               [document.querySelectorAll('h1').length, document.querySelectorAll('.legend').length, shown(clocks[0])],
               frames.map(d => [shown(d.querySelector('.top h1')), shown(d.getElementById('clock')), shown(d.querySelector('.legend')),
                                shown(d.getElementById('counts')), shown(d.getElementById('age')), shown(d.getElementById('conn'))]),
             ];",
        )
        .await;
    assert_eq!(
        chrome,
        serde_json::json!([
            [1, 1, true],
            [
                [false, false, false, true, true, true],
                [false, false, false, true, true, true]
            ]
        ]),
        "the overview's own title, legend and clock; none in the frames"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // Ends the session: dropping chromedriver alone leaves Chromium running.
    browser.client.close().await.expect("close browser");
}
