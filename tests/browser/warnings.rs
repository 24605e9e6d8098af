//! The warnings lane in a real browser: a warning arrives live, its hostile message shown
//! as text and unable to widen the page, its age ticking; it goes when deleted;
//! `warnings=0` hides the lane; in kiosk mode it reads across a room. The warnings enter
//! where the events watch hands them over (`Stack::warn`) until the simulator serves
//! events (branch `sim-events`).

use podwall::fixtures::warning_event;
use testkit::browser::Browser;

use super::url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warnings_lane_in_a_real_browser() {
    testkit::init();
    let browser = Browser::start().await;
    let cluster = super::cluster(3, 20).await;
    let snap = cluster.snapshot("").await;
    let (ns, pod) = (
        snap["pods"][0]["namespace"]
            .as_str()
            .expect("ns")
            .to_owned(),
        snap["pods"][0]["name"].as_str().expect("name").to_owned(),
    );
    browser.open(&url(&cluster, "")).await;
    browser
        .until(
            "the page's stream is open",
            "return document.getElementById('wall-root').dataset.seq !== ''",
        )
        .await;

    let hostile = format!(
        "<img src=x onerror=\"document.title='pwned'\"> {}",
        "unbroken".repeat(40)
    );
    let event = warning_event("Pod", &ns, &pod, "BackOff", &hostile);
    let id = format!(
        "warning/{ns}/{}",
        event["metadata"]["name"].as_str().expect("name")
    );
    cluster.warn(&event);
    // The simulator may record warnings of its own: this one is found by its id.
    let item = browser
        .until(
            "the warning in the lane",
            &format!(
                "const li = document.getElementById({id:?}); \
             return li && [li.querySelector('.warning-reason').textContent, \
               li.querySelector('.warning-message').textContent, \
               document.querySelectorAll('#warnings img').length, \
               li.dataset.name, li.querySelector('.warning-age').textContent, \
               document.documentElement.scrollWidth <= window.innerWidth, \
               document.title]"
            ),
        )
        .await;
    assert_eq!(item[0], "BackOff");
    assert!(
        item[1]
            .as_str()
            .is_some_and(|m| m.starts_with("<img src=x")),
        "the message is text: {}",
        item[1]
    );
    assert_eq!(item[2], 0, "no element came out of the message");
    assert_eq!(item[3], pod.as_str());
    assert!(
        item[4]
            .as_str()
            .is_some_and(|a| a.ends_with('s') || a.ends_with('m')),
        "an age: {}",
        item[4]
    );
    assert_eq!(
        item[5], true,
        "a long unbroken message does not widen the page"
    );
    assert_ne!(item[6], "pwned");

    cluster.unwarn(&event);
    browser
        .until(
            "the warning gone from the lane",
            &format!("return document.getElementById({id:?}) === null"),
        )
        .await;

    browser.open(&url(&cluster, "?warnings=0")).await;
    let hidden = browser
        .js("return getComputedStyle(document.getElementById('warnings')).display")
        .await;
    assert_eq!(hidden, "none", "warnings=0 hides the lane");

    cluster.warn(&warning_event(
        "Pod",
        &ns,
        &pod,
        "Unhealthy",
        "Readiness probe failed",
    ));
    browser.open(&url(&cluster, "?kiosk=1")).await;
    let kiosk = browser
        .until(
            "the lane on a kiosk wall",
            "const li = document.querySelector('#warnings-list .warning'); \
             const lane = document.getElementById('warnings'); \
             return li && [parseFloat(getComputedStyle(li).fontSize), \
               lane.getBoundingClientRect().bottom <= window.innerHeight + 1, lane.dataset.events]",
        )
        .await;
    assert!(kiosk[0].as_f64().is_some_and(|px| px >= 18.0), "{kiosk}");
    assert_eq!(kiosk[1], true, "the lane fits the kiosk screen: {kiosk}");
    assert!(
        ["ok", "unavailable"].contains(&kiosk[2].as_str().unwrap_or("")),
        "{kiosk}"
    );

    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.client.close().await.expect("close browser");
}
