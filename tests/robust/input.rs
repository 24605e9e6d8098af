//! Hostile input: malformed filters, oversized requests, HTML/JS and unicode in cluster
//! data, security headers on every route, and planted secrets that must never leave.

use k8s_openapi::api::core::v1::Pod;
use testkit::{Stack, eventually};

/// Every route a browser or tool can reach (plus a 404).
const ROUTES: [&str; 11] = [
    "/",
    "/events",
    "/api/events",
    "/api/snapshot",
    "/api/counts",
    "/healthz",
    "/readyz",
    "/metrics",
    "/static/wall.js",
    "/static/wall.css",
    "/no/such/route",
];

/// Planted in a pod's env, annotations, args and a label-free spot; must never be served.
const SECRET: &str = "s3cr3t-VALUE-9f27c1";

/// Text shown on the wall that tries to break out of HTML, attributes and JSON.
const HOSTILE: &str = "<script>alert('x\")</script>\u{2603}\u{202e}é";

/// GET `path`; for event streams, only the head and the first events.
async fn get_some(stack: &Stack, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = stack.request(path).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let is_stream = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let body = if is_stream {
        let mut sse = testkit::SseClient::from_response(resp);
        let first = sse.next().await;
        first.data
    } else {
        resp.text().await.expect("body")
    };
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_has_security_headers_and_malformed_input_is_refused() {
    let stack = Stack::builder().nodes(1).pods(2).start().await;
    let long_query = format!("?q={}", "a".repeat(5000));
    let mut paths: Vec<String> = ROUTES.iter().map(|r| (*r).to_owned()).collect();
    paths.extend(ROUTES.iter().map(|r| format!("{r}{long_query}")));
    paths.push("/api/snapshot?label=%3D%3D".to_owned());
    for path in &paths {
        let (status, h, _) = get_some(&stack, path).await;
        let header = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline")
                && csp.contains("frame-ancestors 'none'"),
            "{path} ({status}): CSP {csp:?}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        if path.contains(&long_query) {
            assert_eq!(status, 414, "{path} with a 5000-byte query");
        }
    }

    // Oversized headers.
    let big = "x".repeat(20 * 1024);
    let resp = stack
        .http
        .get(format!("{}/api/snapshot", stack.url()))
        .header("x-padding", big)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 431, "20 KiB of headers");

    // Malformed filters on every filtered route: 400 with the reason.
    let bad = [
        ("label=app%3D%3D%3Dx", "label:"),
        ("label=app%20in%20(a", "label:"),
        ("label=%21", "label:"),
        ("ns=Not_A_Namespace", "ns:"),
        ("ns=a%2C%2C-b-", "ns:"),
        ("q=%00", "q:"),
        ("node=%0a", "node:"),
        (&format!("q={}", "a".repeat(300)), "q:"),
    ];
    for (query, reason) in bad {
        for route in ["/api/snapshot", "/api/events", "/events"] {
            let resp = stack.request(&format!("{route}?{query}")).await;
            assert_eq!(resp.status(), 400, "{route}?{query}");
            let body: serde_json::Value = resp.json().await.expect("JSON error");
            let msg = body["error"].as_str().unwrap_or("");
            assert!(msg.starts_with(reason), "{route}?{query}: {msg}");
        }
        let (status, _, page) = get_some(&stack, &format!("/?{query}")).await;
        assert_eq!(status, 400, "/?{query}");
        assert!(page.contains("<html"), "an HTML error page for /?{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_escaped_and_planted_secrets_never_leave() {
    let stack = Stack::builder().nodes(2).pods(4).start().await;
    let pods: kube::Api<Pod> = kube::Api::namespaced(stack.kube(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "hostile", "namespace": "default",
            "labels": {"app": "x-y.z_1", "tier": "web"},
            "annotations": {"podwall.test/token": SECRET, "note": HOSTILE},
            "ownerReferences": [{"apiVersion": "v1", "kind": HOSTILE, "name": format!("{HOSTILE}\"><img src=x onerror=alert(3)>"),
                "uid": "u", "controller": true}]
        },
        "spec": {"containers": [{
            "name": "c", "image": "busybox",
            "args": [format!("--password={SECRET}")],
            "env": [{"name": "TOKEN", "value": SECRET}],
        }]},
        "status": {"phase": "Pending", "containerStatuses": [{
            "name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": HOSTILE, "message": format!("{HOSTILE} (a message is shown)")}}
        }]}
    }))
    .expect("pod");
    pods.create(&Default::default(), &pod)
        .await
        .expect("create hostile pod");
    eventually("the hostile pod on the wall", || async {
        let (_, page) = stack.get("/").await;
        page.contains("data-pod=\"default/hostile\"").then_some(())
    })
    .await;

    // Hostile text: shown, but never as markup.
    let (_, page) = stack.get("/").await;
    for (what, html) in [
        ("page", page),
        ("/events reset", {
            let (_, _, data) = get_some(&stack, "/events").await;
            let v: serde_json::Value = serde_json::from_str(&data).expect("JSON");
            v["html"].as_str().expect("html").to_owned()
        }),
    ] {
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x"),
            "{what}: raw markup"
        );
        assert!(
            html.contains("&lt;script&gt;alert(") || html.contains("&#60;script&#62;alert("),
            "{what}: hostile text shown escaped"
        );
        assert!(html.contains('\u{2603}'), "{what}: unicode kept");
    }
    let snap = stack.snapshot("?q=hostile").await;
    let view = &snap["pods"][0];
    assert_eq!(view["status"], HOSTILE, "JSON carries the text exactly");
    assert_eq!(
        view["message"],
        format!("{HOSTILE} (a message is shown)"),
        "a waiting message is shown, as data"
    );
    assert_eq!(view["labels"]["app"], "x-y.z_1");

    // The planted secret: on no route, in no format.
    let mut checked = 0;
    for route in ROUTES {
        for query in ["", "?q=hostile", "?ns=default"] {
            let (_, _, body) = get_some(&stack, &format!("{route}{query}")).await;
            assert!(
                !body.contains(SECRET) && !body.contains("s3cr3t"),
                "{route}{query} leaks the secret"
            );
            checked += 1;
        }
    }
    // And not in live diffs: change the pod, read its upsert.
    let mut events = stack.sse("/api/events", None).await;
    assert_eq!(events.next().await.event, "reset");
    let mut html_events = stack.sse("/events", None).await;
    assert_eq!(html_events.next().await.event, "reset");
    pods.patch_status(
        "hostile",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"status": {"phase": "Running"}})),
    )
    .await
    .expect("patch");
    for (stream, html) in [(&mut events, false), (&mut html_events, true)] {
        let up = stream
            .until("the hostile pod's upsert", |ev| ev.event == "upsert")
            .await;
        assert!(!up.data.contains(SECRET), "a diff leaks the secret");
        // JSON diffs carry the text exactly (as data); HTML fragments only escaped.
        assert_eq!(up.data.contains("<script>alert"), !html, "{}", up.data);
    }
    assert!(checked >= 30);
}
