//! Several clusters on one wall: each simulated cluster gets its own watches, cache,
//! epoch and health under `/clusters/<name>/`, `?cluster=` redirects there, and a
//! cluster whose API server goes away stalls nobody else.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use podwall::ClusterConfig;
use serde_json::Value;
use testkit::process::Process;
use testkit::{Stack, StackBuilder, eventually, eventually_within, get_json};

/// Clusters polling usage every 300 ms; the wall's readiness is the test's to check.
fn clusters<'a>(names: impl IntoIterator<Item = &'a str>) -> StackBuilder {
    Stack::builder()
        .clusters(names)
        .each_cluster(|c: ClusterConfig| c.usage_interval(Duration::from_millis(300)))
        .no_wait()
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
    let stack = clusters(["a", "b", "c"])
        .nodes(3)
        .pods(30)
        .seed(21)
        .start()
        .await;
    let base = stack.url();
    let http = stack.http.clone();

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
    stack.stop_sim(1);
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
    let mut events = testkit::SseClient::from_response(stream);
    let reset = events.until("a's reset", |e| e.event == "reset").await;
    assert_eq!(reset.json()["cluster"], "a");
    let pod: Pod = serde_json::from_value(podwall::fixtures::pod_object("while-b-is-down", None))
        .expect("pod");
    Api::<Pod>::namespaced(stack.kube(), "default")
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_unreachable_from_the_start_holds_back_nothing() {
    // Nothing listens there: this cluster never syncs.
    let stack = Stack::builder()
        .cluster("gone", testkit::nowhere())
        .clusters(["up"])
        .each_cluster(|c: ClusterConfig| c.usage_interval(Duration::from_millis(300)))
        .no_wait()
        .nodes(2)
        .pods(20)
        .seed(31)
        .start()
        .await;
    let base = stack.url();
    let http = stack.http.clone();
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_cli_takes_clusters_contexts_and_per_cluster_links() {
    let mut stack = clusters(["a", "b"])
        .nodes(2)
        .pods(10)
        .seed(51)
        .no_server()
        .start()
        .await;
    let (kc_a, kc_b) = (stack.kubeconfig_of(0), stack.kubeconfig_of(1));
    let addr = testkit::free_addr();
    let _serve = Process::spawn(
        "podwall serve",
        Command::new(super::PODWALL)
            .args(["serve", "--listen", &addr.to_string()])
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
            .env("RUST_LOG", "warn"),
    );
    let base = format!("http://{addr}");
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
}
