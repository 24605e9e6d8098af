//! The one word `kubectl get pods` shows in its STATUS column, and its colour class.

use std::sync::Arc;

use super::{LastRestart, Ready, StatusClass};
use crate::k8s::{PodFields, StateReason};

pub(super) fn classify(status: &str, ready: Ready) -> StatusClass {
    let all_ready = ready.all();
    match status {
        "Running" if all_ready => StatusClass::Ok,
        "Running" | "NotReady" => StatusClass::NotReady,
        "Pending" | "ContainerCreating" | "PodInitializing" => StatusClass::Starting,
        s if s.starts_with("Init:") && !is_bad_reason(&s[5..]) => StatusClass::Starting,
        "Completed" | "Succeeded" => StatusClass::Done,
        "Terminating" => StatusClass::Terminating,
        "Unknown" => StatusClass::Unknown,
        _ => StatusClass::Bad,
    }
}

fn is_bad_reason(reason: &str) -> bool {
    reason.contains("Err")
        || reason.contains("BackOff")
        || reason.contains("Error")
        || reason.starts_with("ExitCode")
        || reason.starts_with("Signal")
        || reason == "OOMKilled"
}

/// What [`derive`] reads off a pod's status.
pub(super) struct Derived<'a> {
    /// The STATUS column.
    pub status: String,
    /// Ready app containers.
    pub ready: usize,
    /// Restarts of the containers the status comes from.
    pub restarts: i64,
    /// Why, in words, when the status has a why: see `PodView::message`.
    pub message: Option<&'a str>,
}

/// The STATUS column of `kubectl get pods`, plus ready containers, restarts and why.
///
/// Follows `printPod` in kubernetes `pkg/printers/internalversion/printers.go`:
/// phase, overridden by `status.reason`, by the first unfinished init container
/// (`Init:<reason>`, `Init:N/M`), then by app container waiting/terminated reasons
/// (scanned last to first), and `Terminating` whenever a deletion timestamp is set.
/// The message follows the reason: whichever container or field gave the status its
/// word gives the message; a pod the scheduler cannot place says why in its
/// `PodScheduled` condition.
pub(super) fn derive(pod: &PodFields) -> Derived<'_> {
    let status = &pod.status;
    let mut reason = status.phase.clone().unwrap_or_default();
    let mut message = status
        .conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        .and_then(|c| c.message.as_deref());
    if let Some(r) = status.reason.as_deref().filter(|r| !r.is_empty()) {
        reason = r.to_owned();
        message = status.message.as_deref();
    }
    let mut restarts: i64 = 0;
    let mut ready_containers = 0;
    let mut initializing = false;
    let init_total = pod.spec.init_containers.len();
    for (i, c) in status.init_container_statuses.iter().enumerate() {
        restarts += c.restart_count;
        let is_sidecar = pod
            .spec
            .init_containers
            .get(i)
            .and_then(|s| s.restart_policy.as_deref())
            == Some("Always");
        if is_sidecar && c.started == Some(true) {
            continue;
        }
        if let Some(t) = &c.state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            message = t.message.as_deref();
            reason = if !t.reason.is_empty() {
                format!("Init:{}", t.reason)
            } else if t.signal != 0 {
                format!("Init:Signal:{}", t.signal)
            } else {
                format!("Init:ExitCode:{}", t.exit_code)
            };
        } else if let Some(w) = c
            .state
            .waiting
            .as_ref()
            .filter(|w| !w.reason.is_empty() && w.reason != "PodInitializing")
        {
            reason = format!("Init:{}", w.reason);
            message = w.message.as_deref();
        } else {
            reason = format!(
                "Init:{i}/{}",
                init_total.max(status.init_container_statuses.len())
            );
        }
        initializing = true;
        break;
    }
    let initialized = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = 0;
        let mut has_running = false;
        for c in status.container_statuses.iter().rev() {
            restarts += c.restart_count;
            if let Some(w) = c.state.waiting.as_ref().filter(|w| !w.reason.is_empty()) {
                reason = w.reason.clone();
                message = w.message.as_deref();
            } else if let Some(t) = &c.state.terminated {
                reason = terminated_reason(t);
                message = t.message.as_deref();
            } else if c.ready && c.state.running.is_some() {
                has_running = true;
                ready_containers += 1;
            }
        }
        if reason == "Completed" && has_running {
            let ready_cond = status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if ready_cond { "Running" } else { "NotReady" }.to_owned();
            message = None;
        }
    }
    if reason == "Succeeded" {
        reason = "Completed".to_owned();
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown"
        } else {
            "Terminating"
        }
        .to_owned();
        message = None;
    }
    if reason.is_empty() {
        reason = "Unknown".to_owned();
    }
    Derived {
        status: reason,
        ready: ready_containers,
        restarts,
        message,
    }
}

/// How the most recent restart of any container ended: the latest `lastState.terminated`
/// of a container that has restarted (init containers too: sidecars restart).
pub(super) fn last_restart(pod: &PodFields) -> Option<LastRestart> {
    let status = &pod.status;
    status
        .container_statuses
        .iter()
        .chain(&status.init_container_statuses)
        .filter(|c| c.restart_count > 0)
        .filter_map(|c| c.last_state.terminated.as_ref())
        .max_by_key(|t| t.finished_at.as_ref().map(|t| t.0))
        .map(|t| LastRestart {
            at: t.finished_at.as_ref().map(|t| t.0),
            reason: Arc::from(terminated_reason(t)),
            exit_code: t.exit_code,
        })
}

fn terminated_reason(t: &StateReason) -> String {
    if !t.reason.is_empty() {
        t.reason.clone()
    } else if t.signal != 0 {
        format!("Signal:{}", t.signal)
    } else {
        format!("ExitCode:{}", t.exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::super::StatusClass;
    use crate::state::fixtures::pod_from_json;

    fn cs(state: serde_json::Value, ready: bool, restarts: i64) -> serde_json::Value {
        serde_json::json!({"name": "a", "ready": ready, "restartCount": restarts, "state": state})
    }

    #[test]
    fn running_and_ready() {
        let p = pod_from_json(serde_json::json!({"status": {"phase": "Running",
            "containerStatuses": [cs(serde_json::json!({"running": {}}), true, 2)]}}));
        assert_eq!(
            (&*p.status, p.ready.to_string().as_str(), p.restarts),
            ("Running", "1/1", 2)
        );
        assert_eq!(p.status_class(), StatusClass::Ok);
    }

    #[test]
    fn waiting_reasons_win() {
        for reason in [
            "ContainerCreating",
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
        ] {
            let p = pod_from_json(serde_json::json!({"status": {"phase": "Pending",
                "containerStatuses": [cs(serde_json::json!({"waiting": {"reason": reason}}), false, 0)]}}));
            assert_eq!(&*p.status, reason);
            assert_eq!(p.ready.to_string(), "0/1");
        }
    }

    #[test]
    fn terminated_reasons() {
        for (reason, code, want) in [
            ("Completed", 0, "Completed"),
            ("Error", 1, "Error"),
            ("OOMKilled", 137, "OOMKilled"),
            ("", 3, "ExitCode:3"),
        ] {
            let p = pod_from_json(serde_json::json!({"status": {"phase": "Running",
                "containerStatuses": [cs(serde_json::json!({"terminated": {"reason": reason, "exitCode": code}}), false, 0)]}}));
            assert_eq!(&*p.status, want);
        }
    }

    #[test]
    fn phases() {
        assert_eq!(
            &*pod_from_json(serde_json::json!({"status": {"phase": "Succeeded"}})).status,
            "Completed"
        );
        assert_eq!(
            &*pod_from_json(serde_json::json!({"status": {"phase": "Failed"}})).status,
            "Failed"
        );
        assert_eq!(
            &*pod_from_json(serde_json::json!({"status": {"phase": "Unknown"}})).status,
            "Unknown"
        );
        assert_eq!(
            &*pod_from_json(serde_json::json!({"status": {"phase": "Pending"}})).status,
            "Pending"
        );
        assert_eq!(
            &*pod_from_json(
                serde_json::json!({"status": {"phase": "Failed", "reason": "Evicted"}})
            )
            .status,
            "Evicted"
        );
        assert_eq!(&*pod_from_json(serde_json::json!({})).status, "Unknown");
    }

    #[test]
    fn init_containers() {
        let p = pod_from_json(serde_json::json!({
            "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i1"}, {"name": "i2"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                cs(serde_json::json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0),
                cs(serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}}), false, 4)]}}));
        assert_eq!(&*p.status, "Init:CrashLoopBackOff");
        assert_eq!(p.restarts, 4);
        assert_eq!(p.status_class(), StatusClass::Bad);
        let p = pod_from_json(serde_json::json!({
            "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i1"}, {"name": "i2"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                cs(serde_json::json!({"terminated": {"exitCode": 0}}), false, 0),
                cs(serde_json::json!({"running": {}}), false, 0)]}}));
        assert_eq!(&*p.status, "Init:1/2");
        assert_eq!(p.status_class(), StatusClass::Starting);
    }

    #[test]
    fn terminating_wins() {
        let p = pod_from_json(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running", "containerStatuses": [cs(serde_json::json!({"running": {}}), true, 0)]}}));
        assert_eq!(&*p.status, "Terminating");
    }
}
