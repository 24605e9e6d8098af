//! What the wall shows over the watched state: live usage (`GET /api/usage`) and
//! click-through links (`GET /link/pod/{namespace}/{name}`, `GET /link/node/{name}`,
//! redirecting to the expanded `--link-template`); `assets` serves the script that draws them.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use super::{AppState, json_error};

/// `GET /api/usage`: the last usage poll, encoded once per poll.
pub async fn usage(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache"))
        .body(state.usage.report().json.clone())
}

/// `GET /link/pod/{namespace}/{name}`: 302 to the pod's link.
pub async fn pod_link(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (namespace, name) = path.into_inner();
    redirect(state.cluster.pod_link(&namespace, &name), "--link-template")
}

/// `GET /link/node/{name}`: 302 to the node's link.
pub async fn node_link(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    redirect(state.cluster.node_link(&path), "--node-link-template")
}

fn redirect(link: Option<String>, flag: &str) -> HttpResponse {
    match link {
        Some(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        None => json_error(
            StatusCode::NOT_FOUND,
            &format!("no links configured: start podwall with {flag}"),
        ),
    }
}
