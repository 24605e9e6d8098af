//! The HTTP side: routes, shared state and security headers.

mod api;
mod assets;
mod attention;
mod auth;
mod cluster;
mod clusters;
mod events;
mod health;
mod link;
mod overlay;
mod page;
mod rewind;
mod scope;
mod screens;
mod token;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::Server;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, middleware, web};

use prometheus_client::registry::Registry;

use crate::fanout::{Fanout, Frames, HTTP_WRITE_BUFFER};
use crate::k8s::Usage;
use crate::state::{Cache, Position};

pub use attention::Attention;
pub use cluster::ClusterInfo;
pub use link::{ClusterLink, LinkTemplate};
pub use screens::{Screens, ScreensError};
pub use token::AuthToken;

use auth::Access;
use clusters::Directory;

/// Longest accepted request target (path and query). Filters are short; a longer URL is
/// an attack or a bug, and would cost a parse per request.
pub const MAX_URI_BYTES: usize = 4096;
/// Largest accepted total of request header names and values.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Seconds a client refused for `--max-clients` is asked to wait.
const RETRY_AFTER_SECS: &str = "5";

/// Sent on every response: no inline scripts or styles, no framing, no sniffing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'";

/// What every handler of one cluster's wall shares.
#[derive(Clone)]
pub struct AppState {
    /// The cluster's event streams, and through them its cache.
    pub fanout: Fanout,
    /// The cluster's name and links.
    pub cluster: Arc<ClusterInfo>,
    /// Live usage from metrics.k8s.io.
    pub usage: Arc<Usage>,
    /// The cluster's metrics, as `/metrics` shows them.
    pub metrics: Arc<Registry>,
}

impl AppState {
    /// The cluster's state.
    pub fn cache(&self) -> &Arc<Cache<Frames>> {
        self.fanout.cache()
    }
}

/// The HTTP server of a wall: every cluster's routes (the first also at `/`), the
/// overview of several, and the middleware every answer passes. Bound to `listen`; it
/// runs once spawned, and its handle stops it.
pub fn serve(
    clusters: Vec<AppState>,
    auth_token: Option<AuthToken>,
    screens: Option<Screens>,
    attention: Attention,
    listen: SocketAddr,
    shutdown_grace: Duration,
) -> std::io::Result<(SocketAddr, Server)> {
    let Some(first) = clusters.first().cloned() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no cluster to serve",
        ));
    };
    let directory = Directory::new(clusters);
    let access = Access::new(auth_token, screens);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(first.clone()))
            .app_data(web::Data::new(directory.clone()))
            .app_data(access.clone())
            .app_data(attention.clone())
            // Outermost last: headers on every answer, then size limits, then the token,
            // then `?cluster=` to the cluster's own paths.
            .wrap(middleware::from_fn(clusters::select))
            .wrap(middleware::from_fn(auth::require))
            .wrap(middleware::from_fn(request_limits))
            .wrap(security_headers())
            .configure(|cfg| directory.configure(cfg))
            .configure(configure)
    })
    .disable_signals()
    .shutdown_timeout(shutdown_grace.as_secs())
    // Event streams hand over a little less than this at a time; with this limit a
    // connection's write buffer stays under 8 KiB instead of growing to 32 KiB + a piece
    // (the vendored actix-http frees it between writes).
    .h1_write_buffer_size(HTTP_WRITE_BUFFER)
    .bind(listen)?;
    let addr = server.addrs().first().copied().unwrap_or(listen);
    Ok((addr, server.run()))
}

/// Registers all routes and default headers on an actix `App`.
fn configure(cfg: &mut web::ServiceConfig) {
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
    .route("/api/counts", web::get().to(api::counts))
    .route("/api/history", web::get().to(rewind::history))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    // The page's scripts, styles and icon, from one embedded table (src/web/assets.rs).
    .route("/static/{file:.*}", web::get().to(assets::file))
    .route("/favicon.ico", web::get().to(assets::icon))
    // Usage and links (src/web/overlay.rs).
    .service(
        // A big cluster's usage is a megabyte of JSON per poll: compressed, like the page.
        web::resource("/api/usage")
            .wrap(middleware::Compress::default())
            .route(web::get().to(overlay::usage)),
    )
    .route(
        "/link/pod/{namespace}/{name}",
        web::get().to(overlay::pod_link),
    )
    .route("/link/node/{name}", web::get().to(overlay::node_link));
}

/// The headers every response carries.
fn security_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// Rejects oversized request targets (414) and headers (431) before any handler runs.
async fn request_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    let refusal = if uri_len > MAX_URI_BYTES {
        Some((
            StatusCode::URI_TOO_LONG,
            format!("request target longer than {MAX_URI_BYTES} bytes"),
        ))
    } else if header_len > MAX_HEADER_BYTES {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers larger than {MAX_HEADER_BYTES} bytes"),
        ))
    } else {
        None
    };
    match refusal {
        Some((status, message)) => {
            tracing::debug!(%status, uri_len, header_len, "request refused");
            Ok(req
                .into_response(json_error(status, &message))
                .map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// 503 for a stream beyond `--max-clients`, with a Retry-After hint.
fn too_many_clients(max: usize) -> HttpResponse {
    let mut resp = json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("too many clients: this server serves at most {max} streams"),
    );
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    resp
}

/// A JSON error body: `{"error": "..."}`.
fn json_error(status: StatusCode, message: &str) -> HttpResponse {
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
