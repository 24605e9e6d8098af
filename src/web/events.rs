//! `GET /events` (HTML fragments for the page) and `GET /api/events` (JSON diffs).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

use tokio::sync::watch;

use super::attention::Attention;
use super::auth::Access;
use super::rewind::{history_error, moment_param};
use super::scope::Scoped;
use super::screens::{Ending, Screen, ScreenLabel, Screens};
use super::{json_error, resume_position, too_many_clients};
use crate::fanout::{Encoding, Extras, Format, Origin, Revocation, client_stream_with};
use crate::state::{Filter, RuleError, Rules};

/// The page's stream of rendered fragments.
pub async fn html(req: HttpRequest, state: Scoped) -> HttpResponse {
    stream(&req, &state, Format::Html)
}

/// The public stream of JSON diffs.
pub async fn json(req: HttpRequest, state: Scoped) -> HttpResponse {
    stream(&req, &state, Format::Json)
}

fn stream(req: &HttpRequest, state: &Scoped, format: Format) -> HttpResponse {
    let (filter, params) = match state.filter(req.query_string()) {
        // The page's stream filters as its page does.
        Ok((filter, params)) if format == Format::Html => (filter.for_wall(), params),
        Ok(parsed) => parsed,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    // A Last-Event-ID wins over `since=`: an EventSource reconnecting keeps its URL, and
    // must resume where it was, not replay the window again.
    let resume = resume_position(req, params.last_event_id.as_deref());
    let origin = match (resume, moment_param("since", params.since.as_deref())) {
        (Some(p), _) => Origin::Resume(Some(p)),
        (None, Ok(None)) => Origin::Resume(None),
        (None, Ok(Some(moment))) if format == Format::Json => {
            // Checked before the stream opens, so an answer can say what is wrong.
            if let Err(e) = state.cache().history().and_then(|log| log.resolve(&moment)) {
                return history_error(&e);
            }
            Origin::Since(moment)
        }
        (None, Ok(Some(_))) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "since: only /api/events replays; the page's stream is live",
            );
        }
        (None, Err(e)) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let screens = req.app_data::<Access>().and_then(Access::screens);
    let mut extras = match (state.viewer.screen(), screens) {
        (Some(screen), Some(screens)) => screen_extras(screen, screens),
        _ => Extras::default(),
    };
    extras.side = match attention_of(req, state, &filter, params.alert.as_deref()) {
        Ok(side) => side,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(slot) = state.fanout.connect() else {
        let max = state.fanout.max_clients();
        tracing::debug!(max, "SSE client refused: --max-clients reached");
        return too_many_clients(max);
    };
    // A Last-Event-ID names a point in the cluster's changes, not a scope: what is
    // replayed from it (or from `since=`) passes this stream's (bounded) filter like
    // every other change.
    let encoding = Encoding::negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let body = client_stream_with(slot, filter, format, encoding, origin, extras);
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

/// The attention frames of a stream: its screen's rules when the screen has some, else
/// the URL's `alert=` (evaluated over the stream's own filter), else none.
fn attention_of(
    req: &HttpRequest,
    state: &Scoped,
    filter: &Filter,
    alert: Option<&str>,
) -> Result<Option<watch::Receiver<Bytes>>, RuleError> {
    let rules = Rules::parse(alert.unwrap_or(""))?;
    let Some(attention) = req.app_data::<Attention>() else {
        return Ok(None);
    };
    if let Some(screen) = state.viewer.screen()
        && !screen.rules.is_empty()
    {
        return Ok(attention.of_screen(screen, &state.cluster.name));
    }
    if rules.is_empty() {
        return Ok(None);
    }
    Ok(Some(attention.for_stream(
        &state.state,
        filter.clone(),
        rules,
    )))
}

/// A screen's stream ends with `event: signed-out` when its entry changes or goes away,
/// and counts in `podwall_screen_streams{screen}` while open.
fn screen_extras(screen: &Arc<Screen>, screens: &Screens) -> Extras {
    let who = screen.clone();
    let last_words = Box::new(move || signed_out(who.ending()));
    let gauge = screens
        .metrics()
        .streams
        .get_or_create(&ScreenLabel {
            screen: screen.name.clone(),
        })
        .clone();
    gauge.inc();
    Extras {
        revocation: Some(Revocation {
            token: screen.revoked.clone(),
            last_words,
        }),
        side: None,
        guard: Some(Box::new(OpenStream(gauge))),
    }
}

/// The last frame of a revoked screen's stream: `reason` `revoked` (sign in again) or
/// `changed` (reload: the scope or rules changed).
pub fn signed_out(why: Ending) -> Bytes {
    let reason = match why {
        Ending::Revoked => "revoked",
        Ending::Changed => "changed",
    };
    Bytes::from(format!(
        "event: signed-out\ndata: {{\"reason\":\"{reason}\"}}\n\n"
    ))
}

/// Counts one open stream of a screen until dropped.
struct OpenStream(prometheus_client::metrics::gauge::Gauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}
