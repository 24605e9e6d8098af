//! SIM-ONLY: trouble on demand (`/_sim/pods/…`, `/_sim/nodes/…`, `SimHandle`), the events
//! it records through both events APIs, the churn's share of trouble, and the events'
//! retention (`/_sim/events`).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use testkit::{Stack, eventually, eventually_within};

async fn call(method: Method, url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .expect("answered");
    let code = resp.status().as_u16();
    (code, resp.json::<Value>().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> Value {
    let (code, body) = call(Method::GET, url).await;
    assert_eq!(code, 200, "GET {url}: {body}");
    body
}

/// The items of a list, with a field selector (`=` encoded).
async fn items(url: &str, selector: &str) -> Vec<Value> {
    let url = format!("{url}?fieldSelector={}", selector.replace('=', "%3D"));
    get(&url).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A Running, Ready pod of the generated cluster: (namespace, name, node).
async fn running_pod(base: &str) -> (String, String, String) {
    let pods = items(&format!("{base}/api/v1/pods"), "status.phase=Running").await;
    let pod = pods
        .iter()
        .find(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .expect("a ready pod");
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&pod["metadata"]["namespace"]),
        s(&pod["metadata"]["name"]),
        s(&pod["spec"]["nodeName"]),
    )
}

fn condition<'a>(obj: &'a Value, kind: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_has_the_schedulers_condition_and_failed_scheduling_events() {
    let stack = Stack::sim_only(12, 60, 7).await;
    let base = stack.sim().url();
    let (ns, name, _) = running_pod(&base).await;
    let control = format!("{base}/_sim/pods/{ns}/{name}/unschedulable");
    let (code, pod) = call(Method::POST, &control).await;
    assert_eq!(code, 200, "{pod}");
    assert!(pod["spec"]["nodeName"].is_null(), "{pod}");
    assert_eq!(pod["status"]["phase"], "Pending");
    let scheduled = condition(&pod, "PodScheduled");
    assert_eq!(
        (scheduled["status"].as_str(), scheduled["reason"].as_str()),
        (Some("False"), Some("Unschedulable"))
    );
    let message = scheduled["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        message,
        "0/12 nodes are available: 11 Insufficient cpu, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/12 nodes are available: 1 Preemption is not helpful for scheduling, 11 No preemption victims found for incoming pod."
    );

    // The scheduler's event, through events.k8s.io/v1 as it wrote it.
    let v1 = format!("{base}/apis/events.k8s.io/v1/namespaces/{ns}/events");
    let selector = format!("regarding.name={name},reason=FailedScheduling");
    let events = items(&v1, &selector).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["type"], "Warning");
    assert_eq!(e["note"].as_str(), Some(message.as_str()));
    assert_eq!(e["reportingController"], "default-scheduler");
    assert_eq!(e["action"], "Scheduling");
    assert!(
        e["eventTime"].is_string() && e.get("series").is_none(),
        "{e}"
    );

    // The scheduler tries again: the same event, its series counting.
    let (code, _) = call(Method::POST, &control).await;
    assert_eq!(code, 200);
    let events = items(&v1, &selector).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["series"]["count"], 2);

    // Ended: scheduled, running, a Scheduled event; the FailedScheduling one stays.
    let (code, pod) = call(Method::DELETE, &control).await;
    assert_eq!(code, 200, "{pod}");
    assert!(pod["spec"]["nodeName"].is_string(), "{pod}");
    assert_eq!(pod["status"]["phase"], "Running");
    let core = format!("{base}/api/v1/namespaces/{ns}/events");
    let reasons: Vec<Value> = items(&core, &format!("involvedObject.name={name}"))
        .await
        .iter()
        .map(|e| e["reason"].clone())
        .collect();
    assert!(reasons.contains(&"Scheduled".into()), "{reasons:?}");
    assert!(reasons.contains(&"FailedScheduling".into()), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_has_its_last_termination_growing_restarts_and_back_off_events() {
    let stack = Stack::sim_only(3, 20, 7).await;
    let base = stack.sim().url();
    let (ns, name, node) = running_pod(&base).await;
    let restarts = |pod: &Value| pod["status"]["containerStatuses"][0]["restartCount"].as_i64();
    let before = get(&format!("{base}/api/v1/namespaces/{ns}/pods/{name}")).await;
    let control = format!("{base}/_sim/pods/{ns}/{name}/crash-loop?reason=OOMKilled");
    let (code, pod) = call(Method::POST, &control).await;
    assert_eq!(code, 200, "{pod}");
    let c = &pod["status"]["containerStatuses"][0];
    let container = c["name"].as_str().unwrap_or_default();
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
    let waiting = c["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        waiting.starts_with("back-off ")
            && waiting.ends_with(&format!(
                " restarting failed container={container} pod={name}_{ns}({uid})"
            )),
        "{waiting}"
    );
    let last = &c["lastState"]["terminated"];
    assert_eq!(
        (last["reason"].as_str(), last["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137))
    );
    assert!(
        last["startedAt"].is_string() && last["finishedAt"].is_string(),
        "{last}"
    );
    assert_eq!(restarts(&pod), restarts(&before).map(|r| r + 1));

    let core = format!("{base}/api/v1/namespaces/{ns}/events");
    let selector = format!("involvedObject.name={name},reason=BackOff");
    let back_off = items(&core, &selector).await;
    assert_eq!(back_off.len(), 1, "{back_off:?}");
    let e = &back_off[0];
    assert_eq!(
        e["message"].as_str(),
        Some(
            format!("Back-off restarting failed container {container} in pod {name}_{ns}({uid})")
                .as_str()
        )
    );
    assert_eq!(e["source"]["component"], "kubelet");
    assert_eq!(e["source"]["host"].as_str(), Some(node.as_str()));
    assert_eq!(e["count"], 1);
    assert_eq!(
        e["involvedObject"]["fieldPath"].as_str(),
        Some(format!("spec.containers{{{container}}}").as_str())
    );
    // The kernel's OOM kill, reported about the node by node-problem-detector.
    let oom = items(
        &format!("{base}/api/v1/namespaces/default/events"),
        &format!("involvedObject.name={node},reason=OOMKilling"),
    )
    .await;
    assert_eq!(oom.len(), 1, "{oom:?}");
    assert_eq!(oom[0]["source"]["component"], "kernel-monitor");
    assert_eq!(oom[0]["type"], "Warning");

    // It crashes again: one more restart, the same event counting.
    let (_, pod) = call(Method::POST, &control).await;
    assert_eq!(restarts(&pod), restarts(&before).map(|r| r + 2));
    let back_off = items(&core, &selector).await;
    assert_eq!(back_off[0]["count"], 2, "{back_off:?}");

    // Deleting the pod leaves its events, as on a real cluster.
    let (code, _) = call(
        Method::DELETE,
        &format!("{base}/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(items(&core, &selector).await.len(), 1);
    let (code, status) = call(Method::POST, &control).await;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_pressure_comes_with_its_condition_taint_and_events_and_goes() {
    let stack = Stack::sim_only(3, 20, 7).await;
    let base = stack.sim().url();
    let node = "worker-1";
    let handle = stack.sim().handle();
    handle.disk_pressure(node, true).expect("disk pressure on");
    let n = get(&format!("{base}/api/v1/nodes/{node}")).await;
    let c = condition(&n, "DiskPressure");
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("True"), Some("KubeletHasDiskPressure"))
    );
    assert!(
        n["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| {
                t["key"] == "node.kubernetes.io/disk-pressure" && t["effect"] == "NoSchedule"
            })),
        "{n}"
    );
    let events_url = format!("{base}/api/v1/namespaces/default/events");
    let reasons = |events: Vec<Value>| -> Vec<String> {
        let mut r: Vec<String> = events
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect();
        r.sort();
        r
    };
    let selector = format!("involvedObject.name={node}");
    assert_eq!(
        reasons(items(&events_url, &selector).await),
        ["EvictionThresholdMet", "NodeHasDiskPressure"]
    );

    // Off again over HTTP.
    let (code, n) = call(
        Method::DELETE,
        &format!("{base}/_sim/nodes/{node}/disk-pressure"),
    )
    .await;
    assert_eq!(code, 200, "{n}");
    assert_eq!(condition(&n, "DiskPressure")["status"], "False");
    assert!(n["spec"].get("taints").is_none(), "{n}");
    assert_eq!(
        reasons(items(&events_url, &selector).await),
        [
            "EvictionThresholdMet",
            "NodeHasDiskPressure",
            "NodeHasNoDiskPressure"
        ]
    );

    // NotReady: the node lifecycle controller's taints, its Normal event about the node.
    let (code, n) = call(Method::POST, &format!("{base}/_sim/nodes/{node}/not-ready")).await;
    assert_eq!(code, 200, "{n}");
    assert_eq!(condition(&n, "Ready")["status"], "False");
    let taints: Vec<(String, String)> = n["spec"]["taints"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    (
                        t["key"].as_str().unwrap_or_default().into(),
                        t["effect"].as_str().unwrap_or_default().into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        taints,
        [
            (
                "node.kubernetes.io/not-ready".to_string(),
                "NoSchedule".to_string()
            ),
            (
                "node.kubernetes.io/not-ready".to_string(),
                "NoExecute".to_string()
            )
        ]
    );
    let not_ready = items(&events_url, &format!("{selector},reason=NodeNotReady")).await;
    assert_eq!(not_ready.len(), 1);
    assert_eq!(not_ready[0]["type"], "Normal");
    assert_eq!(not_ready[0]["source"]["component"], "node-controller");

    let (code, status) = call(Method::POST, &format!("{base}/_sim/nodes/{node}/sad")).await;
    assert_eq!(code, 400, "{status}");
    let (code, _) = call(
        Method::POST,
        &format!("{base}/_sim/nodes/nowhere/disk-pressure"),
    )
    .await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_expire_after_their_ttl_and_stay_bounded() {
    let stack = Stack::sim_only(3, 20, 7).await;
    let base = stack.sim().url();
    let handle = stack.sim().handle();
    for node in ["worker-0", "worker-1", "worker-2"] {
        for _ in 0..2 {
            handle
                .node_trouble(node, podwall::sim::NodeTrouble::OomKill, true)
                .expect("oom kill");
        }
    }
    let all = format!("{base}/api/v1/events");
    assert_eq!(items(&all, "reason=OOMKilling").await.len(), 3);
    let (code, state) = call(Method::POST, &format!("{base}/_sim/events?max=2")).await;
    assert_eq!(code, 200, "{state}");
    assert_eq!(state["events"]["max"], 2);
    assert!(
        state["store"]["events"].as_u64().is_some_and(|n| n <= 2),
        "{state}"
    );
    let (code, _) = call(Method::POST, &format!("{base}/_sim/events?ttl=0.5")).await;
    assert_eq!(code, 200);
    handle
        .node_trouble("worker-0", podwall::sim::NodeTrouble::OomKill, true)
        .expect("oom kill");
    eventually_within(Duration::from_secs(10), "every event expired", || {
        let all = all.clone();
        async move { items(&all, "").await.is_empty().then_some(()) }
    })
    .await;
    let (code, _) = call(Method::POST, &format!("{base}/_sim/events?ttl=-1")).await;
    assert_eq!(code, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_churn_shows_trouble_with_warning_events_at_a_bounded_rate() {
    let stack = Stack::sim_only(12, 240, 3).await;
    let base = stack.sim().url();
    // The generated cluster's pending pods already have the scheduler's events.
    let pending = items(
        &format!("{base}/api/v1/pods"),
        "status.phase=Pending,spec.nodeName=",
    )
    .await;
    let failed = items(&format!("{base}/api/v1/events"), "reason=FailedScheduling").await;
    assert!(
        !pending.is_empty() && failed.len() >= pending.len().min(100),
        "{} pending, {} events",
        pending.len(),
        failed.len()
    );

    stack.control("churn?rate=200").await;
    let warnings = format!("{base}/apis/events.k8s.io/v1/events");
    let reasons = eventually("the churn's warnings", || {
        let warnings = warnings.clone();
        async move {
            let mut reasons: Vec<String> = items(&warnings, "type=Warning")
                .await
                .iter()
                .filter_map(|e| e["reason"].as_str().map(str::to_string))
                .collect();
            reasons.sort();
            reasons.dedup();
            let wanted = ["BackOff", "FailedScheduling", "Failed", "Unhealthy"];
            wanted
                .iter()
                .all(|w| reasons.iter().any(|r| r == w))
                .then_some(reasons)
        }
    })
    .await;
    assert!(reasons.iter().all(|r| !r.is_empty()), "{reasons:?}");
    stack.control("churn?rate=0").await;
    let state = get(&format!("{base}/_sim/state")).await;
    // At most the burst plus 20 a second (plus the generated cluster's) in these seconds.
    assert!(
        state["store"]["events"].as_u64().is_some_and(|n| n < 600),
        "{state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ongoing_trouble_repeats_until_it_is_ended() {
    let stack = Stack::sim_only(3, 20, 7).await;
    let base = stack.sim().url();
    let (ns, name, _) = running_pod(&base).await;
    let handle = stack.sim().handle();
    handle
        .crash_loop(&ns, &name, podwall::sim::Termination::Error)
        .expect("crash loop");
    let core = format!("{base}/api/v1/namespaces/{ns}/events");
    let selector = format!("involvedObject.name={name},reason=BackOff");
    // The kubelet restarts it again and records the BackOff again (every 10 s).
    let pod_url = format!("{base}/api/v1/namespaces/{ns}/pods/{name}");
    eventually_within(Duration::from_secs(25), "a repeated BackOff", || {
        let (core, selector, pod_url) = (core.clone(), selector.clone(), pod_url.clone());
        async move {
            let count = items(&core, &selector).await.first()?["count"].as_i64()?;
            let pod = get(&pod_url).await;
            let restarts = pod["status"]["containerStatuses"][0]["restartCount"].as_i64()?;
            (count >= 2 && restarts >= 2).then_some(())
        }
    })
    .await;
    handle.pod_healthy(&ns, &name).expect("healthy");
    let pod = get(&pod_url).await;
    assert_eq!(condition(&pod, "Ready")["status"], "True");
    let settled = items(&core, &selector).await[0]["count"].clone();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(items(&core, &selector).await[0]["count"], settled);
}
