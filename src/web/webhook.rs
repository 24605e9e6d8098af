//! Alert webhooks: a Slack-compatible `{"text": …}` POST when a screen's rule starts or
//! stops matching, retried with backoff when another attempt can help (no answer, a 5xx,
//! 408 or 429; not another 4xx, which would only be refused again), at most
//! [`PER_MINUTE`] calls per screen a minute. The URL is a credential: it is never logged
//! or shown, and a failure is reported by the screen's name and an outcome only.

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
                    Err(Failure { why, retry }) => {
                        // `why` names a status or an error kind, never the URL.
                        tracing::warn!(screen, attempt, why, "alert webhook attempt failed");
                        if !retry || attempt == ATTEMPTS {
                            break;
                        }
                        hook.count(&screen, "retried");
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
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
                // ring, named rather than the process default, as kube's client uses it.
                let ring = rustls::crypto::ring::default_provider();
                let connector = match hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(ring)
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

/// An attempt that failed: what went wrong (never the URL), and whether another attempt
/// can go better.
#[derive(Debug)]
struct Failure {
    why: &'static str,
    retry: bool,
}

impl Failure {
    const fn retry(why: &'static str) -> Self {
        Self { why, retry: true }
    }

    const fn give_up(why: &'static str) -> Self {
        Self { why, retry: false }
    }
}

/// One attempt: a 2xx is delivered; anything else says what went wrong, without the URL.
async fn post(client: &HttpsClient, url: &SecretUrl, body: Bytes) -> Result<(), Failure> {
    let request = hyper::Request::post(url.expose())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|_| Failure::give_up("the webhook URL is not a valid request target"))?;
    let response = tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| Failure::retry("timed out"))?
        .map_err(|_| Failure::retry("connection failed"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_server_error() {
        Err(Failure::retry("server error status"))
    } else if status == hyper::StatusCode::TOO_MANY_REQUESTS {
        Err(Failure::retry("429 too many requests"))
    } else if status == hyper::StatusCode::REQUEST_TIMEOUT {
        Err(Failure::retry("408 request timeout"))
    } else {
        Err(Failure::give_up("client error status"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};

    /// A local receiver answering its n-th call with `statuses[n]` (the last one after
    /// them all), keeping every body.
    async fn receiver(statuses: &'static [u16]) -> (SecretUrl, Arc<Mutex<Vec<serde_json::Value>>>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let server = HttpServer::new(move || {
            let kept = kept.clone();
            App::new().route(
                "/hook",
                web::post().to(move |body: web::Json<serde_json::Value>| {
                    let kept = kept.clone();
                    async move {
                        let mut kept = kept.lock();
                        let status = statuses[kept.len().min(statuses.len() - 1)];
                        kept.push(body.into_inner());
                        HttpResponse::new(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the receiver");
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        (SecretUrl::new(&format!("http://{addr}/hook")), bodies)
    }

    fn outcome(hook: &Webhook, screen: &str, outcome: &'static str) -> u64 {
        hook.0
            .outcomes
            .get_or_create(&OutcomeLabel {
                screen: screen.to_owned(),
                outcome,
            })
            .get()
    }

    /// Waits (10 s at most) until `screen` has `n` calls of `outcome`.
    async fn until(hook: &Webhook, screen: &str, kind: &'static str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while outcome(hook, screen, kind) < n {
            assert!(Instant::now() < deadline, "no {n} {kind} calls in 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[actix_web::test]
    async fn a_failing_receiver_is_retried_with_the_same_body_until_it_takes_the_call() {
        let (url, bodies) = receiver(&[500, 503, 200]).await;
        let hook = Webhook::default();
        hook.send("team", url, "crashloop started".into());
        until(&hook, "team", "ok", 1).await;
        assert_eq!(outcome(&hook, "team", "retried"), 2);
        assert_eq!(outcome(&hook, "team", "failed"), 0);
        let bodies = bodies.lock();
        assert_eq!(bodies.len(), 3);
        for body in bodies.iter() {
            assert_eq!(body, &serde_json::json!({ "text": "crashloop started" }));
        }
    }

    #[actix_web::test]
    async fn a_refused_call_is_not_repeated_and_an_unreachable_one_gives_up() {
        let (url, bodies) = receiver(&[404, 200]).await;
        let hook = Webhook::default();
        hook.send("team", url, "x".into());
        until(&hook, "team", "failed", 1).await;
        assert_eq!(bodies.lock().len(), 1, "a 404 is not retried");
        assert_eq!(outcome(&hook, "team", "retried"), 0);

        // Nothing listens on the discard port: every attempt fails, then the call does.
        hook.send(
            "other",
            SecretUrl::new("http://127.0.0.1:9/hook"),
            "x".into(),
        );
        until(&hook, "other", "failed", 1).await;
        assert_eq!(outcome(&hook, "other", "retried"), u64::from(ATTEMPTS - 1));
        assert_eq!(outcome(&hook, "other", "ok"), 0);
    }

    #[actix_web::test]
    async fn a_screen_gets_at_most_its_calls_a_minute_and_others_are_not_held_back() {
        let (url, bodies) = receiver(&[200]).await;
        let hook = Webhook::default();
        for i in 0..PER_MINUTE + 2 {
            hook.send("team", url.clone(), format!("call {i}"));
        }
        assert_eq!(outcome(&hook, "team", "rate_limited"), 2);
        hook.send("other", url, "other's call".into());
        until(&hook, "team", "ok", PER_MINUTE as u64).await;
        until(&hook, "other", "ok", 1).await;
        assert_eq!(outcome(&hook, "other", "rate_limited"), 0);
        assert_eq!(bodies.lock().len(), PER_MINUTE + 1);
    }
}
