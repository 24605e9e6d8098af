//! The simulator's own control surface: in-process ([`SimHandle`]) and over HTTP under
//! `/_sim/` (fault injection, churn rate, trouble on given pods and nodes, event
//! retention, state). Faults never apply to these paths.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::SimContext;
use super::cluster::Termination;
use super::faults::ErrorKind;
use super::query::query_pairs;
use super::resource::Resource;
use super::status::ApiError;
use super::store::Stored;
use super::trouble::{NodeTrouble, Origin, PodTrouble};

/// How far the resourceVersion jumps on a simulated restart (etcd restore with
/// `--bump-revision`).
pub const RESTART_BUMP: u64 = 1_000_000;

/// Drives a running simulator in-process: faults, churn, state.
#[derive(Clone)]
pub struct SimHandle(pub(super) Arc<SimContext>);

impl SimHandle {
    /// Cuts every open watch mid-line.
    pub fn cut_watches(&self) {
        tracing::info!("fault: cutting every watch");
        self.0.faults.cut_watches();
    }

    /// Drops the history: resumes and continue tokens from before get 410.
    pub fn compact(&self) {
        tracing::info!("fault: compacting history");
        self.0.store.compact();
    }

    /// Answers API requests with 500 or 429, `count` times or for `duration`.
    pub fn fail_requests(&self, kind: ErrorKind, count: Option<u32>, duration: Option<Duration>) {
        tracing::info!(?kind, ?count, ?duration, "fault: failing requests");
        self.0.faults.fail_requests(kind, count, duration);
    }

    /// Answers every request on `resource` with 403.
    pub fn forbid(&self, resource: Resource) {
        tracing::info!(resource = resource.plural(), "fault: forbidding resource");
        self.0.faults.forbid(resource);
    }

    /// Keeps watch streams open but silent until [`SimHandle::clear`].
    pub fn stall(&self) {
        tracing::info!("fault: stalling watches");
        self.0.faults.set_stall(true);
    }

    /// Simulates an apiserver restart after an etcd restore: the resourceVersion jumps
    /// ahead, history is compacted (old versions get 410), every watch is cut.
    pub fn restart(&self) {
        tracing::info!("fault: restart with a new resourceVersion history");
        self.0.store.restart(RESTART_BUMP);
        self.0.faults.cut_watches();
    }

    /// Clears every fault.
    pub fn clear(&self) {
        tracing::info!("faults cleared");
        self.0.faults.clear();
    }

    /// Sets the churn rate (changes per second; 0 stops).
    pub fn set_churn(&self, rate: f64) {
        tracing::info!(rate, "churn rate changed");
        self.0.churn_rate.send_replace(rate.max(0.0));
    }

    /// Installs, removes or breaks the simulated metrics-server (`metrics.k8s.io`).
    pub fn set_metrics_mode(&self, mode: super::MetricsMode) {
        tracing::info!(?mode, "metrics API mode changed");
        self.0.metrics.set_mode(mode);
    }

    /// Puts a pod into `trouble`: its status as a real cluster shows it and the events
    /// the scheduler or kubelet records, repeated every 10 s (a crash loop also restarts
    /// again) until [`SimHandle::pod_healthy`]. Errors: no such pod, a terminating pod, a
    /// trouble other than unschedulable on an unscheduled pod.
    pub fn pod_trouble(
        &self,
        namespace: &str,
        name: &str,
        trouble: PodTrouble,
    ) -> Result<(), String> {
        tracing::info!(namespace, name, ?trouble, "trouble: pod");
        self.0
            .pod_trouble(namespace, name, trouble, Origin::Control)
            .map(drop)
            .map_err(|e| e.message)
    }

    /// Makes a pod unschedulable: Pending, `PodScheduled` False `Unschedulable` with the
    /// scheduler's message, a `FailedScheduling` event repeated with a growing count.
    pub fn make_unschedulable(&self, namespace: &str, name: &str) -> Result<(), String> {
        self.pod_trouble(namespace, name, PodTrouble::Unschedulable)
    }

    /// Makes a scheduled pod crash-loop: `CrashLoopBackOff`, `lastState.terminated`
    /// ending as `how`, restarts growing, `BackOff` events.
    pub fn crash_loop(&self, namespace: &str, name: &str, how: Termination) -> Result<(), String> {
        self.pod_trouble(namespace, name, PodTrouble::CrashLoop(how))
    }

    /// Ends a pod's trouble: scheduled if it was not (a `Scheduled` event), Running, Ready.
    pub fn pod_healthy(&self, namespace: &str, name: &str) -> Result<(), String> {
        tracing::info!(namespace, name, "trouble over: pod");
        self.0
            .pod_healthy(namespace, name)
            .map(drop)
            .map_err(|e| e.message)
    }

    /// Starts (`on`) or ends a node's trouble: its condition, the taints the node
    /// lifecycle controller puts, the kubelet's or controller's events.
    pub fn node_trouble(&self, name: &str, trouble: NodeTrouble, on: bool) -> Result<(), String> {
        tracing::info!(name, ?trouble, on, "trouble: node");
        self.0
            .node_trouble(name, trouble, on, Origin::Control)
            .map(drop)
            .map_err(|e| e.message)
    }

    /// Puts a node under DiskPressure (`on`) or takes it off.
    pub fn disk_pressure(&self, name: &str, on: bool) -> Result<(), String> {
        self.node_trouble(name, NodeTrouble::DiskPressure, on)
    }

    /// Sets how long events live after their last write (the apiserver's `--event-ttl`)
    /// and how many are kept at most.
    pub fn set_event_retention(&self, ttl: Duration, max: usize) {
        tracing::info!(?ttl, max, "event retention changed");
        self.0.retention.configure(ttl, max);
        self.0.retention.sweep(&self.0.store);
    }

    /// Counts, resourceVersion, active faults and churn rate as JSON.
    pub fn state(&self) -> serde_json::Value {
        let (ttl, max) = self.0.retention.settings();
        json!({
            "events": {"ttlSeconds": ttl.as_secs_f64(), "max": max},
            "store": self.0.store.stats(),
            "faults": self.0.faults.summary(),
            "churn": *self.0.churn_rate.borrow(),
            "metricsApi": self.0.metrics.mode(),
            "traffic": self.0.traffic.summary(),
        })
    }
}

fn ok(handle: &SimHandle) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(handle.state().to_string())
}

fn param(req: &HttpRequest, name: &str) -> Result<Option<String>, ApiError> {
    Ok(query_pairs(req.query_string())?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v))
}

fn parse<T: std::str::FromStr>(req: &HttpRequest, name: &str) -> Result<Option<T>, ApiError> {
    param(req, name)?
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| ApiError::bad_request(format!("invalid {name}={v:?}")))
        })
        .transpose()
}

/// `POST /_sim/faults/{fault}` and `POST /_sim/churn`, `GET /_sim/state`.
pub async fn fault(
    req: HttpRequest,
    path: web::Path<String>,
    ctx: web::Data<SimContext>,
) -> HttpResponse {
    let handle = SimHandle(ctx.into_inner());
    let result = (|| -> Result<(), ApiError> {
        match path.as_str() {
            "cut-watches" => handle.cut_watches(),
            "compact" => handle.compact(),
            "stall" => handle.stall(),
            "restart" => handle.restart(),
            "clear" => handle.clear(),
            "errors" => {
                let kind = match parse::<u16>(&req, "code")?.unwrap_or(500) {
                    500 => ErrorKind::Internal,
                    429 => ErrorKind::TooManyRequests,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "code must be 500 or 429, not {other}"
                        )));
                    }
                };
                let count = parse::<u32>(&req, "count")?;
                let seconds = parse::<f64>(&req, "seconds")?
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64);
                handle.fail_requests(kind, count, seconds);
            }
            "forbid" => {
                let name = param(&req, "resource")?.unwrap_or_default();
                let resource = Resource::from_plural(&name).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "resource must be pods, nodes, namespaces or events, not {name:?}"
                    ))
                })?;
                handle.forbid(resource);
            }
            other => return Err(ApiError::no_route(&format!("/_sim/faults/{other}"))),
        }
        Ok(())
    })();
    match result {
        Ok(()) => ok(&handle),
        Err(e) => e.to_response(),
    }
}

/// `POST /_sim/churn?rate=R`.
pub async fn churn(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    let handle = SimHandle(ctx.into_inner());
    match parse::<f64>(&req, "rate") {
        Ok(Some(rate)) if rate.is_finite() && rate >= 0.0 => {
            handle.set_churn(rate);
            ok(&handle)
        }
        Ok(_) => ApiError::bad_request("rate must be a number >= 0").to_response(),
        Err(e) => e.to_response(),
    }
}

/// `POST /_sim/metrics?mode=serving|absent|unavailable`.
pub async fn metrics(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    let handle = SimHandle(ctx.into_inner());
    match param(&req, "mode") {
        Ok(Some(mode)) => match super::MetricsMode::parse(&mode) {
            Some(mode) => {
                handle.set_metrics_mode(mode);
                ok(&handle)
            }
            None => ApiError::bad_request(format!(
                "mode must be serving, absent or unavailable, not {mode:?}"
            ))
            .to_response(),
        },
        Ok(None) => ApiError::bad_request("mode is required").to_response(),
        Err(e) => e.to_response(),
    }
}

fn object(stored: &Stored) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(stored.bytes.clone())
}

/// `POST /_sim/pods/{namespace}/{name}/{trouble}` starts a pod's trouble, `DELETE` ends
/// it; both answer the pod.
pub async fn pod(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    ctx: web::Data<SimContext>,
) -> HttpResponse {
    let (namespace, name, segment) = path.into_inner();
    let ctx = ctx.into_inner();
    let result = (|| {
        let trouble = PodTrouble::parse(&segment, param(&req, "reason")?.as_deref())?;
        if req.method() == actix_web::http::Method::DELETE {
            tracing::info!(namespace, name, "trouble over: pod");
            ctx.pod_healthy(&namespace, &name)
        } else {
            tracing::info!(namespace, name, ?trouble, "trouble: pod");
            ctx.pod_trouble(&namespace, &name, trouble, Origin::Control)
        }
    })();
    match result {
        Ok(stored) => object(&stored),
        Err(e) => e.to_response(),
    }
}

/// `POST /_sim/nodes/{name}/{trouble}` starts a node's trouble, `DELETE` ends it; both
/// answer the node.
pub async fn node(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    ctx: web::Data<SimContext>,
) -> HttpResponse {
    let (name, segment) = path.into_inner();
    let on = req.method() != actix_web::http::Method::DELETE;
    let result = NodeTrouble::parse(&segment).and_then(|trouble| {
        if trouble == NodeTrouble::OomKill && !on {
            return Err(ApiError::bad_request(
                "an OOM kill is an event: there is nothing to end",
            ));
        }
        tracing::info!(name, ?trouble, on, "trouble: node");
        ctx.node_trouble(&name, trouble, on, Origin::Control)
    });
    match result {
        Ok(stored) => object(&stored),
        Err(e) => e.to_response(),
    }
}

/// `POST /_sim/events?ttl=SECONDS&max=N`: event retention.
pub async fn events(req: HttpRequest, ctx: web::Data<SimContext>) -> HttpResponse {
    let handle = SimHandle(ctx.into_inner());
    let (ttl, max) = handle.0.retention.settings();
    let parsed = parse::<f64>(&req, "ttl").and_then(|t| Ok((t, parse::<usize>(&req, "max")?)));
    match parsed {
        Ok((t, m)) if t.is_none_or(|t| t.is_finite() && t > 0.0) && m.is_none_or(|m| m > 0) => {
            handle.set_event_retention(t.map_or(ttl, Duration::from_secs_f64), m.unwrap_or(max));
            ok(&handle)
        }
        Ok(_) => {
            ApiError::bad_request("ttl must be a number of seconds > 0 and max an integer > 0")
                .to_response()
        }
        Err(e) => e.to_response(),
    }
}

/// `GET /_sim/state`.
pub async fn state(ctx: web::Data<SimContext>) -> HttpResponse {
    ok(&SimHandle(ctx.into_inner()))
}
