//! The wall in a real browser (headless Chromium through chromedriver) against the
//! simulator: the wall's behaviour step by step (`wall`), the kiosk board (`kiosk`),
//! usage, links and several clusters (`overlay`), what is wrong (`trouble`), and on
//! request a page soak (`soak`).
//! Each theme is saved as a 1920×1080 screenshot (in `docs/` with
//! `PODWALL_UPDATE_SCREENSHOTS=1`). Needs Debian's `chromium` and `chromium-driver`; fails
//! (never skips) without them. One test binary (see tests/README.md).

mod attention;
mod kiosk;
mod overlay;
mod rewind;
mod soak;
mod trouble;
mod wall;
mod warnings;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;
use testkit::Stack;

/// A quiet simulated cluster of `nodes` and `pods` (seed 11) and a wall server against it
/// that can be stopped and started again on its address.
async fn cluster(nodes: usize, pods: usize) -> Stack {
    Stack::builder()
        .nodes(nodes)
        .pods(pods)
        .seed(11)
        .start()
        .await
}

/// The wall's URL with `query` (e.g. `?kiosk=1`).
fn url(stack: &Stack, query: &str) -> String {
    format!("{}/{query}", stack.url())
}

/// Sets the simulator's churn (changes per second).
async fn churn(stack: &Stack, rate: f64) {
    stack.control(&format!("churn?rate={rate}")).await;
}

/// The simulator's pods, straight from its API.
async fn sim_pods(stack: &Stack, params: &ListParams) -> Vec<Pod> {
    Api::<Pod>::all(stack.kube())
        .list(params)
        .await
        .expect("list pods")
        .items
}

/// Makes a pod's container crash-loop (5 restarts), through the simulator's API.
async fn crash_loop(stack: &Stack, pod: &Pod) {
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .expect("a container");
    Api::<Pod>::namespaced(
        stack.kube(),
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

/// Deletes a pod at once (grace 0), through the simulator's API.
async fn delete_now(stack: &Stack, pod: &Pod) {
    Api::<Pod>::namespaced(
        stack.kube(),
        pod.metadata.namespace.as_deref().unwrap_or(""),
    )
    .delete(
        pod.metadata.name.as_deref().unwrap_or(""),
        &kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            ..kube::api::DeleteParams::default()
        },
    )
    .await
    .expect("delete a pod");
}

/// `namespace/name` of a pod, as its block's `data-pod`.
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

/// The `data-pod` keys of `pods`.
fn keys<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> BTreeSet<String> {
    pods.into_iter().map(key).collect()
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
