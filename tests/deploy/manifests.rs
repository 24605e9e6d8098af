//! `deploy/` and the Dockerfile agree with the server: the Deployment's port is the
//! `--listen` default, its args parse, its probe paths answer, the image runs as the UID
//! the pod demands, and the Service, NetworkPolicy and Ingress reach the named port.
//! (Schema validation is `scripts/check-deploy`; RBAC against the code is another test.)

use std::net::SocketAddr;

use serde_yaml::Value;
use testkit::repo;

use super::{manifests, the};

/// The `--listen` default and env var of `podwall serve`, as its `--help` says them.
fn serve_listen_default() -> (SocketAddr, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podwall"))
        .args(["serve", "--help"])
        .env_clear()
        .output()
        .expect("run podwall serve --help");
    let help = String::from_utf8_lossy(&out.stdout);
    let line = help
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("--listen"))
        .take_while(|l| !l.trim_start().starts_with("--kubeconfig"))
        .collect::<Vec<_>>()
        .join(" ");
    let env = line
        .split("[env: ")
        .nth(1)
        .and_then(|s| s.split(['=', ']']).next())
        .unwrap_or_else(|| panic!("no env in: {line}"));
    let default = line
        .split("[default: ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no default in: {line}"));
    (
        default.parse().expect("default is an address"),
        env.to_owned(),
    )
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The `http` container port.
fn http_port(container: &Value) -> u16 {
    container["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .find(|p| p["name"].as_str() == Some("http"))
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .expect("a container port named http")
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every `matchLabels` entry is among the pod template's labels.
fn selects_pod(selector: &Value, deployment: &Value) -> bool {
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    selector
        .as_mapping()
        .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
}

#[test]
fn top_level_files_are_all_applicable_objects() {
    let dir = repo().join("deploy");
    let docs = manifests(&dir);
    assert!(
        docs.len() >= 7,
        "namespace, SA, role, binding, deployment, service, policy"
    );
    for (file, doc) in &docs {
        let api = doc["apiVersion"].as_str().unwrap_or("");
        let kind = doc["kind"].as_str().unwrap_or("");
        assert!(
            !api.is_empty() && !kind.is_empty(),
            "{}: a document without apiVersion/kind",
            file.display()
        );
        // kubectl apply -f deploy/ cannot apply kustomize's own files.
        assert!(
            !api.starts_with("kustomize.config.k8s.io"),
            "{}: {kind} belongs in a subfolder",
            file.display()
        );
        assert!(
            doc["metadata"]["name"].as_str().is_some(),
            "{}",
            file.display()
        );
    }
    let namespace = the(&docs, "Namespace")["metadata"]["name"]
        .as_str()
        .expect("namespace name");
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or("");
        if !matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding") {
            assert_eq!(
                doc["metadata"]["namespace"].as_str(),
                Some(namespace),
                "{}: {kind} must live in {namespace}",
                file.display()
            );
        }
    }
}

#[test]
fn the_pod_is_locked_down() {
    let docs = manifests(&repo().join("deploy"));
    let deployment = the(&docs, "Deployment");
    let spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1));
    let pod_sc = &spec["securityContext"];
    assert_eq!(pod_sc["runAsNonRoot"].as_bool(), Some(true));
    assert!(pod_sc["runAsUser"].as_u64().is_some_and(|u| u > 0));
    assert_eq!(
        pod_sc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault")
    );
    let c = container(deployment);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(str_list(&sc["capabilities"]["drop"]), ["ALL"]);
    assert!(sc["capabilities"]["add"].is_null(), "no capabilities added");
    for key in ["cpu", "memory"] {
        assert!(
            c["resources"]["requests"][key].as_str().is_some(),
            "request {key}"
        );
    }
    assert!(c["resources"]["limits"]["memory"].as_str().is_some());
    // The token is mounted only into the pod that uses it, not every pod of the SA.
    let sa = the(&docs, "ServiceAccount");
    assert_eq!(sa["automountServiceAccountToken"].as_bool(), Some(false));
    assert_eq!(spec["automountServiceAccountToken"].as_bool(), Some(true));
    assert_eq!(spec["serviceAccountName"], sa["metadata"]["name"]);
}

#[test]
fn the_image_runs_as_the_pod_demands() {
    let docs = manifests(&repo().join("deploy"));
    let deployment = the(&docs, "Deployment");
    let pod_sc = &deployment["spec"]["template"]["spec"]["securityContext"];
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("read Dockerfile");
    let last = |instr: &str| {
        dockerfile
            .lines()
            .filter_map(|l| l.strip_prefix(instr))
            .map(str::trim)
            .next_back()
            .unwrap_or_else(|| panic!("Dockerfile has no {instr}"))
            .to_owned()
    };
    assert_eq!(last("ENTRYPOINT "), r#"["podwall", "serve"]"#);
    assert_eq!(
        last("EXPOSE "),
        http_port(container(deployment)).to_string()
    );
    let user = last("USER ");
    let (uid, gid) = user.split_once(':').unwrap_or((&user, &user));
    assert_eq!(
        Some(uid),
        pod_sc["runAsUser"]
            .as_u64()
            .map(|u| u.to_string())
            .as_deref()
    );
    assert_eq!(
        Some(gid),
        pod_sc["runAsGroup"]
            .as_u64()
            .map(|g| g.to_string())
            .as_deref()
    );
    assert!(
        container(deployment)["command"].is_null(),
        "the image's ENTRYPOINT runs podwall serve"
    );
}

#[test]
fn service_and_policy_reach_the_named_port() {
    let docs = manifests(&repo().join("deploy"));
    let deployment = the(&docs, "Deployment");
    assert!(selects_pod(
        &deployment["spec"]["selector"]["matchLabels"],
        deployment
    ));
    let service = the(&docs, "Service");
    assert_eq!(service["spec"]["type"].as_str(), Some("ClusterIP"));
    assert!(selects_pod(&service["spec"]["selector"], deployment));
    let ports = service["spec"]["ports"].as_sequence().expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["name"].as_str(), Some("http"));
    assert_eq!(ports[0]["targetPort"].as_str(), Some("http"));
    let policy = the(&docs, "NetworkPolicy");
    assert!(selects_pod(
        &policy["spec"]["podSelector"]["matchLabels"],
        deployment
    ));
    assert!(str_list(&policy["spec"]["policyTypes"]).contains(&"Ingress".to_owned()));
    let rules = policy["spec"]["ingress"]
        .as_sequence()
        .expect("ingress rules");
    assert!(!rules.is_empty());
    for rule in rules {
        let ports = rule["ports"]
            .as_sequence()
            .expect("every rule names its port");
        for port in ports {
            assert_eq!(port["port"].as_str(), Some("http"), "only HTTP comes in");
            assert_eq!(port["protocol"].as_str(), Some("TCP"));
        }
    }
    // Egress is closed but for the API server's ports: no DNS, so no webhook leaves
    // until deploy/optional/webhook-egress.yaml is applied.
    assert!(str_list(&policy["spec"]["policyTypes"]).contains(&"Egress".to_owned()));
    for rule in policy["spec"]["egress"]
        .as_sequence()
        .expect("egress rules")
    {
        for port in rule["ports"]
            .as_sequence()
            .expect("every rule names its port")
        {
            assert!(
                matches!(port["port"].as_u64(), Some(443 | 6443)),
                "only the API server's ports go out: {port:?}"
            );
            assert_eq!(port["protocol"].as_str(), Some("TCP"));
        }
    }
}

#[test]
fn ingress_example_routes_sse_to_the_service() {
    let docs = manifests(&repo().join("deploy"));
    let service = the(&docs, "Service");
    let ingress_docs = manifests(&repo().join("deploy/ingress"));
    let ingress = the(&ingress_docs, "Ingress");
    assert_eq!(
        ingress["metadata"]["namespace"],
        service["metadata"]["namespace"]
    );
    let annotations = &ingress["metadata"]["annotations"];
    let annotation = |key: &str| {
        annotations[format!("nginx.ingress.kubernetes.io/{key}").as_str()]
            .as_str()
            .unwrap_or_else(|| panic!("annotation {key}"))
            .to_owned()
    };
    assert_eq!(annotation("proxy-buffering"), "off");
    assert_eq!(annotation("proxy-http-version"), "1.1");
    for key in ["proxy-read-timeout", "proxy-send-timeout"] {
        let secs: u64 = annotation(key).parse().expect("seconds");
        assert!(secs >= 3600, "{key}: SSE streams stay open for hours");
    }
    let rules = ingress["spec"]["rules"].as_sequence().expect("rules");
    for rule in rules {
        for path in rule["http"]["paths"].as_sequence().expect("paths") {
            let backend = &path["backend"]["service"];
            assert_eq!(backend["name"], service["metadata"]["name"]);
            assert_eq!(backend["port"]["name"].as_str(), Some("http"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_args_port_and_probes_match_the_server() {
    let docs = manifests(&repo().join("deploy"));
    let deployment = the(&docs, "Deployment");
    let c = container(deployment);
    let port = http_port(c);
    let (default_listen, listen_env) = serve_listen_default();
    assert_eq!(
        port,
        default_listen.port(),
        "containerPort http is the --listen default"
    );
    let mut env: Vec<(String, String)> = c["env"]
        .as_sequence()
        .map(|vars| {
            vars.iter()
                .map(|v| {
                    let name = v["name"].as_str().expect("env name").to_owned();
                    let value = v["value"].as_str().expect("literal env value").to_owned();
                    (name, value)
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some((_, listen)) = env.iter().find(|(k, _)| *k == listen_env) {
        let addr: SocketAddr = listen.parse().expect("listen env is an address");
        assert_eq!(addr.port(), port, "{listen_env} listens on the http port");
    }
    let probes: Vec<String> = ["readinessProbe", "livenessProbe"]
        .iter()
        .map(|probe| {
            let get = &c[*probe]["httpGet"];
            let probe_port = &get["port"];
            assert!(
                probe_port.as_str() == Some("http") || probe_port.as_u64() == Some(port.into()),
                "{probe} targets the http port"
            );
            get["path"].as_str().expect("probe path").to_owned()
        })
        .collect();
    assert_eq!(probes, ["/readyz", "/healthz"]);

    // Run the binary the way the image's ENTRYPOINT and the pod spec do; only the listen
    // address (loopback, any port) and cluster access differ.
    let (_cluster, kubeconfig) = super::cluster().await;
    env.retain(|(k, _)| *k != listen_env);
    env.push((listen_env, "127.0.0.1:0".into()));
    env.push((
        "PODWALL_KUBECONFIG".into(),
        kubeconfig.display().to_string(),
    ));
    let mut args = vec!["serve".to_owned()];
    args.extend(str_list(&c["args"]));
    let (_process, url) = super::serve(&args, &env).await;
    let http = reqwest::Client::new();
    for path in &probes {
        testkit::wait_for_status(&http, &format!("{url}{path}"), 200, testkit::DEADLINE).await;
    }
    // The probes are open, and so is everything else without --auth-token-file.
    testkit::wait_for_status(
        &http,
        &format!("{url}/api/snapshot"),
        200,
        testkit::DEADLINE,
    )
    .await;
}
