//! The Kubernetes client of the watchers, tuned so API server trouble is seen, not hidden:
//! no silent retries, bounded waits on a dead connection, and a record of every watch
//! request the API server accepted.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::watch;

/// How long the API server keeps one watch open (`timeoutSeconds`) unless
/// `PODWALL_WATCH_TIMEOUT` says otherwise. client-go picks 5–10 min; shorter costs one cheap
/// re-watch a minute and bounds how long a dead connection can look like a quiet cluster.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(55);

/// A connection silent this much longer than the watch timeout is dead: a live watch ends
/// at the timeout, so no read on a healthy connection waits that long. kube-runtime's own
/// idle timeout (watch timeout + 5 s) would only restart the watch silently.
const READ_TIMEOUT_MARGIN: Duration = Duration::from_secs(3);

/// A refused or dropped SYN shows as an error after this (kube's default: 30 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client the watchers share, and the watch requests it saw accepted.
#[derive(Clone)]
pub struct ApiClient {
    client: kube::Client,
    opens: Arc<WatchOpens>,
    watch_timeout: Duration,
}

impl ApiClient {
    /// Builds the client from `config`, with kube's retries off and read/connect timeouts.
    pub fn new(mut config: kube::Config) -> Result<Self, kube::Error> {
        let watch_timeout = watch_timeout_from_env();
        // kube's client retries 429/503/504 itself, up to 15 times honouring Retry-After
        // (kube-client `RetryPolicy::server_retry`): minutes in which the wall would not
        // know. Every answer goes to the watcher instead, whose backoff (0.8 s doubling to
        // 30 s, jittered, like client-go's reflector) retries after it has been reported.
        config.default_retry = false;
        config.read_timeout = Some(watch_timeout + READ_TIMEOUT_MARGIN);
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        let opens = Arc::new(WatchOpens::default());
        let client = kube::client::ClientBuilder::try_from(config)?
            .with_layer(&WatchOpenLayer(opens.clone()))
            .build();
        Ok(Self {
            client,
            opens,
            watch_timeout,
        })
    }

    /// The kube client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The `timeoutSeconds` each watch asks for.
    pub fn watch_timeout(&self) -> Duration {
        self.watch_timeout
    }

    /// Counts the watch requests on `resource_url` (an `Api::resource_url`) the API server
    /// answered with 2xx: the only sign that a watch is back after a failure, because a
    /// recovered watch on a quiet cluster yields no event.
    pub fn watch_opens(&self, resource_url: &str) -> watch::Receiver<u64> {
        self.opens.subscribe(resource_url)
    }
}

/// `PODWALL_WATCH_TIMEOUT` (whole seconds, ≥ 1), else [`DEFAULT_WATCH_TIMEOUT`].
fn watch_timeout_from_env() -> Duration {
    let Ok(text) = std::env::var("PODWALL_WATCH_TIMEOUT") else {
        return DEFAULT_WATCH_TIMEOUT;
    };
    match text.trim().parse::<u64>() {
        Ok(secs) if secs >= 1 => Duration::from_secs(secs),
        _ => {
            tracing::warn!(value = %text, default = ?DEFAULT_WATCH_TIMEOUT, "PODWALL_WATCH_TIMEOUT is not a positive number of seconds; using the default");
            DEFAULT_WATCH_TIMEOUT
        }
    }
}

/// Accepted watch requests by request path.
#[derive(Default)]
struct WatchOpens(Mutex<HashMap<String, watch::Sender<u64>>>);

impl WatchOpens {
    fn subscribe(&self, path: &str) -> watch::Receiver<u64> {
        self.0
            .lock()
            .entry(path.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    fn opened(&self, path: &str) {
        if let Some(tx) = self.0.lock().get(path) {
            tx.send_modify(|n| *n += 1);
        }
    }
}

/// Whether a request is a watch (`?watch=true` or `?watch=1`).
fn is_watch(uri: &http::Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

/// Tower layer that reports accepted watch requests to [`WatchOpens`].
#[derive(Clone)]
struct WatchOpenLayer(Arc<WatchOpens>);

impl<S> tower::Layer<S> for WatchOpenLayer {
    type Service = WatchOpenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WatchOpenService {
            inner,
            opens: self.0.clone(),
        }
    }
}

/// The service of [`WatchOpenLayer`].
#[derive(Clone)]
struct WatchOpenService<S> {
    inner: S,
    opens: Arc<WatchOpens>,
}

impl<S, B> tower::Service<http::Request<kube::client::Body>> for WatchOpenService<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        // Only watch requests pay for the path copy; they are rare.
        let watch_path = is_watch(req.uri()).then(|| req.uri().path().to_owned());
        let response = self.inner.call(req);
        let opens = self.opens.clone();
        Box::pin(async move {
            let result = response.await;
            if let (Some(path), Ok(resp)) = (watch_path, &result)
                && resp.status().is_success()
            {
                opens.opened(&path);
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_requests_are_recognised_by_their_query() {
        let watch: http::Uri = "/api/v1/pods?allowWatchBookmarks=true&watch=true&timeoutSeconds=55"
            .parse()
            .expect("uri");
        let list: http::Uri = "/api/v1/pods?limit=500".parse().expect("uri");
        let lookalike: http::Uri = "/api/v1/pods?fieldSelector=watch=true"
            .parse()
            .expect("uri");
        assert!(is_watch(&watch));
        assert!(!is_watch(&list));
        assert!(!is_watch(&lookalike));
    }

    #[test]
    fn only_subscribed_paths_count_opens() {
        let opens = WatchOpens::default();
        let pods = opens.subscribe("/api/v1/pods");
        opens.opened("/api/v1/pods");
        opens.opened("/api/v1/nodes");
        assert_eq!(*pods.borrow(), 1);
    }
}
