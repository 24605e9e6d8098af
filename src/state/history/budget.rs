//! The bounds of a history: how far back it reaches and how much memory it may take.
//! Whichever is reached first drops the oldest segment.

use std::time::Duration;

/// The default reach: one hour.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// The default memory budget: 128 MiB.
pub const DEFAULT_MEMORY: usize = 128 << 20;

/// A history's bounds (`--history`, `--history-memory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryBounds {
    /// How far back it keeps changes; zero turns history off.
    pub window: Duration,
    /// The most bytes its records, checkpoints and dictionary may take.
    pub memory: usize,
}

impl Default for HistoryBounds {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            memory: DEFAULT_MEMORY,
        }
    }
}

impl HistoryBounds {
    /// Whether history is kept at all.
    pub fn enabled(&self) -> bool {
        !self.window.is_zero() && self.memory > 0
    }

    /// The oldest time (unix ms) still inside the window at `now_ms`.
    pub fn horizon(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX))
    }

    /// How long one segment may span: an eighth of the window, so dropping whole
    /// segments keeps the window within an eighth of its length.
    pub fn segment_span_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis() / 8).unwrap_or(u64::MAX)
    }
}

/// Parses a memory size: `128Mi`, `1Gi`, `500M`, `64k`, or plain bytes.
pub fn parse_memory(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{s:?} is not a size: use e.g. 128Mi, 1Gi or 500M"));
    }
    let (number, unit) = s.split_at(digits);
    let n: usize = number.parse().map_err(|_| format!("{s:?} is too large"))?;
    let factor: usize = match unit {
        "" => 1,
        "k" | "K" => 1000,
        "Ki" => 1 << 10,
        "M" => 1_000_000,
        "Mi" => 1 << 20,
        "G" => 1_000_000_000,
        "Gi" => 1 << 30,
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use k, Ki, M, Mi, G or Gi)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_strictly() {
        assert_eq!(parse_memory("128Mi"), Ok(128 << 20));
        assert_eq!(parse_memory("500M"), Ok(500_000_000));
        assert_eq!(parse_memory("4096"), Ok(4096));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("12 parsecs").is_err());
        assert!(parse_memory("-5Mi").is_err());
    }

    #[test]
    fn a_zero_window_is_off() {
        let off = HistoryBounds {
            window: Duration::ZERO,
            ..HistoryBounds::default()
        };
        assert!(!off.enabled() && HistoryBounds::default().enabled());
        assert_eq!(HistoryBounds::default().horizon(3_600_500), 500);
    }
}
