//! The wall in a real browser (headless Chromium through chromedriver) against the
//! simulator: the DOM matches the cluster after churn, a crash-looping pod changes its
//! block, URL filters narrow the wall, the pod detail shows on focus, a malformed filter
//! shows its error on the page, the stale banner comes and goes with the server, the
//! console stays clean, and each theme is saved as a 1920×1080 screenshot (in `docs/` with
//! `PODWALL_UPDATE_SCREENSHOTS=1`).
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

mod browser_support;
mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use browser_support::Browser;
use common::eventually;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use podwall::AuthToken;
use podwall::sim::{RunningSim, SimConfig};
use podwall::{KubeSource, Running};
use serde_json::json;
use tokio_util::sync::CancellationToken;

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

/// The simulator, and a wall server that can be stopped and started again on its address.
struct Cluster {
    sim: RunningSim,
    server: Option<(Running, CancellationToken)>,
    token: CancellationToken,
    addr: SocketAddr,
    /// The access token the next server started requires, if any.
    auth: Option<AuthToken>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Cluster {
    async fn start(nodes: usize, pods: usize) -> Cluster {
        common::init();
        let token = CancellationToken::new();
        let sim = podwall::sim::start(
            SimConfig {
                listen: "127.0.0.1:0".parse().expect("static address"),
                nodes,
                pods,
                churn: 0.0,
                seed: 11,
                ..SimConfig::default()
            },
            token.clone(),
        )
        .await
        .expect("sim starts");
        let mut cluster = Cluster {
            sim,
            server: None,
            token,
            addr: "127.0.0.1:0".parse().expect("static address"),
            auth: None,
        };
        cluster.start_server(true).await;
        cluster
    }

    /// Starts the wall server on the cluster's address; `wait_ready` waits for `/readyz`.
    async fn start_server(&mut self, wait_ready: bool) {
        let token = self.token.child_token();
        let server = podwall::start(
            common::serve_config(KubeSource::Config(self.sim.kube_config()))
                .listen(self.addr)
                .auth_token(self.auth.clone()),
            token.clone(),
        )
        .await
        .expect("server starts");
        self.addr = server.addr;
        let ready = format!("{}/readyz", server.url());
        if wait_ready {
            eventually("readyz 200", || async {
                reqwest::get(&ready)
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            })
            .await;
        }
        self.server = Some((server, token));
    }

    async fn stop_server(&mut self) {
        let (server, token) = self.server.take().expect("a running server");
        token.cancel();
        server.stopped().await.expect("server stops cleanly");
    }

    fn url(&self, query: &str) -> String {
        format!("http://{}/{query}", self.addr)
    }

    fn kube(&self) -> kube::Client {
        kube::Client::try_from(self.sim.kube_config()).expect("kube client")
    }

    async fn churn(&self, rate: f64) {
        self.control(&format!("churn?rate={rate}")).await;
    }

    /// `POST /_sim/<path>` on the simulator.
    async fn control(&self, path: &str) {
        let resp = reqwest::Client::new()
            .post(format!("{}/_sim/{path}", self.sim.url()))
            .send()
            .await
            .expect("sim control");
        assert!(
            resp.status().is_success(),
            "/_sim/{path}: {}",
            resp.status()
        );
    }

    /// The simulator's pods, straight from its API.
    async fn pods(&self, params: &ListParams) -> Vec<Pod> {
        Api::<Pod>::all(self.kube())
            .list(params)
            .await
            .expect("list pods")
            .items
    }

    /// Makes a pod's container crash-loop (5 restarts), through the simulator's API.
    async fn crash_loop(&self, pod: &Pod) {
        let container = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .expect("a container");
        Api::<Pod>::namespaced(
            self.kube(),
            pod.metadata.namespace.as_deref().expect("namespaced"),
        )
        .patch_status(
            pod.metadata.name.as_deref().expect("named"),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"containerStatuses": [{
                "name": container.0, "image": container.1, "imageID": "", "ready": false,
                "started": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}})),
        )
        .await
        .expect("crash-loop the pod");
    }

    fn seq(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, |(s, _)| s.cache().position().seq)
    }
}

fn key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

/// A pod on a node, running, with every container ready.
fn running_ready_pod(pods: &[Pod]) -> Pod {
    pods.iter()
        .find(|p| {
            p.spec.as_ref().is_some_and(|s| s.node_name.is_some())
                && p.metadata.deletion_timestamp.is_none()
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| cs.iter().all(|c| c.ready))
        })
        .expect("a running, ready pod")
        .clone()
}

fn keys<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> BTreeSet<String> {
    pods.into_iter().map(key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_in_a_real_browser() {
    common::init();
    let browser = Browser::start().await;
    let mut cluster = Cluster::start(10, 200).await;

    // 7. A malformed filter: status 400, and the page shows the error and the form.
    let bad = cluster.url("?label=app%3D%3D%3D");
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

    // 1. The DOM equals the simulator's cluster, before and after churn.
    browser.open(&cluster.url("")).await;
    let all = keys(&cluster.pods(&ListParams::default()).await);
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
    cluster.churn(40.0).await;
    eventually("150 changes of churn", || async {
        (cluster.seq() > start + 150).then_some(())
    })
    .await;
    cluster.churn(0.0).await;
    let sim_nodes = Api::<Node>::all(cluster.kube())
        .list(&ListParams::default())
        .await
        .expect("list nodes")
        .items
        .len();
    eventually(
        "DOM pods and nodes to equal the simulator's after churn",
        || async {
            let sim = keys(&cluster.pods(&ListParams::default()).await);
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

    // 2. A pod the simulator crash-loops changes its block's status and colour.
    let pods = cluster.pods(&ListParams::default()).await;
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
    cluster.crash_loop(&victim).await;
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
    Api::<Pod>::namespaced(
        cluster.kube(),
        doomed.metadata.namespace.as_deref().unwrap_or(""),
    )
    .delete(
        doomed.metadata.name.as_deref().unwrap_or(""),
        &kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            ..kube::api::DeleteParams::default()
        },
    )
    .await
    .expect("delete a pod");
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

    // 3. Clicking (focusing) a pod shows its details, never more than the view holds.
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

    // 4. URL filters narrow the DOM to exactly the matching pods.
    let pods = cluster.pods(&ListParams::default()).await;
    let ns = victim.metadata.namespace.clone().expect("namespace");
    let in_ns = keys(
        pods.iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(&ns)),
    );
    assert!(in_ns.len() < pods.len(), "the namespace filter must narrow");
    browser.open(&cluster.url(&format!("?ns={ns}"))).await;
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
        .open(&cluster.url(&format!("?node={victim_node}&group=owner&sort=usage")))
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
        &cluster
            .pods(&ListParams::default().labels(&format!("{app_key}={app}")))
            .await,
    );
    browser
        .open(&cluster.url(&format!("?label={app_key}%3D{app}&theme=light&compact=1")))
        .await;
    browser
        .wait_for_pods("?label= to narrow the DOM", &labelled)
        .await;
    assert!(labelled.contains(&victim_key));

    // 5. One screenshot per theme, of a cluster with a NotReady and a cordoned node.
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
    let all = keys(&cluster.pods(&ListParams::default()).await);
    for theme in ["dark", "light"] {
        browser.open(&cluster.url(&format!("?theme={theme}"))).await;
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

    // 6. No console errors in all of the above.
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // 8. The stale banner appears when the server stops and clears when it returns.
    browser.open(&cluster.url("")).await;
    browser
        .wait_for_pods("the wall before the restart", &all)
        .await;
    let banner_shown = "return [!document.getElementById('stale-banner').classList.contains('hidden'), \
                        document.getElementById('wall-root').classList.contains('stale')]";
    cluster.stop_server().await;
    eventually("the stale banner", || async {
        (browser.js(banner_shown).await == json!([true, true])).then_some(())
    })
    .await;
    cluster.start_server(true).await;
    eventually("the banner to clear after the server returns", || async {
        (browser.js(banner_shown).await == json!([false, false])).then_some(())
    })
    .await;
    browser
        .wait_for_pods("the wall after the restart, without a reload", &all)
        .await;

    // 9. A first sync that cannot finish (pods forbidden): the page says it is loading and
    //    why, instead of an empty wall; when access returns, the wall fills in by itself.
    cluster.stop_server().await;
    cluster.control("faults/forbid?resource=pods").await;
    cluster.start_server(false).await;
    browser.open(&cluster.url("")).await;
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
        .wait_for_pods("the wall after the first sync", &all)
        .await;

    // 10. Signed out: the server comes back requiring an access token the page's cookie
    //     does not hold (a rotated token, an expired cookie). The stream gets 401; the page
    //     says so instead of "reconnecting" forever, and the token link signs it back in.
    const TOKEN: &str = "browser-test-token-0123456789";
    cluster.stop_server().await;
    cluster.auth = Some(AuthToken::new(TOKEN).expect("a valid token"));
    cluster.start_server(true).await;
    let signed_out = "const b = document.getElementById('auth-banner'); \
                      return [!b.classList.contains('hidden'), b.textContent.includes('token link'), \
                      document.querySelector('#conn .conn-text').textContent]";
    eventually("the signed-out banner", || async {
        (browser.js(signed_out).await == json!([true, true, "signed out"])).then_some(())
    })
    .await;
    browser.open(&cluster.url(&format!("?token={TOKEN}"))).await;
    browser
        .wait_for_pods("the wall after signing in with the token link", &all)
        .await;
    let v = browser.js(signed_out).await;
    assert_eq!(v[0], json!(false), "no signed-out banner once signed in");
    let _ = browser.console_errors().await; // the 401s are logged by the browser

    browser.client.close().await.expect("close browser");
}

/// The kiosk board: a wall that only fits at the smallest size is drawn on canvases (one
/// per row of node boxes) while the boxes stay in the DOM unrendered. Every pod of the
/// cluster is drawn once, in its status colour, hovering it shows its details, a crash-loop
/// turns its pixels red, and the wall still fits the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_board_in_a_real_browser() {
    common::init();
    let browser = Browser::start().await;
    // 100 nodes of 20 pods fit an 800×600 screen only at the smallest size.
    let cluster = Cluster::start(100, 2000).await;
    browser.viewport(800, 600).await;
    browser.open(&cluster.url("?kiosk=1")).await;
    let all = keys(&cluster.pods(&ListParams::default()).await);
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
    cluster.churn(100.0).await;
    eventually("200 changes of churn", || async {
        (cluster.seq() > start + 200).then_some(())
    })
    .await;
    cluster.churn(0.0).await;
    let bound = |pods: &[Pod]| {
        keys(
            pods.iter()
                .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some())),
        )
    };
    let pods = cluster.pods(&ListParams::default()).await;
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
    cluster.crash_loop(&victim).await;
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
    common::init();
    let browser = Browser::start().await;
    browser.record_performance().await;
    let cluster = Cluster::start(1000, 20_000).await;
    browser.viewport(1920, 1080).await;
    let started = std::time::Instant::now();
    browser.open(&cluster.url("?kiosk=1")).await;
    let loaded = started.elapsed();
    let all = keys(&cluster.pods(&ListParams::default()).await);
    browser.wait_for_pods("20,000 pods in the DOM", &all).await;
    tracing::info!(?loaded, live = ?started.elapsed(), "big wall rendered");

    browser.js("window.__perf.reset(); return true").await;
    let start = cluster.seq();
    cluster.churn(500.0).await;
    eventually("2,000 changes of churn", || async {
        (cluster.seq() > start + 2000).then_some(())
    })
    .await;
    cluster.churn(0.0).await;
    let perf = browser.js("return window.__perf").await;
    let all = keys(&cluster.pods(&ListParams::default()).await);
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
    browser.open(&cluster.url("?kiosk=1")).await;
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

/// Days on a wall without leaking, compressed: the page runs under churn for
/// `PODWALL_SOAK_MINUTES` (default 2) while the JS heap (after a forced garbage
/// collection) and the DOM are sampled every 20 s; both must stay bounded, and the DOM must
/// still equal the cluster at the end. On request:
/// `PODWALL_SOAK_MINUTES=30 cargo test --release --test browser -- --ignored page_soak --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak run; see the doc comment"]
async fn page_soak() {
    common::init();
    let minutes: f64 = std::env::var("PODWALL_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2.0);
    let browser = Browser::start().await;
    let cluster = Cluster::start(40, 1200).await;
    browser.open(&cluster.url("")).await;
    let all = keys(&cluster.pods(&ListParams::default()).await);
    browser.wait_for_pods("the wall", &all).await;
    cluster.churn(100.0).await;
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
    cluster.churn(0.0).await;
    let all = keys(&cluster.pods(&ListParams::default()).await);
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

/// Where a screenshot goes: `docs/` with `PODWALL_UPDATE_SCREENSHOTS=1` (to refresh the
/// committed pictures), else the test's scratch folder, so a test run leaves the tree clean.
fn screenshot_path(name: &str) -> PathBuf {
    let dir = if std::env::var_os("PODWALL_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    let out = dir.join(name);
    eprintln!("screenshot: {}", out.display());
    out
}
