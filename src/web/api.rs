//! `GET /api/snapshot`: the filtered state as JSON; `GET /api/counts`: how many pods a
//! filter shows and folds away.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::json_error;
use super::rewind::{moment_param, snapshot_at};
use super::scope::Scoped;

/// `{"epoch","seq","nodes":[…],"pods":[…],"apiserver":{…}}`, filtered; with `at=` the
/// state as it was then, plus its `"time"`.
pub async fn snapshot(req: HttpRequest, state: Scoped) -> HttpResponse {
    match state.filter(req.query_string()) {
        Ok((filter, params)) => match moment_param("at", params.at.as_deref()) {
            Ok(Some(at)) => snapshot_at(&state, &filter, &at),
            Ok(None) => HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-cache"))
                .json(state.cache().snapshot(&filter)),
            Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `{"pods":N,"folded":M}`: the pods the filter shows, and with `problems=1` how many it
/// folds away as healthy (0 otherwise). A `problems=1` page polls it for its folded count,
/// which no change it is sent can tell it (a healthy pod's changes are not sent at all).
pub async fn counts(req: HttpRequest, state: Scoped) -> HttpResponse {
    match state.filter(req.query_string()) {
        Ok((filter, _)) => {
            let cache = state.cache();
            let pods = cache.count_pods(&filter);
            let folded = cache.count_folded(&filter, pods).unwrap_or(0);
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-cache"))
                .json(serde_json::json!({"pods": pods, "folded": folded}))
        }
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
