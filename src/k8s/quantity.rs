//! Kubernetes resource quantities ("250m", "1", "128Mi", "1Gi", "1e3") as plain numbers.
//!
//! Follows the grammar of `k8s.io/apimachinery/pkg/api/resource` (`quantity.go`):
//! a signed decimal number, then an optional binary suffix (Ki…Ei), decimal SI suffix
//! (n, u, m, k, M, G, T, P, E) or decimal exponent (`e3`, `E-2`).

/// Parses a quantity into its value in base units (cores, bytes); `None` when malformed.
pub fn parse(input: &str) -> Option<f64> {
    let s = input.trim();
    let number_end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '+' || c == '-') && i == 0)))
        .map_or(s.len(), |(i, _)| i);
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "+" || number == "-" || number == "." {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let power: i32 = exp[1..].parse().ok()?;
            10f64.powi(power)
        }
        _ => return None,
    };
    Some(value * factor)
}

/// CPU in millicores (rounded up, as Kubernetes does for `MilliValue`).
pub fn cpu_millis(input: &str) -> Option<u64> {
    parse(input)
        .filter(|v| *v >= 0.0)
        .map(|v| (v * 1000.0 - 1e-9).ceil().max(0.0) as u64)
}

/// Memory (or any count) in whole units, rounded up.
pub fn whole_units(input: &str) -> Option<u64> {
    parse(input)
        .filter(|v| *v >= 0.0)
        .map(|v| (v - 1e-9).ceil().max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(cpu_millis("250m"), Some(250));
        assert_eq!(cpu_millis("1"), Some(1000));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("1e3"), Some(1_000_000));
        assert_eq!(cpu_millis("100u"), Some(1));
        assert_eq!(cpu_millis("2k"), Some(2_000_000));
    }

    #[test]
    fn memory_forms() {
        assert_eq!(whole_units("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(whole_units("1Gi"), Some(1 << 30));
        assert_eq!(whole_units("1G"), Some(1_000_000_000));
        assert_eq!(whole_units("1E"), Some(1_000_000_000_000_000_000));
        assert_eq!(whole_units("1E3"), Some(1000));
        assert_eq!(whole_units("12e-1"), Some(2));
        assert_eq!(whole_units("110"), Some(110));
    }

    #[test]
    fn malformed() {
        for bad in ["", "Mi", "1Qi", "abc", "1.2.3", "-", "1e", "--1"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(cpu_millis("-1"), None);
    }
}
