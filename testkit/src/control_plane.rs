//! Real control planes for tests: the shared one `scripts/test-all` starts (named by an
//! environment variable), and private ones a test starts for itself when it must disrupt
//! the server (restart the apiserver, compact etcd) without breaking other tests.
//! Both run through `scripts/test-control-plane` (tests/kube-apiserver/README.md).
//! Tests that need one are `#[ignore = "needs …"]`; `scripts/test-all` runs them with
//! `--ignored` after starting the shared one.

use std::path::PathBuf;

use kube::Client;

use crate::{client_from, repo};

/// The script that builds, starts and drives a control plane.
pub fn script() -> PathBuf {
    std::env::var_os("PODWALL_TEST_CONTROL_PLANE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("scripts/test-control-plane"))
}

/// The shared real server's kubeconfig, named by the environment variable `var`; a test
/// that needs it fails, saying how to provide it, when it is missing.
#[track_caller]
pub fn shared_kubeconfig(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "{var} is not set: this test needs a real kube-apiserver. Start one with \
             `scripts/test-control-plane build && scripts/test-control-plane start`, then \
             `eval \"$(scripts/test-control-plane env)\"` and set {var}=$KUBECONFIG \
             (scripts/test-all does all of this)"
        ),
    }
}

/// A control plane of the test's own, stopped (and its state removed) on drop.
pub struct ControlPlane {
    state: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// The admin kubeconfig (system:masters token, the generated CA).
    pub kubeconfig: PathBuf,
}

impl ControlPlane {
    /// Starts etcd + kube-apiserver with extra `PODWALL_KUBE_*` settings (e.g.
    /// `("PODWALL_KUBE_WATCH_CACHE", "false")`); waits for /readyz.
    pub async fn start(settings: &[(&str, &str)]) -> ControlPlane {
        let state = tempfile::Builder::new()
            .prefix("podwall-cp-")
            .tempdir()
            .expect("temp dir");
        let env: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([(
                "PODWALL_KUBE_STATE_DIR".to_string(),
                state.path().join("cp").display().to_string(),
            )])
            .collect();
        let cp = ControlPlane {
            kubeconfig: state.path().join("cp/kubeconfig"),
            state,
            env,
        };
        cp.run(&["start"]).await;
        cp
    }

    /// Runs the script with this instance's settings; returns its stdout, fails the test
    /// (with the script's stderr) when it fails.
    pub async fn run(&self, args: &[&str]) -> String {
        crate::stdout_of(
            tokio::process::Command::new(script())
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k, v))),
            &format!("test-control-plane {args:?}"),
        )
        .await
    }

    /// A client with the admin kubeconfig.
    pub async fn client(&self) -> Client {
        client_from(&self.kubeconfig).await
    }

    /// Compacts etcd up to now (and tells the apiserver's watch cache).
    pub async fn compact(&self) {
        self.run(&["compact"]).await;
    }

    /// Stops and starts kube-apiserver (etcd keeps the data); every watch is cut.
    pub async fn restart_apiserver(&self) {
        self.run(&["restart-apiserver"]).await;
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Synchronous on purpose: the processes must be gone before the temp dir is.
        let status = std::process::Command::new(script())
            .arg("stop")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "warning: stopping the control plane in {} failed: {status:?}",
                self.state.path().display()
            );
        }
    }
}
