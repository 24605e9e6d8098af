//! The wall end to end against the simulator, in this process: real HTTP, the real kube
//! client. One test binary (see tests/README.md); `cargo test --test wall MODULE::` runs a
//! part of it.

mod attention;
mod clusters;
mod convergence;
mod format_agreement;
mod http;
mod live;
mod resume;
mod rewind;
mod scope;
mod usage_links;
mod warnings;

/// The binary under test (only the package's own targets see its path).
const PODWALL: &str = env!("CARGO_BIN_EXE_podwall");

/// The optional manifest `file` (a ClusterRole on `group` and its binding to podwall's
/// ServiceAccount) grants exactly `wanted` (resource, verbs): what the code asks for.
fn assert_optional_rbac(file: &str, group: &str, wanted: &[(&str, &[&str])]) {
    use serde_json::Value;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("manifest");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect();
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let mut granted: Vec<(String, Vec<String>)> = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert_eq!(rule["apiGroups"], serde_json::json!([group]), "{file}");
        let verbs: Vec<String> = rule["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        for r in rule["resources"].as_array().expect("resources") {
            granted.push((r.as_str().unwrap_or("").to_owned(), verbs.clone()));
        }
    }
    granted.sort();
    let mut wanted: Vec<(String, Vec<String>)> = wanted
        .iter()
        .map(|(r, v)| ((*r).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect();
    wanted.sort();
    assert_eq!(granted, wanted, "{file}");
    let binding = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .expect("a binding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], "podwall");
}
