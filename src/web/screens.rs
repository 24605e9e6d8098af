//! Scoped screen tokens: `--screens-file`, a JSON file (a mounted Secret) with one entry
//! per wall screen — its name, its token (plain or `sha256:<hex>`), its scope (clusters,
//! namespaces, a label selector), and optionally attention rules and a webhook.
//!
//! The file is read again every [`POLL`] (content compared, so a Secret's symlink swap is
//! seen like an edit). A malformed file keeps the last good set, with a log line and
//! `podwall_screens_file_errors_total{error}` saying what is wrong; an empty one means no
//! screens. An entry that changes or goes away cancels its screen's token: its open
//! streams end with `event: signed-out`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::token::{AuthToken, TokenError};
use crate::state::{Bounds, Rules};

/// How often the screens file is read again.
pub const POLL: Duration = Duration::from_secs(2);
/// Largest screens file read (a few thousand screens).
const MAX_FILE: u64 = 1024 * 1024;

/// The file: `{"screens": [ … ]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    screens: Vec<Entry>,
}

/// One screen as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    token: String,
    #[serde(default)]
    clusters: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    alert: String,
    #[serde(default)]
    webhook: Option<String>,
}

/// How a screen's token is kept: as given, or only its SHA-256.
#[derive(Clone)]
enum Stored {
    Plain(AuthToken),
    Sha256([u8; 32]),
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => a.matches(b.as_bytes()),
            (Self::Sha256(a), Self::Sha256(b)) => a.ct_eq(b).into(),
            _ => false,
        }
    }
}

/// A URL kept out of `Debug` and logs (a webhook's URL is a credential).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Arc<str>);

impl SecretUrl {
    /// Keeps `url` out of every log and `Debug`.
    pub(super) fn new(url: &str) -> Self {
        Self(url.into())
    }

    /// The URL, for the one place that calls it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl(<redacted>)")
    }
}

/// Why a screen's stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Its token was removed or changed: the screen must sign in again.
    Revoked,
    /// Its scope or rules changed: it reloads with the new ones.
    Changed,
}

/// One screen: who it is and what it may see.
pub struct Screen {
    /// The screen's name (a metric label and log field; never the token).
    pub name: String,
    token: Stored,
    /// Clusters it may see, all when empty.
    clusters: Vec<String>,
    /// Namespaces and labels it may see.
    pub bounds: Arc<Bounds>,
    /// Its attention rules (`alert` in the file).
    pub rules: Rules,
    /// Where its alerts are posted.
    pub webhook: Option<SecretUrl>,
    /// Cancelled when the entry changes or goes away.
    pub revoked: CancellationToken,
    ending: parking_lot::Mutex<Option<Ending>>,
}

impl fmt::Debug for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Screen")
            .field("name", &self.name)
            .field("clusters", &self.clusters)
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

impl Screen {
    /// Whether it may see cluster `name`.
    pub fn sees_cluster(&self, name: &str) -> bool {
        self.clusters.is_empty() || self.clusters.iter().any(|c| c == name)
    }

    /// Why its streams ended, once [`Screen::revoked`] is cancelled.
    pub fn ending(&self) -> Ending {
        self.ending.lock().unwrap_or(Ending::Revoked)
    }

    fn end(&self, why: Ending) {
        *self.ending.lock() = Some(why);
        self.revoked.cancel();
    }

    /// Everything but the revocation token equal: the same screen.
    fn same_as(&self, other: &Screen) -> bool {
        self.name == other.name
            && self.token == other.token
            && self.clusters == other.clusters
            && self.bounds == other.bounds
            && self.rules == other.rules
            && self.webhook == other.webhook
    }
}

/// What is wrong with a screens file. Never carries a token or a webhook URL.
#[derive(Debug, thiserror::Error)]
pub enum ScreensError {
    /// The file could not be read.
    #[error("cannot read the screens file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Larger than [`MAX_FILE`].
    #[error("the screens file is larger than {MAX_FILE} bytes")]
    TooLarge,
    /// Not JSON of the documented shape (line and column only: a value could be a token).
    #[error("the screens file is not valid: {kind} error at line {line}, column {column}")]
    Json {
        /// syntax, data, eof.
        kind: &'static str,
        /// Where.
        line: usize,
        /// Where.
        column: usize,
    },
    /// An entry is wrong.
    #[error("screen {index} ({name:?}): {reason}")]
    Entry {
        /// Its place in the list, from 0.
        index: usize,
        /// Its name, as written.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl ScreensError {
    /// The metric label of the error.
    fn label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::TooLarge => "too_large",
            Self::Json { .. } => "json",
            Self::Entry { .. } => "entry",
        }
    }
}

/// Parses a screens file's text; whitespace only means no screens.
fn parse(text: &str) -> Result<Vec<Screen>, ScreensError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let file: File = serde_json::from_str(text).map_err(|e| ScreensError::Json {
        kind: match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data (a missing, unknown or mistyped field)",
            serde_json::error::Category::Eof => "unexpected end",
        },
        line: e.line(),
        column: e.column(),
    })?;
    let mut screens: Vec<Screen> = Vec::with_capacity(file.screens.len());
    for (index, entry) in file.screens.into_iter().enumerate() {
        let fail = |reason: String| ScreensError::Entry {
            index,
            name: entry.name.clone(),
            reason,
        };
        crate::k8s::selector::validate_dns_label(&entry.name)
            .map_err(|r| fail(format!("the name must be a DNS label: {r}")))?;
        if screens.iter().any(|s| s.name == entry.name) {
            return Err(fail("the name is given twice".into()));
        }
        let token = stored_token(&entry.token).map_err(|r| fail(format!("token: {r}")))?;
        if screens.iter().any(|s| s.token == token) {
            return Err(fail("the token is another screen's".into()));
        }
        for c in &entry.clusters {
            crate::k8s::selector::validate_dns_label(c)
                .map_err(|r| fail(format!("cluster {c:?}: {r}")))?;
        }
        let bounds = Bounds::new(&entry.namespaces, &entry.labels).map_err(fail)?;
        let rules = Rules::parse(&entry.alert).map_err(|e| fail(e.to_string()))?;
        let webhook = match entry.webhook {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(SecretUrl::new(&url))
            }
            Some(_) => return Err(fail("webhook: must be an http:// or https:// URL".into())),
            None => None,
        };
        screens.push(Screen {
            name: entry.name.clone(),
            token,
            clusters: entry.clusters,
            bounds: Arc::new(bounds),
            rules,
            webhook,
            revoked: CancellationToken::new(),
            ending: parking_lot::Mutex::new(None),
        });
    }
    Ok(screens)
}

/// `sha256:<64 hex digits>`, or a plain token under [`AuthToken`]'s rules.
fn stored_token(text: &str) -> Result<Stored, String> {
    if let Some(hex) = text.strip_prefix("sha256:") {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err("sha256: needs 64 hex digits".into());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let digit = |b: u8| (b as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
                _ => return Err("sha256: needs 64 hex digits".into()),
            }
        }
        return Ok(Stored::Sha256(out));
    }
    AuthToken::new(text)
        .map(Stored::Plain)
        .map_err(|e: TokenError| e.to_string())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    error: &'static str,
}

/// The screen a metric is about (its name, never its token).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScreenLabel {
    /// The screen's name.
    pub screen: String,
}

/// What the screens did, for `/metrics`.
#[derive(Default)]
pub struct ScreenMetrics {
    loaded: Gauge,
    file_errors: Family<ErrorLabel, Counter>,
    file_valid: Gauge,
    /// Open event streams per screen.
    pub streams: Family<ScreenLabel, Gauge>,
}

impl ScreenMetrics {
    /// Registers them all.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "screens",
            "Screens in the last good screens file",
            self.loaded.clone(),
        );
        registry.register(
            "screens_file_valid",
            "1 when the screens file as it is now was loaded, 0 while a malformed one is ignored",
            self.file_valid.clone(),
        );
        registry.register(
            "screens_file_errors",
            "Reads of the screens file that kept the last good one, by what was wrong",
            self.file_errors.clone(),
        );
        registry.register(
            "screen_streams",
            "Open event streams per screen (label: the screen's name)",
            self.streams.clone(),
        );
    }
}

struct Inner {
    path: PathBuf,
    registry: Registry,
    current: RwLock<Arc<Vec<Arc<Screen>>>>,
    last_text: parking_lot::Mutex<String>,
    /// The last error reported, so a file that stays wrong is reported once.
    last_error: parking_lot::Mutex<Option<String>>,
    metrics: ScreenMetrics,
    /// Bumped on every change of the set (the attention evaluators follow it).
    generation: tokio::sync::watch::Sender<u64>,
}

/// The screens of the last good screens file, reloaded in the background. Cheap to clone.
#[derive(Clone)]
pub struct Screens(Arc<Inner>);

impl fmt::Debug for Screens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Screens({})", self.0.path.display())
    }
}

impl Screens {
    /// Reads `path`; a missing, unreadable or malformed file at start is an error.
    pub fn load(path: &Path) -> Result<Self, ScreensError> {
        let text = read(path)?;
        let screens = parse(&text)?;
        let metrics = ScreenMetrics::default();
        metrics.loaded.set(screens.len() as i64);
        metrics.file_valid.set(1);
        let mut registry = Registry::with_prefix("podwall");
        metrics.register(&mut registry);
        tracing::info!(path = %path.display(), screens = screens.len(), "screens file loaded");
        Ok(Self(Arc::new(Inner {
            path: path.to_owned(),
            registry,
            current: RwLock::new(Arc::new(screens.into_iter().map(Arc::new).collect())),
            last_text: parking_lot::Mutex::new(text),
            last_error: parking_lot::Mutex::new(None),
            metrics,
            generation: tokio::sync::watch::channel(0).0,
        })))
    }

    /// The screens' metrics registry (`/metrics` shows it after the cluster's).
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The screens' metrics.
    pub fn metrics(&self) -> &ScreenMetrics {
        &self.0.metrics
    }

    /// The screens now.
    pub fn current(&self) -> Arc<Vec<Arc<Screen>>> {
        self.0.current.read().clone()
    }

    /// Follows changes of the set.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.generation.subscribe()
    }

    /// The screen whose token `candidate` is. Every screen is compared, in constant
    /// time for each, whichever matches.
    pub fn authenticate(&self, candidate: &[u8]) -> Option<Arc<Screen>> {
        let hash = sha256(candidate);
        let mut found = None;
        for screen in self.current().iter() {
            let equal: bool = match &screen.token {
                Stored::Plain(t) => t.matches(candidate),
                Stored::Sha256(h) => h.ct_eq(&hash).into(),
            };
            if equal && found.is_none() {
                found = Some(screen.clone());
            }
        }
        found
    }

    /// Reads the file again; on a change, swaps in the new set and ends the streams of
    /// the screens that changed or went away. A bad file keeps the last good set.
    pub fn reload(&self) {
        let text = match read(&self.0.path) {
            Ok(t) => t,
            Err(e) => return self.refuse(&e),
        };
        if *self.0.last_text.lock() == text {
            // Back to the loaded file after a bad one: valid again, nothing to swap.
            if self.0.last_error.lock().take().is_some() {
                self.0.metrics.file_valid.set(1);
                tracing::info!("screens file is the loaded one again");
            }
            return;
        }
        let fresh = match parse(&text) {
            Ok(s) => s,
            Err(e) => return self.refuse(&e),
        };
        *self.0.last_text.lock() = text;
        *self.0.last_error.lock() = None;
        let old = self.current();
        let mut next: Vec<Arc<Screen>> = Vec::with_capacity(fresh.len());
        for screen in fresh {
            // An unchanged entry keeps its screen (and so its open streams).
            match old.iter().find(|o| o.same_as(&screen)) {
                Some(same) => next.push(same.clone()),
                None => next.push(Arc::new(screen)),
            }
        }
        let ending: Vec<(Arc<Screen>, Ending)> = old
            .iter()
            .filter(|o| !next.iter().any(|n| Arc::ptr_eq(n, o)))
            .map(|gone| {
                let why = match next.iter().find(|n| n.name == gone.name) {
                    Some(n) if n.token == gone.token => Ending::Changed,
                    _ => Ending::Revoked,
                };
                (gone.clone(), why)
            })
            .collect();
        let m = &self.0.metrics;
        m.loaded.set(next.len() as i64);
        m.file_valid.set(1);
        tracing::info!(screens = next.len(), "screens file reloaded");
        *self.0.current.write() = Arc::new(next);
        self.0.generation.send_modify(|g| *g += 1);
        // Only now, with the new screens in force: a page told "signed out" checks its
        // token at once, and must not find the old one still accepted (it would reload
        // into a 401).
        for (gone, why) in ending {
            tracing::info!(screen = %gone.name, ending = ?why, "screen changed or removed; its streams end");
            gone.end(why);
        }
    }

    fn refuse(&self, e: &ScreensError) {
        let m = &self.0.metrics;
        m.file_valid.set(0);
        // A file that stays wrong (or missing) is counted and logged once, not per poll.
        let said = e.to_string();
        if self.0.last_error.lock().replace(said.clone()).as_ref() == Some(&said) {
            return;
        }
        m.file_errors
            .get_or_create(&ErrorLabel { error: e.label() })
            .inc();
        tracing::warn!(error = %e, "screens file not reloaded; keeping the last good one");
    }

    /// Reloads every [`POLL`] until `shutdown`.
    pub fn spawn_reload(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let screens = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(POLL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = every.tick() => {
                        let s = screens.clone();
                        // File reads block; a slow volume must not stall a runtime thread.
                        if let Err(e) = tokio::task::spawn_blocking(move || s.reload()).await {
                            tracing::warn!(error = %e, "screens reload failed");
                        }
                    }
                }
            }
        })
    }
}

fn read(path: &Path) -> Result<String, ScreensError> {
    let fail = |source| ScreensError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if meta.len() > MAX_FILE {
        return Err(ScreensError::TooLarge);
    }
    std::fs::read_to_string(path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "screen-a-0123456789abcdef";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn entries_are_checked_and_tokens_never_in_errors() {
        let ok = format!(
            r#"{{"screens":[{{"name":"a","token":"{TOKEN}","namespaces":["shop"],"alert":"crashloop"}},
            {{"name":"b","token":"sha256:{}","clusters":["prod"],"labels":"team=b"}}]}}"#,
            hex(&sha256(b"screen-b-0123456789abcdef"))
        );
        let screens = parse(&ok).expect("valid");
        assert_eq!(screens.len(), 2);
        assert!(screens[1].sees_cluster("prod") && !screens[1].sees_cluster("dev"));
        assert!(parse("  \n").expect("empty").is_empty());
        for (bad, says) in [
            (
                r#"{"screens":[{"name":"a","token":"short"}]}"#.to_owned(),
                "at least 16",
            ),
            (
                r#"{"screens":[{"name":"A!","token":"screen-a-0123456789abcdef"}]}"#.to_owned(),
                "DNS label",
            ),
            (
                format!(r#"{{"screens":[{{"name":"a","token":"{TOKEN}","alert":"nope"}}]}}"#),
                "unknown rule",
            ),
            (
                format!(r#"{{"screens":[{{"name":"a","token":"{TOKEN}","webhook":"ftp://x"}}]}}"#),
                "webhook",
            ),
            (
                format!(r#"{{"screens":[{{"name":"a","token":"{TOKEN}","extra":"{TOKEN}"}}]}}"#),
                "line 1",
            ),
            (
                format!(
                    r#"{{"screens":[{{"name":"a","token":"{TOKEN}"}},{{"name":"b","token":"{TOKEN}"}}]}}"#
                ),
                "another screen",
            ),
            (
                format!(r#"{{"screens":[{{"name":"a","token":["{TOKEN}"]}}]}}"#),
                "mistyped",
            ),
        ] {
            let err = parse(&bad).map(|_| ()).expect_err(&bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains(TOKEN), "the token leaked: {err}");
        }
    }

    #[test]
    fn a_reload_keeps_unchanged_screens_and_ends_changed_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("screens.json");
        let write = |body: &str| std::fs::write(&path, body).expect("write");
        let entry = |name: &str, token: &str, ns: &str| {
            format!(r#"{{"name":"{name}","token":"{token}","namespaces":["{ns}"]}}"#)
        };
        let b_token = "screen-b-0123456789abcdef";
        write(&format!(
            r#"{{"screens":[{},{}]}}"#,
            entry("a", TOKEN, "shop"),
            entry("b", b_token, "web")
        ));
        let screens = Screens::load(&path).expect("load");
        let a = screens.authenticate(TOKEN.as_bytes()).expect("a's token");
        let b = screens.authenticate(b_token.as_bytes()).expect("b's token");
        assert!(screens.authenticate(b"screen-c-0123456789abcdef").is_none());
        // a unchanged, b's scope changed.
        write(&format!(
            r#"{{"screens":[{},{}]}}"#,
            entry("a", TOKEN, "shop"),
            entry("b", b_token, "other")
        ));
        screens.reload();
        assert!(!a.revoked.is_cancelled());
        assert!(b.revoked.is_cancelled() && b.ending() == Ending::Changed);
        // A malformed file keeps the set.
        write("{not json");
        screens.reload();
        assert!(screens.authenticate(TOKEN.as_bytes()).is_some());
        assert_eq!(screens.metrics().file_valid.get(), 0);
        // a removed: revoked.
        write(&format!(
            r#"{{"screens":[{}]}}"#,
            entry("b", b_token, "other")
        ));
        screens.reload();
        assert!(a.revoked.is_cancelled() && a.ending() == Ending::Revoked);
        assert!(screens.authenticate(TOKEN.as_bytes()).is_none());
        assert_eq!(screens.metrics().file_valid.get(), 1);
    }
}
