//! The OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/api/v1`), cut down to what
//! kubectl reads: the write operations per kind and their `fieldValidation` parameter.
//!
//! kubectl's default `--validate=strict` asks `QueryParamVerifierV3.HasSupport`
//! (k8s.io/cli-runtime `resource/query_param_verifier_v3.go`) whether the PATCH operation
//! whose `x-kubernetes-group-version-kind` is the object's kind declares a `fieldValidation`
//! query parameter. If so it sends `?fieldValidation=Strict` and leaves the checking to the
//! server; otherwise it validates client-side against `/openapi/v2`. No schemas are
//! served, and PATCH declares no strategic merge patch body, so `kubectl apply` computes
//! its patch from kubectl's built-in types (`apply/patcher.go` `gvkSupportsPatchOpenAPIV3`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use actix_web::HttpResponse;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::resource::Resource;

/// The core/v1 document and the discovery document pointing at it, built once.
struct Documents {
    core_v1: Bytes,
    discovery: Bytes,
}

static DOCUMENTS: LazyLock<Documents> = LazyLock::new(|| {
    let core_v1 = core_v1_document().to_string();
    // The real server names the document's content hash in the URL, so clients can
    // cache it until it changes.
    let mut hasher = DefaultHasher::new();
    core_v1.hash(&mut hasher);
    let url = format!("/openapi/v3/api/v1?hash={:016X}", hasher.finish());
    let discovery = json!({"paths": {"api/v1": {"serverRelativeURL": url}}}).to_string();
    Documents {
        core_v1: Bytes::from(core_v1),
        discovery: Bytes::from(discovery),
    }
});

fn json_response(body: &Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.clone())
}

/// `GET /openapi/v3`: where each group version's document is.
pub async fn discovery() -> HttpResponse {
    json_response(&DOCUMENTS.discovery)
}

/// `GET /openapi/v3/api/v1`.
pub async fn core_v1() -> HttpResponse {
    json_response(&DOCUMENTS.core_v1)
}

fn query_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

/// One operation on `resource`; writes take `dryRun`, `fieldManager` and
/// `fieldValidation` like the real ones.
fn operation(resource: Resource, action: &str, verb: &str, body_types: &[&str]) -> Value {
    let kind = resource.kind();
    let mut op = json!({
        "operationId": format!("{verb}CoreV1{}{kind}", if resource.namespaced() { "Namespaced" } else { "" }),
        "tags": ["core_v1"],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
    });
    if !body_types.is_empty() {
        let content: Map<String, Value> = body_types
            .iter()
            .map(|t| ((*t).to_string(), json!({})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
        op["parameters"] = json!([
            query_parameter(
                "dryRun",
                "When present, indicates that modifications should not be persisted."
            ),
            query_parameter(
                "fieldManager",
                "A name associated with the actor or entity that is making these changes."
            ),
            query_parameter(
                "fieldValidation",
                "How the server handles unknown fields in the object: Ignore, Warn (the default) or Strict."
            ),
        ]);
    }
    op
}

fn core_v1_document() -> Value {
    const OBJECT: &[&str] = &["application/json"];
    // Strategic merge patches are accepted but applied as merge patches, so only the
    // merge patch type is declared.
    const PATCH: &[&str] = &["application/merge-patch+json"];
    let mut paths = Map::new();
    for resource in Resource::ALL {
        let plural = resource.plural();
        let collection = if resource.namespaced() {
            format!("/api/v1/namespaces/{{namespace}}/{plural}")
        } else {
            format!("/api/v1/{plural}")
        };
        let item = format!("{collection}/{{name}}");
        paths.insert(
            collection,
            json!({
                "get": operation(resource, "list", "list", &[]),
                "post": operation(resource, "post", "create", OBJECT),
            }),
        );
        let item_ops = json!({
            "get": operation(resource, "get", "read", &[]),
            "put": operation(resource, "put", "replace", OBJECT),
            "patch": operation(resource, "patch", "patch", PATCH),
            "delete": operation(resource, "delete", "delete", &[]),
        });
        // Events have no status subresource.
        if resource != Resource::Events {
            paths.insert(format!("{item}/status"), {
                let mut status = item_ops.clone();
                if let Some(ops) = status.as_object_mut() {
                    ops.remove("delete");
                }
                status
            });
        }
        paths.insert(item, item_ops);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.4-podwall-sim"},
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kubectl checks: a PATCH for the kind that declares `fieldValidation` in the query.
    #[test]
    fn every_kind_declares_field_validation_on_patch() {
        let doc: Value = serde_json::from_slice(&DOCUMENTS.core_v1).unwrap();
        for resource in Resource::ALL {
            let declared = doc["paths"].as_object().unwrap().values().any(|p| {
                p["patch"]["x-kubernetes-group-version-kind"]["kind"] == resource.kind()
                    && p["patch"]["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|q| q["name"] == "fieldValidation" && q["in"] == "query")
            });
            assert!(declared, "{resource:?}");
        }
        let discovery: Value = serde_json::from_slice(&DOCUMENTS.discovery).unwrap();
        let url = discovery["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
    }
}
