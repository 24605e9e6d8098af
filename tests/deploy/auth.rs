//! `--auth-token-file`: every route but the probes needs the token; a browser trades
//! `?token=` for a cookie once; tools send a bearer token. Real HTTP, the real kube client,
//! the simulator as API server.

use podwall::AuthToken;
use reqwest::header;
use testkit::Stack;

const TOKEN: &str = "wall-0123456789abcdef";
const GUARDED: [&str; 8] = [
    "/",
    "/events",
    "/api/snapshot",
    "/api/counts",
    "/api/events",
    "/metrics",
    "/static/wall.js",
    "/static/wall.css",
];

/// A simulator and a server that requires [`TOKEN`]; redirects are not followed.
async fn guarded_stack() -> Stack {
    // /readyz is open, so the stack's wait for it works unchanged.
    Stack::builder()
        .nodes(2)
        .pods(8)
        .seed(5)
        .config(|c| c.auth_token(Some(AuthToken::new(TOKEN).expect("valid token"))))
        .http(super::no_redirects())
        .start()
        .await
}

fn header_str(resp: &reqwest::Response, name: header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_open_and_every_other_route_needs_the_token() {
    let stack = guarded_stack().await;
    for path in ["/healthz", "/readyz"] {
        let (status, _) = stack.get(path).await;
        assert_eq!(status, 200, "{path} stays open for the kubelet");
    }
    for path in GUARDED {
        let resp = stack.request(path).await;
        assert_eq!(resp.status(), 401, "{path}");
        assert!(header_str(&resp, header::WWW_AUTHENTICATE).starts_with("Bearer"));
        assert_eq!(header_str(&resp, header::CACHE_CONTROL), "no-store");
        // The security headers wrap the refusal too.
        assert_eq!(header_str(&resp, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        let body: serde_json::Value = resp.json().await.expect("JSON error for tools");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("token")),
            "{path}: {body}"
        );
    }
    let resp = stack
        .http
        .get(stack.url())
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 401);
    assert!(header_str(&resp, header::CONTENT_TYPE).starts_with("text/html"));
    let page = resp.text().await.expect("body");
    assert!(page.contains("Access token needed"), "{page}");
    assert!(
        !page.contains("data-node="),
        "no cluster data without the token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_opens_the_api_and_its_streams() {
    let stack = guarded_stack().await;
    let snapshot = |auth: String| {
        let req = stack
            .http
            .get(format!("{}/api/snapshot", stack.url()))
            .header(header::AUTHORIZATION, auth);
        async move { req.send().await.expect("GET").status().as_u16() }
    };
    assert_eq!(snapshot(format!("Bearer {TOKEN}")).await, 200);
    assert_eq!(snapshot(format!("bearer {TOKEN}")).await, 200);
    assert_eq!(snapshot(format!("Bearer {TOKEN}x")).await, 401);
    assert_eq!(snapshot(format!("Bearer {}", &TOKEN[1..])).await, 401);
    assert_eq!(snapshot(format!("Basic {TOKEN}")).await, 401);
    let resp = stack
        .http
        .get(format!("{}/api/events", stack.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("SSE connect");
    assert_eq!(resp.status(), 200);
    // What ingress-nginx and other proxies read to pass events on unbuffered.
    assert_eq!(
        header_str(&resp, "x-accel-buffering".parse().expect("name")),
        "no"
    );
    let mut events = testkit::SseClient::from_response(resp);
    let reset = events.next().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.json()["pods"].as_array().map(Vec::len), Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_url_sets_a_strict_cookie_and_redirects_without_the_token() {
    let stack = guarded_stack().await;
    let resp = stack
        .request(&format!("/?ns=default&token={TOKEN}&q=web"))
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(header_str(&resp, header::LOCATION), "/?ns=default&q=web");
    assert_eq!(header_str(&resp, header::CACHE_CONTROL), "no-store");
    let cookie = header_str(&resp, header::SET_COOKIE);
    let attrs: Vec<&str> = cookie.split("; ").collect();
    assert_eq!(attrs[0], format!("podwall_token={TOKEN}"));
    for want in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&want), "{want} in {cookie}");
    }
    assert!(!attrs.contains(&"Secure"), "plain http: {cookie}");

    // The cookie alone opens the page, its stream and its assets.
    let with_cookie = |path: &str| {
        stack
            .http
            .get(format!("{}{path}", stack.url()))
            .header(header::COOKIE, format!("podwall_token={TOKEN}"))
            .send()
    };
    let page = with_cookie("/?ns=default&q=web").await.expect("GET");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("data-seq="));
    for path in ["/events", "/static/wall.js", "/api/snapshot"] {
        let resp = with_cookie(path).await.expect("GET");
        assert_eq!(resp.status(), 200, "{path}");
    }
    let resp = stack
        .http
        .get(format!("{}/api/snapshot", stack.url()))
        .header(header::COOKIE, "podwall_token=wall-0123456789abcdeX")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 401, "a wrong cookie is refused");

    // A wrong token in the URL sets nothing.
    let resp = stack.request("/?token=wall-0123456789abcdeX").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get(header::SET_COOKIE).is_none());

    // Behind a TLS-terminating proxy the cookie is Secure; `//host` never leaves the site.
    let resp = stack
        .http
        .get(format!("{}//evil.example/?token={TOKEN}", stack.url()))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 303);
    assert_eq!(header_str(&resp, header::LOCATION), "/evil.example/");
    assert!(
        header_str(&resp, header::SET_COOKIE)
            .split("; ")
            .any(|a| a == "Secure")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reads_the_token_file_and_never_logs_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    // As `kubectl create secret generic --from-file` of an `echo`ed token mounts it.
    std::fs::write(&file, format!("{TOKEN}\n")).expect("write token");
    let (_cluster, process, url, http) =
        super::serve_with_file("PODWALL_AUTH_TOKEN_FILE", &file).await;
    let base = url;
    let url = format!("{base}/api/snapshot");
    assert_eq!(http.get(&url).send().await.expect("GET").status(), 401);
    let ok = http.get(&url).bearer_auth(TOKEN).send().await.expect("GET");
    assert_eq!(ok.status(), 200);
    let redirect = http
        .get(format!("{base}/?token={TOKEN}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(redirect.status(), 303);
    let wrong = http
        .get(format!("{base}/?token=not-the-token-0123456789"))
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), 401);
    // The process's log is read as it comes: wait for the line, then look at all of it.
    process
        .log_line(
            "the accepted token logged (without itself)",
            testkit::DEADLINE,
            |l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("access token accepted"))
            },
        )
        .await;
    let logs = process.logs();
    assert!(
        !logs.contains(TOKEN),
        "the token leaked into the logs: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_file_stops_the_server_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").expect("write");
    for (file, says) in [
        (
            dir.path().join("missing"),
            "cannot read the auth token file",
        ),
        (short, "at least 16 characters"),
    ] {
        let out = tokio::process::Command::new(super::PODWALL)
            .args(["serve", "--listen", "127.0.0.1:0", "--auth-token-file"])
            .arg(&file)
            .env_clear()
            .output()
            .await
            .expect("run podwall");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}
