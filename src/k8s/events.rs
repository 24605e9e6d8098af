//! The slim wire type of an `events.k8s.io/v1` Event: only what the warnings lane shows.
//!
//! Why `events.k8s.io/v1` and not core/v1 `events`: both read the same storage (an Event
//! written through one API is listed by the other), and core/v1 would work; but
//! `events.k8s.io/v1` is the current API, the one controllers write, and it carries what
//! core/v1 only approximates: `series` (count and last time of a repeating event) and
//! `reportingController`. The field selector `type=Warning` is served by both, so the
//! API server filters out Normal events before they reach us.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde::{Deserialize, Deserializer};

use super::wire::slim_resource;

/// The field selector of the shared events watch: warnings only, filtered by the server.
pub const WARNINGS_ONLY: &str = "type=Warning";

/// An Event as the warnings lane decodes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFields {
    /// Name, namespace, resourceVersion, creationTimestamp.
    #[serde(deserialize_with = "event_meta", default)]
    pub metadata: ObjectMeta,
    /// The object the event is about.
    #[serde(default)]
    pub regarding: RegardingFields,
    /// Why, in one CamelCase word (`FailedScheduling`, `BackOff`).
    pub reason: Option<String>,
    /// The human-readable message (untrusted text).
    pub note: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// When the event was first observed (events.k8s.io writers set it).
    pub event_time: Option<MicroTime>,
    /// Count and last time of a repeating event.
    pub series: Option<SeriesFields>,
    /// The count an event written through core/v1 carries.
    pub deprecated_count: Option<i32>,
    /// The last time an event written through core/v1 carries.
    pub deprecated_last_timestamp: Option<Time>,
    /// The controller that wrote the event (`default-scheduler`, `kubelet`).
    pub reporting_controller: Option<String>,
}

/// `regarding` of an Event: the object it is about.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegardingFields {
    /// `Pod`, `Node`, `Deployment`, …
    pub kind: Option<String>,
    /// Empty for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
}

/// `series` of an Event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesFields {
    /// How many times it happened.
    pub count: Option<i32>,
    /// The last time.
    pub last_observed_time: Option<MicroTime>,
}

impl EventFields {
    /// How many times it happened: `series.count`, else `deprecatedCount`, else 1.
    pub fn count(&self) -> u32 {
        self.series
            .as_ref()
            .and_then(|s| s.count)
            .or(self.deprecated_count)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1)
            .max(1)
    }

    /// When it last happened: `series.lastObservedTime`, else `deprecatedLastTimestamp`,
    /// else `eventTime`, else `creationTimestamp`.
    pub fn last_seen(&self) -> Option<jiff::Timestamp> {
        self.series
            .as_ref()
            .and_then(|s| s.last_observed_time.as_ref())
            .map(|t| t.0)
            .or_else(|| self.deprecated_last_timestamp.as_ref().map(|t| t.0))
            .or_else(|| self.event_time.as_ref().map(|t| t.0))
            .or_else(|| self.metadata.creation_timestamp.as_ref().map(|t| t.0))
    }
}

/// Metadata reduced to what a warning needs (no managedFields, no annotations).
fn event_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct EventMeta {
        name: Option<String>,
        namespace: Option<String>,
        resource_version: Option<String>,
        creation_timestamp: Option<Time>,
    }
    let m = EventMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        creation_timestamp: m.creation_timestamp,
        ..ObjectMeta::default()
    })
}

slim_resource!(
    EventFields,
    "events.k8s.io",
    "v1",
    "Event",
    "events",
    k8s_openapi::NamespaceResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_real_warning_and_picks_count_and_time() {
        let e: EventFields = serde_json::from_value(serde_json::json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web-1.17f", "namespace": "shop", "resourceVersion": "9",
                "creationTimestamp": "2026-01-02T03:00:00Z",
                "managedFields": [{"manager": "kube-scheduler"}]},
            "eventTime": "2026-01-02T03:00:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2026-01-02T03:04:05.000000Z"},
            "reportingController": "default-scheduler", "reportingInstance": "s-1",
            "action": "Scheduling", "reason": "FailedScheduling",
            "regarding": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "u"},
            "note": "0/3 nodes are available", "type": "Warning",
            "deprecatedCount": 2}))
        .expect("decodes");
        assert_eq!(e.count(), 7);
        assert_eq!(
            e.last_seen().map(|t| t.to_string()).as_deref(),
            Some("2026-01-02T03:04:05Z")
        );
        assert_eq!(e.regarding.name.as_deref(), Some("web-1"));
        assert!(e.metadata.managed_fields.is_none());
        let old: EventFields = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n", "creationTimestamp": "2026-01-02T03:00:00Z"},
            "deprecatedCount": 3, "deprecatedLastTimestamp": "2026-01-02T03:01:00Z"}))
        .expect("decodes");
        assert_eq!(old.count(), 3);
        assert_eq!(
            old.last_seen().map(|t| t.to_string()).as_deref(),
            Some("2026-01-02T03:01:00Z")
        );
        let bare: EventFields =
            serde_json::from_value(serde_json::json!({"metadata": {}})).expect("decodes");
        assert_eq!((bare.count(), bare.last_seen()), (1, None));
    }
}
