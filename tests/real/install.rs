//! The install path, for real: `kubectl apply --server-side --validate=strict -f deploy/`
//! against a real kube-apiserver, then podwall with its own ServiceAccount's token
//! (TokenRequest: `kubectl create token`) syncs fully — the ClusterRole is sufficient —
//! and `kubectl auth can-i --list` shows that token nothing beyond list/watch on pods
//! and nodes — it is minimal. The same for the namespaced Role in `deploy/namespaced/`.
//! And, without a server: the RBAC rules in `deploy/` equal what the informer watches.
//!
//! The real-server tests need `PODWALL_REAL_KUBECONFIG` and `kubectl` (`scripts/test-all`
//! provides both and runs these ignored tests); without the variable they fail saying so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use testkit::control_plane::shared_kubeconfig;
use testkit::{SLOW_DEADLINE, client_from, eventually_within, repo, unique};

use super::cluster::Cluster;
use super::wall;

/// (resource, sorted verbs) of the core-group rules of the `kind` object in a manifest.
fn rules_of(manifest: &str, kind: &str) -> BTreeSet<(String, Vec<String>)> {
    let text = std::fs::read_to_string(repo().join(manifest)).expect("manifest is readable");
    let mut found = None;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
        if v["kind"] == kind {
            found = Some(v);
        }
    }
    let object = found.unwrap_or_else(|| panic!("no {kind} in {manifest}"));
    let mut rules = BTreeSet::new();
    for rule in object["rules"].as_array().expect("rules") {
        assert_eq!(rule["apiGroups"], json!([""]), "{manifest}: {rule}");
        let mut verbs: Vec<String> = rule["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .map(|v| v.as_str().expect("verb").to_string())
            .collect();
        verbs.sort();
        for r in rule["resources"].as_array().expect("resources") {
            rules.insert((r.as_str().expect("resource").to_string(), verbs.clone()));
        }
    }
    rules
}

fn watched(resources: &[&str]) -> BTreeSet<(String, Vec<String>)> {
    podwall::WATCHED
        .iter()
        .filter(|(r, _)| resources.contains(r))
        .map(|(r, verbs)| {
            let mut v: Vec<String> = verbs.iter().map(|s| s.to_string()).collect();
            v.sort();
            (r.to_string(), v)
        })
        .collect()
}

#[test]
fn rbac_in_deploy_equals_what_the_informer_watches() {
    let all: Vec<&str> = podwall::WATCHED.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        rules_of("deploy/10-rbac.yaml", "ClusterRole"),
        watched(&all),
        "deploy/10-rbac.yaml's ClusterRole must grant exactly informer::WATCHED"
    );
    // With --namespace only pods are needed: nodes are optional (details unavailable).
    assert_eq!(
        rules_of("deploy/namespaced/10-rbac.yaml", "Role"),
        watched(&["pods"]),
        "deploy/namespaced/10-rbac.yaml's Role must grant WATCHED's pod rule"
    );
}

/// Runs kubectl with the admin kubeconfig; returns stdout, fails the test on an error.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs (it must be on PATH for the real-server tests)");
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Applies a folder of manifests with server-side apply and strict field validation.
fn apply(kubeconfig: &Path, dir: &str) {
    let dir = repo().join(dir);
    let out = kubectl(
        kubeconfig,
        &[
            "apply",
            "--server-side",
            "--validate=strict",
            "--field-manager=podwall-install-test",
            "-f",
            &dir.display().to_string(),
        ],
    );
    let docs = std::fs::read_dir(&dir)
        .expect("manifest dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| std::fs::read_to_string(e.path()).expect("manifest"))
        .map(|t| t.matches("\nkind: ").count() + usize::from(t.starts_with("kind: ")))
        .sum::<usize>();
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with(" serverside-applied"))
            .count(),
        docs,
        "every object of {} is applied:\n{out}",
        dir.display()
    );
}

/// A kubeconfig like `admin`'s (server, CA) whose user is the ServiceAccount's token.
fn token_kubeconfig(admin: &Path, token: &str, dir: &Path) -> PathBuf {
    let mut kc = kube::config::Kubeconfig::read_from(admin).expect("kubeconfig");
    for user in &mut kc.auth_infos {
        if let Some(auth) = user.auth_info.as_mut() {
            auth.token = Some(token.to_string().into());
        }
    }
    let path = dir.join("kubeconfig");
    // JSON is YAML: any kubeconfig reader takes it.
    let text = serde_json::to_string(&kc).expect("kubeconfig serializes");
    std::fs::write(&path, text).expect("kubeconfig written");
    path
}

/// The rules `kubectl auth can-i --list` shows for `token` in `namespace`, one
/// "resource | non-resource URLs | names | verbs" string per row.
fn can_i_list(admin: &Path, token: &str, namespace: &str) -> BTreeSet<String> {
    let out = kubectl(
        admin,
        &["auth", "can-i", "--list", "--token", token, "-n", namespace],
    );
    let mut lines = out.lines();
    let header = lines.next().expect("a header row");
    let col = |name: &str| header.find(name).expect("can-i header column");
    let (urls, names, verbs) = (
        col("Non-Resource URLs"),
        col("Resource Names"),
        col("Verbs"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cell = |a: usize, b: usize| l.get(a..b.min(l.len())).unwrap_or("").trim();
            format!(
                "{} | {} | {} | {}",
                cell(0, urls),
                cell(urls, names),
                cell(names, verbs),
                cell(verbs, l.len())
            )
        })
        .collect()
}

/// What the token may do beyond an unbound ServiceAccount of the same namespace.
fn granted_beyond_defaults(admin: &Path, sa_namespace: &str, token: &str) -> BTreeSet<String> {
    let nobody = format!("podwall-nobody-{}", unique());
    kubectl(
        admin,
        &["create", "serviceaccount", &nobody, "-n", sa_namespace],
    );
    let baseline_token = kubectl(admin, &["create", "token", &nobody, "-n", sa_namespace]);
    let baseline = can_i_list(admin, baseline_token.trim(), sa_namespace);
    let ours = can_i_list(admin, token, sa_namespace);
    assert!(
        baseline.is_subset(&ours),
        "the defaults of every ServiceAccount stay: {baseline:?} vs {ours:?}"
    );
    ours.difference(&baseline).cloned().collect()
}

/// Pods and nodes the API holds, as the wall's snapshot should count them.
async fn api_counts(client: &kube::Client, namespace: Option<&str>) -> (usize, usize) {
    let pods: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let p = pods
        .list(&Default::default())
        .await
        .expect("pods")
        .items
        .len();
    let n = Api::<Node>::all(client.clone())
        .list(&Default::default())
        .await
        .expect("nodes")
        .items
        .len();
    (p, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver and kubectl (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_cluster_install_is_sufficient_and_minimal() {
    let admin = shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    apply(&admin, "deploy");
    let cluster = Cluster::new(&admin, "install").await;
    let node = format!("pwr-node-{}", unique());
    cluster.create_node(&node).await;
    cluster.create_pod("one", Some(&node)).await;
    cluster.create_pod("two", None).await;

    let token = kubectl(&admin, &["create", "token", "podwall", "-n", "podwall"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = token_kubeconfig(&admin, token.trim(), dir.path());
    let wall = wall(&kubeconfig, &[]).await;
    let (status, body) = wall.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let admin_client = client_from(&admin).await;
    eventually_within(
        SLOW_DEADLINE,
        "the wall's counts to match the API's",
        || async {
            let want = api_counts(&admin_client, None).await;
            let snap = wall.snapshot("").await;
            let got = (
                snap["pods"].as_array()?.len(),
                snap["nodes"].as_array()?.len(),
            );
            (got == want).then_some(())
        },
    )
    .await;
    let snap = wall.snapshot(&format!("?ns={}", cluster.namespace)).await;
    assert_eq!(snap["pods"].as_array().map(Vec::len), Some(2), "{snap}");

    assert_eq!(
        granted_beyond_defaults(&admin, "podwall", token.trim()),
        BTreeSet::from([
            "nodes | [] | [] | [list watch]".to_string(),
            "pods | [] | [] | [list watch]".to_string(),
        ]),
        "podwall's token may only list and watch pods and nodes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver and kubectl (PODWALL_REAL_KUBECONFIG; scripts/test-all runs it)"]
async fn the_namespaced_install_reads_only_its_namespace() {
    let admin = shared_kubeconfig("PODWALL_REAL_KUBECONFIG");
    // deploy/namespaced/ names the namespace team-a; it must exist (possibly from a
    // previous run against the same server).
    let admin_client = client_from(&admin).await;
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team-a"}})).expect("namespace");
    match Api::<Namespace>::all(admin_client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("namespace team-a: {e:?}"),
    }
    apply(&admin, "deploy/namespaced");
    let team = Cluster {
        client: admin_client.clone(),
        namespace: "team-a".into(),
    };
    let node = format!("pwr-team-node-{}", unique());
    team.create_node(&node).await;
    let pod = format!("team-pod-{}", unique());
    team.create_pod(&pod, Some(&node)).await;
    team.run_pod(&pod).await;
    // A pod elsewhere that the team's wall must not show (nor could it read it).
    let other = Cluster::new(&admin, "not-team").await;
    other.create_pod("hidden", Some(&node)).await;

    let token = kubectl(&admin, &["create", "token", "podwall", "-n", "team-a"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = token_kubeconfig(&admin, token.trim(), dir.path());
    let wall = wall(&kubeconfig, &["team-a"]).await;
    let shown: BTreeMap<String, Value> =
        eventually_within(SLOW_DEADLINE, "the team's pods", || async {
            let want = api_counts(&admin_client, Some("team-a")).await.0;
            let snap = wall.snapshot("").await;
            let pods = snap["pods"].as_array()?;
            (pods.len() == want).then(|| {
                pods.iter()
                    .map(|p| (p["name"].as_str().unwrap_or("").to_string(), p.clone()))
                    .collect()
            })
        })
        .await;
    assert!(
        shown.values().all(|p| p["namespace"] == "team-a"),
        "{shown:?}"
    );
    assert_eq!(shown[&pod]["node"], node.as_str(), "{shown:?}");
    assert_eq!(shown[&pod]["status"], "Running", "{shown:?}");
    // Nodes are not readable: the node's box is there, marked unavailable.
    let (status, page) = wall.get("/").await;
    assert_eq!(status, 200);
    let node_box = page
        .find(&format!("data-node=\"{node}\""))
        .map(|at| &page[at..])
        .expect("the pod's node has a box");
    assert!(
        node_box
            .split("</header>")
            .next()
            .is_some_and(|h| h.contains("node details unavailable")),
        "{node_box}"
    );
    assert!(page.contains(&format!("data-pod=\"team-a/{pod}\"")));
    assert!(
        !page.contains("/hidden\""),
        "another namespace's pod leaked"
    );

    assert_eq!(
        granted_beyond_defaults(&admin, "team-a", token.trim()),
        BTreeSet::from(["pods | [] | [] | [list watch]".to_string()]),
        "the team's token may only list and watch pods in team-a"
    );
}
