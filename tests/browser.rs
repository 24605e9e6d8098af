//! The page in a real browser (headless Chromium through chromedriver): it shows the
//! cluster, follows creates and deletes without a reload, and is saved as a screenshot.
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Stack, eventually};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

async fn js(browser: &Client, script: &str) -> Value {
    browser
        .execute(script, Vec::new())
        .await
        .expect("script runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_follows_the_cluster_live_in_a_browser() {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "the browser test needs {CHROMEDRIVER} and {CHROMIUM}: apt-get install -y chromium chromium-driver"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let profile = tempfile::tempdir().expect("profile dir");
    let _driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let driver_url = format!("http://127.0.0.1:{port}");
    eventually("chromedriver to answer", || async {
        reqwest::get(format!("{driver_url}/status"))
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(|_| ())
    })
    .await;

    let stack = Stack::start(8, 120, 0.0).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
            "--window-size=1600,1000", format!("--user-data-dir={}", profile.path().display()),
        ]}),
    );
    let browser = ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("browser session");

    browser.goto(&stack.url()).await.expect("open the wall");
    let sim_pods = stack.snapshot("").await["pods"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(sim_pods, 120);
    eventually("the DOM to show every pod and be live", || async {
        let count = js(
            &browser,
            "return document.querySelectorAll('[data-pod]').length",
        )
        .await;
        let live = js(
            &browser,
            "return document.getElementById('conn').classList.contains('ok')",
        )
        .await;
        (count == json!(sim_pods) && live == json!(true)).then_some(())
    })
    .await;
    let seq_before = js(
        &browser,
        "return document.getElementById('wall-root').dataset.seq",
    )
    .await;

    let node = stack.snapshot("").await["nodes"][2]["name"]
        .as_str()
        .expect("node")
        .to_owned();
    stack
        .create_pod("default", "browser-probe", Some(&node))
        .await;
    eventually("the new pod's block inside its node box", || async {
        let parent = js(
            &browser,
            "const p = document.querySelector('[data-pod=\"default/browser-probe\"]'); \
             return p ? p.closest('[data-node]').dataset.node : null",
        )
        .await;
        (parent == json!(node)).then_some(())
    })
    .await;
    let seq_after = js(
        &browser,
        "return document.getElementById('wall-root').dataset.seq",
    )
    .await;
    assert_ne!(seq_before, seq_after, "data-seq follows the applied events");

    stack.delete_pod("default", "browser-probe").await;
    eventually("the pod's block to vanish", || async {
        let n = js(
            &browser,
            "return document.querySelectorAll('[data-pod=\"default/browser-probe\"]').length",
        )
        .await;
        (n == json!(0)).then_some(())
    })
    .await;
    // The header counts are recomputed on the next animation frame.
    eventually("the header count to follow the DOM", || async {
        let count = js(
            &browser,
            "return Number(document.getElementById('count-pods').textContent)",
        )
        .await;
        (count == json!(sim_pods)).then_some(())
    })
    .await;

    // A churning cluster for the picture.
    let churn = reqwest::Client::new()
        .post(format!("{}/_sim/churn?rate=12", stack.sim.url()))
        .send()
        .await;
    assert!(churn.expect("churn").status().is_success());
    let start_seq = stack.server.cache.position().seq;
    eventually("some churn", || async {
        (stack.server.cache.position().seq > start_seq + 40).then_some(())
    })
    .await;
    let shot = browser.screenshot().await.expect("screenshot");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshot-demo.png");
    std::fs::create_dir_all(out.parent().expect("docs dir")).expect("mkdir docs");
    std::fs::write(&out, shot).expect("write screenshot");
    let _ = browser
        .find(Locator::Css("#wall"))
        .await
        .expect("wall element");
    browser.close().await.expect("close browser");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
