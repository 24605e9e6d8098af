//! The page's scripts, stylesheets and icon, embedded in the binary and served from one
//! table: `GET /static/<name>` (404 for a name not in it), and `/favicon.ico`.

use actix_web::{HttpResponse, web};

/// Every file under `/static/`, by its path there (and in the repository's `static/`).
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../static/", $name)))),*]
    };
}

static FILES: &[(&str, &str)] = embedded![
    "wall.css",
    "overlay.css",
    "favicon.svg",
    // The page's script: classic entries (the URLs the page has always loaded) that start
    // its ES modules (docs/ui.md, "The page's script").
    "wall.js",
    "overlay.js",
    "wall/main.mjs",
    "wall/constants.mjs",
    "wall/format.mjs",
    "wall/el.mjs",
    "wall/fragments.mjs",
    "wall/scheduling.mjs",
    "wall/connection.mjs",
    "wall/placement.mjs",
    "wall/order.mjs",
    "wall/ghosts.mjs",
    "wall/effects.mjs",
    "wall/counts.mjs",
    "wall/fit.mjs",
    "wall/board.mjs",
    "wall/board-paint.mjs",
    "wall/details.mjs",
    "wall/clock.mjs",
    "wall/warnings.mjs",
    "wall/trouble.mjs",
    "wall/overlay.mjs",
    "wall/usage.mjs",
    "wall/links.mjs",
    "wall/cluster-nav.mjs",
    "wall/attention.mjs",
    "wall/recent.mjs",
    "wall/rewind.mjs",
    // The multi-cluster overview's script.
    "overview.mjs",
];

/// The wall page's ES modules (paths under `/static/`), for its `modulepreload` links:
/// fetched while the page parses, so starting the script costs no round trips.
pub fn modules() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.starts_with("wall/") && name.ends_with(".mjs"))
}

/// The content type and cache lifetime (seconds) of a file, by its extension.
fn kind(name: &str) -> (&'static str, u32) {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => ("text/javascript; charset=utf-8", 300),
        Some("css") => ("text/css; charset=utf-8", 300),
        Some("svg") => ("image/svg+xml", 86400),
        _ => ("application/octet-stream", 300),
    }
}

fn embedded(name: &str) -> HttpResponse {
    let Some((name, body)) = FILES.iter().find(|(n, _)| *n == name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file");
    };
    let (content_type, max_age) = kind(name);
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .body(*body)
}

/// `/static/{name}`: an embedded file.
pub async fn file(name: web::Path<String>) -> HttpResponse {
    embedded(&name)
}

/// `/favicon.ico` (browsers ask for it on their own).
pub async fn icon() -> HttpResponse {
    embedded("favicon.svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page's script imports is served, and nothing else is left out.
    #[test]
    fn every_module_imported_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut on_disk = Vec::new();
        for sub in ["", "wall"] {
            for entry in std::fs::read_dir(dir.join(sub)).expect("static/") {
                let path = entry.expect("entry").path();
                if path.is_file() {
                    let name = path.strip_prefix(&dir).expect("under static/");
                    on_disk.push(name.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk, "static/ and the embedded table differ");
        for (name, body) in FILES {
            let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
            // Static imports (`from "./x.mjs"`) and the entries' `import("/static/…")`.
            let targets = body
                .split("from \"")
                .skip(1)
                .chain(body.split("import(\"").skip(1))
                .filter_map(|rest| rest.split('"').next());
            for target in targets {
                let path = if let Some(rest) = target.strip_prefix("/static/") {
                    rest.to_owned()
                } else if let Some(rest) = target.strip_prefix("./") {
                    if base.is_empty() {
                        rest.to_owned()
                    } else {
                        format!("{base}/{rest}")
                    }
                } else {
                    panic!("{name} imports {target}: use ./ or /static/ paths");
                };
                assert!(
                    FILES.iter().any(|(n, _)| *n == path),
                    "{name} imports {target}, which is not served"
                );
            }
        }
    }

    /// A response's header, as text.
    fn header(name: &str, response: &HttpResponse) -> String {
        let value = response.headers().get(name).map(|v| v.to_str());
        value.and_then(Result::ok).unwrap_or_default().to_owned()
    }

    #[test]
    fn unknown_files_are_404_and_types_follow_extensions() {
        assert_eq!(embedded("nope.js").status(), 404);
        assert_eq!(embedded("../Cargo.toml").status(), 404);
        let module = embedded("wall/main.mjs");
        assert_eq!(module.status(), 200);
        assert_eq!(
            header("content-type", &module),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header("cache-control", &module), "public, max-age=300");
        let icon = embedded("favicon.svg");
        assert_eq!(header("cache-control", &icon), "public, max-age=86400");
        assert!(modules().any(|m| m == "wall/main.mjs"));
        assert!(!modules().any(|m| m == "overview.mjs" || m == "wall.js"));
    }
}
