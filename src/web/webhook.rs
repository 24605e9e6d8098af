//! Alert webhooks: a Slack-compatible `{"text": …}` POST when a screen's rule starts or
//! stops matching, retried a few times with backoff, at most [`PER_MINUTE`] calls per
//! screen a minute. The URL is a credential: it is never logged or shown, and a failure
//! is reported by the screen's name and an outcome only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::screens::SecretUrl;

/// Most calls per screen within a minute; more are dropped (and counted).
pub const PER_MINUTE: usize = 10;
/// Attempts per call.
const ATTEMPTS: u32 = 3;
/// The wait before the second attempt; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// One attempt's limit, connection included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    screen: String,
    /// `ok`, `failed` (after every attempt), `retried` (an attempt that failed),
    /// `rate_limited`.
    outcome: &'static str,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends the webhooks of every screen. Cheap to clone.
#[derive(Clone, Default)]
pub struct Webhook(Arc<Inner>);

#[derive(Default)]
struct Inner {
    outcomes: Family<OutcomeLabel, Counter>,
    /// Per screen: when its recent calls were made.
    recent: Mutex<HashMap<String, Vec<Instant>>>,
    client: std::sync::OnceLock<Option<HttpsClient>>,
}

impl Webhook {
    /// Registers `podwall_webhook_calls_total{screen,outcome}`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_calls",
            "Alert webhook calls by screen and outcome (ok, retried, failed, rate_limited)",
            self.0.outcomes.clone(),
        );
    }

    fn count(&self, screen: &str, outcome: &'static str) {
        self.0
            .outcomes
            .get_or_create(&OutcomeLabel {
                screen: screen.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Posts `text` to `url` for `screen` in the background, unless the screen's rate is
    /// used up.
    pub fn send(&self, screen: &str, url: SecretUrl, text: String) {
        let now = Instant::now();
        {
            let mut recent = self.0.recent.lock();
            let calls = recent.entry(screen.to_owned()).or_default();
            calls.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            if calls.len() >= PER_MINUTE {
                drop(recent);
                tracing::warn!(screen, "alert webhook rate limit reached; call dropped");
                self.count(screen, "rate_limited");
                return;
            }
            calls.push(now);
        }
        let Some(client) = self.client() else {
            self.count(screen, "failed");
            return;
        };
        let hook = self.clone();
        let screen = screen.to_owned();
        let body = Bytes::from(serde_json::json!({ "text": text }).to_string());
        tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            for attempt in 1..=ATTEMPTS {
                match post(&client, &url, body.clone()).await {
                    Ok(()) => {
                        tracing::info!(screen, attempt, "alert webhook delivered");
                        hook.count(&screen, "ok");
                        return;
                    }
                    Err(why) => {
                        // `why` names a status or an error kind, never the URL.
                        tracing::warn!(screen, attempt, why, "alert webhook attempt failed");
                        if attempt < ATTEMPTS {
                            hook.count(&screen, "retried");
                            tokio::time::sleep(backoff).await;
                            backoff *= 2;
                        }
                    }
                }
            }
            hook.count(&screen, "failed");
        });
    }

    fn client(&self) -> Option<HttpsClient> {
        self.0
            .client
            .get_or_init(|| {
                let connector = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()
                {
                    Ok(b) => b.https_or_http().enable_http1().build(),
                    Err(e) => {
                        tracing::error!(error = %e, "no TLS roots for alert webhooks");
                        return None;
                    }
                };
                Some(Client::builder(TokioExecutor::new()).build(connector))
            })
            .clone()
    }
}

/// One attempt: a 2xx is delivered; anything else says what went wrong, without the URL.
async fn post(client: &HttpsClient, url: &SecretUrl, body: Bytes) -> Result<(), &'static str> {
    let request = hyper::Request::post(url.expose())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|_| "the webhook URL is not a valid request target")?;
    let response = tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| "timed out")?
        .map_err(|_| "connection failed")?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_server_error() {
        Err("server error status")
    } else if status == hyper::StatusCode::TOO_MANY_REQUESTS {
        Err("429 too many requests")
    } else {
        Err("client error status")
    }
}
