//! The names the gate uses in the store and on the bus.

use aetherveil_models::names::SECURITY_REPORTS;

/// The route CI steps post reports to.
pub const PATH: &str = "/gate/trivy";
/// The read API of verdict history and trends.
pub const API_PATH: &str = "/api/v1/security";
/// One message per recorded verdict, id `gate.verdict:<report id>`, attribute `type` =
/// [`EVENT_TYPE`]. Topics are plural nouns like `diagnoses` and `anomalies`.
pub const TOPIC_VERDICTS: &str = "gate-verdicts";
/// The event's type (the CloudEvent `type` when delivered over Pub/Sub push).
pub const EVENT_TYPE: &str = "gate.verdict";

/// The queries the gate runs: history per repository (and per ref, for baselines), newest first.
pub const INDEXES: &[(&str, &[&str])] = &[
    (SECURITY_REPORTS, &["repo", "gated_at"]),
    (SECURITY_REPORTS, &["repo", "git_ref", "gated_at"]),
    (SECURITY_REPORTS, &["gated_at"]),
];
