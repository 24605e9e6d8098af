//! The wall on a cluster driven by the real Kubernetes controllers (issue 22): etcd,
//! kube-apiserver, kube-controller-manager and kube-scheduler of the pinned release, and
//! KWOK playing the kubelets (`scripts/test-kwok`). Pods come from Deployments, a
//! StatefulSet, a DaemonSet and Jobs; the scheduler binds them; the node lifecycle
//! controller evicts the pods of a node gone silent.
//!
//! The smoke (50 nodes, 1,000 pods) runs in `scripts/test-all`; the full-size run is
//! `cargo bench --bench big_cluster` (BENCHMARKS.md). Needs KWOK and the controllers
//! built: `scripts/test-kwok build` (the test starts and stops its own cluster).

mod shape;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::browser::Browser;
use testkit::kwok::{Day, KwokCluster, Workload, create_deployment, create_namespace, settle};
use testkit::{Model, Stack, eventually_within};

/// The size: 50 nodes and 1,000 pods, or `PODWALL_BIG_NODES` and `PODWALL_BIG_PODS` (the
/// bench's variables) for a bigger run.
fn size() -> (usize, usize) {
    (
        testkit::setting("PODWALL_BIG_NODES").unwrap_or(50),
        testkit::setting("PODWALL_BIG_PODS").unwrap_or(1_000),
    )
}

/// How long the real controllers get to bring the pods up on a busy 2-core machine (KWOK
/// writes about 80 pod statuses a second here, two per pod start).
fn settle_deadline(pods: usize) -> Duration {
    Duration::from_secs(300 + pods as u64 / 20)
}

/// Changes reach the wall within a second; the controllers and KWOK's stage delays (1-6 s
/// per step of a pod's start) make the cluster itself take longer, the more so the bigger.
static FOLLOW: std::sync::LazyLock<Duration> =
    std::sync::LazyLock::new(|| Duration::from_secs(90 + size().1 as u64 / 200));

/// The page's pods counted by `data-status`, as kubectl's STATUS column counts them.
async fn dom_statuses(browser: &Browser) -> BTreeMap<String, usize> {
    let v = browser
        .js("const c = {}; for (const p of document.querySelectorAll('#wall [data-pod]')) { c[p.dataset.status] = (c[p.dataset.status] || 0) + 1 } return c")
        .await;
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0) as usize))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the page and `kubectl get pods -A` count the same pods by status (the
/// crash-looping pods flip every few seconds, so the two are compared until they agree).
async fn wall_agrees_with_kubectl(browser: &Browser, kwok: &KwokCluster, when: &str) {
    let start = std::time::Instant::now();
    loop {
        let kubectl = kwok.kubectl_statuses().await;
        let dom = dom_statuses(browser).await;
        if kubectl == dom && browser.live().await {
            eprintln!("{when}: page and kubectl agree: {kubectl:?}");
            return;
        }
        assert!(
            start.elapsed() < *FOLLOW,
            "{when}: page and kubectl did not agree in {:?}; last:\n kubectl {kubectl:?}\n page    {dom:?}",
            *FOLLOW
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The node box's header classes (`notready`, `cordoned`, …).
async fn node_classes(browser: &Browser, node: &str) -> String {
    browser
        .js(&format!(
            "const h = document.querySelector('[data-node=\"{node}\"] .node-head'); return h ? h.className : ''"
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The page's pods on `node` with their statuses.
async fn pods_on(browser: &Browser, node: &str) -> BTreeMap<String, String> {
    let v = browser
        .js(&format!(
            "return Array.from(document.querySelectorAll('[data-node=\"{node}\"] [data-pod]'), p => [p.dataset.pod, p.dataset.status])"
        ))
        .await;
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs KWOK and the controllers built (scripts/test-kwok build); scripts/test-all runs it"]
async fn the_wall_follows_a_cluster_of_real_controllers() {
    testkit::init();
    let (nodes, pods) = size();
    let kwok = KwokCluster::start(nodes).await;
    let client = kwok.client().await;
    let workload = Workload::sized(nodes, pods);
    workload.create(&client).await;
    let phases = settle(&client, workload.pods(), settle_deadline(pods)).await;
    eprintln!("settled: {phases:?}");

    let wall = Stack::builder().kubeconfig(&kwok.kubeconfig).start().await;
    let browser = Browser::start().await;
    browser.viewport(1920, 1080).await;
    browser.open(&wall.url()).await;
    wall_agrees_with_kubectl(&browser, &kwok, "the first sync").await;
    assert_eq!(
        browser.dom_pods().await.len(),
        kwok.kubectl_statuses().await.values().sum::<usize>(),
        "every pod is on the page"
    );

    let mut day = Day::new(client.clone());
    a_rollout_shows_old_pods_going_and_new_ones_coming(&wall, &mut day, &workload).await;
    wall_agrees_with_kubectl(&browser, &kwok, "after the rollout").await;
    a_silent_node_turns_not_ready_and_its_pods_are_evicted(&browser, &kwok).await;
    a_drained_node_is_cordoned_and_emptied(&browser, &day).await;
    unschedulable_pods_wait_without_a_node(&wall, &day, &workload).await;
    wall_agrees_with_kubectl(&browser, &kwok, "after the day").await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// A rolling update: on the wall's event stream, pods of the old ReplicaSet turn
/// Terminating and vanish while pods of a new one appear and start.
async fn a_rollout_shows_old_pods_going_and_new_ones_coming(
    wall: &Stack,
    day: &mut Day,
    workload: &Workload,
) {
    let (ns, name, _) = &workload.deployments[0];
    let mut events = wall.sse(&format!("/api/events?ns={ns}"), None).await;
    let reset = events.until("the reset", |e| e.event == "reset").await;
    let mut model = Model::default();
    model.apply(&reset);
    let of_app = |model: &Model| -> BTreeSet<String> {
        model
            .pods
            .values()
            .filter(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&format!("{name}-")))
            })
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    };
    let before = of_app(&model);
    assert!(!before.is_empty(), "{ns}/{name} has pods on the wall");
    let step = day.rollout(ns, name).await;
    eprintln!("{}", step.what);
    let (mut terminating, mut started) = (BTreeSet::new(), BTreeSet::new());
    let mut seen_new = BTreeSet::new();
    let done = tokio::time::timeout(*FOLLOW, async {
        loop {
            let ev = events.next().await;
            model.apply(&ev);
            let data = ev.json();
            let pod = &data["object"];
            let upserted_pod = (ev.event == "upsert" && data["kind"] == json!("Pod"))
                .then(|| pod["name"].as_str())
                .flatten()
                .filter(|n| n.starts_with(&format!("{name}-")));
            if let Some(pod_name) = upserted_pod.map(str::to_owned) {
                let status = pod["status"].as_str().unwrap_or_default();
                if before.contains(&pod_name) && status == "Terminating" {
                    terminating.insert(pod_name);
                } else if !before.contains(&pod_name) {
                    seen_new.insert(pod_name.clone());
                    if status == "Running" {
                        started.insert(pod_name);
                    }
                }
            }
            // Checked after every event, deletions included: the last old pod's deletion
            // may be the rollout's final event on this stream.
            let now = of_app(&model);
            // Done: the old pods all went (through Terminating), new ones run in their place.
            if now.is_disjoint(&before) && started.len() >= before.len() && !terminating.is_empty()
            {
                return;
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the rollout did not complete on the wall in {:?}: {} old pods, {} seen terminating, {} new seen, {} new running; old pods still on the wall: {:?}",
        *FOLLOW,
        before.len(),
        terminating.len(),
        seen_new.len(),
        started.len(),
        of_app(&model).intersection(&before).collect::<Vec<_>>()
    );
    eprintln!(
        "rollout on the wall: {} old pods terminated ({} seen Terminating), {} new ones Running",
        before.len(),
        terminating.len(),
        started.len()
    );
}

/// KWOK stops heartbeating a node: the node lifecycle controller marks it NotReady and
/// taints it; the taint manager evicts its pods, which stay Terminating (no kubelet to
/// confirm) while their controllers recreate them elsewhere. The page shows all of it.
async fn a_silent_node_turns_not_ready_and_its_pods_are_evicted(
    browser: &Browser,
    kwok: &KwokCluster,
) {
    let node = "kwok-node-0007";
    let before = pods_on(browser, node).await;
    assert!(!before.is_empty(), "{node} has pods on the page");
    kwok.silence(node).await;
    eventually_within(
        *FOLLOW,
        "the page to mark the silent node NotReady",
        || async {
            node_classes(browser, node)
                .await
                .contains("notready")
                .then_some(())
        },
    )
    .await;
    let kubectl_nodes = kwok.kubectl(&["get", "node", node, "--no-headers"]).await;
    assert!(
        kubectl_nodes.contains("NotReady"),
        "kubectl agrees: {kubectl_nodes}"
    );
    // Evicted: every pod but the DaemonSet's (which tolerates the taint) is Terminating.
    let evicted = eventually_within(
        *FOLLOW,
        "the page to show the evicted pods Terminating",
        || async {
            let now = pods_on(browser, node).await;
            let others: Vec<_> = now
                .iter()
                .filter(|(k, _)| !k.starts_with("kube-system/node-agent-"))
                .collect();
            (!others.is_empty() && others.iter().all(|(_, s)| *s == "Terminating"))
                .then_some(others.len())
        },
    )
    .await;
    eprintln!("{node}: NotReady on the page, {evicted} evicted pods Terminating");
}

/// A node cordoned and drained through the Eviction API: cordoned on the page, and its
/// pods but the DaemonSet's gone from it.
async fn a_drained_node_is_cordoned_and_emptied(browser: &Browser, day: &Day) {
    let node = "kwok-node-0008";
    let step = day.drain(node).await;
    eprintln!("{}", step.what);
    eventually_within(
        *FOLLOW,
        "the page to show the drained node cordoned and empty",
        || async {
            let cordoned = node_classes(browser, node).await.contains("cordoned");
            let left: Vec<_> = pods_on(browser, node)
                .await
                .into_keys()
                .filter(|k| !k.starts_with("kube-system/node-agent-"))
                .collect();
            (cordoned && left.is_empty()).then_some(())
        },
    )
    .await;
}

/// A burst of pods no node can take: Pending without a node on the wall, with the
/// scheduler's reason.
async fn unschedulable_pods_wait_without_a_node(wall: &Stack, day: &Day, workload: &Workload) {
    let ns = &workload.namespaces[0];
    let step = day.unschedulable_burst(ns, 20).await;
    eprintln!("{}", step.what);
    let pending = eventually_within(*FOLLOW, "20 unschedulable pods on the wall", || async {
        let snap = wall.snapshot(&format!("?ns={ns}")).await;
        let pods: Vec<Value> = snap["pods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("gpu-batch-"))
            })
            .cloned()
            .collect();
        (pods.len() == 20
            && pods
                .iter()
                .all(|p| p["node"].is_null() && p["status"] == json!("Pending")))
        .then_some(pods)
    })
    .await;
    eprintln!("unschedulable on the wall: {}", pending[0]);
}

/// The simulator's pod streams have the shape the real controllers give them: the same
/// usual path through the states from creation to ready and from deletion to gone, and
/// the same metadata on every pod a ReplicaSet makes (`shape.rs`). The real side runs a
/// Deployment through creation, a rollout and a scale-down; the sim its own churn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs KWOK and the controllers built (scripts/test-kwok build); scripts/test-all runs it"]
async fn the_simulator_streams_pods_the_way_the_real_controllers_do() {
    testkit::init();
    const WINDOW: Duration = Duration::from_secs(60);
    let kwok = KwokCluster::start(10).await;
    let client = kwok.client().await;
    create_namespace(&client, "shape").await;
    let (real, ()) = tokio::join!(shape::record(&client, Some("shape"), WINDOW), async {
        create_deployment(&client, "shape", "web", 40).await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        Day::new(client.clone()).rollout("shape", "web").await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        Day::new(client.clone()).scale("shape", "web", 20).await;
    });
    drop(kwok);

    let mut sim = Stack::builder()
        .nodes(10)
        .pods(200)
        .churn(20.0)
        .seed(22)
        .no_server()
        .start()
        .await;
    let sim_client = testkit::client_from(&sim.kubeconfig()).await;
    let simulated = shape::record(&sim_client, None, WINDOW).await;

    eprintln!("real:      {real:#?}");
    eprintln!("simulated: {simulated:#?}");
    assert!(real.added >= 40 && simulated.added >= 20, "both made pods");
    assert_eq!(
        real.usual_start(),
        simulated.usual_start(),
        "the usual path from creation to ready"
    );
    assert_eq!(
        real.usual_deletion(),
        simulated.usual_deletion(),
        "the usual path from deletion to gone"
    );
    assert_eq!(
        real.universal_metadata(),
        simulated.universal_metadata(),
        "what every ReplicaSet's pod carries"
    );
}
