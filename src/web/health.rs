//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::attention::Attention;
use super::auth::Access;
use super::scope::Scoped;
use crate::fanout::Frames;
use crate::state::{ApiState, Cache};

/// The process is alive and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// 200 once pods and nodes have completed their first full list; 503 with the reason before.
///
/// Once synced it stays 200 while the API server is unreachable or refusing: the wall
/// still serves its last state (marked stale on the page), and restarting podwall would
/// only lose that state. The body says so.
pub async fn readyz(state: Scoped) -> HttpResponse {
    let (status, line) = match readiness(state.cache()) {
        Ok(line) => (StatusCode::OK, line),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    };
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{line}\n"))
}

/// One cache's readiness in a word or a line: `Ok("ready")`, `Ok("ready (stale: …)")`
/// while the API server cannot be reached after the first sync, `Err(why not)` before it.
pub(super) fn readiness(cache: &Cache<Frames>) -> Result<String, String> {
    cache.readiness()?;
    let status = cache.api_status();
    Ok(if status.state == ApiState::Ok {
        "ready".to_owned()
    } else {
        format!(
            "ready (stale: apiserver {}: {})",
            status.state, status.message
        )
    })
}

/// Prometheus/OpenMetrics text: the cluster's metrics and the screens'.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    use prometheus_client::encoding::text::{encode_eof, encode_registry};
    let mut text = String::new();
    // The screens' metrics are the server's, shown with every cluster's.
    let screens = req
        .app_data::<Access>()
        .and_then(Access::screens)
        .map(|s| s.registry());
    let encoded = encode_registry(&mut text, &state.metrics)
        .and_then(|()| match &screens {
            Some(r) => encode_registry(&mut text, r),
            None => Ok(()),
        })
        .and_then(|()| match req.app_data::<Attention>() {
            Some(a) => encode_registry(&mut text, a.registry()),
            None => Ok(()),
        })
        .and_then(|()| encode_eof(&mut text));
    match encoded {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
