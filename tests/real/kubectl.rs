//! kubectl against the simulator: discovery, tables, watch, create and delete work the way
//! people will use them (`podwall sim --kubeconfig-out FILE`, `KUBECONFIG=FILE kubectl …`),
//! and `kubectl top` reads the simulated metrics.k8s.io API. They need the kubectl that
//! `scripts/test-control-plane build` builds (or any on `PATH`); `scripts/test-all` runs
//! them with the real-server tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use testkit::Stack;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const DEADLINE: Duration = Duration::from_secs(20);

/// A quiet simulator (no server), a kubeconfig file for kubectl pointing at it, and a
/// scratch directory; fails saying how to get kubectl when it is not on `PATH`.
async fn kubectl_sim(nodes: usize, pods: usize, seed: u64) -> (Stack, PathBuf, PathBuf) {
    let on_path = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        on_path,
        "kubectl is not on PATH: `scripts/test-control-plane build` builds one, \
         `eval \"$(scripts/test-control-plane env)\"` puts it there (scripts/test-all does both)"
    );
    let mut sim = Stack::sim_only(nodes, pods, seed).await;
    let kubeconfig = sim.kubeconfig();
    let dir = sim.dir().to_path_buf();
    (sim, kubeconfig, dir)
}

async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = kubectl_status(kubeconfig, args).await;
    assert!(ok, "kubectl {args:?} failed: {stderr}\n{stdout}");
    stdout
}

/// Runs kubectl and returns whether it succeeded, its stdout and its stderr.
async fn kubectl_status(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::time::timeout(
        DEADLINE,
        Command::new("kubectl")
            .env("KUBECONFIG", kubeconfig)
            .args(args)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
    .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl (scripts/test-control-plane build)"]
async fn kubectl_gets_watches_creates_and_deletes() {
    let (sim, kubeconfig, dir) = kubectl_sim(4, 40, 3).await;
    let kc = kubeconfig.as_path();

    let nodes = kubectl(kc, &["get", "nodes"]).await;
    let header: Vec<&str> = nodes
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(nodes.lines().count(), 1 + 4, "{nodes}");
    assert!(nodes.contains("control-plane"), "{nodes}");

    let pods = kubectl(kc, &["get", "pods", "-A"]).await;
    let header: Vec<&str> = pods
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert_eq!(pods.lines().count(), 1 + 40, "{pods}");
    assert!(pods.contains("Running"), "{pods}");

    // `get -w`: the initial table, then a pod created meanwhile shows up.
    let mut watch = Command::new("kubectl")
        .env("KUBECONFIG", kc)
        .args(["get", "pods", "-n", "default", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl -w starts");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();

    let manifest = dir.join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n  namespace: default\n  labels:\n    app: hello\nspec:\n  containers:\n  - name: main\n    image: nginx:1.27\n",
    )
    .expect("manifest written");
    // Default validation (`--validate=strict`): kubectl finds `fieldValidation` in the
    // OpenAPI v3 document and leaves the checking to the server.
    let created = kubectl(
        kc,
        &["create", "-f", manifest.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(created.trim(), "pod/hello created");
    let seen = tokio::time::timeout(DEADLINE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("hello ") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("kubectl -w shows the new pod in time")
    .expect("kubectl -w keeps running");
    assert!(seen.contains("Pending"), "{seen}");
    watch.kill().await.expect("kubectl -w stops");

    let got = kubectl(
        kc,
        &[
            "get",
            "pod",
            "hello",
            "-o",
            "jsonpath={.metadata.labels.app}",
        ],
    )
    .await;
    assert_eq!(got, "hello");
    let deleted = kubectl(kc, &["delete", "pod", "hello", "--wait=false"]).await;
    // kubectl 1.32 says `pod "hello" deleted`; 1.37 adds ` from default namespace`.
    assert!(
        deleted.trim().starts_with("pod \"hello\" deleted"),
        "{deleted}"
    );
    let after = kubectl(kc, &["get", "pods", "-n", "default", "-o", "name"]).await;
    assert!(!after.contains("pod/hello"), "{after}");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl (scripts/test-control-plane build)"]
async fn kubectl_validates_fields_and_applies() {
    let (sim, kubeconfig, dir) = kubectl_sim(2, 4, 5).await;
    let kc = kubeconfig.as_path();
    let write = |file: &str, manifest: &str| {
        let path = dir.join(file);
        std::fs::write(&path, manifest).expect("manifest written");
        path.to_str().expect("utf-8 path").to_string()
    };
    let pod = |name: &str, label: &str, extra_spec: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {label}\nspec:\n{extra_spec}  containers:\n  - name: main\n    image: nginx:1.27\n"
        )
    };

    // Strict (kubectl's default): the unknown field fails the request, as on a real server.
    let bad = write("bad.yaml", &pod("typo", "typo", "  foo: bar\n"));
    let (ok, _, stderr) = kubectl_status(kc, &["create", "-f", &bad]).await;
    assert!(!ok, "an unknown field must fail strict validation");
    assert!(
        stderr.contains("Error from server (BadRequest)")
            && stderr.contains("strict decoding error: unknown field \"spec.foo\""),
        "{stderr}"
    );
    let (ok, _, stderr) = kubectl_status(kc, &["get", "pod", "typo"]).await;
    assert!(!ok && stderr.contains("NotFound"), "{stderr}");

    // Warn: created without the field, and kubectl shows the server's warning.
    let (ok, stdout, stderr) = kubectl_status(kc, &["create", "--validate=warn", "-f", &bad]).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "pod/typo created");
    assert!(
        stderr.contains("Warning: unknown field \"spec.foo\""),
        "{stderr}"
    );
    let spec = kubectl(kc, &["get", "pod", "typo", "-o", "jsonpath={.spec}"]).await;
    assert!(
        spec.contains("nginx:1.27") && !spec.contains("foo"),
        "{spec}"
    );

    // Client-side apply: create with the last-applied annotation, then a patch.
    let first = write("apply1.yaml", &pod("web", "web", ""));
    let applied = kubectl(kc, &["apply", "-f", &first]).await;
    assert_eq!(applied.trim(), "pod/web created");
    let second = write("apply2.yaml", &pod("web", "web-v2", ""));
    let applied = kubectl(kc, &["apply", "-f", &second]).await;
    assert_eq!(applied.trim(), "pod/web configured");
    let label = kubectl(
        kc,
        &["get", "pod", "web", "-o", "jsonpath={.metadata.labels.app}"],
    )
    .await;
    assert_eq!(label, "web-v2");
    let applied = kubectl(kc, &["apply", "-f", &second]).await;
    assert_eq!(applied.trim(), "pod/web unchanged");

    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl (scripts/test-control-plane build)"]
async fn kubectl_top_reads_the_simulated_metrics() {
    let (_sim, kc, _) = kubectl_sim(3, 30, 2).await;
    let text = kubectl(&kc, &["top", "nodes"]).await;
    assert!(
        text.contains("CPU(cores)") && text.lines().count() == 4,
        "{text}"
    );
    let text = kubectl(&kc, &["top", "pods", "-A"]).await;
    assert!(
        text.contains("MEMORY(bytes)") && text.lines().count() > 10,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl (scripts/test-control-plane build)"]
async fn kubectl_gets_and_watches_events() {
    let (sim, kc, _) = kubectl_sim(4, 40, 3).await;
    let kc = kc.as_path();
    let handle = sim.sim().handle();
    handle
        .disk_pressure("worker-0", true)
        .expect("disk pressure");

    let events = kubectl(kc, &["get", "events", "-A"]).await;
    let header: Vec<&str> = events
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "LAST",
            "SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "MESSAGE"
        ]
    );
    assert!(
        events.lines().any(|l| l.contains("Warning")
            && l.contains("EvictionThresholdMet")
            && l.contains("node/worker-0")),
        "{events}"
    );
    let warnings = kubectl(
        kc,
        &[
            "get",
            "events.events.k8s.io",
            "-A",
            "--field-selector",
            "type=Warning,reason=EvictionThresholdMet",
        ],
    )
    .await;
    assert_eq!(warnings.lines().count(), 2, "{warnings}");

    // `get events -A -w`: the trouble made meanwhile shows up.
    let target = kubectl(
        kc,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "jsonpath={.items[0].metadata.namespace}/{.items[0].metadata.name}",
        ],
    )
    .await;
    let (ns, name) = target.split_once('/').expect("a running pod");
    let mut watch = Command::new("kubectl")
        .env("KUBECONFIG", kc)
        .args(["get", "events", "-A", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl -w starts");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    // The initial list first, so the crash loop comes as a watch event.
    let first = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .expect("kubectl -w prints the list");
    assert!(first.is_ok_and(|l| l.is_some_and(|l| l.starts_with("NAMESPACE"))));
    handle
        .crash_loop(ns, name, podwall::sim::Termination::Error)
        .expect("crash loop");
    let object = format!("pod/{name}");
    let seen = tokio::time::timeout(DEADLINE, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("BackOff") && line.contains(&object) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("kubectl -w shows the BackOff event in time")
    .expect("kubectl -w keeps running");
    assert!(
        seen.starts_with(ns)
            && seen.contains("Warning")
            && seen.contains("Back-off restarting failed container"),
        "{seen}"
    );
    watch.kill().await.expect("kubectl -w stops");
    sim.stop().await;
}
