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
    "wall.js",
    "overlay.js",
];

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

    /// Every file of static/ is served, and everything the page's scripts import.
    #[test]
    fn every_module_imported_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut on_disk = Vec::new();
        for sub in [""] {
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
        let module = embedded("wall.js");
        assert_eq!(module.status(), 200);
        assert_eq!(
            header("content-type", &module),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header("cache-control", &module), "public, max-age=300");
        let icon = embedded("favicon.svg");
        assert_eq!(header("cache-control", &icon), "public, max-age=86400");
    }
}
