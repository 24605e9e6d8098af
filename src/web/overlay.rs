//! What the wall shows over the watched state: live usage (`GET /api/usage`) and
//! click-through links (`GET /link/pod/{namespace}/{name}`, `GET /link/node/{name}`,
//! redirecting to the expanded `--link-template`); `assets` serves the script that draws them.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

use super::json_error;
use super::scope::Scoped;
use crate::state::Filter;

/// `GET /api/usage`: the last usage poll, encoded once per poll.
pub async fn usage(state: Scoped) -> HttpResponse {
    if state.viewer.screen().is_some() {
        // The report covers every namespace; the auth middleware refuses it to screens
        // already, and this keeps it so should the route list change.
        return json_error(
            StatusCode::FORBIDDEN,
            "this screen's token does not open this route",
        );
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache"))
        .body(state.usage.report().json.clone())
}

/// `GET /link/pod/{namespace}/{name}`: 302 to the pod's link.
pub async fn pod_link(path: web::Path<(String, String)>, state: Scoped) -> HttpResponse {
    let (namespace, name) = path.into_inner();
    if state.viewer.screen().is_some()
        && !state
            .cache()
            .shows_pod(&state.bound(Filter::default()), &namespace, &name)
    {
        // Out of the screen's scope: as absent as a pod that does not exist.
        return json_error(StatusCode::NOT_FOUND, "no such pod");
    }
    redirect(state.cluster.pod_link(&namespace, &name), "--link-template")
}

/// `GET /link/node/{name}`: 302 to the node's link.
pub async fn node_link(path: web::Path<String>, state: Scoped) -> HttpResponse {
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
