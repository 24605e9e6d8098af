//! The page's script, stylesheet and icon, embedded in the binary.

use actix_web::HttpResponse;

const SCRIPT: &str = include_str!("../../static/wall.js");
const STYLE: &str = include_str!("../../static/wall.css");
const ICON: &str = include_str!("../../static/favicon.svg");

/// `/static/wall.js`.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(SCRIPT)
}

/// `/static/wall.css`.
pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(STYLE)
}

/// `/favicon.ico` and `/static/favicon.svg` (browsers ask for the former on their own).
pub async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(ICON)
}
