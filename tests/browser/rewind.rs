//! Rewind in a real browser: `?at=` shows the wall of that moment, server-rendered, with
//! its banner, its warnings lane and live updates paused; "back to live" returns without
//! a reload; the scrubber works from the keyboard (Home goes to the window's start),
//! brings each moment's warnings lane, and plays forward to live at 60×; `?recent=` marks what changed and leaves ghosts of deleted pods; a
//! screenshot of a rewound wall.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use kube::api::ListParams;
use serde_json::json;
use testkit::browser::Browser;
use testkit::{Stack, eventually};

use super::{crash_loop, delete_now, key, keys, running_ready_pod, sim_pods, url};

async fn page_state(browser: &Browser) -> serde_json::Value {
    browser
        .js("const r = document.getElementById('wall-root'); \
             const b = document.getElementById('rewind-banner'); \
             const w = document.getElementById('warnings'); \
             return {at: r.dataset.at || null, banner: b && !b.classList.contains('hidden') ? b.textContent : null, \
             conn: document.getElementById('conn').className, marker: window.__sameDocument || null, \
             past: w.hasAttribute('data-past'), warnings: document.getElementById('warnings-list').children.length, \
             items: Array.from(document.getElementById('warnings-list').children, i => i.id), \
             note: document.getElementById('warnings-note').textContent}")
        .await
}

/// The ids of the warnings lane's items for a snapshot: its newest 50 warnings.
fn lane_of(snap: &serde_json::Value) -> serde_json::Value {
    snap["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .take(50)
        .map(|w| {
            json!(format!(
                "warning/{}/{}",
                w["namespace"].as_str().unwrap_or(""),
                w["name"].as_str().unwrap_or("")
            ))
        })
        .collect()
}

/// Clicks the element with id `id`.
async fn click(browser: &Browser, id: &str) {
    browser
        .client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click #{id}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewind_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    let cluster: Stack = super::cluster(6, 60).await;
    browser.viewport(1920, 1080).await;
    browser.open(&url(&cluster, "?theme=dark")).await;
    let before = sim_pods(&cluster, &ListParams::default()).await;
    browser.wait_for_pods("the live wall", &keys(&before)).await;
    let then = cluster.snapshot("").await;
    let then_id = format!("{}-{}", then["epoch"].as_str().unwrap_or(""), then["seq"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Changes after the moment: one pod goes, one crash-loops.
    let gone = running_ready_pod(&before);
    delete_now(&cluster, &gone).await;
    let rest: Vec<_> = before
        .iter()
        .filter(|p| key(p) != key(&gone))
        .cloned()
        .collect();
    let crashing = running_ready_pod(&rest);
    crash_loop(&cluster, &crashing).await;
    let now = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser
        .wait_for_pods("the wall without the deleted pod", &now)
        .await;

    // ?at= of the moment: that wall, its banner, paused.
    browser
        .open(&url(&cluster, &format!("?theme=dark&at={then_id}")))
        .await;
    let shown = browser.dom_pods().await;
    assert_eq!(shown, keys(&before), "the wall as it was");
    let state = page_state(&browser).await;
    assert!(
        state["banner"]
            .as_str()
            .is_some_and(|b| b.contains("Viewing") && b.contains("ago")),
        "{state}"
    );
    assert!(
        state["conn"].as_str().is_some_and(|c| c.contains("paused")),
        "{state}"
    );
    // The warnings lane of that moment: its warnings, newest first.
    let warnings_then = lane_of(&then);
    assert!(
        warnings_then.as_array().is_some_and(|w| !w.is_empty()),
        "the sim had warnings then: {then}"
    );
    assert_eq!(state["past"], json!(true), "{state}");
    assert_eq!(state["items"], warnings_then, "the lane as it was: {state}");
    assert_eq!(state["note"], json!(""), "{state}");
    // The server's "10:42:00 UTC" is shown in the browser's time zone, as its clock.
    let clocks = browser
        .js(
            "const t = document.querySelector('#rewind-banner time.clock-local'); \
             const local = new Date(Date.parse(t.dateTime)).toLocaleTimeString([], \
               {hour: '2-digit', minute: '2-digit', second: '2-digit'}); \
             return [t.textContent, local, document.getElementById('scrub-time').textContent];",
        )
        .await;
    assert_eq!(clocks[0], clocks[1], "the banner's time, local: {clocks}");
    assert_eq!(clocks[2], clocks[1], "the scrubber's, the same: {clocks}");
    // Paused: a change now does not reach the page.
    let another = running_ready_pod(
        &rest
            .iter()
            .filter(|p| key(p) != key(&crashing))
            .cloned()
            .collect::<Vec<_>>(),
    );
    delete_now(&cluster, &another).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        browser.dom_pods().await.contains(&key(&another)),
        "live updates are paused"
    );

    // Back to live, without a reload (the marker survives).
    browser
        .js("window.__sameDocument = 'yes'; return null")
        .await;
    click(&browser, "back-to-live").await;
    let now = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("the live wall again", &now).await;
    let state = page_state(&browser).await;
    assert_eq!(state["marker"], json!("yes"), "no reload: {state}");
    assert_eq!(state["at"], json!(null), "{state}");
    assert_eq!(state["banner"], json!(null), "{state}");
    assert_eq!(state["past"], json!(false), "the live lane again: {state}");
    assert!(
        state["warnings"].as_u64().is_some_and(|n| n > 0),
        "the sim's warnings are back: {state}"
    );

    // The scrubber from the keyboard: Home goes to the window's start (before the first
    // list: an empty wall), paused, with the banner.
    browser
        .js("document.getElementById('scrub-range').focus(); return null")
        .await;
    // Real key presses (WebDriver actions) on the focused range, as a keyboard makes them.
    let home = char::from(Key::Home);
    browser
        .client
        .perform_actions(
            KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: home })
                .then(KeyAction::Up { value: home }),
        )
        .await
        .expect("press Home");
    eventually("the wall at the window's start", || async {
        let s = page_state(&browser).await;
        (s["at"].is_string()
            && s["banner"].is_string()
            && s["past"] == json!(true)
            && s["warnings"] == json!(0)
            && browser.dom_pods().await.len() < now.len())
        .then_some(())
    })
    .await;
    // Scrubbed to the first moment (the range moves by whole seconds from the window's
    // start): the lane of the moment shown comes with its wall.
    let (_, body) = cluster.get(&format!("/api/snapshot?at={then_id}")).await;
    let time = serde_json::from_str::<serde_json::Value>(&body).expect("snapshot")["time"]
        .as_str()
        .map(str::to_owned)
        .expect("the moment's time");
    let at_home = page_state(&browser).await["at"].clone();
    browser
        .js(&format!(
            "const r = document.getElementById('scrub-range'); \
             r.value = String(Date.parse('{time}') + 500); \
             r.dispatchEvent(new Event('input')); return null"
        ))
        .await;
    let last = std::sync::Mutex::new(json!(null));
    let shown = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let s = page_state(&browser).await;
            if s["past"] == json!(true) && s["at"].is_string() && s["at"] != at_home {
                let at = s["at"].as_str().unwrap_or_default();
                let (_, body) = cluster.get(&format!("/api/snapshot?at={at}")).await;
                let expected = lane_of(&serde_json::from_str(&body).expect("snapshot"));
                if s["items"] == expected && expected.as_array().is_some_and(|e| !e.is_empty()) {
                    return;
                }
                *last.lock().expect("lock") = json!({"shown": s, "expected": expected});
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        shown.is_ok(),
        "the scrubbed wall's warnings lane: {}",
        last.lock().expect("lock")
    );

    // Play at 60×: a minute a second reaches the present, and the page is live again.
    browser
        .js("const s = document.getElementById('scrub-speed'); s.value = '60'; return null")
        .await;
    click(&browser, "scrub-play").await;
    let now = keys(&sim_pods(&cluster, &ListParams::default()).await);
    browser.wait_for_pods("played forward to live", &now).await;
    assert_eq!(
        page_state(&browser).await["marker"],
        json!("yes"),
        "no reload"
    );

    // ?recent=: the crash-looping pod is marked with its transitions, the deleted ones
    // are ghosts.
    browser.open(&url(&cluster, "?theme=dark&recent=5m")).await;
    browser
        .wait_for_pods("the wall with recent marks", &now)
        .await;
    let marks = browser
        .js(&format!(
            "const p = document.getElementById('pod/{}'); \
             const li = document.querySelector('[data-recent-pod=\"{}\"]'); \
             const t = li && li.querySelector('time.clock-local'); \
             const local = t && new Date(Date.parse(t.dateTime)).toLocaleTimeString([], \
               {{hour: '2-digit', minute: '2-digit', second: '2-digit'}}); \
             return {{classes: p ? p.className : '', transitions: li ? li.dataset.transitions : '', \
             shown: t ? t.textContent : '', local: local || '', \
             ghosts: Array.from(document.querySelectorAll('[data-ghost]'), g => g.dataset.ghost)}}",
            key(&crashing),
            key(&crashing)
        ))
        .await;
    let classes = marks["classes"].as_str().unwrap_or_default();
    assert!(
        classes.contains("recent") && classes.contains("recent-restarted"),
        "{marks}"
    );
    assert!(
        marks["transitions"]
            .as_str()
            .is_some_and(|t| t.contains("CrashLoopBackOff")),
        "{marks}"
    );
    assert!(
        marks["shown"].as_str().is_some_and(|s| !s.is_empty()) && marks["shown"] == marks["local"],
        "the lane's times in the browser's time zone: {marks}"
    );
    let ghosts = marks["ghosts"].as_array().cloned().unwrap_or_default();
    for g in [key(&gone), key(&another)] {
        assert!(ghosts.contains(&json!(g)), "{g} is a ghost: {marks}");
    }
    // A moment just past with what changed in the 5 minutes before it, to look at (in the
    // target's tmp dir; docs/rewind-dark.png is of the demo, as docs/ui.md says: here
    // every pod is new, since the wall started a moment ago).
    browser
        .open(&url(&cluster, "?theme=dark&recent=5m&at=-1s"))
        .await;
    eventually("the rewound page with its lane", || async {
        let s = page_state(&browser).await;
        (s["banner"].is_string() && s["past"] == json!(true)).then_some(())
    })
    .await;
    let shot = browser.client.screenshot().await.expect("screenshot");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rewind-dark.png");
    std::fs::write(&path, shot).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    cluster.stop().await;
}
