//! Reading one sample out of podwall's `/metrics` text. Also included by the benches
//! (`benches/support`), which are a crate of their own.

/// The value of the first line of a `/metrics` text that starts with `line_start`
/// (e.g. `podwall_lists_total{kind="pod"}`), 0 when absent.
pub fn metric_value(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
