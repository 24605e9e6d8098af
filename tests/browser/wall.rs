//! The wall in one browser session, step by step: a malformed filter, the DOM against the
//! cluster under churn, a crash-looping pod, details on focus, URL filters, the themes
//! (screenshots, contrast), a clean console, and the banners for a stopped server, an
//! unfinished first sync and a signed-out page.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use podwall::AuthToken;
use serde_json::json;
use testkit::browser::Browser;
use testkit::{Stack, eventually};

use super::{
    churn, crash_loop, delete_now, key, keys, running_ready_pod, screenshot_path, sim_pods, url,
};

/// Text elements whose colour contrast with their background is below WCAG AA (4.5:1),
/// as `[selector, text, ratio]`; backgrounds are the nearest mostly opaque background colour.
const CONTRAST_FAILURES: &str = r#"
const parse = s => {
  const v = (s.match(/[\d.]+/g) || []).map(Number);
  const scale = s.startsWith('color(') ? 255 : 1;
  return v.length < 3 ? null : {c: v.slice(0, 3).map(x => x * scale), a: v.length > 3 ? v[3] : 1};
};
const lum = c => {
  const [r, g, b] = c.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = el => {
  for (; el; el = el.parentElement) {
    const b = parse(getComputedStyle(el).backgroundColor);
    if (b && b.a > 0.5) return b.c;
  }
  return [255, 255, 255];
};
const failures = [];
const selectors = ['.top h1', '.count', '.count b', '.clock time', '.age', '.conn-text', '.banner',
  '.controls summary', '.legend li', '.node-name', '.node-role', '.node-state', '.node-count',
  '.usage .res', '.res-text', '.badge', '.group-name'];
for (const sel of selectors) {
  for (const el of Array.from(document.querySelectorAll(sel)).slice(0, 40)) {
    if (!el.getClientRects().length || !el.textContent.trim()) continue;
    const fg = parse(getComputedStyle(el).color).c;
    const [a, b] = [lum(fg), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) failures.push([sel, el.textContent.trim().slice(0, 30), Math.round(ratio * 100) / 100]);
  }
}
return failures;
"#;

/// The wall in a real browser against a simulated cluster of 10 nodes and 200 pods; each
/// step asserts what it did, in this order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    let mut cluster = super::cluster(10, 200).await;

    a_malformed_filter_shows_its_error_on_the_page(&browser, &cluster).await;
    the_dom_equals_the_cluster_before_and_after_churn(&browser, &cluster).await;
    let victim = a_crash_looping_pod_changes_its_block(&browser, &cluster).await;
    focusing_a_pod_shows_its_details(&browser, &victim).await;
    url_filters_narrow_the_dom(&browser, &cluster, &victim).await;
    let all = each_theme_has_aa_contrast_and_a_screenshot(&browser, &cluster).await;
    the_console_stays_clean(&browser).await;
    the_stale_banner_comes_and_goes_with_the_server(&browser, &mut cluster, &all).await;
    an_unfinished_first_sync_says_why(&browser, &mut cluster, &all).await;
    a_signed_out_page_says_so_and_the_token_link_signs_in(&browser, &mut cluster, &all).await;

    browser.client.close().await.expect("close browser");
}

/// The pod [`a_crash_looping_pod_changes_its_block`] crash-looped, for the later steps.
struct Victim {
    pod: Pod,
    key: String,
    node: String,
    /// A script expression for its block.
    block: String,
}

/// A malformed filter: status 400, and the page shows the error and the form.
async fn a_malformed_filter_shows_its_error_on_the_page(browser: &Browser, cluster: &Stack) {
    let bad = url(cluster, "?label=app%3D%3D%3D");
    let status = reqwest::get(&bad).await.expect("GET").status();
    assert_eq!(status, 400);
    browser.open(&bad).await;
    let v = browser
        .js("const e = document.getElementById('filter-error'); \
             return [e ? e.textContent : null, document.querySelector('input[name=label]').value, \
             document.querySelectorAll('[data-pod]').length]")
        .await;
    let message = v[0].as_str().unwrap_or("");
    assert!(message.contains("label:"), "error shown: {message:?}");
    assert_eq!(v[1], "app===", "the form keeps the input to fix");
    assert_eq!(v[2], 0);
    let _ = browser.console_errors().await; // the 400 itself is logged
}

/// The DOM equals the simulator's cluster, before and after churn.
async fn the_dom_equals_the_cluster_before_and_after_churn(browser: &Browser, cluster: &Stack) {
    browser.open(&url(cluster, "")).await;
    let all = keys(&sim_pods(cluster, &ListParams::default()).await);
    assert_eq!(all.len(), 200);
    browser
        .wait_for_pods("the DOM to show every pod", &all)
        .await;
    let sizes = browser
        .js("const n = performance.getEntriesByType('navigation')[0]; \
             return [n.encodedBodySize, n.decodedBodySize]")
        .await;
    assert!(
        sizes[0].as_f64().is_some_and(|e| e > 0.0)
            && sizes[0].as_f64() < sizes[1].as_f64().map(|d| d / 2.0),
        "the page arrives compressed: {sizes}"
    );
    let start = cluster.seq();
    churn(cluster, 40.0).await;
    eventually("150 changes of churn", || async {
        (cluster.seq() > start + 150).then_some(())
    })
    .await;
    churn(cluster, 0.0).await;
    let sim_nodes = Api::<Node>::all(cluster.kube())
        .list(&ListParams::default())
        .await
        .expect("list nodes")
        .items
        .len();
    eventually(
        "DOM pods and nodes to equal the simulator's after churn",
        || async {
            let sim = keys(&sim_pods(cluster, &ListParams::default()).await);
            let nodes = browser
                .js("return document.querySelectorAll('#wall .nodes > [data-node]').length")
                .await;
            let header = browser
                .js("return Number(document.getElementById('count-pods').textContent)")
                .await;
            (browser.dom_pods().await == sim
                && nodes == json!(sim_nodes)
                && header == json!(sim.len()))
            .then_some(())
        },
    )
    .await;
}

/// A pod the simulator crash-loops changes its block's status and colour; a changed block
/// pulses, a deleted pod's block fades out, and pulses end once the cluster is quiet.
async fn a_crash_looping_pod_changes_its_block(browser: &Browser, cluster: &Stack) -> Victim {
    let pods = sim_pods(cluster, &ListParams::default()).await;
    let victim = running_ready_pod(&pods);
    let victim_key = key(&victim);
    let victim_node = victim
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("bound");
    let block = format!("document.querySelector('[data-pod=\"{victim_key}\"]')");
    // Records which animation classes the page puts on blocks from now on.
    browser
        .js(
            "window.seenClasses = {}; new MutationObserver(ms => { for (const m of ms) { \
               const els = m.type === 'attributes' ? [m.target] : Array.from(m.addedNodes); \
               for (const e of els) if (e.classList) for (const c of ['pulse', 'gone']) \
                 if (e.classList.contains(c)) window.seenClasses[c] = true; } }) \
             .observe(document.getElementById('wall'), \
               {subtree: true, childList: true, attributes: true, attributeFilter: ['class']}); \
             return true",
        )
        .await;
    let colour_before = browser
        .js(&format!("return getComputedStyle({block}).backgroundColor"))
        .await;
    crash_loop(cluster, &victim).await;
    eventually(
        "the block to show CrashLoopBackOff in the failure colour",
        || async {
            let v = browser
            .js(&format!(
                "const p = {block}; return p && [p.dataset.status, p.classList.contains('s-bad'), \
                 getComputedStyle(p).backgroundColor, p.closest('[data-node]').dataset.node, \
                 p.querySelector('.restarts') ? p.querySelector('.restarts').textContent : '']"
            ))
            .await;
            (v[0] == "CrashLoopBackOff"
                && v[1] == true
                && v[2] != colour_before
                && v[3] == json!(victim_node)
                && v[4] == "5")
                .then_some(())
        },
    )
    .await;

    let pulsed = browser.js("return window.seenClasses.pulse === true").await;
    assert_eq!(pulsed, json!(true), "a changed block pulses");
    let doomed = pods
        .iter()
        .find(|p| key(p) != victim_key && p.spec.as_ref().is_some_and(|s| s.node_name.is_some()))
        .expect("another bound pod");
    delete_now(cluster, doomed).await;
    let doomed_key = key(doomed);
    eventually(
        "the deleted pod's block to fade out and its marker to go",
        || async {
            let v = browser
                .js(&format!(
                    "return [window.seenClasses.gone === true, \
                 document.querySelectorAll('[data-pod=\"{doomed_key}\"]').length]"
                ))
                .await;
            (v == json!([true, 0])).then_some(())
        },
    )
    .await;

    // Pulses end by themselves once the cluster is quiet (the churn stopped above).
    browser
        .until(
            "the pulses to end",
            "return document.querySelectorAll('#wall .pulse').length === 0",
        )
        .await;
    Victim {
        pod: victim,
        key: victim_key,
        node: victim_node,
        block,
    }
}

/// Clicking (focusing) a pod shows its details, never more than the view holds.
async fn focusing_a_pod_shows_its_details(browser: &Browser, victim: &Victim) {
    let (victim_node, block) = (victim.node.clone(), &victim.block);
    let victim = &victim.pod;
    let detail = browser
        .js(&format!(
            "{block}.click(); const d = document.getElementById('detail'); \
             return [d.classList.contains('hidden'), d.textContent]"
        ))
        .await;
    assert_eq!(detail[0], false, "the detail popup shows on focus");
    let tab_stops = browser
        .js(&format!(
            "const stops = document.querySelectorAll('#wall [data-pod][tabindex=\"0\"]'); \
             return [stops.length, stops[0] === {block}]"
        ))
        .await;
    assert_eq!(
        tab_stops,
        json!([1, true]),
        "one tab stop for the wall, on the focused pod"
    );
    let text = detail[1].as_str().unwrap_or("");
    for part in [
        victim.metadata.name.as_deref().unwrap_or(""),
        victim.metadata.namespace.as_deref().unwrap_or(""),
        "CrashLoopBackOff",
        &victim_node,
        "restarts5",
        "requests",
    ] {
        assert!(text.contains(part), "detail {text:?} lacks {part:?}");
    }
}

/// URL filters narrow the DOM to exactly the matching pods.
async fn url_filters_narrow_the_dom(browser: &Browser, cluster: &Stack, victim: &Victim) {
    let (victim_key, victim_node) = (victim.key.clone(), victim.node.clone());
    let victim = &victim.pod;
    let pods = sim_pods(cluster, &ListParams::default()).await;
    let ns = victim.metadata.namespace.clone().expect("namespace");
    let in_ns = keys(
        pods.iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(&ns)),
    );
    assert!(in_ns.len() < pods.len(), "the namespace filter must narrow");
    browser.open(&url(cluster, &format!("?ns={ns}"))).await;
    browser
        .wait_for_pods("?ns= to narrow the DOM", &in_ns)
        .await;
    let on_node = keys(pods.iter().filter(|p| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| n.contains(&victim_node))
    }));
    browser
        .open(&url(
            cluster,
            &format!("?node={victim_node}&group=owner&sort=usage"),
        ))
        .await;
    browser
        .wait_for_pods("?node= to narrow the DOM", &on_node)
        .await;
    let (app_key, app) = victim
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.iter().next())
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("the pod has a label");
    let labelled = keys(
        &sim_pods(
            cluster,
            &ListParams::default().labels(&format!("{app_key}={app}")),
        )
        .await,
    );
    browser
        .open(&url(
            cluster,
            &format!("?label={app_key}%3D{app}&theme=light&compact=1"),
        ))
        .await;
    browser
        .wait_for_pods("?label= to narrow the DOM", &labelled)
        .await;
    assert!(labelled.contains(&victim_key));
}

/// One screenshot per theme, of a cluster with a NotReady and a cordoned node, whose text
/// meets AA contrast; returns the cluster's pods.
async fn each_theme_has_aa_contrast_and_a_screenshot(
    browser: &Browser,
    cluster: &Stack,
) -> BTreeSet<String> {
    let nodes: Api<Node> = Api::all(cluster.kube());
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .filter(|n| n.starts_with("worker"))
        .collect();
    let (sick, cordoned) = (&names[names.len() - 2], &names[names.len() - 1]);
    nodes
        .patch_status(
            sick,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown",
                "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."}]}})),
        )
        .await
        .expect("node NotReady");
    nodes
        .patch(
            cordoned,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    browser.viewport(1920, 1080).await;
    let all = keys(&sim_pods(cluster, &ListParams::default()).await);
    for theme in ["dark", "light"] {
        browser
            .open(&url(cluster, &format!("?theme={theme}")))
            .await;
        browser
            .wait_for_pods(&format!("the {theme} wall"), &all)
            .await;
        eventually("the NotReady node to be marked", || async {
            let v = browser
                .js(&format!(
                    "return !!document.querySelector('[data-node=\"{sick}\"] .badge-notready') && \
                     !!document.querySelector('[data-node=\"{cordoned}\"] .badge-cordoned')"
                ))
                .await;
            (v == json!(true)).then_some(())
        })
        .await;
        let low = browser.js(CONTRAST_FAILURES).await;
        assert_eq!(
            low,
            json!([]),
            "text below AA contrast in the {theme} theme"
        );
        // Let the arrival pulses finish so the picture shows the resting state.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let shot = browser.client.screenshot().await.expect("screenshot");
        let out = screenshot_path(&format!("wall-{theme}.png"));
        std::fs::write(&out, shot).expect("write screenshot");
    }
    all
}

/// No console errors in all of the above.
async fn the_console_stays_clean(browser: &Browser) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

/// The stale banner appears when the server stops and clears when it returns.
async fn the_stale_banner_comes_and_goes_with_the_server(
    browser: &Browser,
    cluster: &mut Stack,
    all: &BTreeSet<String>,
) {
    browser.open(&url(cluster, "")).await;
    browser
        .wait_for_pods("the wall before the restart", all)
        .await;
    let banner_shown = "return [!document.getElementById('stale-banner').classList.contains('hidden'), \
                        document.getElementById('wall-root').classList.contains('stale')]";
    cluster.stop_server().await;
    eventually("the stale banner", || async {
        (browser.js(banner_shown).await == json!([true, true])).then_some(())
    })
    .await;
    cluster.start_server().await;
    eventually("the banner to clear after the server returns", || async {
        (browser.js(banner_shown).await == json!([false, false])).then_some(())
    })
    .await;
    browser
        .wait_for_pods("the wall after the restart, without a reload", all)
        .await;
}

/// A first sync that cannot finish (pods forbidden): the page says it is loading and why,
/// instead of an empty wall; when access returns, the wall fills in by itself.
async fn an_unfinished_first_sync_says_why(
    browser: &Browser,
    cluster: &mut Stack,
    all: &BTreeSet<String>,
) {
    cluster.stop_server().await;
    cluster.control("faults/forbid?resource=pods").await;
    cluster.start_server_without_waiting().await;
    browser.open(&url(cluster, "")).await;
    eventually("the sync and API server banners", || async {
        let v = browser
            .js(
                "const s = document.getElementById('sync');                  const a = document.getElementById('api-banner');                  return [!!s, s ? s.textContent : '', !a.classList.contains('hidden'), a.textContent]",
            )
            .await;
        let sync_text = v[1].as_str().unwrap_or("");
        let api_text = v[3].as_str().unwrap_or("");
        (v[0] == true
            && sync_text.contains("loaded so far")
            && sync_text.contains("pods")
            && v[2] == true
            && api_text.contains("forbidden"))
        .then_some(())
    })
    .await;
    cluster.control("faults/clear").await;
    eventually("the sync banner to go once the first sync completes", || async {
        let v = browser
            .js(
                "return [!!document.getElementById('sync'),                  document.getElementById('api-banner').classList.contains('hidden')]",
            )
            .await;
        (v == json!([false, true])).then_some(())
    })
    .await;
    browser
        .wait_for_pods("the wall after the first sync", all)
        .await;
}

/// Signed out: the server comes back requiring an access token the page's cookie does not
/// hold (a rotated token, an expired cookie). The stream gets 401; the page says so instead
/// of "reconnecting" forever, and the token link signs it back in.
async fn a_signed_out_page_says_so_and_the_token_link_signs_in(
    browser: &Browser,
    cluster: &mut Stack,
    all: &BTreeSet<String>,
) {
    const TOKEN: &str = "browser-test-token-0123456789";
    cluster.stop_server().await;
    cluster.configure(|c| c.auth_token(Some(AuthToken::new(TOKEN).expect("a valid token"))));
    cluster.start_server().await;
    let signed_out = "const b = document.getElementById('auth-banner'); \
                      return [!b.classList.contains('hidden'), b.textContent.includes('token link'), \
                      document.querySelector('#conn .conn-text').textContent]";
    eventually("the signed-out banner", || async {
        (browser.js(signed_out).await == json!([true, true, "signed out"])).then_some(())
    })
    .await;
    browser
        .open(&url(cluster, &format!("?token={TOKEN}")))
        .await;
    browser
        .wait_for_pods("the wall after signing in with the token link", all)
        .await;
    let v = browser.js(signed_out).await;
    assert_eq!(v[0], json!(false), "no signed-out banner once signed in");
    let _ = browser.console_errors().await; // the 401s are logged by the browser
}
