//! Every topic the platform's code publishes to, in one list. The cloud shape declares a Pub/Sub
//! topic (and its dead-letter topic) for each (`local.topics` in terraform/functions.tf);
//! tests/it/cloud_shape.rs checks this list against the `TOPIC_*` constants of the sources and
//! against Terraform.

/// The topics, by their constants in the crates that publish on them.
pub const TOPICS: &[&str] = &[
    // webhook: normalized GitHub events.
    aetherveil_models::names::TOPIC_PIPELINE_EVENTS,
    // webhook: acknowledged deliveries, queued for its normalizer.
    aetherveil_models::names::TOPIC_WEBHOOK_INTAKE,
    // logscan: one message per diagnosis.
    aetherveil_logscan::names::TOPIC_DIAGNOSES,
    // monitor: anomaly episodes opened and closed.
    aetherveil_monitor::names::TOPIC_ANOMALIES,
    // gate: one message per recorded verdict.
    aetherveil_gate::names::TOPIC_VERDICTS,
    // ado: steps of agreed plans, for their executor.
    aetherveil_ado::names::TOPIC_STEPS,
];
