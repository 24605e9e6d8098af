//! What is wrong, on the wall, in a real browser: a pod the scheduler cannot place says
//! why, a crash-looping pod says when and why it last restarted and carries the kubelet's
//! BackOff warning (created through the simulator's events API), a node under DiskPressure
//! and with a taint of its own says so; `?problems=1` and `ns=!kube-system` show exactly
//! the sets the simulator's state gives; a screenshot per theme.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testkit::browser::Browser;
use testkit::{Stack, eventually};

use super::{delete_now, key, keys, running_ready_pod, screenshot_path, sim_pods, url};

/// What the scheduler says of the pod it cannot place.
const UNSCHEDULABLE: &str = "0/6 nodes are available: 3 Insufficient cpu, 3 node(s) had \
    untolerated taint {dedicated: gpu}. preemption: 0/6 nodes are available: 6 No \
    preemption victims found for incoming pod.";

/// The trouble marks in one browser session, each step asserting what it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trouble_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    let cluster = super::cluster(6, 60).await;
    browser.viewport(1920, 1080).await;
    browser.open(&url(&cluster, "?theme=dark")).await;
    let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("the wall", &all).await;

    let pending = an_unschedulable_pod_says_why_within_3_s(&browser, &cluster).await;
    let crashing = a_crash_looping_pod_says_when_and_why_it_restarted(&browser, &cluster).await;
    let node = a_node_under_disk_pressure_says_so(&browser, &cluster).await;
    problems_only_shows_what_needs_attention(&browser, &cluster, [&pending, &crashing], &node)
        .await;
    leaving_out_kube_system_shows_the_rest(&browser, &cluster).await;
    for theme in ["dark", "light"] {
        browser
            .open(&url(&cluster, &format!("?theme={theme}")))
            .await;
        let all = keys(&sim_pods(&cluster, &ListParams::default()).await);
        browser
            .wait_for_pods(&format!("the {theme} wall"), &all)
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let shot = browser.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_path(&format!("trouble-{theme}.png")), shot)
            .expect("write screenshot");
    }
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    cluster.stop().await;
}

/// A new pod, unbound, whose `PodScheduled` condition says why: its block in the
/// unscheduled box shows the message (as text, at this size) within 3 s.
async fn an_unschedulable_pod_says_why_within_3_s(browser: &Browser, cluster: &Stack) -> String {
    let pods: Api<Pod> = Api::namespaced(cluster.kube(), "web");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "gpu-trainer-0", "namespace": "web"},
        "spec": {"containers": [{"name": "train", "image": "trainer:1",
            "resources": {"requests": {"cpu": "64"}}}]},
    }))
    .expect("a pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create a pod");
    let shown = Instant::now();
    pods.patch_status(
        "gpu-trainer-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": UNSCHEDULABLE}]}})),
    )
    .await
    .expect("the scheduler's verdict");
    let block = "document.querySelector('#unscheduled [data-pod=\"web/gpu-trainer-0\"]')";
    eventually("the pending pod to say why", || async {
        let v = browser
            .js(&format!(
                "const p = {block}; return p && [p.dataset.message, \
                 getComputedStyle(p, '::after').content, p.getBoundingClientRect().width]"
            ))
            .await;
        (v[0] == UNSCHEDULABLE
            && v[1]
                .as_str()
                .is_some_and(|c| c.contains("Insufficient cpu")))
        .then_some(())
    })
    .await;
    let took = shown.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "the reason showed after {took:?}"
    );
    "web/gpu-trainer-0".to_owned()
}

/// A running pod crash-loops after an OOM kill two minutes ago: its restart badge is the
/// recent one, and its details say when, why and with which exit code.
async fn a_crash_looping_pod_says_when_and_why_it_restarted(
    browser: &Browser,
    cluster: &Stack,
) -> String {
    let victim = running_ready_pod(&sim_pods(cluster, &ListParams::default()).await);
    let victim_key = key(&victim);
    let container = victim
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .expect("a container");
    let finished = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(2);
    Api::<Pod>::namespaced(
        cluster.kube(),
        victim.metadata.namespace.as_deref().expect("namespaced"),
    )
    .patch_status(
        victim.metadata.name.as_deref().expect("named"),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"containerStatuses": [{
            "name": container.0, "image": container.1, "imageID": "", "ready": false,
            "started": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": format!("back-off 40s restarting failed container={} pod={}",
                    container.0, victim.metadata.name.as_deref().unwrap_or(""))}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                "startedAt": (finished - jiff::SignedDuration::from_mins(1)).to_string(),
                "finishedAt": finished.to_string()}}}]}})),
    )
    .await
    .expect("crash-loop the pod");
    let block = format!("document.querySelector('[data-pod=\"{victim_key}\"]')");
    eventually("the block to carry its last restart", || async {
        let v = browser
            .js(&format!(
                "const p = {block}; return p && [p.dataset.status, p.classList.contains('rr'), \
                 p.dataset.lastRestartReason, p.dataset.lastRestartExit]"
            ))
            .await;
        (v == json!(["CrashLoopBackOff", true, "OOMKilled", "137"])).then_some(())
    })
    .await;
    // The kubelet's warning, through events.k8s.io/v1: a mark on the block, a line in the lane.
    let (ns, name) = victim_key.split_once('/').expect("ns/name");
    let event = podwall::fixtures::warning_event(
        "Pod",
        ns,
        name,
        "BackOff",
        &format!(
            "Back-off restarting failed container {} in pod {name}",
            container.0
        ),
    );
    let event: k8s_openapi::api::events::v1::Event =
        serde_json::from_value(event).expect("an event");
    Api::<k8s_openapi::api::events::v1::Event>::namespaced(cluster.kube(), ns)
        .create(&PostParams::default(), &event)
        .await
        .expect("create the warning");
    eventually("the block's warning mark and the lane's line", || async {
        let v = browser
            .js(&format!(
                "const p = {block}; const li = Array.from(document.querySelectorAll('#warnings-list .warning'))                  .find(l => l.dataset.name === {name:?} && l.dataset.kind === 'Pod');                  return p && [p.dataset.warning, !!p.querySelector('.warn'),                  li ? li.querySelector('.warning-reason').textContent : null]"
            ))
            .await;
        (v == json!(["BackOff", true, "BackOff"])).then_some(())
    })
    .await;
    let details = browser
        .js(&format!(
            "const p = {block}; p.focus(); p.dispatchEvent(new MouseEvent('mouseover', {{bubbles: true}})); \
             return document.getElementById('detail').textContent"
        ))
        .await;
    let details = details.as_str().unwrap_or_default();
    assert!(
        details.contains("last restart2m ago: OOMKilled (exit 137)"),
        "details: {details}"
    );
    assert!(
        details.contains("back-off 40s restarting"),
        "details: {details}"
    );
    assert!(details.contains("warningBackOff"), "details: {details}");
    // The recent badge differs from an old restart's.
    let colours = browser
        .js(&format!(
            "const old = document.querySelector('.pod.r:not(.rr) .restarts'); \
             return [getComputedStyle({block}.querySelector('.restarts')).backgroundColor, \
             old ? getComputedStyle(old).backgroundColor : 'none']"
        ))
        .await;
    assert_ne!(colours[0], colours[1], "a recent restart looks different");
    victim_key
}

/// A worker under DiskPressure, with the kubelet's taint and a taint of its own: an amber
/// badge for the condition, a badge for its own taint only, and it is still Ready.
async fn a_node_under_disk_pressure_says_so(browser: &Browser, cluster: &Stack) -> String {
    let nodes: Api<Node> = Api::all(cluster.kube());
    let name = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .rfind(|n| n.starts_with("worker"))
        .expect("a worker");
    nodes
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                {"type": "DiskPressure", "status": "True", "reason": "KubeletHasDiskPressure",
                    "message": "kubelet has disk pressure"}]}})),
        )
        .await
        .expect("disk pressure");
    nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": [
                {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}})),
        )
        .await
        .expect("taints");
    let head = format!("document.querySelector('[data-node=\"{name}\"] .node-head')");
    eventually("the node to show its pressure and taint", || async {
        let v = browser
            .js(&format!(
                "const h = {head}; return h && [h.classList.contains('pressure'), \
                 h.classList.contains('notready'), \
                 Array.from(h.querySelectorAll('.badge-pressure')).map(b => b.textContent.trim()), \
                 Array.from(h.querySelectorAll('.badge-taint')).map(b => b.dataset.taint), \
                 getComputedStyle(h.closest('.node')).borderTopStyle]"
            ))
            .await;
        (v == json!([
            true,
            false,
            ["DiskPressure"],
            ["dedicated=gpu:NoSchedule"],
            "double"
        ]))
        .then_some(())
    })
    .await;
    name
}

/// `?problems=1`: exactly the pods the simulator's state says need attention, the boxes
/// holding them and the problem node; healthy pods are counted as folded.
async fn problems_only_shows_what_needs_attention(
    browser: &Browser,
    cluster: &Stack,
    known: [&String; 2],
    node: &str,
) {
    browser.open(&url(cluster, "?problems=1")).await;
    let pods = sim_pods(cluster, &ListParams::default()).await;
    let now = jiff::Timestamp::now();
    let warned = warned_pods(cluster).await;
    let needs_attention = |p: &Pod| warned.contains(&key(p)) || troubled(p, now);
    let want: BTreeSet<String> = pods
        .iter()
        .filter(|p| needs_attention(p))
        .map(key)
        .collect();
    for k in known {
        assert!(want.contains(k), "{k} needs attention");
    }
    browser.wait_for_pods("the problem pods", &want).await;
    let mut boxes: BTreeSet<String> = pods
        .iter()
        .filter(|p| needs_attention(p))
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    boxes.insert(node.to_owned());
    let shown = browser
        .js(
            "return Array.from(document.querySelectorAll('#wall .node')) \
             .filter(n => n.getClientRects().length).map(n => n.dataset.node).sort()",
        )
        .await;
    assert_eq!(shown, json!(boxes), "the boxes shown under problems=1");
    let folded = browser
        .js("return Number(document.querySelector('#count-folded b').textContent)")
        .await;
    assert_eq!(folded, json!(pods.len() - want.len()));
    // A healthy pod goes: no change of it reaches this page, yet its count follows.
    let healthy = pods
        .iter()
        .find(|p| !needs_attention(p))
        .expect("a healthy pod");
    delete_now(cluster, healthy).await;
    let want_folded = json!(pods.len() - want.len() - 1);
    eventually("the folded count to follow", || async {
        let n = browser
            .js("return Number(document.querySelector('#count-folded b').textContent)")
            .await;
        (n == want_folded).then_some(())
    })
    .await;
}

/// `?ns=!kube-system`: every pod but kube-system's.
async fn leaving_out_kube_system_shows_the_rest(browser: &Browser, cluster: &Stack) {
    let pods = sim_pods(cluster, &ListParams::default()).await;
    let system = pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some("kube-system"))
        .count();
    assert!(system > 0, "the simulator runs kube-system pods");
    let want: BTreeSet<String> = pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() != Some("kube-system"))
        .map(key)
        .collect();
    browser.open(&url(cluster, "?ns=!kube-system")).await;
    browser
        .wait_for_pods("every pod but kube-system's", &want)
        .await;
}

/// The pods the simulator's Warning events are about (it keeps them for an hour).
async fn warned_pods(cluster: &Stack) -> BTreeSet<String> {
    Api::<k8s_openapi::api::events::v1::Event>::all(cluster.kube())
        .list(&ListParams::default().fields("type=Warning"))
        .await
        .expect("list warnings")
        .items
        .iter()
        .filter_map(|e| e.regarding.as_ref())
        .filter(|r| r.kind.as_deref() == Some("Pod"))
        .map(|r| {
            format!(
                "{}/{}",
                r.namespace.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// The simulator's pod is in trouble: not Running with every container ready, not
/// Succeeded, or a container restarted within the hour (written here from the API's
/// fields, apart from podwall's own code).
fn troubled(p: &Pod, now: jiff::Timestamp) -> bool {
    let Some(status) = &p.status else { return true };
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    let recent_restart = containers.iter().any(|c| {
        c.restart_count > 0
            && c.last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .and_then(|t| t.finished_at.as_ref())
                .is_some_and(|at| now.duration_since(at.0) < jiff::SignedDuration::from_hours(1))
    });
    let healthy = match status.phase.as_deref() {
        Some("Succeeded") => true,
        Some("Running") => {
            p.metadata.deletion_timestamp.is_none()
                && !containers.is_empty()
                && containers
                    .iter()
                    .all(|c| c.ready && c.state.as_ref().is_some_and(|s| s.running.is_some()))
        }
        _ => false,
    };
    !healthy || recent_restart
}
