//! The moments and spans a request names: `at=-15m`, `at=2026-12-05T10:42:00Z`,
//! `at=<epoch>-<seq>` (an event id), `recent=15m`. Parsed strictly: a mistake is an
//! error that says what is wrong.

use std::time::Duration;

use super::super::change::Position;

/// A moment of the past, as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// So long before now (`-15m`, `-1h30m`, `-90s`).
    Ago(Duration),
    /// A point in time (RFC 3339).
    At(jiff::Timestamp),
    /// Right after the change with this event id (`<epoch>-<seq>`).
    After(Position),
}

/// Why a moment or span was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {value:?} {reason}")]
pub struct MomentError {
    /// The query parameter.
    pub param: &'static str,
    /// What it said.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl Moment {
    /// Parses the value of `param`.
    pub fn parse(param: &'static str, value: &str) -> Result<Self, MomentError> {
        let err = |reason| MomentError {
            param,
            value: value.to_owned(),
            reason,
        };
        let v = value.trim();
        if v.is_empty() {
            return Err(err("is empty: use -15m, an RFC 3339 time or an event id"));
        }
        if let Some(span) = v.strip_prefix('-') {
            return span_of(span).map(Self::Ago).map_err(err);
        }
        if let Some(p) = Position::parse(v) {
            return Ok(Self::After(p));
        }
        if v.as_bytes()[0].is_ascii_digit() && !v.contains('T') {
            return Err(err(
                "is not a moment: a relative moment starts with '-' (-15m), a time is RFC 3339 (2026-12-05T10:42:00Z)",
            ));
        }
        v.parse::<jiff::Timestamp>()
            .map(Self::At)
            .map_err(|_| err("is not an RFC 3339 time with an offset (2026-12-05T10:42:00Z)"))
    }

    /// The moment's time in unix milliseconds at `now_ms`; `None` for an event id.
    pub fn time_ms(&self, now_ms: u64) -> Option<u64> {
        match self {
            Self::Ago(d) => {
                Some(now_ms.saturating_sub(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
            }
            Self::At(t) => Some(u64::try_from(t.as_millisecond()).unwrap_or(0)),
            Self::After(_) => None,
        }
    }
}

/// Parses a span for `recent=` (`15m`, `-15m`, `1h`, `90s`).
pub fn parse_span(param: &'static str, value: &str) -> Result<Duration, MomentError> {
    let v = value.trim();
    span_of(v.strip_prefix('-').unwrap_or(v)).map_err(|reason| MomentError {
        param,
        value: value.to_owned(),
        reason,
    })
}

/// `1h30m`, `15m`, `90s`: one or more `<digits><h|m|s>`, not zero, at most a week.
fn span_of(s: &str) -> Result<Duration, &'static str> {
    const MAX: Duration = Duration::from_secs(7 * 24 * 3600);
    const HOW: &str = "is not a span: use digits with h, m or s, like 15m or 1h30m";
    if s.is_empty() {
        return Err(HOW);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(HOW);
        }
        let n: u64 = rest[..digits].parse().map_err(|_| HOW)?;
        let unit = match rest.as_bytes().get(digits) {
            Some(b'h') => 3600,
            Some(b'm') => 60,
            Some(b's') => 1,
            _ => return Err(HOW),
        };
        total += Duration::from_secs(n * unit);
        rest = &rest[digits + 1..];
    }
    if total.is_zero() {
        return Err("is zero: name a span before now, like 15m");
    }
    if total > MAX {
        return Err("is longer than a week");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_parse_strictly() {
        assert_eq!(
            Moment::parse("at", "-15m"),
            Ok(Moment::Ago(Duration::from_secs(900)))
        );
        assert_eq!(
            Moment::parse("at", "-1h30m"),
            Ok(Moment::Ago(Duration::from_secs(5400)))
        );
        assert!(matches!(
            Moment::parse("at", "2026-12-05T10:42:00Z"),
            Ok(Moment::At(_))
        ));
        assert!(matches!(
            Moment::parse("at", "00000000000000ab-42"),
            Ok(Moment::After(p)) if p.seq == 42
        ));
        for bad in [
            "",
            "15m",
            "-",
            "-15",
            "-15x",
            "-0m",
            "yesterday",
            "2026-12-05",
            "-99999h",
        ] {
            let e = Moment::parse("at", bad).expect_err(bad);
            assert!(e.to_string().starts_with("at: "), "{e}");
        }
        assert_eq!(parse_span("recent", "15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_span("recent", "-90s"), Ok(Duration::from_secs(90)));
        assert!(parse_span("recent", "soon").is_err());
    }

    #[test]
    fn a_relative_moment_is_before_now() {
        let m = Moment::Ago(Duration::from_secs(60));
        assert_eq!(m.time_ms(100_000), Some(40_000));
    }
}
