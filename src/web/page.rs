//! `GET /`: the wall, fully rendered on the server.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use crate::filter::Filter;
use crate::render;

/// The wall page for the filter in the query string; a bad filter gets an HTML 400 page.
pub async fn wall(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (filter, params) = match Filter::from_query(req.query_string()) {
        Ok(parsed) => parsed,
        Err(e) => {
            return html(
                StatusCode::BAD_REQUEST,
                render::error_page("Bad filter", &e.to_string()),
            );
        }
    };
    let snap = state.cache.snapshot(&filter);
    let filter_text = [
        ("ns", &params.ns),
        ("label", &params.label),
        ("node", &params.node),
        ("q", &params.q),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={v}"))
    })
    .collect::<Vec<_>>()
    .join("  ");
    html(StatusCode::OK, render::page(&snap, &filter_text))
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-cache"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render page");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("cannot render the page")
        }
    }
}
