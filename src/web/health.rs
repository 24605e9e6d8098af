//! `GET /healthz`, `GET /readyz`, `GET /metrics`.

use actix_web::{HttpResponse, web};

use super::AppState;

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
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.cache.readiness() {
        Ok(()) => {
            let status = state.cache.api_status();
            let body = if status.apiserver == "ok" {
                "ready\n".to_owned()
            } else {
                format!(
                    "ready (stale: apiserver {}: {})\n",
                    status.apiserver, status.message
                )
            };
            HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(body)
        }
        Err(reason) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("{reason}\n")),
    }
}

/// Prometheus/OpenMetrics text.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.cache.metrics().encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
