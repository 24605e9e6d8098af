//! The crate's layers, kept: every `crate::`/`super::` path in `src/` is read, and
//!
//! 1. a module imports only from its own layer or the layers above it in the flow
//!    (`k8s` → `state` → `render` → `fanout` → `web` → `app`); the simulator only shares
//!    the Kubernetes syntaxes (`k8s::selector`, `k8s::quantity`) and only `app` (the demo)
//!    uses it;
//! 2. no import cycle joins the files of one layer (a parent module and its children may
//!    use each other: that is what a parent is for).
//!
//! The source is read as text: comments and unit-test modules are dropped first, so a
//! doc link or a test's fixture is no import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers in the order a change flows through them.
const FLOW: &[&str] = &["k8s", "state", "render", "fanout", "web", "app"];

/// What the simulator may take from the product.
const SIM_MAY_USE: &[&str] = &["k8s::selector", "k8s::quantity"];

/// A module path (`["k8s", "usage", "report"]`) and its file.
type Modules = BTreeMap<Vec<String>, PathBuf>;

#[test]
fn imports_flow_one_way_and_no_layer_has_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(
        modules.len() > 30,
        "read the crate's modules: {}",
        modules.len()
    );
    let mut wrong = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let Some(layer) = module.first() else {
            continue; // lib.rs: the crate map re-exports every layer.
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        for path in paths(product_code(&strip_comments(&text)), module) {
            let Some(target) = resolve(&modules, &path) else {
                continue; // an item of the crate root, or an external name
            };
            let Some(target_layer) = target.first() else {
                continue;
            };
            if let Some(why) = refused(layer, target_layer, &target) {
                wrong.push(format!(
                    "{}: uses crate::{} ({why})",
                    file.display(),
                    path.join("::")
                ));
            }
            if target_layer == layer && !related(module, &target) {
                edges
                    .entry(module.clone())
                    .or_default()
                    .insert(target.clone());
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the flow:\n{}",
        wrong.join("\n")
    );
    let cycles = cycles(&edges);
    assert!(
        cycles.is_empty(),
        "import cycles inside a layer:\n{}",
        cycles.join("\n")
    );
    // The rule has teeth: the state importing the fan-out is refused.
    assert!(refused("state", "fanout", &["fanout".to_owned()]).is_some());
    assert!(refused("sim", "state", &["state".to_owned()]).is_some());
}

/// Why a module of `layer` may not use `target` (of `target_layer`), if it may not.
fn refused(layer: &str, target_layer: &str, target: &[String]) -> Option<String> {
    let rank = |l: &str| FLOW.iter().position(|f| *f == l);
    let target_name = target.join("::");
    match (layer, target_layer) {
        ("sim", "sim") => None,
        ("sim", _) if SIM_MAY_USE.iter().any(|s| target_name.starts_with(s)) => None,
        ("sim", _) => Some(format!("the simulator shares only {SIM_MAY_USE:?}")),
        (_, "sim") if layer == "app" => None,
        (_, "sim") => Some("only app (the demo) uses the simulator".to_owned()),
        _ => match (rank(layer), rank(target_layer)) {
            (Some(a), Some(b)) if b <= a => None,
            (Some(_), Some(_)) => Some(format!("{target_layer} is downstream of {layer}")),
            _ => Some(format!("unknown layer {layer} or {target_layer}")),
        },
    }
}

/// Every module of the crate (`src/main.rs` and `src/cli.rs` are the binary's).
fn modules(src: &Path) -> Modules {
    let mut found = Modules::new();
    let mut dirs = vec![src.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("below src");
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if module == ["main"] || module == ["cli"] {
                continue;
            }
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            found.insert(module, path);
        }
    }
    found
}

/// The source without `//` and `/* */` comments (strings are not parsed: a `//` inside a
/// string cuts the rest of its line, which only ever hides text, never adds a path).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('/') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if after.starts_with("//") {
            rest = after.find('\n').map_or("", |n| &after[n..]);
        } else if after.starts_with("/*") {
            rest = after.find("*/").map_or("", |n| &after[n + 2..]);
        } else {
            out.push('/');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The code without its unit tests (the `#[cfg(test)] mod tests` that closes a file):
/// a test may use the fixtures, which are built from the module it tests.
fn product_code(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// Every path below `crate::` or `super::` in `text`, as absolute module paths;
/// `use a::{b, c::d}` groups give one path each.
fn paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let at = &text[i..];
        let preceded =
            i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || b"_:".contains(&bytes[i - 1]));
        let (base, len) = if !preceded && at.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if !preceded && at.starts_with("super::") {
            let mut base = module.to_vec();
            let mut len = 0;
            while text[i + len..].starts_with("super::") {
                base.pop();
                len += "super::".len();
            }
            (base, len)
        } else {
            i += 1;
            continue;
        };
        let (mut tails, used) = tree(&text[i + len..]);
        found.extend(tails.drain(..).map(|t| [base.clone(), t].concat()));
        i += len + used.max(1);
    }
    found
}

/// The paths of a use tree at the start of `text` (`a::b`, `a::{b, c::d}`), and how many
/// bytes it took.
fn tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = 0;
    loop {
        let ident: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        i += ident.len();
        let named = !ident.is_empty();
        if named {
            prefix.push(ident);
        }
        let group = if text[i..].starts_with("::{") {
            3
        } else if !named && text[i..].starts_with('{') {
            1
        } else {
            0
        };
        if group > 0 {
            i += group;
            let mut all = Vec::new();
            loop {
                let trimmed = text[i..].trim_start();
                i = text.len() - trimmed.len();
                if trimmed.starts_with('}') || trimmed.is_empty() {
                    i += 1;
                    break;
                }
                let (inner, used) = tree(trimmed);
                all.extend(inner.into_iter().map(|t| [prefix.clone(), t].concat()));
                i += used;
                let trimmed = text[i..].trim_start();
                i = text.len() - trimmed.len();
                if trimmed.starts_with(',') {
                    i += 1;
                }
            }
            return (all, i);
        }
        if text[i..].starts_with("::") && named {
            i += 2;
            continue;
        }
        return (vec![prefix], i);
    }
}

/// The deepest module a path names (its first segments), if any.
fn resolve(modules: &Modules, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

/// Whether one module is the other's ancestor (or the same).
fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The cycles of a graph, one line each.
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let ring: Vec<String> = stack[at..].iter().map(|m| m.join("::")).collect();
            found.push(format!("{} -> {}", ring.join(" -> "), node.join("::")));
            return;
        }
        if !done.insert(node.clone()) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn the_reader_finds_grouped_and_relative_paths() {
    let module = ["fanout".to_owned(), "stream".to_owned()];
    let found = paths(
        "use super::{batch::Batch, frames::{Format, frame_for}};\nuse crate::state::Cache; x::crate::no",
        &module,
    );
    let names: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "fanout::batch::Batch",
            "fanout::frames::Format",
            "fanout::frames::frame_for",
            "state::Cache"
        ]
    );
    assert_eq!(
        strip_comments("a // crate::x\nb /* crate::y */ c"),
        "a \nb  c"
    );
}
