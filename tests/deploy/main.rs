//! The deployment: the manifests in `deploy/` read as YAML and checked against the server
//! they run, the `podwall` binary run as the container runs it, `--auth-token-file`, and
//! several replicas behind one Service. One test binary (see tests/README.md).

mod auth;
mod manifests;
mod replicas;
mod screens;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;
use testkit::Stack;
use testkit::process::Process;

/// The binary under test (only the package's own targets see its path).
const PODWALL: &str = env!("CARGO_BIN_EXE_podwall");

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

/// A small still simulator and a kubeconfig file for it: the cluster the binary runs against.
pub async fn cluster() -> (Stack, PathBuf) {
    let mut stack = Stack::sim_only(2, 6, 3).await;
    let kubeconfig = stack.kubeconfig();
    (stack, kubeconfig)
}

/// An HTTP client that does not follow redirects (to see the token link's `303`).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `podwall serve` against a small simulator, with `var` naming `file` (a token or screens
/// file, as a mounted Secret), ready: the process, its base URL and a client that does not
/// follow redirects. The simulator lives as long as the returned stack.
pub async fn serve_with_file(var: &str, file: &Path) -> (Stack, Process, String, reqwest::Client) {
    let (cluster, kubeconfig) = cluster().await;
    let env = vec![
        (var.to_owned(), file.display().to_string()),
        (
            "PODWALL_KUBECONFIG".to_owned(),
            kubeconfig.display().to_string(),
        ),
        ("PODWALL_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
    ];
    let (process, base) = serve(&["serve".to_owned()], &env).await;
    let http = no_redirects();
    testkit::wait_ready(&http, &base, testkit::DEADLINE, "readyz 200").await;
    (cluster, process, base, http)
}

/// Runs `podwall ARGS` with exactly `env` (plus JSON logs) and waits until it serves,
/// returning it and its base URL. The listen address must be a port-0 one; the bound
/// address is read from the "podwall serving" log line.
pub async fn serve(args: &[String], env: &[(String, String)]) -> (Process, String) {
    let process = Process::spawn(
        "podwall",
        std::process::Command::new(PODWALL)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PODWALL_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,podwall=debug"),
    );
    let url = process.serving_url(testkit::DEADLINE).await;
    (process, url)
}
