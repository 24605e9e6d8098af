//! Numbers and states for people, as the page shows them. The page's script formats
//! the same way (`static/wall/format.mjs`; `tests/wall/format_agreement.rs` compares the two).

use crate::state::NodeView;

/// A duration in its largest whole unit: "42s", "5m", "3h", "2d" (as the page's
/// `ageText`, which keeps it ticking).
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// CPU millicores for people: "250m" below one core, else cores with one decimal ("3.9").
pub fn cpu(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis}m")
    } else {
        let tenths = (millis + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{}", tenths / 10)
        } else {
            format!("{}.{}", tenths / 10, tenths % 10)
        }
    }
}

/// Bytes for people, in binary units with one decimal ("64Mi", "15.0Gi").
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["", "Ki", "Mi", "Gi", "Ti"];
    let mut unit = 0;
    let mut scaled = bytes;
    // Whole units while exact and small, one decimal otherwise.
    while unit + 1 < UNITS.len() && scaled >= 1024 {
        scaled /= 1024;
        unit += 1;
    }
    let divisor = 1u64 << (10 * unit);
    if bytes.is_multiple_of(divisor) || scaled >= 100 {
        format!("{}{}", bytes / divisor, UNITS[unit])
    } else {
        let tenths = (bytes.saturating_mul(10) + divisor / 2) / divisor;
        format!("{}.{}{}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

/// "Ready", "NotReady", with ",SchedulingDisabled" when cordoned, as kubectl prints.
pub fn node_state(node: &NodeView) -> String {
    let base = if node.ready { "Ready" } else { "NotReady" };
    if node.unschedulable {
        format!("{base},SchedulingDisabled")
    } else {
        base.to_owned()
    }
}

/// Roles joined for display, `<none>` when there are none.
pub fn roles(node: &NodeView) -> String {
    if node.roles.is_empty() {
        "<none>".to_owned()
    } else {
        node.roles.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    #[test]
    fn quantities_for_people() {
        assert_eq!(cpu(250), "250m");
        assert_eq!(cpu(3900), "3.9");
        assert_eq!(cpu(4000), "4");
        assert_eq!(bytes(64 << 20), "64Mi");
        assert_eq!(bytes(16106127360), "15Gi");
        assert_eq!(bytes(1536 << 20), "1.5Gi");
        assert_eq!(bytes(0), "0");
    }

    #[test]
    fn node_states_as_kubectl_prints_them() {
        let cordoned = NodeView {
            unschedulable: true,
            ..fixtures::node("n1")
        };
        assert_eq!(node_state(&cordoned), "Ready,SchedulingDisabled");
        let down = NodeView {
            ready: false,
            roles: Vec::new(),
            ..fixtures::node("n2")
        };
        assert_eq!(
            (node_state(&down).as_str(), roles(&down).as_str()),
            ("NotReady", "<none>")
        );
    }
}
