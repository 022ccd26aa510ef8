//! Names the monitor adds to the platform's (`aetherveil_models::names`).

/// Topic the monitor publishes anomaly episodes on (`opened` and `closed`, never updates, so a
/// consumer hears about an ongoing episode once).
pub const TOPIC_ANOMALIES: &str = "anomalies";

/// The monitor's subscription name on `pipeline-events` (and its `FUNCTION_TARGET`).
pub const SUBSCRIPTION: &str = "monitor";

/// Run-level outcomes per `(repository, workflow)`: success counts and time to recovery.
pub const WORKFLOWS: &str = "monitor_workflows";

/// The queries the monitor runs, for `Store::ensure_index`: equality fields first, then the
/// ordering field.
pub const INDEXES: &[(&str, &[&str])] = &[
    (aetherveil_models::names::ANOMALIES, &["last_at_ms"]),
    (aetherveil_models::names::ANOMALIES, &["repo", "last_at_ms"]),
    (aetherveil_models::names::ANOMALIES, &["status", "last_at_ms"]),
    (aetherveil_models::names::ANOMALIES, &["repo", "status", "last_at_ms"]),
    (aetherveil_models::names::BASELINES, &["repo", "last_at_ms"]),
    (WORKFLOWS, &["repo"]),
];
