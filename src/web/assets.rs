//! The page's scripts, stylesheets and icon, embedded in the binary.

use actix_web::HttpResponse;

const SCRIPT: &str = include_str!("../../static/wall.js");
const STYLE: &str = include_str!("../../static/wall.css");
const OVERLAY_SCRIPT: &str = include_str!("../../static/overlay.js");
const OVERLAY_STYLE: &str = include_str!("../../static/overlay.css");
const ICON: &str = include_str!("../../static/favicon.svg");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// An embedded file, cached by browsers for `max_age` seconds.
fn embedded(content_type: &str, max_age: u32, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .body(body)
}

/// `/static/wall.js`.
pub async fn script() -> HttpResponse {
    embedded(JS, 300, SCRIPT)
}

/// `/static/wall.css`.
pub async fn style() -> HttpResponse {
    embedded(CSS, 300, STYLE)
}

/// `/static/overlay.js`: draws live usage and links over the wall.
pub async fn overlay_script() -> HttpResponse {
    embedded(JS, 300, OVERLAY_SCRIPT)
}

/// `/static/overlay.css`.
pub async fn overlay_style() -> HttpResponse {
    embedded(CSS, 300, OVERLAY_STYLE)
}

/// `/favicon.ico` and `/static/favicon.svg` (browsers ask for the former on their own).
pub async fn icon() -> HttpResponse {
    embedded("image/svg+xml", 86400, ICON)
}
