//! `GET /events` (HTML fragments for the page) and `GET /api/events` (JSON diffs).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, json_error, resume_position, too_many_clients};
use crate::fanout::{Encoding, Format, client_stream};
use crate::state::Filter;

/// The page's stream of rendered fragments.
pub async fn html(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    stream(&req, &state, Format::Html)
}

/// The public stream of JSON diffs.
pub async fn json(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    stream(&req, &state, Format::Json)
}

fn stream(req: &HttpRequest, state: &AppState, format: Format) -> HttpResponse {
    let (filter, params) = match Filter::from_query(req.query_string()) {
        // The page's stream filters as its page does.
        Ok((filter, params)) if format == Format::Html => (filter.for_wall(), params),
        Ok(parsed) => parsed,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(slot) = state.fanout.connect() else {
        let max = state.fanout.max_clients();
        tracing::debug!(max, "SSE client refused: --max-clients reached");
        return too_many_clients(max);
    };
    let resume = resume_position(req, params.last_event_id.as_deref());
    let encoding = Encoding::negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let body = client_stream(slot, filter, format, encoding, resume);
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header(("X-Accel-Buffering", "no"));
    if encoding == Encoding::Deflate {
        response.insert_header((header::CONTENT_ENCODING, "deflate"));
    }
    response.streaming(body)
}
