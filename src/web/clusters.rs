//! Several clusters on one server: each is served under `/clusters/<name>/` by the same
//! routes and handlers as a single-cluster wall (the scope carries that cluster's
//! [`AppState`]), `?cluster=<name>` on the root paths redirects there, and
//! `GET /api/clusters` lists them with their health.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use askama::Template;
use serde::Serialize;

use super::auth::Viewer;
use super::{AppState, json_error};

/// The CSP of a cluster's own paths: the app's, but framable by the overview.
const FRAMEABLE_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'self'";

/// Every cluster the server shows, in the order given.
#[derive(Clone)]
pub struct Directory(Arc<Vec<AppState>>);

/// One cluster in `GET /api/clusters`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    name: &'a str,
    /// Its wall.
    path: String,
    /// First sync complete.
    ready: bool,
    /// `<epoch>-<seq>` of its cache.
    seq: String,
    apiserver: crate::state::ApiStatus,
    usage: &'static str,
}

impl Directory {
    /// A directory of `clusters`.
    pub fn new(clusters: Vec<AppState>) -> Self {
        Self(Arc::new(clusters))
    }

    fn find(&self, name: &str) -> Option<&AppState> {
        self.0.iter().find(|s| *s.cluster.name == *name)
    }

    fn names(&self, shown: impl Fn(&str) -> bool) -> String {
        self.0
            .iter()
            .map(|s| s.cluster.name.as_str())
            .filter(|n| shown(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Registers `/clusters/<name>/…` for every cluster, and `GET /api/clusters`; with
    /// several clusters, `GET /` becomes the overview (registered before the wall's `/`).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        if self.0.len() > 1 {
            cfg.service(
                web::resource("/")
                    .wrap(middleware::Compress::default())
                    .route(web::get().to(overview)),
            )
            .route("/readyz", web::get().to(readyz));
        }
        for state in self.0.iter() {
            let base = format!("/clusters/{}", state.cluster.name);
            let with_slash = format!("{base}/");
            cfg.service(
                web::scope(&base)
                    .app_data(web::Data::new(state.clone()))
                    // The overview frames these pages (same origin only); set here, the
                    // app's default CSP does not replace it.
                    .wrap(
                        middleware::DefaultHeaders::new()
                            .add((header::CONTENT_SECURITY_POLICY, FRAMEABLE_CSP)),
                    )
                    // The page uses relative URLs: its address must end in a slash.
                    .route(
                        "",
                        web::get().to(move || {
                            let to = with_slash.clone();
                            async move {
                                HttpResponse::PermanentRedirect()
                                    .insert_header((header::LOCATION, to))
                                    .finish()
                            }
                        }),
                    )
                    .configure(super::configure),
            );
        }
        cfg.route("/api/clusters", web::get().to(list));
    }
}

/// The viewer a request was admitted as (the access middleware sets it; none: nothing).
fn viewer_of(req: &HttpRequest) -> Option<Viewer> {
    actix_web::HttpMessage::extensions(req)
        .get::<Viewer>()
        .cloned()
}

/// `GET /api/clusters`: `[{"name","path","ready","seq","apiserver","usage"}, …]`, the
/// clusters the viewer may see.
async fn list(req: HttpRequest, directory: web::Data<Directory>) -> HttpResponse {
    let viewer = viewer_of(&req);
    let entries: Vec<Entry<'_>> = directory
        .0
        .iter()
        .filter(|s| {
            viewer
                .as_ref()
                .is_some_and(|v| v.sees_cluster(&s.cluster.name))
        })
        .map(|s| Entry {
            name: &s.cluster.name,
            path: format!("/clusters/{}/", s.cluster.name),
            ready: s.cache().readiness().is_ok(),
            seq: s.cache().position().to_string(),
            apiserver: s.cache().api_status(),
            usage: s.usage.report().status.as_str(),
        })
        .collect();
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(entries)
}

/// The overview page: one live wall per cluster.
#[derive(Template)]
#[template(path = "clusters.html")]
struct Overview {
    theme: &'static str,
    /// (name, frame source).
    clusters: Vec<(String, String)>,
    /// Clusters beyond [`MAX_FRAMES`], offered as links.
    more: Vec<String>,
}

/// Most frames on the overview: each holds an event stream open, and a browser speaks
/// HTTP/1.1 to at most six connections per server (the sixth stays for fetches).
const MAX_FRAMES: usize = 5;

/// `GET /` with several clusters: a frame per cluster showing its kiosk wall with the
/// same filters and layout.
async fn overview(req: HttpRequest, directory: web::Data<Directory>) -> HttpResponse {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let theme = match pairs.iter().find(|(k, _)| k == "theme") {
        Some((_, t)) if t == "light" => "light",
        _ => "dark",
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    // Not the access token: the cookie set with this answer lets the frames in, and the
    // token must not be written into the page.
    query.extend_pairs(pairs.iter().filter(|(k, _)| {
        !matches!(
            k.as_str(),
            "kiosk" | "rotate" | "clusters" | super::auth::QUERY_PARAM
        )
    }));
    query.append_pair("kiosk", "1");
    let query = query.finish();
    // `clusters=a,b` picks and orders the frames; unknown names are skipped, and so are
    // the clusters the viewer may not see.
    let viewer = viewer_of(&req);
    let chosen: Vec<&AppState> = match pairs.iter().find(|(k, _)| k == "clusters") {
        Some((_, list)) => list
            .split(',')
            .filter_map(|name| directory.find(name.trim()))
            .collect::<Vec<_>>(),
        None => directory.0.iter().collect(),
    }
    .into_iter()
    .filter(|s| {
        viewer
            .as_ref()
            .is_some_and(|v| v.sees_cluster(&s.cluster.name))
    })
    .collect();
    let mut framed = Vec::new();
    let mut linked = Vec::new();
    for s in chosen {
        let name = s.cluster.name.clone();
        if framed.len() < MAX_FRAMES {
            let src = format!("/clusters/{name}/?{query}");
            framed.push((name, src));
        } else {
            linked.push(name);
        }
    }
    let page = Overview {
        theme,
        clusters: framed,
        more: linked,
    };
    match page.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-cache"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the overview");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("cannot render the page")
        }
    }
}

/// `GET /readyz` with several clusters: 200 once any cluster has synced, so one cluster
/// that cannot be reached never takes the whole wall out of its Service; the body says
/// how each one is.
async fn readyz(directory: web::Data<Directory>) -> HttpResponse {
    let mut body = String::new();
    let mut any_ready = false;
    for s in directory.0.iter() {
        let line = match super::health::readiness(s.cache()) {
            Ok(line) => {
                any_ready = true;
                line
            }
            Err(reason) => reason,
        };
        body.push_str(&format!("{}: {line}\n", s.cluster.name));
    }
    let mut resp = if any_ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    resp.content_type("text/plain; charset=utf-8").body(body)
}

/// The root paths that take `?cluster=`.
const SELECTABLE: &[&str] = &["/", "/events", "/api/events", "/api/snapshot", "/api/usage"];

/// `?cluster=<name>` on a root path: 307 to the same path and query under
/// `/clusters/<name>/` (event sources follow it), 404 naming the clusters when unknown.
pub async fn select(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let wanted = SELECTABLE
        .contains(&req.path())
        .then(|| {
            web::Query::<Vec<(String, String)>>::from_query(req.query_string())
                .ok()
                .and_then(|q| {
                    let pairs = q.into_inner();
                    let name = pairs.iter().find(|(k, _)| k == "cluster")?.1.clone();
                    let rest: Vec<(String, String)> =
                        pairs.into_iter().filter(|(k, _)| k != "cluster").collect();
                    Some((name, rest))
                })
        })
        .flatten();
    let Some((name, rest)) = wanted else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let directory = req.app_data::<web::Data<Directory>>().cloned();
    let viewer = actix_web::HttpMessage::extensions(&req)
        .get::<Viewer>()
        .cloned();
    let sees = |n: &str| viewer.as_ref().is_some_and(|v| v.sees_cluster(n));
    // A cluster the viewer may not see is as unknown as one that does not exist.
    let known = sees(&name) && directory.as_ref().is_some_and(|d| d.find(&name).is_some());
    let response = if known {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&rest)
            .finish();
        let path = req.path().trim_start_matches('/');
        let mut to = format!("/clusters/{name}/{path}");
        if !query.is_empty() {
            to.push('?');
            to.push_str(&query);
        }
        HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, to))
            .finish()
    } else {
        let names = directory.map(|d| d.names(sees)).unwrap_or_default();
        json_error(
            StatusCode::NOT_FOUND,
            &format!("unknown cluster {name:?}; this wall shows: {names}"),
        )
    };
    Ok(req.into_response(response).map_into_right_body())
}
