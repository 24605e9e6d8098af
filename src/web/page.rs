//! `GET /`: the wall, fully rendered on the server.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use super::assets;
use super::rewind::{history_error_status, moment_param};
use super::scope::Scoped;
use crate::render::{self, Layout, PageContext, RecentLane, Rewound};
use crate::state::{Filter, FilterParams, HistoryError, Moment, Rules, parse_span};

/// What a page of the past asks for: the moment (`at=`) and the span (`recent=`).
struct PastParams {
    at: Option<Moment>,
    recent: Option<(String, std::time::Duration)>,
}

fn past_params(params: &FilterParams) -> Result<PastParams, String> {
    let at = moment_param("at", params.at.as_deref()).map_err(|e| e.to_string())?;
    let recent = match params.recent.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => Some((
            r.trim_start_matches('-').to_owned(),
            parse_span("recent", r).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    Ok(PastParams { at, recent })
}

/// The page's own query without `at=` (and a stream's resume point): "back to live".
fn live_href(query: &str) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "at" && k != "lastEventId")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return "./".to_owned();
    }
    let mut out = form_urlencoded::Serializer::new(String::from("./?"));
    out.extend_pairs(kept);
    out.finish()
}

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
            let past = past_params(&params)?;
            Ok((filter, params, layout, past))
        });
    let (mut status, filter, params, layout, mut error, past) = match parsed {
        Ok((filter, params, layout, past)) => (
            StatusCode::OK,
            filter.for_wall(),
            params,
            layout,
            None,
            past,
        ),
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
                PastParams {
                    at: None,
                    recent: None,
                },
            )
        }
    };
    let cache = state.cache();
    let mut rewound = None;
    let snap = match past.at.as_ref().map(|at| cache.snapshot_at(&filter, at)) {
        Some(Ok((snap, mark))) => {
            rewound = Some(Rewound::new(mark, crate::state::now_ms()));
            snap
        }
        Some(Err(e)) => {
            status = history_error_status(&e);
            error = Some(e.to_string());
            cache.snapshot(&filter)
        }
        None => cache.snapshot(&filter),
    };
    let recent = match (&past.recent, error.is_none()) {
        (Some((span, d)), true) => match cache.recent(&filter, past.at.as_ref(), *d) {
            Ok(touched) => Some(RecentLane::new(span.clone(), touched)),
            Err(HistoryError::Off) => None,
            Err(e) => {
                status = history_error_status(&e);
                error = Some(e.to_string());
                None
            }
        },
        _ => None,
    };
    let history = cache.history_window();
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
        // The past was loaded: only the present may still be loading.
        syncing: state
            .cache()
            .readiness()
            .err()
            .filter(|_| past.at.is_none()),
        error,
        overlay: &overlay,
        framed,
        modules: &modules,
        folded,
        rewound,
        history,
        recent,
        live_href: live_href(req.query_string()),
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
