//! The access token: the all-seeing `--auth-token-file` one, and a screen's plain token
//! (`web/screens.rs`) under the same rules. Its `Debug` never shows it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// A shorter token is too easy to guess for a screen exposed beyond the cluster.
const MIN_LEN: usize = 16;

/// Why a token was refused at startup.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read.
    #[error("cannot read the auth token file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The token is shorter than [`MIN_LEN`].
    #[error("the auth token must be at least {MIN_LEN} characters (e.g. `openssl rand -hex 32`)")]
    TooShort,
    /// The token has characters that would need escaping in a URL, cookie or header.
    #[error(
        "the auth token may only contain letters, digits, '-', '.', '_' and '~' (e.g. `openssl rand -hex 32`)"
    )]
    Charset,
}

/// The shared secret. Its `Debug` never shows it, so it cannot end up in a log line.
#[derive(Clone)]
pub struct AuthToken(Arc<str>);

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// Checks a token: URL-safe characters only (they travel in a query string, a cookie
    /// and a header unescaped), and long enough.
    pub fn new(token: &str) -> Result<Self, TokenError> {
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err(TokenError::Charset);
        }
        if token.len() < MIN_LEN {
            return Err(TokenError::TooShort);
        }
        Ok(Self(token.into()))
    }

    /// Reads a token file; the trailing newline most editors and `echo` add is trimmed.
    pub fn read(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::new(text.trim_end_matches(['\n', '\r']))
    }

    /// The token's bytes (to set the cookie, to compare two stored tokens).
    pub(super) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Compares in constant time (for equal lengths; the length itself is not secret).
    pub(super) fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_trimmed() {
        assert!(matches!(AuthToken::new("short"), Err(TokenError::TooShort)));
        assert!(matches!(
            AuthToken::new("has space in it 0123456789"),
            Err(TokenError::Charset)
        ));
        assert!(matches!(
            AuthToken::new("semi;colon0123456789"),
            Err(TokenError::Charset)
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef-._~\r\n").expect("write");
        let token = AuthToken::read(&path).expect("valid token");
        assert!(token.matches(b"0123456789abcdef-._~"));
        assert!(!token.matches(b"0123456789abcdef-._~\n"));
        assert!(!token.matches(b"0123456789abcdef-._"));
        assert!(!token.matches(b""));
        assert_eq!(format!("{token:?}"), "AuthToken(<redacted>)");
        assert!(matches!(
            AuthToken::read(&dir.path().join("missing")),
            Err(TokenError::Read { .. })
        ));
    }
}
