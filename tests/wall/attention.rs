//! `alert=` in a stream's URL: rules parsed strictly (a 400 that says what is wrong on the
//! page and the streams), and an `event: attention` that names what matches, starts when
//! a pod crash-loops and clears after the quiet period.

use std::time::Duration;

use testkit::{SseClient, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_400_with_a_message() {
    let stack = Stack::builder().nodes(1).pods(2).start().await;
    for (query, says) in [
        ("alert=crashlop", "unknown rule \"crashlop\""),
        ("alert=pending%3E5", "\"5\" is not a duration"),
        ("alert=restarts%3E3", "needs a window"),
        ("alert=crashloop,,notready", "an empty rule"),
    ] {
        for path in ["/api/events", "/events"] {
            let resp = stack.request(&format!("{path}?{query}")).await;
            assert_eq!(resp.status(), 400, "{path}?{query}");
            let body: serde_json::Value = resp.json().await.expect("JSON error");
            let msg = body["error"].as_str().expect("error message");
            assert!(msg.starts_with("alert: ") && msg.contains(says), "{msg}");
        }
        let (status, page) = stack.get(&format!("/?{query}")).await;
        assert_eq!(status, 400);
        assert!(page.contains("alert: "), "the page says what is wrong");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_in_the_url_starts_and_clears_with_its_condition() {
    let stack = Stack::builder()
        .nodes(2)
        .pods(12)
        .seed(4)
        .config(|c| c.alert_quiet(Duration::from_secs(2)))
        .start()
        .await;
    let snap = stack.snapshot("").await;
    let pod = snap["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .find(|p| p["status"] == "Running" && !p["node"].is_null())
        .expect("a running pod");
    let key = format!(
        "{}/{}",
        pod["namespace"].as_str().unwrap_or(""),
        pod["name"].as_str().unwrap_or("")
    );
    let ns = pod["namespace"].as_str().unwrap_or("");
    let mut events: SseClient = stack
        .sse(&format!("/api/events?alert=crashloop&ns={ns}"), None)
        .await;
    // The others' alerts are theirs: a stream without alert= gets no attention frames.
    let mut plain = stack.sse("/api/events", None).await;
    let first = events
        .until("the first attention frame", |ev| ev.event == "attention")
        .await;
    assert_eq!(
        first.json()["alerts"],
        serde_json::json!([]),
        "nothing crash-loops yet"
    );
    stack.control(&format!("pods/{key}/crash-loop")).await;
    let on = events
        .until("the crash loop's alert", |ev| {
            ev.event == "attention" && ev.data.contains(&key)
        })
        .await;
    let alert = &on.json()["alerts"][0];
    assert_eq!(alert["rule"], "crashloop");
    assert_eq!(alert["clearing"], false);
    stack.end_control(&format!("pods/{key}/crash-loop")).await;
    events
        .until("clearing, then cleared", |ev| {
            ev.event == "attention" && ev.json()["alerts"] == serde_json::json!([])
        })
        .await;
    while let Some(ev) = plain.next_within(Duration::from_millis(300)).await {
        assert_ne!(ev.event, "attention", "{}", ev.data);
    }
}
