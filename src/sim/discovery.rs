//! Discovery documents (`/version`, `/api`, `/api/v1`, `/apis`): enough for kubectl and
//! client libraries to find pods, nodes and namespaces.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::SimContext;
use super::events;
use super::metrics_api::{self, MetricsMode};
use super::resource::Resource;

fn json_response(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}

/// `GET /version`.
pub async fn version() -> HttpResponse {
    json_response(json!({
        "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
        "gitVersion": "v1.33.4-podwall-sim", "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-08-01T00:00:00Z", "goVersion": "go1.24.5", "compiler": "gc", "platform": "linux/amd64"
    }))
}

/// `GET /api`.
pub async fn api_versions(req: HttpRequest) -> HttpResponse {
    let host = req.connection_info().host().to_string();
    json_response(json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
    }))
}

/// `GET /api/v1`.
pub async fn core_v1() -> HttpResponse {
    let resources: Vec<Value> = Resource::ALL.iter().flat_map(|r| r.discovery()).collect();
    json_response(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources}),
    )
}

/// `GET /apis`: `events.k8s.io`, and `metrics.k8s.io` while a metrics-server is
/// registered.
pub async fn api_groups(ctx: web::Data<SimContext>) -> HttpResponse {
    let mut groups = vec![events::api_group()];
    match ctx.metrics.mode() {
        MetricsMode::Absent => {}
        MetricsMode::Serving | MetricsMode::Unavailable => groups.push(metrics_api::api_group()),
    }
    json_response(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}
