//! `GET /`: the wall, fully rendered on the server.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use super::assets;
use super::scope::Scoped;
use crate::render::{self, Layout, PageContext};
use crate::state::{Filter, FilterParams, Rules};

/// The wall page for the filter and layout in the query string. A malformed parameter
/// gets the page with its error and the filter form (status 400), not a bare message.
pub async fn wall(req: HttpRequest, state: Scoped) -> HttpResponse {
    let parsed = state
        .filter(req.query_string())
        .map_err(|e| e.to_string())
        .and_then(|(filter, params)| {
            // Checked here so a bad rule is a 400 page, not a stream that never opens.
            Rules::parse(params.alert.as_deref().unwrap_or("")).map_err(|e| e.to_string())?;
            let layout = Layout::from_params(&params).map_err(|e| e.to_string())?;
            Ok((filter, params, layout))
        });
    let (status, filter, params, layout, error) = match parsed {
        Ok((filter, params, layout)) => (StatusCode::OK, filter.for_wall(), params, layout, None),
        Err(e) => {
            // Refill the form with what was sent, so the mistake can be fixed in place.
            let params = actix_web::web::Query::<FilterParams>::from_query(req.query_string())
                .map(|q| q.into_inner())
                .unwrap_or_default();
            let layout = Layout::from_params(&params).unwrap_or_default();
            (
                StatusCode::BAD_REQUEST,
                state.bound(Filter::default()),
                params,
                layout,
                Some(e),
            )
        }
    };
    let snap = state.cache().snapshot(&filter);
    let folded = state.cache().count_folded(&filter, snap.pods.len());
    // A screen is refused live usage (it covers every namespace): its page never asks.
    let usage_interval = match state.viewer.screen() {
        Some(_) => std::time::Duration::ZERO,
        None => state.usage.interval(),
    };
    let overlay = state.cluster.page_attributes(usage_interval);
    // Only the overview frames a wall (every other page may not be framed: CSP
    // `frame-ancestors`), and the browser says when it loads a page into a frame.
    let framed = req
        .headers()
        .get("sec-fetch-dest")
        .is_some_and(|v| v == "iframe");
    let modules: Vec<&str> = assets::modules().collect();
    let ctx = PageContext {
        params: &params,
        layout,
        syncing: state.cache().readiness().err(),
        error,
        overlay: &overlay,
        framed,
        modules: &modules,
        folded,
    };
    html(status, render::page(&snap, &ctx))
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-cache"))
            // A framed wall is rendered without its title, clock and legend.
            .insert_header((header::VARY, "Sec-Fetch-Dest"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render page");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("cannot render the page")
        }
    }
}
