//! A local receiver for alert webhooks: answers every POST 200 and keeps its JSON bodies,
//! over plain HTTP or over TLS with a throwaway CA ([`TestCa`]) that the server under
//! test is told to trust (`SSL_CERT_FILE`).

use std::sync::Arc;

use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::tls::TestCa;

/// A running receiver (it lives as long as the test's runtime).
pub struct Receiver {
    /// Where to send calls: `http(s)://127.0.0.1:PORT/hooks/team`.
    pub url: String,
    calls: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    /// A receiver over plain HTTP.
    pub async fn start() -> Receiver {
        Self::listen(None).await
    }

    /// A receiver over TLS, showing `ca`'s server certificate (made for `IP:127.0.0.1`).
    pub async fn start_tls(ca: &TestCa) -> Receiver {
        let certs = CertificateDer::pem_file_iter(&ca.server_cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .expect("read the server certificate");
        let key = PrivateKeyDer::from_pem_file(&ca.server_key).expect("read the server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the server certificate and key");
        Self::listen(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn listen(tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let addr = listener.local_addr().expect("the receiver's address");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let kept = calls.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let kept = kept.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(tls) => {
                            if let Ok(conn) = tls.accept(conn).await {
                                answer(conn, &kept).await;
                            }
                        }
                        None => answer(conn, &kept).await,
                    }
                });
            }
        });
        Receiver {
            url: format!("{scheme}://{addr}/hooks/team"),
            calls,
        }
    }

    /// The `text` of every call so far, in order.
    pub fn texts(&self) -> Vec<String> {
        self.calls
            .lock()
            .iter()
            .filter_map(|v| v["text"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Reads one request (headers, then Content-Length bytes of body), keeps its JSON body
/// and answers 200.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    kept: &Mutex<Vec<serde_json::Value>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = conn.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]);
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            if let Ok(v) = serde_json::from_slice(&buf[end + 4..end + 4 + length]) {
                kept.lock().push(v);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
            let _ = conn.shutdown().await;
            return;
        }
    }
}
