//! `GET /api/snapshot`: the filtered state as JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, json_error};
use crate::state::Filter;

/// `{"epoch","seq","nodes":[…],"pods":[…],"apiserver":{…}}`, filtered.
pub async fn snapshot(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match Filter::from_query(req.query_string()) {
        Ok((filter, _)) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(state.cache().snapshot(&filter)),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
