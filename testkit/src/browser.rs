//! Headless Chromium through chromedriver for the browser test and the page benchmark:
//! one session, scripts, Chrome DevTools Protocol commands, the console log, and a JS
//! hook that records long tasks and animation-frame gaps from the first paint on.
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.
//! chromedriver runs in a process group of its own, so that dropping the [`Browser`] ends
//! Chromium's processes with it (inside scripts/test-node's network namespace too: the
//! real-node tests start it there, as everything they start).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use crate::eventually_within;

/// What the page records from its first frame on (installed before any page script runs):
/// long tasks (`[start ms, duration ms]`) and gaps between animation frames over 50 ms.
/// `window.__perf.reset()` starts a new measurement.
pub const PERF_HOOK: &str = r#"
window.__perf = { long: [], gaps: [], frames: 0, reset() { this.long = []; this.gaps = []; this.frames = 0; } };
try {
  new PerformanceObserver(l => { for (const e of l.getEntries()) window.__perf.long.push([Math.round(e.startTime), Math.round(e.duration)]); })
    .observe({ type: "longtask", buffered: true });
} catch (e) {}
(function () {
  let last = 0;
  const f = t => { if (last && t - last > 50) window.__perf.gaps.push(Math.round(t - last)); last = t; window.__perf.frames += 1; requestAnimationFrame(f); };
  requestAnimationFrame(f);
})();
"#;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver, one Chromium session, and its profile directory.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver_url: String,
    session: String,
    http: reqwest::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a 1920×1080 headless Chromium session.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// [`Browser::start`] with more Chromium flags (e.g. `--host-resolver-rules=…` to reach
    /// a proxy by its name).
    pub async fn start_with(extra_args: &[String]) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "the browser test needs {CHROMEDRIVER} and {CHROMIUM}: apt-get install -y chromium chromium-driver"
        );
        let port = crate::free_addr().port();
        let profile = tempfile::tempdir().expect("profile dir");
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually_within(
            Duration::from_secs(60),
            "chromedriver to answer",
            || async {
                http.get(format!("{driver_url}/status"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            },
        )
        .await;
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1920,1080",
            "--enable-precise-memory-info",
        ]
        .map(str::to_owned)
        .into();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra_args.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        caps.insert("goog:loggingPrefs".to_owned(), json!({"browser": "ALL"}));
        let client = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("browser session");
        let session = client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        Browser {
            client,
            driver_url,
            session,
            http,
            _driver: Driver(driver),
            _profile: profile,
        }
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("script runs")
    }

    /// Waits until `script` returns something other than null/false, and returns it.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        self.until_within(what, Duration::from_secs(20), script)
            .await
    }

    /// [`Browser::until`] with another deadline.
    pub async fn until_within(&self, what: &str, timeout: Duration, script: &str) -> Value {
        eventually_within(timeout, what, || async {
            let v = self.js(script).await;
            (!v.is_null() && v != Value::Bool(false)).then_some(v)
        })
        .await
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let resp = self
            .http
            .post(format!(
                "{}/session/{}/goog/cdp/execute",
                self.driver_url, self.session
            ))
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .expect("cdp command");
        assert!(resp.status().is_success(), "cdp {cmd}: {}", resp.status());
        resp.json().await.expect("cdp answer")
    }

    /// Console messages of level SEVERE since the last call (reading clears the log).
    pub async fn console_errors(&self) -> Vec<String> {
        let resp: Value = self
            .http
            .post(format!(
                "{}/session/{}/se/log",
                self.driver_url, self.session
            ))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("browser log")
            .json()
            .await
            .expect("log JSON");
        resp["value"]
            .as_array()
            .expect("log entries")
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Navigates to `url`.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open the wall");
    }

    /// The `data-pod` keys of the pod blocks on the wall.
    pub async fn dom_pods(&self) -> BTreeSet<String> {
        let v = self
            .js("return Array.from(document.querySelectorAll('#wall [data-pod]'), p => p.dataset.pod)")
            .await;
        v.as_array()
            .expect("array")
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    }

    /// Whether the page says it is live (its event stream is open and the API server ok).
    pub async fn live(&self) -> bool {
        self.js(
            "const c = document.getElementById('conn'); return !!c && c.classList.contains('ok')",
        )
        .await
            == json!(true)
    }

    /// Waits until the page is live and shows exactly `want`.
    pub async fn wait_for_pods(&self, what: &str, want: &BTreeSet<String>) {
        eventually_within(Duration::from_secs(30), what, || async {
            (self.live().await && self.dom_pods().await == *want).then_some(())
        })
        .await;
    }

    /// Installs [`PERF_HOOK`] in every page opened from now on.
    pub async fn record_performance(&self) {
        self.cdp("Page.enable", json!({})).await;
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": PERF_HOOK }),
        )
        .await;
    }

    /// Sets the viewport (CSS pixels, device scale 1).
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// The JS heap in use after a full garbage collection, in bytes.
    pub async fn heap_after_gc(&self) -> f64 {
        self.cdp("HeapProfiler.enable", json!({})).await;
        self.cdp("HeapProfiler.collectGarbage", json!({})).await;
        let usage = self.cdp("Runtime.getHeapUsage", json!({})).await;
        usage["value"]["usedSize"].as_f64().unwrap_or(f64::NAN)
    }

    /// Elements in the page.
    pub async fn dom_elements(&self) -> u64 {
        self.js("return document.getElementsByTagName('*').length")
            .await
            .as_u64()
            .unwrap_or(0)
    }
}

/// chromedriver, leading a process group of its own (see [`Browser::start_with`]).
struct Driver(tokio::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the group ends the Chromium processes chromedriver started too.
        if let Some(pid) = self.0.id() {
            // SAFETY: kill(2) on the process group of our own child; no memory is involved.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}
