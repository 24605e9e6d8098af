//! `--screens-file`: scoped screen tokens. A screen sees only its clusters, namespaces
//! and labels through every route, parameter and header; the all-seeing token keeps
//! working; a changed or removed entry ends the screen's streams; tokens and webhook URLs
//! never show in logs, metrics or error bodies. Real HTTP, the real kube client, the
//! simulator as API server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use podwall::{AuthToken, LinkTemplate};
use reqwest::header;
use serde_json::Value;
use testkit::{SseClient, SseItem, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The all-seeing token (`--auth-token-file`).
const ALL: &str = "all-0123456789abcdef-seeing";
/// The team screen's token: stored in the file as its SHA-256.
const TEAM: &str = "team-screen-0123456789abcdef";
/// SHA-256 of [`TEAM`] (`printf %s team-screen-0123456789abcdef | sha256sum`).
const TEAM_SHA256: &str = "sha256:04c1de42fe9ed857f52da9d90e47cf0f9ae26fb35e5eb44df02b31ca191edbb0";
/// A second screen, its token stored plain, scoped by a label.
const LABELLED: &str = "labelled-screen-0123456789abcdef";
/// A webhook URL that must never show anywhere.
const HOOK: &str = "http://127.0.0.1:9/hooks/planted-secret-0123456789";
/// The team's namespaces.
const TEAM_NS: [&str; 2] = ["web", "payments"];

/// The screens file of the tests: `team` (cluster prod, namespaces web and payments) and
/// `labelled` (every cluster, pods of part-of=data).
fn screens_json(team_token: &str) -> String {
    serde_json::json!({"screens": [
        {"name": "team", "token": team_token, "clusters": ["prod"], "namespaces": TEAM_NS,
         "webhook": HOOK},
        {"name": "labelled", "token": LABELLED, "labels": "app.kubernetes.io/part-of=data"},
    ]})
    .to_string()
}

fn write(path: &Path, body: &str) {
    // As a Secret's volume does: a new file swapped in, never a half-written one.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).expect("write screens file");
    std::fs::rename(&tmp, path).expect("swap screens file");
}

/// Two simulated clusters, `prod` and `stage`, behind [`ALL`] and the screens file.
async fn screens_stack(dir: &Path) -> (Stack, PathBuf) {
    let file = dir.join("screens.json");
    write(&file, &screens_json(TEAM_SHA256));
    let path = file.clone();
    let stack = Stack::builder()
        .nodes(3)
        .pods(60)
        .seed(11)
        .clusters(["prod", "stage"])
        .each_cluster(|c| {
            let mut c = c;
            c.wall.pod_link =
                LinkTemplate::parse("https://logs.example/{{namespace}}/{{name}}").ok();
            c
        })
        .config(move |c| {
            c.auth_token(Some(AuthToken::new(ALL).expect("valid token")))
                .screens_file(Some(path))
                .alert_quiet(Duration::from_secs(1))
        })
        .http(super::no_redirects())
        .start()
        .await;
    (stack, file)
}

async fn json_as(stack: &Stack, token: &str, path: &str) -> (u16, Value) {
    let resp = stack.request_as(token, path).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn namespaces_of(snap: &Value) -> Vec<String> {
    let mut ns: Vec<String> = snap["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| p["namespace"].as_str().expect("namespace").to_owned())
        .collect();
    ns.sort();
    ns.dedup();
    ns
}

/// Every namespace in `snap` is the team's.
fn assert_team_only(snap: &Value, what: &str) {
    for ns in namespaces_of(snap) {
        assert!(
            TEAM_NS.contains(&ns.as_str()),
            "{what}: {ns} is out of scope"
        );
    }
}

/// A raw HTTP/1.1 GET, the path sent exactly as given (no client normalises it).
async fn raw_get(stack: &Stack, path: &str, token: &str) -> (u16, String) {
    let addr = stack.url().trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_sees_its_scope_through_every_route_and_no_parameter_widens_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stack, _file) = screens_stack(dir.path()).await;
    // The all-seeing token sees every namespace of both clusters.
    let (status, all) = json_as(&stack, ALL, "/clusters/prod/api/snapshot").await;
    assert_eq!(status, 200);
    assert!(
        namespaces_of(&all).len() > TEAM_NS.len(),
        "{:?}",
        namespaces_of(&all)
    );
    let team_pods = all["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .filter(|p| TEAM_NS.contains(&p["namespace"].as_str().unwrap_or("")))
        .count();
    assert!(team_pods > 0);

    // Every filter the URL may carry narrows, never widens.
    for query in [
        "",
        "?ns=web,data,kube-system",
        "?ns=!web",
        "?ns=data",
        "?label=app.kubernetes.io/part-of%3Ddata",
        "?problems=0",
    ] {
        for path in ["/api/snapshot", "/clusters/prod/api/snapshot"] {
            let (status, snap) = json_as(&stack, TEAM, &format!("{path}{query}")).await;
            assert_eq!(status, 200, "{path}{query}");
            assert_team_only(&snap, &format!("{path}{query}"));
        }
    }
    let (_, snap) = json_as(&stack, TEAM, "/api/snapshot").await;
    assert_eq!(
        snap["pods"].as_array().map(Vec::len),
        Some(team_pods),
        "all of its scope"
    );
    let (_, snap) = json_as(&stack, TEAM, "/api/snapshot?ns=data").await;
    assert_eq!(snap["pods"].as_array().map(Vec::len), Some(0));
    let (_, counts) = json_as(&stack, TEAM, "/api/counts?ns=data,web").await;
    let (_, web_only) = json_as(&stack, ALL, "/clusters/prod/api/counts?ns=web").await;
    assert_eq!(
        counts["pods"], web_only["pods"],
        "counts count the scope only"
    );

    // The past too: a moment, a stretch of changes, a replay, what changed lately.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for path in [
        "/api/snapshot?at=-1s",
        "/api/snapshot?at=-1s&ns=kube-system,data",
        "/clusters/prod/api/snapshot?at=-1s&ns=!web",
    ] {
        let (status, snap) = json_as(&stack, TEAM, path).await;
        assert_eq!(status, 200, "{path}: {snap}");
        assert_team_only(&snap, path);
    }
    let (status, history) = json_as(&stack, TEAM, "/api/history?since=-1s&ns=data").await;
    assert_eq!(status, 200, "{history}");
    for e in history["events"].as_array().expect("events") {
        let ns = e["data"]["namespace"]
            .as_str()
            .or(e["data"]["object"]["namespace"].as_str());
        assert!(ns.is_none_or(|ns| TEAM_NS.contains(&ns)), "{e}");
    }
    let resp = stack
        .request_as(TEAM, "/api/events?since=-1s&ns=kube-system")
        .await;
    assert_eq!(resp.status(), 200);
    let reset = SseClient::from_response(resp).next().await;
    assert_eq!(reset.event, "reset");
    assert_team_only(&reset.json(), "reset of /api/events?since=");
    let page = stack.request_as(TEAM, "/?at=-1s&recent=1h").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap_or_default();
    for ns in ["data/", "kube-system/", "monitoring/", "batch/", "ingress/"] {
        assert!(
            !page.contains(&format!("data-pod=\"{ns}")),
            "{ns} pods in a page of the past"
        );
        assert!(
            !page.contains(&format!("data-recent-pod=\"{ns}")),
            "{ns} in ?recent="
        );
        assert!(!page.contains(&format!("data-ghost=\"{ns}")), "{ns} ghosts");
    }

    // The label-scoped screen: only part-of=data pods, on both clusters.
    let (_, snap) = json_as(&stack, LABELLED, "/clusters/stage/api/snapshot?label=").await;
    assert!(!snap["pods"].as_array().expect("pods").is_empty());
    for p in snap["pods"].as_array().expect("pods") {
        assert_eq!(p["labels"]["app.kubernetes.io/part-of"], "data", "{p}");
    }

    // Streams: the reset and the page's fragments hold the scope only.
    let resp = stack
        .request_as(TEAM, "/api/events?ns=kube-system,web")
        .await;
    assert_eq!(resp.status(), 200);
    let mut events = SseClient::from_response(resp);
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    assert_team_only(&reset.json(), "reset of /api/events");
    let resp = stack.request_as(TEAM, "/events").await;
    let mut page_events = SseClient::from_response(resp);
    let reset = page_events.next().await;
    let html = reset.json()["html"].as_str().unwrap_or("").to_owned();
    assert!(
        html.contains("data-pod=\"web/"),
        "the page's reset has the team's pods"
    );
    for ns in ["data/", "kube-system/", "monitoring/", "batch/", "ingress/"] {
        assert!(
            !html.contains(&format!("data-pod=\"{ns}")),
            "{ns} pods in the page's reset"
        );
    }
    let page = stack.request_as(TEAM, "/clusters/prod/?ns=data,web").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("page");
    assert!(page.contains("data-pod=\"web/") && !page.contains("data-pod=\"data/"));

    // Other clusters are absent: 404 through the path, the redirect and the lists.
    for path in [
        "/clusters/stage/",
        "/clusters/stage/api/snapshot",
        "/clusters/stage/events",
        "/clusters/stage/api/events",
        "/clusters/stage/link/node/x",
    ] {
        let resp = stack.request_as(TEAM, path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(
            !resp.text().await.unwrap_or_default().contains("data-pod"),
            "{path}"
        );
    }
    let resp = stack.request_as(TEAM, "/api/snapshot?cluster=stage").await;
    assert_eq!(resp.status(), 404);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("unknown cluster") && !body.contains("stage,") && !body.contains(", stage"),
        "{body}"
    );
    let resp = stack.request_as(TEAM, "/events?cluster=prod&ns=data").await;
    assert_eq!(resp.status(), 307);
    assert_eq!(
        resp.headers()[header::LOCATION],
        "/clusters/prod/events?ns=data"
    );
    let (_, list) = json_as(&stack, TEAM, "/api/clusters").await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["prod"]);
    let overview = stack
        .request_as(TEAM, "/")
        .await
        .text()
        .await
        .expect("overview");
    assert!(
        overview.contains("/clusters/prod/") && !overview.contains("/clusters/stage/"),
        "{overview}"
    );

    // Routes a screen may not use, and path tricks, whatever the router makes of them.
    for path in [
        "/metrics",
        "/api/usage",
        "/clusters/prod/metrics",
        "/clusters/prod/api/usage",
    ] {
        let resp = stack.request_as(TEAM, path).await;
        assert_eq!(resp.status(), 403, "{path}");
    }
    for path in [
        "/clusters/prod/../stage/api/snapshot",
        "/clusters/prod/%2e%2e/stage/api/snapshot",
        "/clusters/prod/%2E%2E/%2E%2E/metrics",
        "/clusters/stage%2fapi/snapshot",
        "/clusters/prod/./api/snapshot?ns=data",
        "/clusters/prod//api/snapshot",
        "/static/../metrics",
        "/clusters/prod/..%2fstage/api/snapshot",
    ] {
        let (status, text) = raw_get(&stack, path, TEAM).await;
        assert!(matches!(status, 403 | 404 | 400), "{path}: {status}");
        assert!(!text.contains("\"pods\""), "{path}: {text}");
    }

    // Links: only to pods inside the scope.
    let web_pod = all["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["namespace"] == "web")
        .expect("a web pod");
    let data_pod = all["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["namespace"] == "data")
        .expect("a data pod");
    let link = |p: &Value| {
        format!(
            "/link/pod/{}/{}",
            p["namespace"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or("")
        )
    };
    assert_eq!(stack.request_as(TEAM, &link(web_pod)).await.status(), 302);
    assert_eq!(stack.request_as(TEAM, &link(data_pod)).await.status(), 404);
    assert_eq!(
        stack
            .request_as(ALL, &format!("/clusters/prod{}", link(data_pod)))
            .await
            .status(),
        302
    );

    // The token link: a cookie that opens the scope, and only the scope.
    let resp = stack
        .request(&format!("/clusters/prod/?token={TEAM}&ns=data"))
        .await;
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with(&format!("podwall_token={TEAM}")));
    let snap: Value = stack
        .http
        .get(format!(
            "{}/clusters/prod/api/snapshot?ns=data",
            stack.url()
        ))
        .header(header::COOKIE, format!("podwall_token={TEAM}"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(snap["pods"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_event_id_from_a_wider_scope_replays_only_the_screens_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stack, _file) = screens_stack(dir.path()).await;
    let resp = stack.request_as(ALL, "/clusters/prod/api/events").await;
    let mut all = SseClient::from_response(resp);
    let reset = all.next().await;
    let before = reset.id.clone().expect("an id");
    for (ns, name) in [
        ("data", "outside-1"),
        ("web", "inside-1"),
        ("kube-system", "outside-2"),
        ("payments", "inside-2"),
    ] {
        stack.create_pod(ns, name, None).await;
    }
    all.until("the last pod created", |ev| ev.data.contains("inside-2"))
        .await;
    // Resumed with the all-seeing stream's id: what it missed, inside its scope only.
    let resp = stack
        .http
        .get(format!("{}/api/events", stack.url()))
        .bearer_auth(TEAM)
        .header("Last-Event-ID", &before)
        .send()
        .await
        .expect("GET");
    let mut team = SseClient::from_response(resp);
    let mut seen = Vec::new();
    while let Some(ev) = team.next_within(Duration::from_secs(3)).await {
        assert!(
            !ev.data.contains("outside-"),
            "replayed out of scope: {}",
            ev.data
        );
        if ev.event == "reset" {
            assert_team_only(&ev.json(), "reset");
        }
        seen.push(ev.data);
    }
    assert!(seen.iter().any(|d| d.contains("inside-1")), "{seen:?}");
    assert!(seen.iter().any(|d| d.contains("inside-2")), "{seen:?}");
    // The same through the query parameter of tools that cannot set the header.
    let resp = stack
        .request_as(TEAM, &format!("/api/events?lastEventId={before}&ns=data"))
        .await;
    let mut team = SseClient::from_response(resp);
    while let Some(ev) = team.next_within(Duration::from_secs(2)).await {
        assert!(
            !ev.data.contains("outside-") && !ev.data.contains("inside-"),
            "{}",
            ev.data
        );
    }
}

/// Reads `events` until the stream ends; returns its last event.
async fn until_end(events: &mut SseClient, within: Duration) -> Option<testkit::SseEvent> {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next_item(left).await {
            SseItem::Event(ev) => last = Some(ev),
            SseItem::Comment(_) => {}
            SseItem::Eof => return last,
            SseItem::Timeout => panic!("the stream did not end within {within:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_or_changed_screen_is_signed_out_within_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stack, file) = screens_stack(dir.path()).await;
    let open = |token: &'static str, path: &'static str| {
        let req = stack
            .http
            .get(format!("{}{path}", stack.url()))
            .bearer_auth(token);
        async move { SseClient::from_response(req.send().await.expect("GET")) }
    };
    let mut team = open(TEAM, "/events").await;
    let mut team_json = open(TEAM, "/api/events").await;
    let mut labelled = open(LABELLED, "/api/events").await;
    let mut all = open(ALL, "/api/events").await;
    for s in [&mut team, &mut team_json, &mut labelled, &mut all] {
        assert_eq!(s.next().await.event, "reset");
    }
    testkit::eventually("podwall_screen_streams for team", || async {
        let m = stack
            .request_as(ALL, "/metrics")
            .await
            .text()
            .await
            .expect("text");
        (testkit::metric_value(&m, "podwall_screen_streams{screen=\"team\"}") == 2.0).then_some(())
    })
    .await;
    // The team's token changes, the labelled screen's scope changes.
    let changed = serde_json::json!({"screens": [
        {"name": "team", "token": "team-screen-NEW-0123456789abcdef", "clusters": ["prod"], "namespaces": TEAM_NS},
        {"name": "labelled", "token": LABELLED, "labels": "app.kubernetes.io/part-of=web"},
    ]});
    let started = std::time::Instant::now();
    write(&file, &changed.to_string());
    for s in [&mut team, &mut team_json] {
        let last = until_end(s, Duration::from_secs(8))
            .await
            .expect("a last event");
        assert_eq!(last.event, "signed-out");
        assert_eq!(last.json()["reason"], "revoked");
    }
    let last = until_end(&mut labelled, Duration::from_secs(8))
        .await
        .expect("a last event");
    assert_eq!(
        (last.event.as_str(), last.json()["reason"].as_str()),
        ("signed-out", Some("changed"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "within seconds: {:?}",
        started.elapsed()
    );
    assert_eq!(
        stack.request_as(TEAM, "/api/snapshot").await.status(),
        401,
        "the old token is refused"
    );
    let (_, snap) = json_as(&stack, LABELLED, "/clusters/prod/api/snapshot").await;
    for p in snap["pods"].as_array().expect("pods") {
        assert_eq!(
            p["labels"]["app.kubernetes.io/part-of"], "web",
            "the new scope"
        );
    }
    // The all-seeing stream goes on.
    assert!(matches!(
        all.next_item(Duration::from_millis(500)).await,
        SseItem::Timeout | SseItem::Event(_) | SseItem::Comment(_)
    ));
    let m = stack
        .request_as(ALL, "/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    assert_eq!(
        testkit::metric_value(&m, "podwall_screen_streams{screen=\"team\"}"),
        0.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_screens_file_keeps_the_last_good_one_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stack, file) = screens_stack(dir.path()).await;
    for (bad, error) in [
        (
            format!("{{\"screens\": [{{\"name\": \"team\", \"token\": \"{TEAM}\", "),
            "json",
        ),
        (
            format!(
                "{{\"screens\": [{{\"name\": \"team\", \"token\": \"{TEAM}\", \"alert\": \"crashloop>1\"}}]}}"
            ),
            "entry",
        ),
    ] {
        write(&file, &bad);
        testkit::eventually(&format!("the {error} error counted"), || async {
            let m = stack
                .request_as(ALL, "/metrics")
                .await
                .text()
                .await
                .expect("metrics");
            let counted = testkit::metric_value(
                &m,
                &format!("podwall_screens_file_errors_total{{error=\"{error}\"}}"),
            );
            (counted >= 1.0 && testkit::metric_value(&m, "podwall_screens_file_valid") == 0.0)
                .then_some(m)
        })
        .await;
        let (status, snap) = json_as(&stack, TEAM, "/api/snapshot").await;
        assert_eq!(status, 200, "the last good file still holds");
        assert_team_only(&snap, "last good scope");
        let m = stack
            .request_as(ALL, "/metrics")
            .await
            .text()
            .await
            .expect("metrics");
        assert!(
            !m.contains(TEAM) && !m.contains(HOOK),
            "a secret in the metrics"
        );
    }
    // An empty file: no screens (the all-seeing token stays).
    write(&file, "");
    testkit::eventually("the screen is gone", || async {
        (stack.request_as(TEAM, "/api/snapshot").await.status() == 401).then_some(())
    })
    .await;
    assert_eq!(stack.request_as(ALL, "/api/snapshot").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_never_shows_a_screen_token_or_webhook_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let screens = dir.path().join("screens.json");
    // Plain tokens this time: a hash could not leak the token anyway.
    write(
        &screens,
        &screens_json(TEAM).replace("\"clusters\":[\"prod\"],", ""),
    );
    let (_cluster, process, base, http) =
        super::serve_with_file("PODWALL_SCREENS_FILE", &screens).await;
    let mut bodies = Vec::new();
    for (token, path) in [
        (TEAM, "/api/snapshot"),
        (TEAM, "/metrics"),
        (TEAM, "/clusters/x/api/snapshot"),
        (TEAM, "/api/snapshot?alert=crashloop>1"),
        (TEAM, "/api/events?alert=nope"),
        (LABELLED, "/?alert=pending>5"),
        ("wrong-0123456789abcdef-token", "/api/snapshot"),
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        bodies.push((
            path,
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        ));
    }
    assert_eq!(bodies[0].1, 200);
    assert_eq!(bodies[1].1, 403, "a screen may not read /metrics");
    assert_eq!(bodies[4].1, 400, "a bad rule is a 400");
    assert!(
        bodies[4].2.contains("unknown rule \\\"nope\\\""),
        "{}",
        bodies[4].2
    );
    assert_eq!(bodies[5].1, 400);
    assert_eq!(bodies[6].1, 401);
    let redirect = http
        .get(format!("{base}/?token={TEAM}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(redirect.status(), 303);
    // A malformed file, with the secrets in it: its error is logged without them.
    write(
        &screens,
        &format!(
            "{{\"screens\": [{{\"name\": \"team\", \"token\": [\"{TEAM}\"], \"webhook\": \"{HOOK}\"}}]}}"
        ),
    );
    process
        .log_line("the reload error", testkit::DEADLINE, |l| {
            l.to_string().contains("screens file not reloaded")
        })
        .await;
    for (path, _, body) in &bodies {
        for secret in [TEAM, LABELLED, HOOK, "planted-secret"] {
            assert!(
                !body.contains(secret),
                "{path}: {secret} in the answer: {body}"
            );
        }
    }
    let logs = process.logs();
    assert!(
        logs.contains("access token accepted") && logs.contains("\"screen\":\"team\""),
        "{logs}"
    );
    for secret in [TEAM, LABELLED, HOOK, "planted-secret"] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs: {logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screens_webhook_goes_over_https_to_a_receiver_the_server_trusts() {
    testkit::install_crypto();
    let ca = testkit::tls::TestCa::new("IP:127.0.0.1");
    let hook = testkit::hook::Receiver::start_tls(&ca).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let screens = dir.path().join("screens.json");
    write(
        &screens,
        &serde_json::json!({"screens": [
            {"name": "team", "token": TEAM, "alert": "crashloop", "webhook": hook.url},
        ]})
        .to_string(),
    );
    let (cluster, kubeconfig) = super::cluster().await;
    let env = [
        ("PODWALL_SCREENS_FILE", screens.display().to_string()),
        ("PODWALL_KUBECONFIG", kubeconfig.display().to_string()),
        ("PODWALL_LISTEN", "127.0.0.1:0".to_owned()),
        ("PODWALL_ALERT_QUIET", "1s".to_owned()),
        // A private CA, as an in-cluster relay's: the webhook client trusts the system's
        // roots, which SSL_CERT_FILE replaces.
        ("SSL_CERT_FILE", ca.ca_cert.display().to_string()),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let (process, _base) = super::serve(&["serve".to_owned()], &env).await;

    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(cluster.kube());
    let pod = pods
        .list(&Default::default())
        .await
        .expect("list pods")
        .items
        .into_iter()
        .find(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .expect("a running pod");
    let key = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    );
    cluster.control(&format!("pods/{key}/crash-loop")).await;
    testkit::eventually("the start call over HTTPS", || async {
        hook.texts()
            .iter()
            .any(|t| t.contains("crashloop matches") && t.contains(&key))
            .then_some(())
    })
    .await;
    cluster.end_control(&format!("pods/{key}/crash-loop")).await;
    testkit::eventually("the end call over HTTPS", || async {
        hook.texts()
            .iter()
            .any(|t| t.contains("crashloop cleared"))
            .then_some(())
    })
    .await;
    let logs = process.logs();
    assert!(
        logs.matches("alert webhook delivered").count() >= 2,
        "{logs}"
    );
    assert!(
        !logs.contains(&hook.url) && !logs.contains("/hooks/team"),
        "the URL leaked into the logs: {logs}"
    );
}
