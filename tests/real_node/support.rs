//! Support for `tests/real_node/main.rs`: the one-node real cluster of `scripts/test-node`
//! driven the way a user drives it — `kubectl`, `kubectl port-forward`, a browser, nginx —
//! with plain HTTP (reqwest) and processes. No `podwall::` library API, so the crate's
//! internals can move without touching these tests; what every test binary needs (polling,
//! free ports, the SSE reader, Chromium) is testkit's, and this module keeps what only the
//! real node needs: kubectl, port-forward, nginx, `kubectl get -w`, container pids.

#![allow(dead_code)] // each test takes what it needs

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use testkit::browser::Browser;
use testkit::tls::TestCa;
use testkit::{eventually_within, repo};

pub const NS: &str = "podwall";
/// A namespace the tests create pods in (a Deployment of the pause image).
pub const TEST_NS: &str = "wall-test";
/// The sandbox image scripts/test-node builds and loads; the test Deployment runs it too.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10.2";

/// Milliseconds since the epoch, the clock the browser's `Date.now()` uses too.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Fails loudly unless the test runs inside the cluster's network namespace with its
/// environment (`scripts/test-node exec cargo test …`).
pub fn require_cluster() {
    testkit::install_crypto();
    for var in ["KUBECONFIG", "PODWALL_NODE_STATE_DIR", "PODWALL_NODE_CTR"] {
        assert!(
            std::env::var_os(var).is_some(),
            "{var} is not set: run these tests through `scripts/test-node exec cargo test --test real_node -- --ignored` \
             after `scripts/test-node start` (docs/real-cluster.md)"
        );
    }
}

// ---- kubectl --------------------------------------------------------------------------

/// Runs kubectl; `Err(stderr)` when it fails.
pub fn kubectl_try(args: &[&str]) -> Result<String, String> {
    kubectl_stdin(args, None)
}

pub fn kubectl_stdin(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new("kubectl")
        .args(args)
        .current_dir(repo())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs (on PATH through scripts/test-node exec)");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write kubectl's stdin");
    }
    let out = child.wait_with_output().expect("kubectl output");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// Runs kubectl and panics with its output when it fails.
pub fn kubectl(args: &[&str]) -> String {
    kubectl_try(args).unwrap_or_else(|e| panic!("{e}"))
}

pub fn kubectl_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&a)).expect("kubectl JSON")
}

/// `namespace/name` of every pod in the cluster.
pub fn api_pods(ns: Option<&str>) -> BTreeSet<String> {
    let list = match ns {
        Some(ns) => kubectl_json(&["get", "pods", "-n", ns]),
        None => kubectl_json(&["get", "pods", "-A"]),
    };
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["metadata"]["namespace"].as_str().unwrap_or(""),
                p["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Applies `deploy/` exactly as the README says and waits until the Deployment is
/// Available (idempotent: a later test finds it installed and goes on). A Deployment still
/// carrying the access-token patch of a test that failed half-way is put back first
/// (`kubectl apply` would keep the patched fields).
/// Waits (up to 180 s) until the podwall Deployment in `ns` has rolled out.
pub fn rollout_status(ns: &str) {
    kubectl(&[
        "-n",
        ns,
        "rollout",
        "status",
        "deploy/podwall",
        "--timeout=180s",
    ]);
}

pub fn ensure_installed() {
    if let Ok(live) = kubectl_try(&["-n", NS, "get", "deploy", "podwall", "-o", "json"])
        && live.contains("PODWALL_AUTH_TOKEN_FILE")
    {
        kubectl(&["replace", "-f", "deploy/20-deployment.yaml"]);
    }
    kubectl(&["apply", "-f", "deploy/"]);
    rollout_status(NS);
    kubectl(&[
        "-n",
        NS,
        "wait",
        "deploy/podwall",
        "--for=condition=Available",
        "--timeout=120s",
    ]);
}

/// The Ready podwall pods of a namespace (name, uid).
pub fn podwall_pods(ns: &str) -> Vec<Value> {
    kubectl_json(&[
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        "app.kubernetes.io/name=podwall",
    ])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The one podwall pod of `ns` that is Ready and not terminating.
pub async fn ready_podwall_pod(ns: &str) -> Value {
    eventually_within(
        Duration::from_secs(120),
        "one Ready podwall pod",
        || async {
            let pods: Vec<Value> = podwall_pods(ns)
                .into_iter()
                .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                .filter(|p| {
                    p["status"]["conditions"].as_array().is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
                })
                .collect();
            (pods.len() == 1).then(|| pods[0].clone())
        },
    )
    .await
}

/// A Deployment of the pause image in [`TEST_NS`] with `replicas` pods.
pub fn test_deployment(name: &str, replicas: u32) {
    kubectl_try(&["create", "namespace", TEST_NS]).ok();
    let yaml = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {TEST_NS}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: pause
          image: {PAUSE_IMAGE}
          imagePullPolicy: Never
"#
    );
    kubectl_stdin(&["apply", "-f", "-"], Some(&yaml)).unwrap_or_else(|e| panic!("{e}"));
    // Pods of an earlier run of the test: gone before the test counts.
    let start = Instant::now();
    while test_pods(name).len() != replicas as usize {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{name} did not settle at {replicas} pods"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pods of the test Deployment `name` (`app=<name>` in [`TEST_NS`]), as
/// `wall-test/<pod>` (the wall's keys), whatever their state.
pub fn test_pods(name: &str) -> BTreeSet<String> {
    kubectl(&[
        "get",
        "pods",
        "-n",
        TEST_NS,
        "-l",
        &format!("app={name}"),
        "-o",
        "name",
    ])
    .lines()
    .map(|l| format!("{TEST_NS}/{}", l.trim_start_matches("pod/")))
    .collect()
}

// ---- kubectl port-forward ---------------------------------------------------------------

/// `kubectl -n NS port-forward TARGET LOCAL:80`, as the README runs it. A forward is bound
/// to the one pod it picked when it started, and kubectl exits when that pod goes; with
/// `restart` the forward is started again then, as a person (or a loop in a script) would.
pub struct PortForward {
    pub port: u16,
    stop: Arc<Mutex<bool>>,
    child: Arc<Mutex<Option<std::process::Child>>>,
    pub restarts: Arc<Mutex<u32>>,
}

impl PortForward {
    pub fn start(ns: &str, target: &str, port: u16, restart: bool) -> PortForward {
        let stop = Arc::new(Mutex::new(false));
        let child: Arc<Mutex<Option<std::process::Child>>> = Arc::new(Mutex::new(None));
        let restarts = Arc::new(Mutex::new(0));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (ns, target) = (ns.to_owned(), target.to_owned());
        {
            let (stop, child, restarts) = (stop.clone(), child.clone(), restarts.clone());
            std::thread::spawn(move || {
                let mut first = true;
                loop {
                    let mut c = Command::new("kubectl")
                        .args(["-n", &ns, "port-forward", &target, &format!("{port}:80")])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("kubectl port-forward starts");
                    let out = c.stdout.take().expect("stdout");
                    let err = c.stderr.take().expect("stderr");
                    *child.lock().expect("lock") = Some(c);
                    std::thread::spawn(move || {
                        for line in BufReader::new(err).lines().map_while(Result::ok) {
                            eprintln!("port-forward {port}: {line}");
                        }
                    });
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        if line.starts_with("Forwarding from") {
                            let _ = ready_tx.send(());
                        }
                    }
                    // stdout closed: kubectl exited (its pod went away) or was stopped.
                    if let Some(mut c) = child.lock().expect("lock").take() {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                    if *stop.lock().expect("lock") || !restart {
                        break;
                    }
                    if !first {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    first = false;
                    *restarts.lock().expect("lock") += 1;
                    eprintln!("port-forward {port}: kubectl exited, starting it again");
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        }
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("kubectl port-forward says 'Forwarding from' within 60 s");
        PortForward {
            port,
            stop,
            child,
            restarts,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends the current kubectl (a restarting forward then starts a new one): for a forward
    /// whose pod is gone but whose kubectl has not noticed yet.
    pub fn kick(&self) {
        if let Some(c) = self.child.lock().expect("lock").as_mut() {
            let _ = c.kill();
        }
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        *self.stop.lock().expect("lock") = true;
        if let Some(mut c) = self.child.lock().expect("lock").take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---- Server-Sent Events (testkit::sse::SseClient reads them) ---------------------------

/// The epoch half of an event id `<epoch>-<seq>`.
pub fn epoch_of(id: &str) -> &str {
    id.rsplit_once('-').map(|(e, _)| e).unwrap_or(id)
}

// ---- Chromium (testkit's Browser; what only these tests ask of the page) -----------------

/// What these tests ask of the wall in testkit's [`Browser`], beyond what it offers.
pub trait WallPage {
    /// Waits until the page is live and shows exactly what the API server lists now.
    async fn wait_for_api_pods(&self, what: &str, ns: Option<&str>);
    /// Records in the page, from now on, when each pod block reaches a status and when it
    /// leaves the page: `window.__seen["ns/name"] = {Running: ms, gone: ms, …}` (Date.now()).
    async fn record_pod_times(&self);
    /// What [`WallPage::record_pod_times`] recorded.
    async fn pod_times(&self) -> Value;
}

impl WallPage for Browser {
    async fn wait_for_api_pods(&self, what: &str, ns: Option<&str>) {
        eventually_within(Duration::from_secs(30), what, || async {
            (self.live().await && self.dom_pods().await == api_pods(ns)).then_some(())
        })
        .await;
    }

    async fn record_pod_times(&self) {
        self.js(
            r#"
            window.__seen = {};
            const note = (pod, what) => {
              const s = (window.__seen[pod] = window.__seen[pod] || {});
              if (!(what in s)) s[what] = Date.now();
            };
            const scan = () => {
              const present = new Set();
              for (const el of document.querySelectorAll('#wall [data-pod]')) {
                present.add(el.dataset.pod);
                note(el.dataset.pod, el.dataset.status);
              }
              for (const pod of Object.keys(window.__seen)) if (!present.has(pod)) note(pod, 'gone');
            };
            window.__seenObserver && window.__seenObserver.disconnect();
            window.__seenObserver = new MutationObserver(scan);
            window.__seenObserver.observe(document.getElementById('wall'),
              { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'class'] });
            scan();
            return true;"#,
        )
        .await;
    }

    async fn pod_times(&self) -> Value {
        self.js("return window.__seen").await
    }
}

// ---- kubectl get -w: when the API server said what ------------------------------------------

/// `kubectl get pods -w` in a namespace, each event stamped with the time it arrived here
/// (ms since the epoch): (time, type, the pod object).
pub struct PodWatch {
    pub events: Arc<Mutex<Vec<(f64, String, Value)>>>,
    child: std::process::Child,
}

impl PodWatch {
    pub fn start(ns: &str) -> PodWatch {
        let mut child = Command::new("kubectl")
            .args([
                "get",
                "pods",
                "-n",
                ns,
                "--watch",
                "--output-watch-events",
                "-o",
                "json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let out = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        std::thread::spawn(move || {
            let stream =
                serde_json::Deserializer::from_reader(BufReader::new(out)).into_iter::<Value>();
            for v in stream.map_while(Result::ok) {
                ev.lock().expect("lock").push((
                    now_ms(),
                    v["type"].as_str().unwrap_or("").to_owned(),
                    v["object"].clone(),
                ));
            }
        });
        // The watch is only useful once kubectl has listed what is there (one ADDED event
        // per pod); a change made before that could be missed.
        let present = api_pods(Some(ns)).len();
        let start = Instant::now();
        while events.lock().expect("lock").len() < present
            && start.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        if present == 0 {
            // Nothing to list: give kubectl a moment to open its watch.
            std::thread::sleep(Duration::from_millis(1500));
        }
        PodWatch { events, child }
    }

    /// When the API server first reported `pod` Running with its containers ready.
    pub fn running_at(&self, pod: &str) -> Option<f64> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .find(|(_, _, o)| {
                o["metadata"]["name"] == pod
                    && o["status"]["phase"] == "Running"
                    && o["status"]["containerStatuses"]
                        .as_array()
                        .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["ready"] == true))
            })
            .map(|e| e.0)
    }

    /// When the API server reported `pod` deleted.
    pub fn deleted_at(&self, pod: &str) -> Option<f64> {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .find(|(_, t, o)| o["metadata"]["name"] == pod && t == "DELETED")
            .map(|e| e.0)
    }

    /// The last state the API server reported for `pod`'s first container.
    pub fn last_container_state(&self, pod: &str) -> Value {
        self.events
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|(_, _, o)| {
                o["metadata"]["name"] == pod
                    && !o["status"]["containerStatuses"][0]["state"]["terminated"].is_null()
            })
            .map(|(_, _, o)| o["status"]["containerStatuses"][0]["state"].clone())
            .unwrap_or(Value::Null)
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the containers' processes, seen from the node ------------------------------------------

/// The host PID of a running container (`containerd://<id>` from the pod's status), from
/// containerd's own task list.
pub fn container_pid(container_id: &str) -> u32 {
    let id = container_id
        .strip_prefix("containerd://")
        .unwrap_or(container_id);
    let ctr = std::env::var("PODWALL_NODE_CTR").expect("PODWALL_NODE_CTR");
    let sock = std::env::var("PODWALL_NODE_CONTAINERD_SOCK").expect("PODWALL_NODE_CONTAINERD_SOCK");
    let out = Command::new(ctr)
        .args(["--address", &sock, "-n", "k8s.io", "tasks", "ls"])
        .output()
        .expect("ctr tasks ls");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some(id))
                .then(|| f.next().and_then(|p| p.parse().ok()))
                .flatten()
        })
        .unwrap_or_else(|| panic!("container {id} not in `ctr tasks ls`:\n{text}"))
}

// ---- nginx --------------------------------------------------------------------------------

/// How the nginx in front is configured (docs/real-cluster.md, "nginx as ingress-nginx").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProxyConfig {
    /// What ingress-nginx renders for deploy/ingress/ingress.yaml's annotations.
    Ingress,
    /// The same without `proxy-buffering: "off"`: nginx's default `proxy_buffering on`,
    /// and podwall's `X-Accel-Buffering: no` honoured (nginx's default too).
    BufferingOnHeaderHonoured,
    /// Buffering on and the `X-Accel-Buffering` header ignored, as by a proxy that does not
    /// know it: what the annotation protects against.
    BufferingOnHeaderIgnored,
    /// The annotations' timeouts left out: nginx's default read timeout, or this many
    /// seconds (a lowered "default" that keeps the CI run short).
    DefaultTimeouts(Option<u32>),
}

pub struct Nginx {
    pub port: u16,
    pub dir: tempfile::TempDir,
    tls: TestCa,
    child: std::process::Child,
}

pub const PROXY_HOST: &str = "podwall.example.com";

impl Nginx {
    /// nginx (Debian's) on 127.0.0.1 with TLS for [`PROXY_HOST`], proxying to `upstream`
    /// (`host:port`).
    pub fn start(config: ProxyConfig, upstream: &str) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let d = dir.path();
        let port = testkit::free_addr().port();
        // A CA and a certificate for the Ingress's host signed by it, as the TLS secret
        // would hold.
        let tls = TestCa::new(&format!("DNS:{PROXY_HOST}"));
        let conf = nginx_conf(config, d, &tls, port, upstream);
        std::fs::write(d.join("nginx.conf"), conf).expect("write nginx.conf");
        std::fs::create_dir_all(d.join("tmp")).expect("tmp");
        let mut child = Command::new("/usr/sbin/nginx")
            .args([
                "-p",
                &d.display().to_string(),
                "-c",
                "nginx.conf",
                "-e",
                "error.log",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts (apt-get install nginx-light)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nginx does not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            port,
            dir,
            tls,
            child,
        }
    }

    /// Waits until podwall answers through nginx: right after a rollout kube-proxy may
    /// still send the Service's traffic to the pod that just went (nginx says 502/504).
    pub async fn wait_ready(&self) {
        let c = self.client();
        let url = format!("{}/healthz", self.base());
        eventually_within(Duration::from_secs(60), "podwall through nginx", || async {
            let r = c
                .get(&url)
                .timeout(Duration::from_secs(6))
                .send()
                .await
                .ok()?;
            (r.status().as_u16() == 200).then_some(())
        })
        .await;
    }

    pub fn base(&self) -> String {
        format!("https://{PROXY_HOST}:{}", self.port)
    }

    /// A client that reaches [`PROXY_HOST`] at this nginx and trusts its certificate.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.tls.ca_cert).expect("CA");
        reqwest::Client::builder()
            .resolve(PROXY_HOST, ([127, 0, 0, 1], self.port).into())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Chromium flags that send [`PROXY_HOST`] to this nginx and accept its certificate.
    pub fn browser_args(&self) -> Vec<String> {
        vec![
            format!("--host-resolver-rules=MAP {PROXY_HOST} 127.0.0.1"),
            "--ignore-certificate-errors".to_owned(),
        ]
    }

    /// The access log: one line per finished request (`uri status request_time`).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master: a fast shutdown that also ends its workers (a SIGKILL
        // would leave them running, orphaned).
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx configured the way ingress-nginx configures itself for deploy/ingress/'s Ingress
/// (its `nginx.tmpl` location block; annotation → directive, in docs/real-cluster.md).
fn nginx_conf(config: ProxyConfig, d: &Path, tls: &TestCa, port: u16, upstream: &str) -> String {
    let (buffering, ignore, timeouts) = match config {
        ProxyConfig::Ingress => (
            "proxy_buffering off;           # nginx.ingress.kubernetes.io/proxy-buffering: \"off\"",
            "",
            "proxy_read_timeout 3600s;      # nginx.ingress.kubernetes.io/proxy-read-timeout: \"3600\"\n        \
             proxy_send_timeout 3600s;      # nginx.ingress.kubernetes.io/proxy-send-timeout: \"3600\""
                .to_owned(),
        ),
        ProxyConfig::BufferingOnHeaderHonoured => (
            "proxy_buffering on;            # the annotation left out: nginx's default",
            "",
            "proxy_read_timeout 3600s;\n        proxy_send_timeout 3600s;".to_owned(),
        ),
        ProxyConfig::BufferingOnHeaderIgnored => (
            "proxy_buffering on;            # the annotation left out: nginx's default",
            "proxy_ignore_headers X-Accel-Buffering;   # a proxy that does not know the header",
            "proxy_read_timeout 3600s;\n        proxy_send_timeout 3600s;".to_owned(),
        ),
        ProxyConfig::DefaultTimeouts(t) => (
            "proxy_buffering off;",
            "",
            match t {
                None => "# proxy_read_timeout / proxy_send_timeout: nginx's defaults (60s)".to_owned(),
                Some(s) => format!("proxy_read_timeout {s}s;        # a lowered \"default\" for a short run\n        proxy_send_timeout {s}s;"),
            },
        ),
    };
    let d = d.display();
    let (cert, key) = (tls.server_cert.display(), tls.server_key.display());
    format!(
        r#"# Written by tests/real_node/support.rs for one test ({config:?}).
daemon off;
master_process on;
worker_processes 1;
user root root;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format timing '$request_uri $status $request_time';
    access_log {d}/access.log timing;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    # ingress-nginx's defaults (its ConfigMap): no gzip, HTTP/1.1 keep-alive upstream.
    gzip off;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream upstream_balancer {{
        server {upstream};
        keepalive 320;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {PROXY_HOST};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
        proxy_set_header Host $http_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Scheme $scheme;
        proxy_set_header Proxy "";
        proxy_connect_timeout 5s;
        {timeouts}
        {buffering}
        {ignore}
        proxy_buffer_size 4k;
        proxy_buffers 4 4k;
        proxy_request_buffering on;
        proxy_http_version 1.1;          # nginx.ingress.kubernetes.io/proxy-http-version: "1.1"
        proxy_cookie_domain off;
        proxy_cookie_path off;
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries 3;
        proxy_pass http://upstream_balancer;
        proxy_redirect off;
        }}
    }}
}}
"#
    )
}
