//! The names logscan uses in the store and on the bus.

/// The durable subscription on `pipeline-events` (also the `FUNCTION_TARGET`).
pub const SUBSCRIPTION: &str = "logscan";
/// One message per diagnosis, keyed `diagnosis:<job id>`.
pub const TOPIC_DIAGNOSES: &str = "diagnoses";
/// Per job (`repo~workflow~job`): the templates of its recent passing logs.
pub const LOG_PROFILES: &str = "log_profiles";
/// Per (job series, test name): a test seen failing with a flaky symptom in that job.
pub const FLAKY_TESTS: &str = "flaky_tests";
/// Blob namespace of trained models (`models/<name>/<version>`, as the trainer writes them).
pub const MODELS_BLOBS: &str = "models";
/// The classifier's model name in [`MODELS_BLOBS`]; its latest version is recorded in
/// `agent_state/<MODEL_NAME>`.
pub const MODEL_NAME: &str = "logscan-classifier";

/// The queries logscan runs: passing jobs of one job series, diagnoses by repo and by cause.
pub const INDEXES: &[(&str, &[&str])] = &[
    (aetherveil_models::names::JOBS, &["repo", "name", "conclusion", "completed_at"]),
    (aetherveil_models::names::DIAGNOSES, &["repo", "analysed_at"]),
    (aetherveil_models::names::DIAGNOSES, &["cause", "analysed_at"]),
    (aetherveil_models::names::DIAGNOSES, &["analysed_at"]),
];
