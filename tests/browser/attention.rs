//! A team screen's attention rules in a real browser: a crash loop started through the
//! simulator's control endpoint turns the header to its alert state, names the rule and
//! the pod and pulses its block; ended, the alert clears by itself after the quiet
//! period. A local receiver gets the screen's webhook calls for the start and the end.
//! A screen whose token changes is signed out, and its page says so.

use std::time::Duration;

use kube::api::ListParams;
use testkit::browser::Browser;
use testkit::hook::Receiver;
use testkit::{Stack, eventually_within};

use super::{key, running_ready_pod, screenshot_path, sim_pods};

const TOKEN: &str = "attention-screen-0123456789abcdef";
/// Short, so the test sees the alert clear; the default is 30 s.
const QUIET: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_raises_the_screens_alert_which_clears_by_itself() {
    testkit::init();
    let hook = Receiver::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("screens.json");
    let screens = serde_json::json!({"screens": [{
        "name": "team", "token": TOKEN, "namespaces": ["web", "payments"],
        "alert": "crashloop,pending>10m", "webhook": hook.url,
    }]});
    std::fs::write(&file, screens.to_string()).expect("write");
    let stack = Stack::builder()
        .nodes(6)
        .pods(60)
        .seed(11)
        .config(move |c| c.screens_file(Some(file)).alert_quiet(QUIET))
        .start()
        .await;
    let pods = sim_pods(&stack, &ListParams::default()).await;
    let in_scope: Vec<_> = pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some("web"))
        .cloned()
        .collect();
    let victim = running_ready_pod(&in_scope);
    let victim_key = key(&victim);
    let browser = Browser::start().await;
    browser.viewport(1920, 1080).await;
    browser
        .open(&format!("{}/?token={TOKEN}&theme=dark", stack.url()))
        .await;
    browser
        .until(
            "the screen's wall, not alerting",
            "return document.querySelector('[data-pod]') !== null \
             && document.documentElement.dataset.attention === 'clear'",
        )
        .await;
    let shown = browser.dom_pods().await;
    assert!(
        shown
            .iter()
            .all(|k| k.starts_with("web/") || k.starts_with("payments/")),
        "{shown:?}"
    );

    stack
        .control(&format!("pods/{victim_key}/crash-loop"))
        .await;
    let check = format!(
        "const h = document.querySelector('header.top'); \
         const li = document.querySelector('#attention li[data-rule=\"crashloop\"]'); \
         const block = document.querySelector('[data-pod=\"{victim_key}\"]'); \
         return h.classList.contains('alerting') && li !== null \
           && li.textContent.includes('{victim_key}') && block !== null \
           && block.classList.contains('alert-match') \
           && getComputedStyle(h).borderLeftWidth === '18px'"
    );
    browser
        .until_within("the header's alert state", Duration::from_secs(10), &check)
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let shot = browser.client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_path("attention-dark.png"), shot).expect("write screenshot");

    let ended = std::time::Instant::now();
    stack
        .end_control(&format!("pods/{victim_key}/crash-loop"))
        .await;
    browser
        .until_within(
            "the alert to clear by itself",
            QUIET + Duration::from_secs(10),
            "return document.documentElement.dataset.attention === 'clear' \
             && !document.querySelector('header.top').classList.contains('alerting') \
             && document.querySelector('.alert-match') === null",
        )
        .await;
    // The quiet period runs from the last tick that matched, at most a tick before the end.
    assert!(
        ended.elapsed() >= QUIET - Duration::from_millis(1500),
        "not before its quiet period: {:?}",
        ended.elapsed()
    );

    let texts = eventually_within(
        Duration::from_secs(10),
        "the webhook's start and end",
        || async {
            let texts = hook.texts();
            (texts.len() >= 2).then_some(texts)
        },
    )
    .await;
    assert!(
        texts[0].contains("crashloop matches") && texts[0].contains(&victim_key),
        "{texts:?}"
    );
    assert!(
        texts
            .last()
            .is_some_and(|t| t.contains("crashloop cleared")),
        "{texts:?}"
    );
    let metrics = stack.request_as(TOKEN, "/metrics").await;
    assert_eq!(metrics.status(), 403, "a screen may not read the metrics");
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_screen_says_signed_out() {
    testkit::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("screens.json");
    let entry = |token: &str| {
        serde_json::json!({"screens": [{"name": "team", "token": token, "namespaces": ["web"]}]})
            .to_string()
    };
    std::fs::write(&file, entry(TOKEN)).expect("write");
    let path = file.clone();
    let stack = Stack::builder()
        .nodes(3)
        .pods(30)
        .seed(11)
        .config(move |c| c.screens_file(Some(path)))
        .start()
        .await;
    let browser = Browser::start().await;
    browser
        .open(&format!("{}/?token={TOKEN}", stack.url()))
        .await;
    browser
        .until(
            "the screen's wall, live",
            "return document.querySelector('[data-pod]') !== null \
             && document.querySelector('#conn .conn-text').textContent === 'live'",
        )
        .await;
    // The token changes: the open page is signed out within seconds, and says so.
    std::fs::write(&file, entry("team-screen-rotated-0123456789abcdef")).expect("rewrite");
    browser
        .until_within(
            "the signed-out banner",
            Duration::from_secs(10),
            // Null-safe: a page that reloaded (it must not) fails by the deadline, saying so.
            "const b = document.getElementById('auth-banner'); \
             const c = document.querySelector('#conn .conn-text'); \
             return b !== null && !b.classList.contains('hidden') \
             && c !== null && c.textContent === 'signed out'",
        )
        .await;
}
