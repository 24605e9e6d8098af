//! The core/v1 REST surface: `/api/v1/…` paths routed to list, watch, get, create,
//! update, merge-patch, delete and the `status`/`binding` subresources.

use std::sync::Arc;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rand::Rng;
use serde_json::{Value, json};

use super::SimContext;
use super::events::{View, canonical_core, validate_create};
use super::field_validation::{FieldValidation, Write, with_warnings};
use super::patch::{merge_patch, strip_element_order};
use super::query::{ListOptions, query_pairs};
use super::resource::Resource;
use super::status::ApiError;
use super::store::{Deletion, Stored};
use super::table::{table, wants_table};
use super::validate::validate;
use super::{list, watch};

/// What a `/api/v1/…` path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The resource type.
    pub resource: Resource,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The object name, if any.
    pub name: Option<String>,
    /// The subresource (`status`, `binding`), if any.
    pub subresource: Option<String>,
    /// The API version objects are read and written in.
    pub view: View,
}

impl Target {
    /// Parses the part of the path after `/api/v1/`.
    pub fn parse(tail: &str) -> Option<Target> {
        let seg: Vec<&str> = tail.trim_end_matches('/').split('/').collect();
        let own = |s: &&str| Some(s.to_string());
        if seg.len() >= 3
            && seg[0] == "namespaces"
            && let Some(r) = Resource::from_plural(seg[2]).filter(|r| r.namespaced())
        {
            if seg.len() > 5 {
                return None;
            }
            return Some(Target {
                resource: r,
                namespace: own(&seg[1]),
                name: seg.get(3).and_then(own),
                subresource: seg.get(4).and_then(own),
                view: View::Core,
            });
        }
        let resource = Resource::from_plural(seg.first()?)?;
        if seg.len() > 3 {
            return None;
        }
        Some(Target {
            resource,
            namespace: None,
            name: seg.get(1).and_then(own),
            subresource: seg.get(2).and_then(own),
            view: View::Core,
        })
    }

    /// Parses the part of the path after `/apis/events.k8s.io/v1/`: events only.
    pub fn parse_events_v1(tail: &str) -> Option<Target> {
        let target = Target::parse(tail).filter(|t| t.resource == Resource::Events)?;
        Some(Target {
            view: View::EventsV1,
            ..target
        })
    }
}

/// The handler of every `/api/v1/…` request.
pub async fn dispatch(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<SimContext>,
) -> HttpResponse {
    let tail = req.match_info().query("tail").to_string();
    let ctx = ctx.into_inner();
    let target = Target::parse(&tail);
    respond(&req, target, body, ctx).await
}

/// The handler of every `/apis/events.k8s.io/v1/…` request.
pub async fn dispatch_events_v1(
    req: HttpRequest,
    body: web::Bytes,
    ctx: web::Data<SimContext>,
) -> HttpResponse {
    let tail = req.match_info().query("tail").to_string();
    let target = Target::parse_events_v1(&tail);
    respond(&req, target, body, ctx.into_inner()).await
}

async fn respond(
    req: &HttpRequest,
    target: Option<Target>,
    body: web::Bytes,
    ctx: Arc<SimContext>,
) -> HttpResponse {
    let Some(target) = target else {
        return ApiError::no_route(req.path()).to_response();
    };
    match handle(req, target, body, ctx).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(method = %req.method(), path = req.path(), code = e.code, reason = e.reason, "API error");
            e.to_response()
        }
    }
}

fn verb_of(method: &Method, target: &Target, watch: bool) -> &'static str {
    match (method.as_str(), target.name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "unknown",
    }
}

async fn handle(
    req: &HttpRequest,
    target: Target,
    body: web::Bytes,
    ctx: Arc<SimContext>,
) -> Result<HttpResponse, ApiError> {
    if target.resource.namespaced() && target.name.is_some() && target.namespace.is_none() {
        return Err(ApiError::no_route(req.path()));
    }
    // Events have no subresources.
    if target.resource == Resource::Events && target.subresource.is_some() {
        return Err(ApiError::no_route(req.path()));
    }
    let view = target.view;
    let method = req.method().clone();
    let is_list = method == Method::GET && target.name.is_none();
    let opts = if is_list {
        Some(ListOptions::parse(
            target.resource,
            view,
            req.query_string(),
        )?)
    } else {
        None
    };
    let watching = opts.as_ref().is_some_and(|o| o.watch);
    let verb = verb_of(&method, &target, watching);
    ctx.traffic.request(verb);
    ctx.faults
        .check(
            target.resource,
            verb,
            target.namespace.as_deref(),
            target.name.as_deref(),
        )
        .map_err(|e| view.in_group(e))?;
    let resource = target.resource;
    let ns = target.namespace.clone().unwrap_or_default();
    match (
        method.as_str(),
        target.name.as_deref(),
        target.subresource.as_deref(),
    ) {
        ("GET", None, None) => {
            let opts = opts.unwrap_or_default();
            let as_table = wants_table(req);
            if opts.watch {
                let ns = target.namespace.clone();
                Ok(watch::serve(
                    ctx.clone(),
                    resource,
                    view,
                    ns,
                    opts,
                    as_table,
                ))
            } else {
                list::serve(
                    &ctx.store,
                    resource,
                    view,
                    target.namespace.as_deref(),
                    &opts,
                    as_table,
                )
            }
        }
        ("POST", None, None) => {
            if resource.namespaced() && target.namespace.is_none() {
                return Err(ApiError::method_not_allowed("POST"));
            }
            create(&ctx, req, resource, view, &ns, &body)
        }
        ("GET", Some(name), None | Some("status")) => {
            let obj = ctx
                .store
                .get(resource, &ns, name)
                .ok_or_else(|| ApiError::not_found(resource, name))?;
            if wants_table(req) {
                let meta = json!({"resourceVersion": obj.index.rv.to_string()});
                let body = table(resource, &[obj.decode()], meta, true).to_string();
                return Ok(HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body));
            }
            Ok(object_response(200, &obj, view))
        }
        ("PUT", Some(name), sub @ (None | Some("status"))) => {
            let status_only = sub.is_some();
            update(&ctx, req, (resource, view), &ns, name, status_only, &body)
        }
        ("PATCH", Some(name), sub @ (None | Some("status"))) => {
            let status_only = sub.is_some();
            patch(&ctx, req, (resource, view), &ns, name, status_only, &body)
        }
        ("DELETE", Some(name), None) => delete(&ctx, req, (resource, view), &ns, name, &body),
        ("POST", Some(name), Some("binding")) if resource == Resource::Pods => {
            bind(&ctx, &ns, name, &body)
        }
        (_, _, Some(sub)) if !matches!(sub, "status" | "binding") => {
            Err(ApiError::no_route(req.path()))
        }
        (m, _, _) => Err(ApiError::method_not_allowed(m)),
    }
}

fn object_response(code: u16, obj: &Stored, view: View) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(code).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(view.outgoing(obj))
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded: json parse error: {e}"
        ))
    })?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(v)
}

fn check_kind(resource: Resource, v: &Value) -> Result<(), ApiError> {
    match v["kind"].as_str() {
        None | Some("") => Ok(()),
        Some(k) if k == resource.kind() => Ok(()),
        Some(k) => Err(ApiError::bad_request(format!(
            "the kind of the provided object ({k}) does not match the kind of the requested resource ({})",
            resource.kind()
        ))),
    }
}

/// The suffix alphabet of `generateName` (apimachinery `util/rand.String`).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn create(
    ctx: &SimContext,
    req: &HttpRequest,
    resource: Resource,
    view: View,
    ns: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let directive = FieldValidation::from_query(req.query_string(), "CreateOptions")?;
    let mut v = parse_body(body)?;
    check_kind(resource, &v)?;
    let warnings = directive.apply(resource, view, Write::Create, &mut v)?;
    let mut v = view.incoming(v);
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    if resource.namespaced() {
        match v["metadata"]["namespace"].as_str() {
            None | Some("") => v["metadata"]["namespace"] = ns.into(),
            Some(x) if x == ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
    } else if let Some(m) = v["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty()
        && let Some(prefix) = v["metadata"]["generateName"]
            .as_str()
            .filter(|p| !p.is_empty())
    {
        let mut rng = rand::rng();
        let suffix: String = (0..5)
            .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
            .collect();
        v["metadata"]["name"] = format!("{prefix}{suffix}").into();
    }
    default_status(resource, &mut v);
    validate(resource, &v)?;
    if resource == Resource::Events {
        validate_create(&v, view)?;
    }
    let stored = ctx.store.create(resource, v)?;
    ctx.written(resource, &stored);
    Ok(with_warnings(
        object_response(201, &stored, view),
        &warnings,
    ))
}

/// Fields a fresh object gets from the server (a new pod is Pending).
fn default_status(resource: Resource, v: &mut Value) {
    match resource {
        Resource::Pods => {
            let spec = &mut v["spec"];
            for (k, d) in [
                ("restartPolicy", json!("Always")),
                ("schedulerName", json!("default-scheduler")),
                ("terminationGracePeriodSeconds", json!(30)),
                ("dnsPolicy", json!("ClusterFirst")),
                ("serviceAccountName", json!("default")),
            ] {
                if spec.get(k).is_none_or(Value::is_null) {
                    spec[k] = d;
                }
            }
            if v["status"]["phase"].is_null() {
                v["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            }
        }
        Resource::Namespaces => {
            v["spec"] = json!({"finalizers": ["kubernetes"]});
            v["status"] = json!({"phase": "Active"});
            let name = v["metadata"]["name"].clone();
            if name.is_string() {
                v["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            }
        }
        Resource::Events => *v = canonical_core(std::mem::take(v)),
        Resource::Nodes => {}
    }
}

/// Keeps the part of `old` a request on the main resource (`status_only` false) or on
/// the status subresource (true) may not change.
fn keep_other_half(old: &Value, mut new: Value, status_only: bool) -> Value {
    if status_only {
        let status = new["status"].take();
        let mut merged = old.clone();
        merged["status"] = status;
        merged
    } else {
        if old.get("status").is_some() {
            new["status"] = old["status"].clone();
        }
        new
    }
}

fn parse_rv(v: &Value) -> Result<Option<u64>, ApiError> {
    match v["metadata"]["resourceVersion"].as_str() {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {s:?} in the object: must be a non-negative integer"
            ))
        }),
    }
}

fn update(
    ctx: &SimContext,
    req: &HttpRequest,
    (resource, view): (Resource, View),
    ns: &str,
    name: &str,
    status_only: bool,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let directive = FieldValidation::from_query(req.query_string(), "UpdateOptions")?;
    let mut v = parse_body(body)?;
    check_kind(resource, &v)?;
    let warnings = directive.apply(resource, view, Write::Update, &mut v)?;
    let mut v = view.incoming(v);
    if resource == Resource::Events {
        v = canonical_core(v);
    }
    match v["metadata"]["name"].as_str() {
        Some(n) if n == name => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                other.unwrap_or_default()
            )));
        }
    }
    if resource.namespaced()
        && v["metadata"]["namespace"]
            .as_str()
            .is_some_and(|n| !n.is_empty() && n != ns)
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let expect = parse_rv(&v)?;
    let stored = ctx.store.update(resource, ns, name, expect, |old| {
        let new = keep_other_half(&old, v.clone(), status_only);
        let mut checked = new.clone();
        checked["metadata"]["name"] = name.into();
        validate(resource, &checked)?;
        Ok(new)
    })?;
    ctx.written(resource, &stored);
    Ok(with_warnings(
        object_response(200, &stored, view),
        &warnings,
    ))
}

fn patch(
    ctx: &SimContext,
    req: &HttpRequest,
    (resource, view): (Resource, View),
    ns: &str,
    name: &str,
    status_only: bool,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    // Strategic merge patch is applied as a merge patch: the same for maps and scalars,
    // different for lists with merge keys (documented deviation).
    if !matches!(
        media,
        "application/merge-patch+json" | "application/strategic-merge-patch+json"
    ) {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    let directive = FieldValidation::from_query(req.query_string(), "PatchOptions")?;
    let mut p = parse_body(body)?;
    if media == "application/strategic-merge-patch+json" {
        strip_element_order(&mut p);
    }
    let expect = parse_rv(&p)?;
    let mut warnings = Vec::new();
    let stored = ctx.store.update(resource, ns, name, expect, |old| {
        // A patch applies to the object as the request's version shows it.
        let mut patched = view.outgoing_value(old.clone());
        merge_patch(&mut patched, &p);
        warnings = directive.apply(resource, view, Write::Patch(&p), &mut patched)?;
        let mut patched = view.incoming(patched);
        if resource == Resource::Events {
            patched = canonical_core(patched);
        }
        let new = keep_other_half(&old, patched, status_only);
        validate(resource, &new)?;
        Ok(new)
    })?;
    ctx.written(resource, &stored);
    Ok(with_warnings(
        object_response(200, &stored, view),
        &warnings,
    ))
}

fn delete(
    ctx: &Arc<SimContext>,
    req: &HttpRequest,
    (resource, view): (Resource, View),
    ns: &str,
    name: &str,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let mut grace = None;
    for (k, v) in query_pairs(req.query_string())? {
        if k == "gracePeriodSeconds" {
            grace =
                Some(v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {v:?}"))
                })?);
        }
    }
    let mut uid = None;
    if !body.is_empty() {
        let opts = parse_body(body)?;
        if let Some(g) = opts["gracePeriodSeconds"].as_i64() {
            grace = Some(g);
        }
        uid = opts["preconditions"]["uid"].as_str().map(str::to_string);
        if let Some(rv) = opts["preconditions"]["resourceVersion"].as_str()
            && let Some(current) = ctx.store.get(resource, ns, name)
            && current.index.rv.to_string() != rv
        {
            return Err(ApiError::conflict_message(
                resource.plural(),
                name,
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    current.index.rv
                ),
            ));
        }
    }
    match ctx
        .store
        .delete(resource, ns, name, grace, uid.as_deref())?
    {
        // Like every registry without `ReturnDeletedObject`: a Success Status.
        Deletion::Gone(obj) if resource == Resource::Events => {
            let mut details =
                json!({"name": obj.index.name, "kind": resource.plural(), "uid": obj.index.uid});
            if view == View::EventsV1 {
                details["group"] = "events.k8s.io".into();
            }
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body(status.to_string()))
        }
        Deletion::Gone(obj) => Ok(object_response(200, &obj, view)),
        Deletion::Terminating(obj, grace) => {
            ctx.remove_after_grace(
                resource,
                obj.index.namespace.clone(),
                obj.index.name.clone(),
                obj.index.uid.clone(),
                grace,
            );
            Ok(object_response(200, &obj, view))
        }
    }
}

fn bind(ctx: &SimContext, ns: &str, name: &str, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let b = parse_body(body)?;
    let node = b["target"]["name"].as_str().unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            "Binding",
            name,
            vec![super::status::Cause {
                reason: "FieldValueRequired",
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        ));
    }
    ctx.store
        .update(Resource::Pods, ns, name, None, |mut pod| {
            if let Some(current) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict_message(
                    "pods/binding",
                    name,
                    format!("pod {name} is already assigned to node \"{current}\""),
                ));
            }
            pod["spec"]["nodeName"] = node.clone().into();
            super::cluster::set_condition(&mut pod, "PodScheduled", "True", None);
            Ok(pod)
        })?;
    Ok(HttpResponse::Created()
        .content_type("application/json")
        .body(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let t = Target::parse("namespaces/web/pods/a/status").unwrap();
        assert_eq!(
            (
                t.resource,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            (Resource::Pods, Some("web"), Some("a"), Some("status"))
        );
        let t = Target::parse("namespaces/web/status").unwrap();
        assert_eq!(
            (t.resource, t.name.as_deref(), t.subresource.as_deref()),
            (Resource::Namespaces, Some("web"), Some("status"))
        );
        let t = Target::parse("namespaces/web").unwrap();
        assert_eq!(
            (t.resource, t.name.as_deref()),
            (Resource::Namespaces, Some("web"))
        );
        let t = Target::parse("pods").unwrap();
        assert_eq!(
            (t.resource, t.namespace, t.name),
            (Resource::Pods, None, None)
        );
        assert!(Target::parse("secrets").is_none());
        assert!(Target::parse("nodes/a/b/c").is_none());
    }
}
