//! Optional access control: one shared, all-seeing token read from a file (a mounted
//! Secret), and scoped screen tokens (`--screens-file`, `web/screens.rs`); every route
//! but the probes requires one of them when either is set.
//!
//! A wall screen opens `/?token=…` once and keeps the token in an `HttpOnly`,
//! `SameSite=Strict` cookie; tools send `Authorization: Bearer …`.

use std::sync::Arc;

use super::screens::{Screen, Screens};
use super::token::AuthToken;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

/// The cookie a browser keeps the token in.
pub const COOKIE: &str = "podwall_token";
/// The query parameter a wall screen opens once.
pub const QUERY_PARAM: &str = "token";
/// Paths served without the token: kubelet probes carry no credentials.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];
/// A wall screen keeps its cookie across browser restarts.
const COOKIE_MAX_AGE: Duration = Duration::days(365);

/// Who a request comes from: a holder of the all-seeing token (or anyone, on an open
/// wall), or one screen with its scope. The middleware puts it into every request it
/// admits; [`super::scope::Scoped`] reads it.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// Sees every cluster, namespace and route.
    All,
    /// Sees its screen's clusters and bounds, through the screen routes only.
    Screen(Arc<Screen>),
}

impl Viewer {
    /// Whether it may see cluster `name`.
    pub fn sees_cluster(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Screen(s) => s.sees_cluster(name),
        }
    }

    /// Its screen, when it is one.
    pub fn screen(&self) -> Option<&Arc<Screen>> {
        match self {
            Self::All => None,
            Self::Screen(s) => Some(s),
        }
    }
}

/// What the middleware checks against, registered as app data; without a token and
/// screens it admits everyone.
#[derive(Clone, Debug, Default)]
pub struct Access {
    token: Option<AuthToken>,
    screens: Option<Screens>,
}

impl Access {
    /// Requires `token` (all-seeing) or a screen's token when either is `Some`.
    pub fn new(token: Option<AuthToken>, screens: Option<Screens>) -> Self {
        Self { token, screens }
    }

    /// The screens, when a screens file is set.
    pub fn screens(&self) -> Option<&Screens> {
        self.screens.as_ref()
    }

    /// Who presents `candidate`, if anyone.
    fn identify(&self, candidate: &[u8]) -> Option<Viewer> {
        let shared = self.token.as_ref().is_some_and(|t| t.matches(candidate));
        // Screens are compared even after a shared match: the time taken does not tell
        // which kind of token was presented.
        let screen = self
            .screens
            .as_ref()
            .and_then(|s| s.authenticate(candidate));
        if shared {
            return Some(Viewer::All);
        }
        screen.map(Viewer::Screen)
    }
}

/// The middleware (`actix_web::middleware::from_fn(auth::require)`): lets the request
/// through (marked with its [`Viewer`]), trades a valid `?token=` for a cookie and a
/// redirect, answers 401 without a valid token and 403 for a route a screen may not use.
pub async fn require(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(access) = req.app_data::<Access>().cloned() else {
        // Fail closed: the middleware is wrapped but nobody said what it guards with.
        tracing::error!("access middleware without its configuration");
        let resp = HttpResponse::InternalServerError().finish();
        return Ok(req.into_response(resp).map_into_right_body());
    };
    if (access.token.is_none() && access.screens.is_none()) || OPEN_PATHS.contains(&req.path()) {
        req.extensions_mut().insert(Viewer::All);
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let (presented, rest) = split_token(req.query_string());
    if let Some(presented) = presented {
        let resp = match access.identify(presented.as_bytes()) {
            Some(viewer) => cookie_and_redirect(req.request(), &presented, &viewer, &rest),
            None => unauthorized(req.request()),
        };
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .and_then(|b| access.identify(b.as_bytes()));
    let viewer = bearer.or_else(|| {
        req.cookie(COOKIE)
            .and_then(|c| access.identify(c.value().as_bytes()))
    });
    let resp = match viewer {
        Some(Viewer::Screen(screen)) if !screen_route(req.path()) => {
            tracing::debug!(screen = %screen.name, path = %req.path(), "route refused to a screen");
            super::json_error(
                StatusCode::FORBIDDEN,
                "this screen's token does not open this route",
            )
        }
        Some(viewer) => {
            req.extensions_mut().insert(viewer);
            return Ok(next.call(req).await?.map_into_left_body());
        }
        None => unauthorized(req.request()),
    };
    Ok(req.into_response(resp).map_into_right_body())
}

/// The routes a screen may use (under `/clusters/<name>` too): the wall, its streams and
/// reads, its assets and links. Everything else — `/metrics`, `/api/usage`, and any route
/// added later — is refused until it is listed here and enforces the scope. A path with
/// dot segments or encoded separators is refused outright, whatever the router would
/// make of it.
fn screen_route(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if ["/..", "/./", "//", "%2e", "%2f", "%5c", "\\"]
        .iter()
        .any(|bad| lower.contains(bad))
        || lower.ends_with("/.")
    {
        return false;
    }
    let rest = match path.strip_prefix("/clusters/") {
        Some(tail) => match tail.split_once('/') {
            Some((_, rest)) => format!("/{rest}"),
            None => "/".to_owned(),
        },
        None if path == "/api/clusters" => return true,
        None => path.to_owned(),
    };
    matches!(
        rest.as_str(),
        "/" | "/events"
            | "/api/events"
            | "/api/snapshot"
            | "/api/history"
            | "/api/counts"
            | "/readyz"
            | "/favicon.ico"
    ) || rest.starts_with("/static/")
        || rest.starts_with("/link/")
}

/// The credentials of `Authorization: Bearer <token>` (the scheme is case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// Splits a raw query string into the decoded `token` value (the first one) and the other
/// parameters, kept as they came.
fn split_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match form_urlencoded::parse(pair.as_bytes()).next() {
            Some((key, value)) if key == QUERY_PARAM => {
                token.get_or_insert_with(|| value.into_owned());
            }
            _ => rest.push(pair),
        }
    }
    (token, rest.join("&"))
}

/// `303 See Other` to the same URL without the token, setting the cookie on the way.
fn cookie_and_redirect(
    req: &HttpRequest,
    token: &str,
    viewer: &Viewer,
    rest_of_query: &str,
) -> HttpResponse {
    // Behind a TLS-terminating proxy the scheme comes from Forwarded / X-Forwarded-Proto.
    let https = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .max_age(COOKIE_MAX_AGE)
        .finish();
    // One leading slash: `//host` would be a redirect to another site.
    let mut location = format!("/{}", req.path().trim_start_matches('/'));
    if !rest_of_query.is_empty() {
        location.push('?');
        location.push_str(rest_of_query);
    }
    let screen = viewer.screen().map_or("", |s| s.name.as_str());
    tracing::info!(path = %req.path(), https, screen, "access token accepted; cookie set");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish()
}

/// `401` with a short message: HTML for a browser, JSON for everything else.
fn unauthorized(req: &HttpRequest) -> HttpResponse {
    tracing::debug!(path = %req.path(), "request without a valid access token");
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut resp = HttpResponse::build(StatusCode::UNAUTHORIZED);
    resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"podwall\""))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if wants_html {
        resp.content_type("text/html; charset=utf-8").body(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>podwall: access token needed</title></head><body>\
             <h1>Access token needed</h1><p>This wall needs its access token. Open the \
             link you were given (it ends in <code>?token=…</code>) directly in this \
             browser, or ask whoever runs podwall for it.</p></body></html>",
        )
    } else {
        resp.json(serde_json::json!({
            "error": "access token required: send `Authorization: Bearer <token>` or open ?token=<token> once"
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_parameter_is_split_from_the_rest() {
        let (token, rest) = split_token("ns=web&token=abc%2Ddef&label=app%3Dx&token=second");
        assert_eq!(token.as_deref(), Some("abc-def"));
        assert_eq!(rest, "ns=web&label=app%3Dx");
        let (token, rest) = split_token("q=x");
        assert_eq!(token, None);
        assert_eq!(rest, "q=x");
        assert_eq!(split_token(""), (None, String::new()));
    }

    #[test]
    fn screens_use_the_screen_routes_only() {
        for ok in [
            "/",
            "/events",
            "/api/snapshot",
            "/api/clusters",
            "/static/wall.css",
            "/link/pod/a/b",
            "/clusters/prod/",
            "/clusters/prod/api/events",
            "/clusters/prod",
        ] {
            assert!(screen_route(ok), "{ok}");
        }
        for refused in [
            "/metrics",
            "/api/usage",
            "/clusters/prod/metrics",
            "/clusters/prod/../api/snapshot",
            "/clusters/prod/%2e%2e/api/snapshot",
            "/clusters/prod%2fx/",
            "/static/../metrics",
            "//events",
            "/later",
        ] {
            assert!(!screen_route(refused), "{refused}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
