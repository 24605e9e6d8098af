//! What needs the real control plane that `scripts/test-control-plane` builds: the wall
//! and the install path against a real kube-apiserver, and the built kubectl against the
//! simulator. These tests are `#[ignore = "needs …"]`: a plain `cargo test` lists them as
//! ignored, and `scripts/test-all` starts the control plane and runs them with
//! `cargo test --test real --test conformance -- --ignored`. One test binary (see
//! tests/README.md).

mod cluster;
mod install;
mod kubectl;
mod wall;

use std::path::Path;

use testkit::{SLOW_DEADLINE, Stack};

/// `podwall serve --kubeconfig FILE [--namespace NS…]`, in process; waits for /readyz.
async fn wall(kubeconfig: &Path, namespaces: &[&str]) -> Stack {
    Stack::builder()
        .kubeconfig(kubeconfig)
        .namespaces(namespaces.iter().copied())
        .ready_within(SLOW_DEADLINE)
        .start()
        .await
}
