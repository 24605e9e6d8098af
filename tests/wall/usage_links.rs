//! Live usage and click-through links, through the simulator's metrics.k8s.io API and
//! the real kube client: the sim's PodMetrics/NodeMetrics follow its pods, the wall polls
//! them and degrades quietly without metrics-server, and links redirect escaped.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use podwall::sim::MetricsMode;
use podwall::{ClusterConfig, KubeSource, LinkTemplate, NodeMetrics, PodMetrics, WallOptions};
use serde_json::Value;
use testkit::{Stack, eventually};

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> f64 {
    q.and_then(|q| podwall::quantity::parse(&q.0))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_metrics_api_follows_pods_and_can_be_absent() {
    let stack = Stack::sim_only(8, 160, 11).await;
    let sim = stack.sim();
    let client = stack.kube();

    // Discovery says the API is there, the way kubectl top finds it.
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(
        discovery.has_group("metrics.k8s.io"),
        "metrics.k8s.io discovered"
    );

    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("pods");
    let by_key: BTreeMap<(String, String), Pod> = pods
        .items
        .into_iter()
        .map(|p| {
            (
                (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                ),
                p,
            )
        })
        .collect();
    let metrics = Api::<PodMetrics>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("pod metrics");
    assert!(
        metrics.items.len() > 100,
        "most pods run: {}",
        metrics.items.len()
    );
    let (mut containers, mut below, mut hot) = (0, 0, 0);
    for pm in &metrics.items {
        let key = (
            pm.metadata.namespace.clone().unwrap_or_default(),
            pm.metadata.name.clone().unwrap_or_default(),
        );
        let pod = by_key.get(&key).expect("metrics only for existing pods");
        let status = pod.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"), "{key:?}");
        let spec = pod.spec.as_ref().expect("spec");
        for c in &pm.containers {
            let declared = spec
                .containers
                .iter()
                .find(|d| d.name == c.name)
                .expect("a declared container");
            let resources = declared.resources.as_ref().expect("resources");
            let requests = resources.requests.clone().unwrap_or_default();
            let limits = resources.limits.clone().unwrap_or_default();
            let cpu = podwall::quantity::parse(c.usage.cpu.as_deref().unwrap_or("")).expect("cpu");
            let mem =
                podwall::quantity::parse(c.usage.memory.as_deref().unwrap_or("")).expect("memory");
            assert!(
                mem <= quantity(limits.get("memory")),
                "{key:?}: memory within its limit"
            );
            containers += 1;
            if cpu < quantity(requests.get("cpu")) && mem < quantity(requests.get("memory")) {
                below += 1;
            }
            if cpu > quantity(requests.get("cpu")) {
                hot += 1;
            }
        }
    }
    assert!(
        below * 10 >= containers * 8,
        "mostly below requests: {below}/{containers}"
    );
    assert!(hot > 0, "a few hot containers");

    // Node usage: one per Ready node, covering its pods.
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("nodes");
    let node_metrics = Api::<NodeMetrics>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("node metrics");
    assert_eq!(
        node_metrics.items.len(),
        nodes.items.len(),
        "every node is Ready at start"
    );
    for nm in &node_metrics.items {
        assert!(
            podwall::quantity::parse(nm.usage.cpu.as_deref().unwrap_or("")).unwrap_or(0.0) > 0.0
        );
    }

    // Follows the cluster: a deleted pod has no usage any more.
    let victim = metrics.items[0].metadata.clone();
    let (ns, name) = (
        victim.namespace.unwrap_or_default(),
        victim.name.unwrap_or_default(),
    );
    let pod_metrics = Api::<PodMetrics>::namespaced(client.clone(), &ns);
    pod_metrics.get(&name).await.expect("one pod's metrics");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .delete(&name, &DeleteParams::default().grace_period(0))
        .await
        .expect("delete");
    eventually("the deleted pod's metrics gone", || async {
        match pod_metrics.get(&name).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;

    // No metrics-server: not in discovery, 404; a broken one: 503.
    sim.handle().set_metrics_mode(MetricsMode::Absent);
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(!discovery.has_group("metrics.k8s.io"));
    match Api::<PodMetrics>::all(client.clone())
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }
    sim.handle().set_metrics_mode(MetricsMode::Unavailable);
    // Without kube's retries on 503 (the wall's usage client has none either).
    let mut no_retry = sim.kube_config();
    no_retry.default_retry = false;
    let client = kube::Client::try_from(no_retry).expect("kube client");
    match Api::<NodeMetrics>::all(client)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 503),
        other => panic!("expected 503, got {other:?}"),
    }
}

async fn usage(http: &reqwest::Client, server: &podwall::Running) -> Value {
    http.get(format!("{}/api/usage", server.url()))
        .send()
        .await
        .expect("GET /api/usage")
        .json()
        .await
        .expect("usage JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_polls_usage_and_degrades_quietly_without_metrics_server() {
    let stack = Stack::builder()
        .nodes(4)
        .pods(60)
        .seed(5)
        .each_cluster(|c| c.usage_interval(Duration::from_millis(200)))
        .no_wait()
        .start()
        .await;
    let (sim, server, http) = (stack.sim(), stack.server(), stack.http.clone());

    let body = eventually("usage ok", || async {
        let u = usage(&http, server).await;
        (u["status"] == "ok").then_some(u)
    })
    .await;
    assert_eq!(body["intervalMillis"], 200);
    assert_eq!(
        body["nodes"].as_object().map(|m| m.len()),
        Some(4),
        "{body}"
    );
    let pods = body["pods"].as_object().expect("pods map");
    assert!(pods.len() > 30, "{} pods with usage", pods.len());
    let (key, sample) = pods.iter().next().expect("a pod");
    assert!(key.contains('/'), "keyed namespace/name: {key}");
    assert!(sample["cpuMillis"].as_u64().is_some() && sample["memoryBytes"].as_u64() > Some(0));
    assert!(
        server.usage().node("worker-1").is_some()
            || !body["nodes"].as_object().expect("nodes").is_empty()
    );
    let (status, metrics) = testkit::get(&http, &format!("{}/metrics", server.url())).await;
    assert_eq!(status, 200);
    let ok_polls = testkit::metric_value(&metrics, "podwall_usage_polls_total{status=\"ok\"} ");
    assert!(ok_polls >= 1.0, "good polls are counted: {metrics}");

    let (_, page) = stack.get("/").await;
    assert!(
        page.contains(r#"data-usage-interval-ms="200""#),
        "page tells the script"
    );
    assert!(page.contains(r#"<script src="/static/overlay.js" defer></script>"#));
    let script = http
        .get(format!("{}/static/overlay.js", server.url()))
        .send()
        .await
        .expect("script");
    assert_eq!(script.status(), 200);

    // metrics-server goes away: a status, no error anywhere else.
    sim.handle().set_metrics_mode(MetricsMode::Absent);
    let body = eventually("usage unavailable", || async {
        let u = usage(&http, server).await;
        (u["status"] == "unavailable").then_some(u)
    })
    .await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("metrics-server")),
        "{body}"
    );
    assert_eq!(body["pods"].as_object().map(|m| m.len()), Some(0));
    let snap: Value = http
        .get(format!("{}/api/snapshot", server.url()))
        .send()
        .await
        .expect("snapshot")
        .json()
        .await
        .expect("snapshot JSON");
    assert_eq!(
        snap["apiserver"]["apiserver"], "ok",
        "the wall itself stays healthy"
    );
    let ready = http
        .get(format!("{}/readyz", server.url()))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);

    // And back.
    sim.handle().set_metrics_mode(MetricsMode::Serving);
    eventually("usage ok again", || async {
        (usage(&http, server).await["status"] == "ok").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_off_and_links_redirect_escaped() {
    let stack = Stack::builder()
        .nodes(2)
        .pods(10)
        .seed(5)
        .each_cluster(|c| {
            c.wall(WallOptions {
                name: "prod-eu".into(),
                pod_link: Some(
                    LinkTemplate::parse("https://logs.example/{{cluster}}/{{namespace}}/{{name}}")
                        .expect("template"),
                ),
                node_link: None,
                usage_interval: Duration::ZERO,
                ..WallOptions::default()
            })
        })
        .http(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        )
        .no_wait()
        .start()
        .await;
    let (server, http) = (stack.server(), stack.http.clone());

    let resp = http
        .get(format!("{}/link/pod/web/a%20b%3Fc%22%3C%3E", server.url()))
        .send()
        .await
        .expect("link");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("https://logs.example/prod-eu/web/a%20b%3Fc%22%3C%3E")
    );
    let resp = http
        .get(format!("{}/link/node/worker-1", server.url()))
        .send()
        .await
        .expect("node link");
    assert_eq!(resp.status(), 404, "no node template, no node links");

    let (_, page) = stack.get("/").await;
    assert!(
        page.contains(r#" data-cluster="prod-eu""#),
        "the cluster name for the script"
    );
    assert!(page.contains(" data-pod-links=\"\""));
    assert!(!page.contains("data-node-links"));
    assert!(!page.contains("data-usage-interval-ms"), "usage off");
    assert_eq!(usage(&http, server).await["status"], "off");

    // Cluster names go into paths and links: DNS labels only.
    let bad = WallOptions {
        name: "Prod EU".into(),
        ..WallOptions::default()
    };
    let cluster = ClusterConfig::new(KubeSource::Config(stack.sim().kube_config())).wall(bad);
    let config = podwall::Config::new(cluster).listen(testkit::loopback());
    let refused = podwall::start(config, stack.token.clone()).await;
    assert!(
        matches!(refused, Err(podwall::Error::ClusterName { .. })),
        "an invalid cluster name is refused"
    );
}

/// The optional manifest grants exactly what the usage poller asks for.
#[test]
fn metrics_rbac_manifest_matches_the_poller() {
    super::assert_optional_rbac(
        "deploy/optional/metrics-rbac.yaml",
        "metrics.k8s.io",
        podwall::METRICS_RBAC,
    );
}
