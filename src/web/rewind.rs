//! The history's routes and parameters: `/api/snapshot?at=`, `/api/history?since=&until=`
//! (and the helpers `/api/events?since=` and `/?at=` use). Every one takes its cluster as
//! [`Scoped`], so a screen's history is its scope's alone.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::json_error;
use super::scope::Scoped;
use crate::fanout::{Format, frame_for};
use crate::state::{HistoryError, Mark, Moment, MomentError, Snapshot};

/// Most changes one `/api/history` answer carries; a longer stretch is cut there and
/// says where to go on (`"more": true`, `"until"` the last change given).
pub const HISTORY_PAGE: usize = 20_000;

/// The moment in parameter `param`, when given.
pub fn moment_param(
    param: &'static str,
    value: Option<&str>,
) -> Result<Option<Moment>, MomentError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| Moment::parse(param, v))
        .transpose()
}

/// The answer to a moment the history cannot show: 404 for one outside the window (or
/// with history off), 400 for one in the future, each saying why.
pub fn history_error(e: &HistoryError) -> HttpResponse {
    json_error(history_error_status(e), &e.to_string())
}

/// The status of a moment the history cannot show (see [`history_error`]).
pub fn history_error_status(e: &HistoryError) -> StatusCode {
    match e {
        HistoryError::Off | HistoryError::Before { .. } | HistoryError::UnknownPosition(_) => {
            StatusCode::NOT_FOUND
        }
        HistoryError::Future(_) => StatusCode::BAD_REQUEST,
        HistoryError::Corrupt(_) => {
            tracing::error!(error = %e, "history unreadable");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// A change's place as the JSON shows it.
#[derive(Serialize)]
struct Place {
    seq: u64,
    time: String,
}

impl From<Mark> for Place {
    fn from(m: Mark) -> Self {
        Self {
            seq: m.seq,
            time: m.time().to_string(),
        }
    }
}

/// A snapshot of the past: today's shape plus the moment it shows.
#[derive(Serialize)]
struct PastSnapshot {
    #[serde(flatten)]
    snapshot: Snapshot,
    /// The moment asked for, resolved (RFC 3339).
    time: String,
}

/// `/api/snapshot?at=…`: the filtered state as it was then.
pub fn snapshot_at(state: &Scoped, filter: &crate::state::Filter, at: &Moment) -> HttpResponse {
    match state.cache().snapshot_at(filter, at) {
        Ok((snapshot, mark)) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(PastSnapshot {
                snapshot,
                time: mark.time().to_string(),
            }),
        Err(e) => history_error(&e),
    }
}

/// `GET /api/history?since=…&until=…`: the kept changes of a stretch, each as
/// `/api/events` would have sent it (`id`, `event`, `data`) with its `time`, through the
/// request's filter.
pub async fn history(req: HttpRequest, state: Scoped) -> HttpResponse {
    let (filter, params) = match state.filter(req.query_string()) {
        Ok(parsed) => parsed,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let since = match moment_param("since", params.since.as_deref()) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "since: required (-15m, an RFC 3339 time or an event id)",
            );
        }
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let until = match moment_param("until", params.until.as_deref()) {
        Ok(m) => m,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let rewind = match state.cache().rewind(&filter, &since, until.as_ref()) {
        Ok(r) => r,
        Err(e) => return history_error(&e),
    };
    if rewind.until.seq < rewind.from.seq {
        return json_error(StatusCode::BAD_REQUEST, "until: before since");
    }
    let mut events = String::from("[");
    let mut given = 0;
    let mut last = rewind.from;
    let mut more = false;
    for (change, time_ms) in rewind.changes.iter().zip(&rewind.times) {
        let Some(frame) = frame_for(change, &filter, Format::Json) else {
            continue;
        };
        if given == HISTORY_PAGE {
            more = true;
            break;
        }
        last = Mark {
            seq: change.seq,
            time_ms: *time_ms,
        };
        if given > 0 {
            events.push(',');
        }
        push_event(&mut events, &frame, last);
        given += 1;
    }
    events.push(']');
    let until = if more { last } else { rewind.until };
    let head = serde_json::json!({
        "epoch": rewind.reset.epoch.to_string(),
        "from": Place::from(rewind.from),
        "until": Place::from(until),
        "more": more,
    });
    // The events are the stream's own frames, already JSON: spliced in, not re-encoded.
    let mut body = head.to_string();
    body.pop();
    body.push_str(",\"events\":");
    body.push_str(&events);
    body.push('}');
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

/// One SSE frame (`id:`, `event:`, `data:` lines) as a JSON object with its time.
fn push_event(out: &mut String, frame: &[u8], at: Mark) {
    let text = String::from_utf8_lossy(frame);
    let mut id = "";
    let mut event = "";
    let mut data = "null";
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = v;
        } else if let Some(v) = line.strip_prefix("event: ") {
            event = v;
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = v;
        }
    }
    out.push_str(
        &serde_json::json!({"id": id, "event": event, "time": at.time().to_string()}).to_string(),
    );
    out.pop();
    out.push_str(",\"data\":");
    out.push_str(data);
    out.push('}');
}
