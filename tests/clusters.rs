//! Several clusters on one wall: each simulated cluster gets its own watches, cache,
//! epoch and health under `/clusters/<name>/`, `?cluster=` redirects there, and a
//! cluster whose API server goes away stalls nobody else.

mod common;

use std::time::Duration;

use common::wall;
use common::{eventually, eventually_within, init, start_sim};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use podwall::{ClusterConfig, KubeSource};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn cluster(name: &str, config: kube::Config) -> ClusterConfig {
    ClusterConfig::new(KubeSource::Config(config))
        .name(name)
        .usage_interval(Duration::from_millis(300))
}

async fn get_json(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = http.get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn pod_names(snap: &Value) -> Vec<String> {
    snap["pods"]
        .as_array()
        .map(|pods| {
            pods.iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["namespace"].as_str().unwrap_or(""),
                        p["name"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clusters_are_served_apart_and_one_outage_stalls_no_other() {
    init();
    let token = CancellationToken::new();
    // Cluster b runs on its own token, so the test can take its API server away.
    let b_token = CancellationToken::new();
    let sim_a = start_sim(3, 30, 0.0, 21, &token).await;
    let sim_b = start_sim(3, 30, 0.0, 22, &b_token).await;
    let sim_c = start_sim(3, 30, 0.0, 23, &token).await;
    let server = podwall::start(
        wall(vec![
            cluster("a", sim_a.kube_config()),
            cluster("b", sim_b.kube_config()),
            cluster("c", sim_c.kube_config()),
        ]),
        token.clone(),
    )
    .await
    .expect("server starts");
    let base = server.url();
    let http = reqwest::Client::new();

    let list = eventually("every cluster ready", || async {
        let (_, list) = get_json(&http, &format!("{base}/api/clusters")).await;
        let ready = list
            .as_array()
            .is_some_and(|l| l.len() == 3 && l.iter().all(|c| c["ready"] == true));
        ready.then_some(list)
    })
    .await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(list[1]["path"], "/clusters/b/");

    // Each cluster has its own data and epoch; the root is the first cluster.
    let (_, a) = get_json(&http, &format!("{base}/clusters/a/api/snapshot")).await;
    let (_, b) = get_json(&http, &format!("{base}/clusters/b/api/snapshot")).await;
    let (_, root) = get_json(&http, &format!("{base}/api/snapshot")).await;
    assert_eq!(a["epoch"], root["epoch"], "/ is cluster a");
    assert_eq!(
        a["cluster"], "a",
        "several clusters: a snapshot names its cluster"
    );
    assert_eq!(b["cluster"], "b");
    assert_ne!(a["epoch"], b["epoch"], "an epoch per cluster");
    assert_ne!(
        pod_names(&a),
        pod_names(&b),
        "different seeds, different pods"
    );
    let (status, via_param) = get_json(&http, &format!("{base}/api/snapshot?cluster=b&ns=")).await;
    assert_eq!(status, 200);
    assert_eq!(via_param["epoch"], b["epoch"], "?cluster=b redirects to b");
    let (status, unknown) = get_json(&http, &format!("{base}/api/snapshot?cluster=zz")).await;
    assert_eq!(status, 404);
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|e| e.contains("a, b, c")),
        "{unknown}"
    );

    // The page of a cluster, and the event stream through ?cluster=.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let resp = no_redirect
        .get(format!("{base}/clusters/c"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 308);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/clusters/c/")
    );
    let resp = http
        .get(format!("{base}/clusters/c/"))
        .send()
        .await
        .expect("page");
    assert_eq!(
        resp.headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some("default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'self'"),
        "a cluster's wall may be framed by the overview"
    );
    let page = resp.text().await.expect("body");
    assert!(page.contains(r#"data-cluster="c""#) && page.contains(r#" data-clusters="""#));
    assert!(page.contains("data-node="), "a full wall");
    assert!(
        !page.contains(" framed\""),
        "a wall opened on its own shows its title, clock and legend"
    );
    // Loaded into the overview's frame (the browser says so), the wall leaves its title,
    // clock and legend to the overview.
    let framed = http
        .get(format!("{base}/clusters/c/?kiosk=1"))
        .header("sec-fetch-dest", "iframe")
        .send()
        .await
        .expect("framed page");
    assert!(
        framed.headers().get_all("vary").iter().any(|v| v
            .to_str()
            .is_ok_and(|v| v.eq_ignore_ascii_case("sec-fetch-dest"))),
        "the page varies with Sec-Fetch-Dest"
    );
    let framed = framed.text().await.expect("body");
    assert!(
        framed.contains(r#"class="theme-dark kiosk framed""#),
        "a framed wall is marked"
    );
    assert!(
        framed.contains("data-node=") && framed.contains(r#"id="count-pods""#),
        "a framed wall keeps its wall and counts"
    );

    // The overview: one live wall per cluster, filters passed on.
    let resp = http
        .get(format!("{base}/?ns=web&theme=light"))
        .send()
        .await
        .expect("overview");
    assert_eq!(
        resp.headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok()),
        Some("default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"),
        "the overview itself is not framable"
    );
    let overview = resp.text().await.expect("body");
    for name in ["a", "b", "c"] {
        let src = format!("/clusters/{name}/?ns=web&amp;theme=light&amp;kiosk=1");
        let src_numeric = src.replace("&amp;", "&#38;");
        assert!(
            overview.contains(&format!(r#"<iframe src="{src}""#))
                || overview.contains(&format!(r#"<iframe src="{src_numeric}""#)),
            "{overview}"
        );
    }
    assert!(overview.contains(r#"class="theme-light clusters-overview""#));
    for (what, marker) in [
        ("title", "<h1>"),
        ("clock", r#"id="clock""#),
        ("legend", r#"class="legend""#),
    ] {
        assert_eq!(
            overview.matches(marker).count(),
            1,
            "the overview shows one {what} for all its walls: {overview}"
        );
    }
    let picked = http
        .get(format!("{base}/?clusters=c,a"))
        .send()
        .await
        .expect("overview")
        .text()
        .await
        .expect("body");
    let frames: Vec<&str> = picked
        .match_indices("<iframe src=\"/clusters/")
        .map(|(i, m)| &picked[i + m.len()..i + m.len() + 1])
        .collect();
    assert_eq!(frames, ["c", "a"], "?clusters= picks and orders: {picked}");
    let resp = no_redirect
        .get(format!("{base}/api/events?cluster=c&label=app"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 307);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/clusters/c/api/events?label=app")
    );
    let (_, usage_c) = get_json(&http, &format!("{base}/clusters/c/api/usage")).await;
    assert!(
        usage_c["status"] == "ok" || usage_c["status"] == "waiting",
        "{usage_c}"
    );

    // Cluster b's API server goes away: b turns stale, a and c stay live.
    b_token.cancel();
    eventually_within(
        Duration::from_secs(30),
        "b reported unreachable",
        || async {
            let (_, list) = get_json(&http, &format!("{base}/api/clusters")).await;
            (list[1]["apiserver"]["apiserver"] != "ok").then_some(())
        },
    )
    .await;
    // Every event of a cluster's JSON stream names the cluster too.
    let stream = http
        .get(format!("{base}/clusters/a/api/events"))
        .send()
        .await
        .expect("SSE connect");
    let mut events = common::SseClient::from_response(stream);
    let reset = events.until("a's reset", |e| e.event == "reset").await;
    assert_eq!(reset.json()["cluster"], "a");
    let kube_a = kube::Client::try_from(sim_a.kube_config()).expect("client");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "while-b-is-down", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}
    }))
    .expect("pod");
    Api::<Pod>::namespaced(kube_a, "default")
        .create(&PostParams::default(), &pod)
        .await
        .expect("create in a");
    let upsert = events
        .until("the new pod's upsert", |e| {
            e.event == "upsert" && e.json()["object"]["name"] == "while-b-is-down"
        })
        .await;
    assert_eq!(upsert.json()["cluster"], "a");
    eventually("a still live", || async {
        let (_, a) = get_json(
            &http,
            &format!("{base}/clusters/a/api/snapshot?q=while-b-is-down"),
        )
        .await;
        (pod_names(&a) == ["default/while-b-is-down"]).then_some(())
    })
    .await;
    let (_, list) = get_json(&http, &format!("{base}/api/clusters")).await;
    assert_eq!(list[0]["apiserver"]["apiserver"], "ok");
    assert_eq!(list[2]["apiserver"]["apiserver"], "ok");
    let (status, b_now) = get_json(&http, &format!("{base}/clusters/b/api/snapshot")).await;
    assert_eq!(status, 200);
    assert_eq!(
        pod_names(&b_now).len(),
        pod_names(&b).len(),
        "b keeps its last known state"
    );
    token.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_unreachable_from_the_start_holds_back_nothing() {
    init();
    let token = CancellationToken::new();
    let sim = start_sim(2, 20, 0.0, 31, &token).await;
    // Nothing listens there: this cluster never syncs.
    let gone = kube::Config::new("http://127.0.0.1:9".parse().expect("static URI"));
    let server = podwall::start(
        wall(vec![
            cluster("gone", gone),
            cluster("up", sim.kube_config()),
        ]),
        token.clone(),
    )
    .await
    .expect("server starts");
    let base = server.url();
    let http = reqwest::Client::new();
    let body = eventually("the wall ready with one cluster up", || async {
        let resp = http.get(format!("{base}/readyz")).send().await.ok()?;
        (resp.status() == 200).then_some(())?;
        resp.text().await.ok()
    })
    .await;
    assert!(body.contains("up: ready"), "{body}");
    assert!(body.contains("gone: waiting for first sync"), "{body}");
    let (status, _) = get_json(&http, &format!("{base}/clusters/gone/readyz")).await;
    assert_eq!(
        status, 503,
        "the unreachable cluster's own readiness says so"
    );
    let (status, up) = get_json(&http, &format!("{base}/clusters/up/api/snapshot")).await;
    assert_eq!(status, 200);
    assert!(!pod_names(&up).is_empty());
    token.cancel();
}

/// A child process killed on drop.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_cli_takes_clusters_contexts_and_per_cluster_links() {
    init();
    let token = CancellationToken::new();
    let sim_a = start_sim(2, 10, 0.0, 51, &token).await;
    let sim_b = start_sim(2, 10, 0.0, 52, &token).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kc_a = dir.path().join("a.kubeconfig");
    let kc_b = dir.path().join("b.kubeconfig");
    std::fs::write(&kc_a, sim_a.kubeconfig_yaml()).expect("kubeconfig a");
    std::fs::write(&kc_b, sim_b.kubeconfig_yaml()).expect("kubeconfig b");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let _serve = Proc(
        std::process::Command::new(env!("CARGO_BIN_EXE_podwall"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--cluster")
            .arg(format!("east={}", kc_a.display()))
            // The sim's kubeconfig names its context podwall-sim.
            .arg("--cluster")
            .arg(format!("west={}:podwall-sim", kc_b.display()))
            .args([
                "--link-template",
                "https://logs.example/{{cluster}}/{{name}}",
            ])
            .args([
                "--link-template",
                "west=https://west.example/{{namespace}}/{{name}}",
            ])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("podwall serve starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    eventually_within(Duration::from_secs(60), "both clusters ready", || async {
        // Until the process listens, connections are refused.
        let resp = http.get(format!("{base}/api/clusters")).send().await.ok()?;
        let list: Value = resp.json().await.ok()?;
        list.as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|c| c["ready"] == true))
            .then_some(())
    })
    .await;
    let location = |path: &'static str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let resp = http.get(url).send().await.expect("GET");
            assert_eq!(resp.status(), 302, "{path}");
            resp.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        }
    };
    assert_eq!(
        location("/clusters/east/link/pod/web/x").await.as_deref(),
        Some("https://logs.example/east/x")
    );
    assert_eq!(
        location("/clusters/west/link/pod/web/x").await.as_deref(),
        Some("https://west.example/web/x")
    );
    let (_, east) = get_json(&http, &format!("{base}/clusters/east/api/snapshot")).await;
    let (_, west) = get_json(&http, &format!("{base}/clusters/west/api/snapshot")).await;
    assert_ne!(pod_names(&east), pod_names(&west), "two clusters, two sims");
    token.cancel();
}
