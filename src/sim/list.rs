//! List requests: resourceVersion semantics, pagination and the streamed list body.

use std::sync::Arc;

use actix_web::HttpResponse;
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream;
use serde_json::json;

use super::events::View;
use super::query::{ContinueToken, ListOptions, RvMatch};
use super::resource::Resource;
use super::status::ApiError;
use super::store::{PageRequest, Store, Stored};
use super::table::table;

/// Answers a list request, following "Semantics for get and list" of the API concepts
/// documentation: unset = most recent, "0" = any (served as most recent), a version with
/// `limit` and no match = Exact (legacy), otherwise NotOlderThan.
pub fn serve(
    store: &Store,
    resource: Resource,
    view: View,
    namespace: Option<&str>,
    opts: &ListOptions,
    as_table: bool,
) -> Result<HttpResponse, ApiError> {
    let (rv, after) = match &opts.continue_from {
        Some(token) => {
            store.check_rv(token.rv).map_err(|e| {
                if e.code == 410 {
                    ApiError::continue_expired()
                } else {
                    e
                }
            })?;
            (Some(token.rv), Some(&token.after))
        }
        None => {
            let exact = match (opts.resource_version, opts.rv_match) {
                (None | Some(0), _) => None,
                (Some(rv), Some(RvMatch::Exact)) => Some(rv),
                (Some(rv), None) if opts.limit.is_some() => Some(rv),
                (Some(rv), _) => {
                    let current = store.rv();
                    if rv > current {
                        return Err(ApiError::too_large(rv, current));
                    }
                    None
                }
            };
            (exact, None)
        }
    };
    let request = PageRequest {
        rv,
        namespace,
        after,
        limit: opts.limit,
        count_remaining: !opts.filtered(),
    };
    let page = store.list(resource, request, |i| opts.matches(i))?;
    let mut meta = json!({"resourceVersion": page.rv.to_string()});
    if let Some(next) = page.next {
        meta["continue"] = ContinueToken {
            rv: page.rv,
            after: next,
        }
        .encode(resource)
        .into();
        // The apiserver only counts what is left when no selector filters the list.
        if !opts.filtered() {
            meta["remainingItemCount"] = page.remaining.into();
        }
    }
    if as_table {
        let objects: Vec<serde_json::Value> = page.items.iter().map(|i| i.decode()).collect();
        let body = table(resource, &objects, meta, true).to_string();
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body));
    }
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{meta},\"items\":[",
        resource.list_kind(),
        view.api_version()
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .streaming(list_body(head, page.items, view)))
}

/// The list JSON in chunks of about 256 KiB, so a 100k-pod list is never one buffer.
fn list_body(
    head: String,
    items: Vec<Arc<Stored>>,
    view: View,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    const CHUNK: usize = 256 * 1024;
    let mut first = true;
    let mut items = items.into_iter().peekable();
    let mut head = Some(head);
    let mut done = false;
    stream::iter(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = BytesMut::with_capacity(CHUNK + 8 * 1024);
        if let Some(h) = head.take() {
            buf.put_slice(h.as_bytes());
        }
        while buf.len() < CHUNK {
            let Some(item) = items.next() else { break };
            if !first {
                buf.put_u8(b',');
            }
            first = false;
            buf.put_slice(&view.outgoing(&item));
        }
        if items.peek().is_none() {
            buf.put_slice(b"]}");
            done = true;
        }
        Some(Ok(buf.freeze()))
    }))
}
