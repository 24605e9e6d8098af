//! The product against a REAL kube-apiserver: `server::start` with a kubeconfig (CA
//! included, so rustls verifies the control plane), nodes and pods driven the way a
//! kubelet and a scheduler would, the wall's JSON API following them, and podwall
//! resuming after an apiserver restart and re-listing after etcd compaction.
//!
//! Needs `PODWALL_REAL_KUBECONFIG` (`scripts/test-all` sets it and runs these ignored
//! tests); without it every test fails saying so. Tests that restart or compact start a
//! control plane of their own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};
use testkit::control_plane::{ControlPlane, shared_kubeconfig};
use testkit::{Model, SLOW_DEADLINE, SseClient, Stack, eventually_within, unique};

use super::cluster::Cluster;
use super::wall;

/// name → (node, status) of the pods in a snapshot or model.
fn shown<'a>(pods: impl Iterator<Item = &'a Value>) -> BTreeMap<String, (Value, String)> {
    pods.map(|p| {
        (
            p["name"].as_str().unwrap_or_default().to_string(),
            (
                p["node"].clone(),
                p["status"].as_str().unwrap_or_default().to_string(),
            ),
        )
    })
    .collect()
}

/// Waits until `/api/snapshot?ns=` and the `/api/events?ns=` model both show exactly
/// what the apiserver has in the namespace (statuses compared where the API fixes them).
async fn converge(wall: &Stack, events: &mut SseClient, model: &mut Model, cluster: &Cluster) {
    let query = format!("?ns={}", cluster.namespace);
    let start = Instant::now();
    loop {
        let want = cluster.expected().await;
        let snap = wall.snapshot(&query).await;
        let snap_pods = shown(snap["pods"].as_array().expect("pods").iter());
        while let Some(ev) = events.next_within(Duration::from_millis(200)).await {
            model.apply(&ev);
        }
        let model_pods = shown(model.pods.values());
        let agrees = |got: &BTreeMap<String, (Value, String)>| {
            got.len() == want.len()
                && want.iter().all(|(name, (node, status))| {
                    got.get(name).is_some_and(|(n, s)| {
                        n == node && (status.is_empty() || status == "Pending" || s == status)
                    })
                })
        };
        if agrees(&snap_pods) && agrees(&model_pods) {
            return;
        }
        assert!(
            start.elapsed() < SLOW_DEADLINE,
            "no convergence after {SLOW_DEADLINE:?}:\n apiserver {want:?}\n snapshot {snap_pods:?}\n events {model_pods:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens `/api/events?ns=` and applies its first reset.
async fn follow(wall: &Stack, ns: &str) -> (SseClient, Model) {
    let mut events = wall.sse(&format!("/api/events?ns={ns}"), None).await;
    let reset = events.until("the reset", |e| e.event == "reset").await;
    let mut model = Model::default();
    model.apply(&reset);
    (events, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_wall_follows_nodes_and_pods_on_a_real_apiserver() {
    let kubeconfig = shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    let cluster = Cluster::new(&kubeconfig, "follow").await;
    let wall = wall(&kubeconfig, &[]).await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    let node = format!("pwr-node-{}", unique());

    cluster.create_node(&node).await;
    let seen = eventually_within(SLOW_DEADLINE, "the node, Ready", || async {
        let snap = wall.snapshot("").await;
        snap["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["name"] == node.as_str() && n["ready"] == true)
            .cloned()
    })
    .await;
    assert_eq!(seen["allocatableCpuMillis"], 3900, "{seen}");
    assert_eq!(seen["podCapacity"], 110, "{seen}");

    cluster.create_pod("direct", Some(&node)).await;
    cluster.create_pod("bound", None).await;
    let up = events
        .until("the unscheduled pod", |e| {
            e.event == "upsert" && e.json()["object"]["name"] == "bound"
        })
        .await;
    assert_eq!(up.json()["object"]["node"], Value::Null, "{}", up.data);
    model.apply(&up);
    cluster.bind("bound", &node).await;
    cluster.run_pod("direct").await;
    cluster.run_pod("bound").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    let snap = wall.snapshot(&format!("?ns={}", cluster.namespace)).await;
    for p in snap["pods"].as_array().expect("pods") {
        assert_eq!(p["node"], node.as_str(), "{p}");
        assert_eq!(p["status"], "Running", "{p}");
        assert_eq!(p["ready"], "1/1", "{p}");
        assert_eq!(p["cpuRequestMillis"], 100, "{p}");
    }
    let (status, page) = wall.get(&format!("/?ns={}", cluster.namespace)).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-node=\"{node}\"")), "{page}");
    assert!(
        page.contains(&format!("data-pod=\"{}/direct\"", cluster.namespace)),
        "{page}"
    );

    // Deleting a bound pod: Terminating until the kubelet's grace-0 delete removes it.
    cluster.delete_pod("direct").await;
    let term = events
        .until("Terminating", |e| {
            e.event == "upsert" && e.json()["object"]["status"] == "Terminating"
        })
        .await;
    model.apply(&term);
    cluster.force_delete_pod("direct").await;
    let gone = events
        .until("the delete", |e| {
            e.event == "delete" && e.json()["name"] == "direct"
        })
        .await;
    model.apply(&gone);
    cluster.force_delete_pod("bound").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(model.pods.is_empty(), "{:?}", model.pods);

    cluster
        .nodes()
        .delete(&node, &DeleteParams::default())
        .await
        .expect("node delete");
    eventually_within(SLOW_DEADLINE, "the node's removal", || async {
        let snap = wall.snapshot("").await;
        let present = snap["nodes"]
            .as_array()?
            .iter()
            .any(|n| n["name"] == node.as_str());
        (!present).then_some(())
    })
    .await;
}

/// Reads `/api/events` until a `status` event satisfies `pred`.
async fn status_until(
    events: &mut SseClient,
    model: &mut Model,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let left = SLOW_DEADLINE.saturating_sub(start.elapsed());
        let ev = events
            .next_within(left)
            .await
            .unwrap_or_else(|| panic!("timed out after {SLOW_DEADLINE:?} waiting for {what}"));
        model.apply(&ev);
        if ev.event == "status" && pred(&ev.json()) {
            return ev.json();
        }
    }
}

async fn private_setup(cp: &ControlPlane, test: &str) -> (Cluster, Stack, String) {
    let cluster = Cluster::new(&cp.kubeconfig, test).await;
    let node = format!("pwr-node-{}", unique());
    cluster.create_node(&node).await;
    for name in ["a", "b", "c"] {
        cluster.create_pod(name, Some(&node)).await;
        cluster.run_pod(name).await;
    }
    let wall = wall(&cp.kubeconfig, &[]).await;
    (cluster, wall, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_wall_resumes_after_an_apiserver_restart() {
    // Private control planes start from the build scripts/test-all's shared one runs.
    shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    // Watch cache on, like a real cluster: after the restart the new cache starts at the
    // current revision, so the resumed watches get 410 and podwall re-lists.
    let cp = ControlPlane::start(&[]).await;
    let (cluster, wall, node) = private_setup(&cp, "restart").await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    converge(&wall, &mut events, &mut model, &cluster).await;

    cp.restart_apiserver().await;
    status_until(&mut events, &mut model, "reconnecting", |s| {
        s["apiserver"] == "reconnecting"
    })
    .await;
    status_until(&mut events, &mut model, "ok again", |s| {
        s["apiserver"] == "ok"
    })
    .await;

    cluster.force_delete_pod("a").await;
    cluster.create_pod("d", Some(&node)).await;
    cluster.run_pod("d").await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(model.pods.contains_key(&format!("{}/d", cluster.namespace)));
    let (status, body) = wall.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_wall_relists_after_etcd_compaction() {
    // Private control planes start from the build scripts/test-all's shared one runs.
    shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    // Watch cache off: a watch resumes from etcd itself, so only compaction makes it 410
    // (tests/kube-apiserver/README.md, "Compaction and 410 Gone").
    let cp = ControlPlane::start(&[("PODWALL_KUBE_WATCH_CACHE", "false")]).await;
    let (cluster, wall, node) = private_setup(&cp, "compact").await;
    let (mut events, mut model) = follow(&wall, &cluster.namespace).await;
    converge(&wall, &mut events, &mut model, &cluster).await;

    // Writes podwall does not watch move etcd past its resourceVersions, so the
    // compaction covers a revision it would resume after.
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    for i in 0..2 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("bump-{i}")}}))
                .expect("configmap");
        cms.create(&PostParams::default(), &cm)
            .await
            .expect("configmap");
    }
    cp.compact().await;
    // Cut the watches; on reconnect their resourceVersions are compacted away.
    cp.restart_apiserver().await;
    let gone = status_until(&mut events, &mut model, "the 410 re-list", |s| {
        s["message"].as_str().is_some_and(|m| m.contains("410"))
    })
    .await;
    assert_eq!(gone["apiserver"], "reconnecting", "{gone}");
    status_until(&mut events, &mut model, "ok again", |s| {
        s["apiserver"] == "ok"
    })
    .await;

    cluster.force_delete_pod("b").await;
    cluster.create_pod("e", Some(&node)).await;
    converge(&wall, &mut events, &mut model, &cluster).await;
    assert!(!model.pods.contains_key(&format!("{}/b", cluster.namespace)));
}

/// A CA that signed nothing the test control plane serves (public certificate only).
const FOREIGN_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUen7DmrBNIUajk536b+h2Udga5nQwCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXbm90LXRoZS1wb2R3YWxsLXRlc3QtY2EwIBcNMjYxMTI2MTUy
NTMyWhgPMjEyNjExMDIxNTI1MzJaMCIxIDAeBgNVBAMMF25vdC10aGUtcG9kd2Fs
bC10ZXN0LWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+zKtv/IDfJt+um32
qYLoyh3Xrz75QfmQGjmLChEOeo3zWmJrfwFZ20wkLjTBcrxsjFl0dq2gM8soAlQk
5Q5RAqNTMFEwHQYDVR0OBBYEFMrOsANzrEg4Herz88u1uqj1ANPaMB8GA1UdIwQY
MBaAFMrOsANzrEg4Herz88u1uqj1ANPaMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDRwAwRAIgEBXddh7UXAga+/OWKG8m7kMMW9bLeQeyO7/66YC0yvICICrp
e5d4KbhVNx1h2fikG29Zr1dWIPuKRHIyNSVbhZuB
-----END CERTIFICATE-----
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_kubeconfig_ca_is_verified() {
    let kubeconfig = shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    // The same kubeconfig with another CA: rustls must refuse the serving certificate.
    use base64::Engine as _;
    let mut kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    for cluster in &mut kc.clusters {
        if let Some(c) = cluster.cluster.as_mut() {
            c.certificate_authority_data =
                Some(base64::engine::general_purpose::STANDARD.encode(FOREIGN_CA));
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_json::to_string(&kc).expect("json")).expect("write");
    // The right CA is accepted, the foreign one refused by certificate verification.
    let version = |path: std::path::PathBuf| async move {
        testkit::client_from(&path).await.apiserver_version().await
    };
    version(kubeconfig.clone())
        .await
        .expect("the control plane's own CA is accepted");
    let refused = version(path.clone())
        .await
        .expect_err("a foreign CA must be refused");
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&refused);
    while let Some(e) = source {
        chain.push_str(&format!("{e}: "));
        source = e.source();
    }
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    let server = Stack::builder().kubeconfig(&path).no_wait().start().await;
    let http = &server.http;
    let reason = eventually_within(
        SLOW_DEADLINE,
        "readyz to report the failed list",
        || async {
            let resp = http
                .get(format!("{}/readyz", server.url()))
                .send()
                .await
                .ok()?;
            let status = resp.status();
            let body = resp.text().await.ok()?;
            body.contains("failed").then_some((status, body))
        },
    )
    .await;
    assert_eq!(reason.0, 503, "{}", reason.1);
}
