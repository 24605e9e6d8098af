//! Shared helpers of the deploy tests: the `podwall` binary run as a container would run
//! it, against an in-process simulator, and the manifests in `deploy/` read as YAML.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use podwall::sim::{RunningSim, SimConfig};
use serde::Deserialize;
use serde_yaml::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The generous "eventually" deadline (busy 2-core machines).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every YAML document of the `.yaml`/`.yml` files directly in `dir` (as `kubectl apply
/// -f dir` reads them), with the file each came from.
pub fn manifests(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read manifest");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", file.display()));
            if !value.is_null() {
                docs.push((file.clone(), value));
            }
        }
    }
    docs
}

/// The one document of `kind` (panics unless there is exactly one).
pub fn the<'a>(docs: &'a [(PathBuf, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "exactly one {kind} expected");
    found[0]
}

/// A simulator in this process and a kubeconfig file pointing at it.
pub struct Cluster {
    pub sim: RunningSim,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    token: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl Cluster {
    /// A small still cluster.
    pub async fn start() -> Cluster {
        podwall::init_logging(podwall::LogFormat::Text);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = CancellationToken::new();
        let sim = podwall::sim::start(
            SimConfig {
                listen: "127.0.0.1:0".parse().expect("static address"),
                nodes: 2,
                pods: 6,
                churn: 0.0,
                seed: 3,
                ..SimConfig::default()
            },
            token.clone(),
        )
        .await
        .expect("sim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, sim.kubeconfig_yaml()).expect("write kubeconfig");
        Cluster {
            sim,
            kubeconfig,
            _dir: dir,
            token,
        }
    }
}

/// The `podwall` binary, running; killed on drop. Its log lines are kept for inspection.
pub struct Process {
    child: Child,
    /// `http://ADDR` where it serves.
    pub url: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Every log line (stderr) so far.
    pub fn logs(&self) -> String {
        self.logs.lock().join("\n")
    }

    /// Waits for the process to exit by itself.
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("exits within the deadline")
            .expect("wait")
    }
}

/// Runs `podwall ARGS` with exactly `env` (plus JSON logs) and waits until it serves.
/// The listen address must be a port-0 one; the bound address is read from the
/// "podwall serving" log line.
pub async fn spawn(args: &[String], env: &[(String, String)]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PODWALL_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,podwall=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn podwall");
    let stderr = child.stderr.take().expect("piped stderr");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let sink = logs.clone();
    // Keep draining stderr for the process's whole life, or it would block on a full pipe.
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && json["message"] == "podwall serving"
                && let Some(addr) = json["addr"].as_str()
                && let Some(tx) = addr_tx.take()
            {
                let _ = tx.send(addr.to_owned());
            }
            sink.lock().push(line);
        }
    });
    let addr = tokio::time::timeout(DEADLINE, addr_rx)
        .await
        .ok()
        .and_then(Result::ok);
    let Some(addr) = addr else {
        panic!(
            "podwall {args:?} did not report serving; logs:\n{}",
            logs.lock().join("\n")
        );
    };
    Process {
        child,
        url: format!("http://{addr}"),
        logs,
    }
}

/// Polls `url` until it answers `status`, or panics after [`DEADLINE`].
pub async fn wait_for_status(http: &reqwest::Client, url: &str, status: u16) {
    let start = std::time::Instant::now();
    loop {
        let got = http.get(url).send().await.map(|r| r.status().as_u16());
        if matches!(got, Ok(s) if s == status) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{url}: wanted {status} within {DEADLINE:?}, last answer {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
