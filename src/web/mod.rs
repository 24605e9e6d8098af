//! The HTTP side: routes, shared state and security headers.

mod api;
mod assets;
mod events;
mod health;
mod page;

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, middleware, web};
use tokio_util::sync::CancellationToken;

use crate::cache::{Cache, Position};

/// Sent on every response: no inline scripts or styles, no framing, no sniffing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The cluster state.
    pub cache: Arc<Cache>,
    /// Ends SSE streams on shutdown.
    pub shutdown: CancellationToken,
}

/// Registers all routes and default headers on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The page of a big cluster is megabytes of repetitive HTML: compress it (only it;
    // the event streams must not wait on an encoder's buffer).
    cfg.service(
        web::resource("/")
            .wrap(middleware::Compress::default())
            .route(web::get().to(page::wall)),
    )
    .route("/events", web::get().to(events::html))
    .route("/api/events", web::get().to(events::json))
    .route("/api/snapshot", web::get().to(api::snapshot))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    .route("/static/wall.js", web::get().to(assets::script))
    .route("/static/wall.css", web::get().to(assets::style))
    .route("/static/favicon.svg", web::get().to(assets::icon))
    .route("/favicon.ico", web::get().to(assets::icon));
}

/// The headers every response carries.
pub fn security_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// A JSON error body: `{"error": "..."}`.
fn json_error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

/// The resume point of a stream: the `Last-Event-ID` header, else `?lastEventId=`.
fn resume_position(req: &actix_web::HttpRequest, query_value: Option<&str>) -> Option<Position> {
    req.headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Position::parse)
        .or_else(|| query_value.and_then(Position::parse))
}
