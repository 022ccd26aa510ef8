//! Layered configuration: documented defaults (`config.default.toml`, compiled in), then an
//! optional `aetherveil.toml`, then `AETHERVEIL_*` environment variables, then flags.
//! Every layer is checked against the defaults' keys, so a typo stops start-up with a message
//! naming the key; values are validated before anything starts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;
use toml::{Table, Value};

/// The documented defaults, as shipped.
pub const DEFAULTS: &str = include_str!("../config.default.toml");
/// Environment variables start with this.
pub const ENV_PREFIX: &str = "AETHERVEIL_";
/// Names an explicit config file; not a config key itself.
pub const ENV_CONFIG_FILE: &str = "AETHERVEIL_CONFIG";
/// The file looked for in the working directory when none is named.
pub const DEFAULT_FILE: &str = "aetherveil.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path} is not valid TOML: {reason}")]
    Syntax { path: String, reason: String },
    #[error("{source_name}: unknown config key `{key}`")]
    UnknownKey { source_name: String, key: String },
    #[error("unknown environment variable {name}; known ones are {known}")]
    UnknownEnv { name: String, known: String },
    #[error("{source_name}: `{key}` {reason}")]
    BadValue { source_name: String, key: String, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub bus: BusConfig,
    pub blobs: BlobsConfig,
    pub webhook: WebhookConfig,
    pub github: GithubConfig,
    pub healer: HealerConfig,
    pub gate: GateConfig,
    pub alerts: AlertsConfig,
    pub log: LogConfig,
    pub ado: AdoConfig,
    pub llm: LlmConfig,
}

/// `[alerts]`: the alert evaluator (docs/dashboard.md). The four built-in rules each have a
/// table; `rules` adds user rules of the same kinds.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub interval_secs: u64,
    pub webhook_url: String,
    pub webhook_timeout_ms: u64,
    pub webhook_retries: u32,
    pub webhook_backoff_ms: u64,
    pub rules: Vec<AlertRuleConfig>,
    pub failure_rate: FailureRateRule,
    pub agent_health: AgentHealthRule,
    pub model_degradation: ModelDegradationRule,
    pub error_rate_spike: ErrorRateSpikeRule,
}

impl std::fmt::Debug for AlertsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A Slack webhook URL is a credential.
        f.debug_struct("AlertsConfig")
            .field("interval_secs", &self.interval_secs)
            .field("webhook_url", &if self.webhook_url.is_empty() { "<unset>" } else { "<redacted>" })
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("webhook_retries", &self.webhook_retries)
            .field("webhook_backoff_ms", &self.webhook_backoff_ms)
            .field("rules", &self.rules)
            .field("failure_rate", &self.failure_rate)
            .field("agent_health", &self.agent_health)
            .field("model_degradation", &self.model_degradation)
            .field("error_rate_spike", &self.error_rate_spike)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

/// What a rule measures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Share of a repository's last `window` completed runs that failed, above `threshold`.
    FailureRate,
    /// A bus subscription with `threshold` or more messages waiting for a retry.
    AgentRetrying,
    /// A bus subscription with `threshold` or more messages not yet delivered.
    AgentBacklog,
    /// Mean confidence of the last `window` diagnoses below `threshold`.
    ModelConfidence,
    /// Share of the last `window` diagnoses a person corrected, above `threshold`.
    ModelCorrections,
    /// Open failure-rate-spike anomalies of a repository, at least `threshold`.
    ErrorRateSpike,
    /// A repository's health score below `threshold`.
    HealthScore,
    /// Open anomalies of a repository (any kind), at least `threshold`.
    OpenAnomalies,
}

/// One user rule: `[[alerts.rules]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleConfig {
    pub name: String,
    pub kind: AlertKind,
    pub threshold: f64,
    #[serde(default = "default_rule_window")]
    pub window: u32,
    #[serde(default = "default_rule_min_samples")]
    pub min_samples: u32,
    /// Only this repository (`owner/name`); empty: every repository.
    #[serde(default)]
    pub repo: String,
    #[serde(default = "default_rule_severity")]
    pub severity: AlertSeverity,
}

fn default_rule_window() -> u32 {
    20
}
fn default_rule_min_samples() -> u32 {
    5
}
fn default_rule_severity() -> AlertSeverity {
    AlertSeverity::Warning
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FailureRateRule {
    pub enabled: bool,
    pub threshold: f64,
    pub window_runs: u32,
    pub min_runs: u32,
    pub severity: AlertSeverity,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentHealthRule {
    pub enabled: bool,
    pub max_retrying: u32,
    pub max_backlog: u64,
    pub severity: AlertSeverity,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelDegradationRule {
    pub enabled: bool,
    pub min_confidence: f64,
    pub max_correction_rate: f64,
    pub window: u32,
    pub min_samples: u32,
    pub severity: AlertSeverity,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorRateSpikeRule {
    pub enabled: bool,
    pub min_open: u32,
    pub severity: AlertSeverity,
}

/// `[ado]`: the agent council (docs/ado.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdoConfig {
    pub enabled: bool,
    pub quorum: f64,
    pub majority: f64,
    pub weight_prior: f64,
    pub min_diagnosis_confidence: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LlmResponseFormat {
    JsonSchema,
    JsonObject,
}

/// `[llm]`: an optional OpenAI-compatible chat-completions backend (off by default).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub enabled: bool,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub timeout_ms: u64,
    pub max_tokens: u32,
    pub temperature: f64,
    pub response_format: LlmResponseFormat,
    pub retries: u32,
    pub max_retry_wait_ms: u64,
    pub prompt_usd_per_mtok: f64,
    pub completion_usd_per_mtok: f64,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("enabled", &self.enabled)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &if self.api_key.is_empty() { "<unset>" } else { "<redacted>" })
            .field("timeout_ms", &self.timeout_ms)
            .field("response_format", &self.response_format)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    pub policy_dir: PathBuf,
    pub default_policy: String,
    pub max_report_bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HealerMode {
    Observe,
    Recommend,
    Act,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealerConfig {
    pub mode: HealerMode,
    pub max_attempts: u32,
    pub value_of_green_minutes: f64,
    pub cache_penalty_minutes: f64,
    pub masking_streak: u32,
    pub budget_reruns_per_day: u32,
    pub budget_minutes_per_day: f64,
    pub healthy_after_hours: u64,
    pub issue_label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    Sqlite,
    Firestore,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    pub synchronous: Synchronous,
    pub project: String,
    pub database: String,
    pub endpoint: String,
    pub emulator: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    Local,
    Pubsub,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    pub backend: BusBackend,
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub retention_hours: u64,
    pub project: String,
    pub endpoint: String,
    pub emulator: bool,
    pub manage_resources: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BlobsBackend {
    Fs,
    Gcs,
}

/// `[blobs]`: where raw deliveries, log profiles and model artifacts go next to a cloud store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    pub backend: BlobsBackend,
    pub bucket: String,
    pub endpoint: String,
    pub emulator: bool,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub secret: String,
    pub max_body_bytes: u64,
    pub intake: WebhookIntake,
    pub log_max_bytes: u64,
}

/// `webhook.intake`: what happens to a verified delivery before it is acknowledged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WebhookIntake {
    /// The raw delivery is stored and queued in the acknowledging commit; the normalizer turns it
    /// into records and the pipeline event a moment later.
    Queued,
    /// The acknowledging commit also holds the records and the event.
    Inline,
    /// The delivery is appended to the ingest log in the data directory and acknowledged; the
    /// log's applier writes the raw body, the records and the event to the store in batches
    /// (embedded store only).
    Log,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secret", &if self.secret.is_empty() { "<unset>" } else { "<redacted>" })
            .field("max_body_bytes", &self.max_body_bytes)
            .field("intake", &self.intake)
            .field("log_max_bytes", &self.log_max_bytes)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    pub api_url: String,
    pub token: String,
    pub app_id: u64,
    pub app_private_key: String,
    pub app_installation_id: u64,
}

impl GithubConfig {
    /// Whether the platform acts as a GitHub App installation (rather than with `token`).
    pub fn app(&self) -> bool {
        self.app_id != 0
    }
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("api_url", &self.api_url)
            .field("token", &if self.token.is_empty() { "<unset>" } else { "<redacted>" })
            .field("app_id", &self.app_id)
            .field("app_private_key", &if self.app_private_key.is_empty() { "<unset>" } else { "<redacted>" })
            .field("app_installation_id", &self.app_installation_id)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// Flags given on the command line; the last layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// The defaults alone.
    pub fn defaults() -> Self {
        Self::load_from(None, std::iter::empty(), &Overrides::default()).expect("the shipped defaults are valid")
    }

    /// Loads every layer from the process environment. `file` is `--config`; without it,
    /// `AETHERVEIL_CONFIG` or `./aetherveil.toml` if present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let named = file.map(Path::to_path_buf).or_else(|| std::env::var_os(ENV_CONFIG_FILE).map(PathBuf::from));
        let path = named.or_else(|| Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()));
        Self::load_from(path.as_deref(), std::env::vars(), overrides)
    }

    /// Loads with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let defaults: Table = DEFAULTS.parse().expect("config.default.toml parses");
        let mut merged = defaults.clone();
        if let Some(path) = file {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Read { path: name.clone(), reason: e.to_string() })?;
            let table: Table = text
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax { path: name.clone(), reason: e.to_string() })?;
            check_known(&defaults, &table, "", &name)?;
            merge(&mut merged, table);
        }
        let keys = leaf_keys(&defaults, "");
        let mut env_table = Table::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == ENV_CONFIG_FILE || rest.is_empty() {
                continue;
            }
            let Some((key, default)) = keys.iter().find(|(k, _)| env_name(k) == name) else {
                let known = keys.keys().map(|k| env_name(k)).collect::<Vec<_>>().join(", ");
                return Err(ConfigError::UnknownEnv { name, known });
            };
            let value = parse_like(default, &raw).map_err(|reason| ConfigError::BadValue {
                source_name: name.clone(),
                key: key.clone(),
                reason,
            })?;
            set_path(&mut env_table, key, value);
        }
        merge(&mut merged, env_table);
        let mut config: Config = serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
            let key = e.path().to_string();
            let reason = e.into_inner().message().to_owned();
            ConfigError::BadValue { source_name: "configuration".into(), key, reason }
        })?;
        if let Some(addr) = overrides.addr {
            config.server.addr = addr;
        }
        if let Some(dir) = &overrides.data_dir {
            config.server.data_dir = dir.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| ConfigError::BadValue {
            source_name: "configuration".into(),
            key: key.into(),
            reason: reason.into(),
        };
        match (self.store.backend, self.bus.backend) {
            (StoreBackend::Sqlite, BusBackend::Local) | (StoreBackend::Firestore, BusBackend::Pubsub) => {}
            (StoreBackend::Sqlite, BusBackend::Pubsub) => {
                return Err(bad(
                    "bus.backend",
                    "\"pubsub\" needs store.backend = \"firestore\" (its outbox is a Firestore collection)",
                ));
            }
            (StoreBackend::Firestore, BusBackend::Local) => {
                return Err(bad(
                    "bus.backend",
                    "\"local\" needs store.backend = \"sqlite\"; with Firestore use \"pubsub\"",
                ));
            }
        }
        if self.store.backend == StoreBackend::Firestore && self.store.project.trim().is_empty() {
            return Err(bad("store.project", "must name the Google Cloud project of the Firestore database"));
        }
        if self.webhook.intake == WebhookIntake::Log && self.store.backend != StoreBackend::Sqlite {
            return Err(bad(
                "webhook.intake",
                "\"log\" needs store.backend = \"sqlite\" (the log lives in the data directory); with Firestore use \"inline\" or \"queued\"",
            ));
        }
        if self.webhook.log_max_bytes < 1 << 20 {
            return Err(bad("webhook.log_max_bytes", "must be at least 1048576 (1 MiB)"));
        }
        if self.store.emulator && self.store.endpoint.trim().is_empty() {
            return Err(bad("store.endpoint", "must be set with store.emulator (for example http://127.0.0.1:8086)"));
        }
        if self.bus.emulator && self.bus.endpoint.trim().is_empty() {
            return Err(bad("bus.endpoint", "must be set with bus.emulator (for example http://127.0.0.1:8085)"));
        }
        if self.blobs.backend == BlobsBackend::Gcs {
            if self.store.backend != StoreBackend::Firestore {
                return Err(bad(
                    "blobs.backend",
                    "\"gcs\" needs store.backend = \"firestore\" (SQLite keeps blobs in its file)",
                ));
            }
            if self.blobs.bucket.trim().is_empty() {
                return Err(bad("blobs.bucket", "must name the Cloud Storage bucket"));
            }
            if self.blobs.emulator && self.blobs.endpoint.trim().is_empty() {
                return Err(bad("blobs.endpoint", "must be set with blobs.emulator (for example http://127.0.0.1:80)"));
            }
        }
        if self.bus.max_attempts == 0 {
            return Err(bad("bus.max_attempts", "must be at least 1"));
        }
        if self.bus.initial_backoff_ms == 0 || self.bus.initial_backoff_ms > self.bus.max_backoff_ms {
            return Err(bad("bus.initial_backoff_ms", "must be positive and at most bus.max_backoff_ms"));
        }
        if self.webhook.max_body_bytes == 0 || self.webhook.max_body_bytes > 1 << 30 {
            return Err(bad("webhook.max_body_bytes", "must be between 1 and 1073741824"));
        }
        let url = &self.github.api_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < "http://x".len() {
            return Err(bad("github.api_url", "must be an http(s) URL such as https://api.github.com"));
        }
        let gh = &self.github;
        let app_set = gh.app_id != 0 || !gh.app_private_key.is_empty() || gh.app_installation_id != 0;
        if app_set {
            if gh.app_id == 0 || gh.app_installation_id == 0 || gh.app_private_key.trim().is_empty() {
                return Err(bad(
                    "github.app_id",
                    "a GitHub App needs github.app_id, github.app_private_key and github.app_installation_id together",
                ));
            }
            if !gh.token.is_empty() {
                return Err(bad("github.token", "set either github.token or the github.app_* keys, not both"));
            }
        }
        let h = &self.healer;
        if h.max_attempts > 50 {
            return Err(bad("healer.max_attempts", "must be at most 50 (GitHub's limit on reruns of a run)"));
        }
        if !(h.value_of_green_minutes.is_finite() && h.value_of_green_minutes > 0.0) {
            return Err(bad("healer.value_of_green_minutes", "must be a positive number of minutes"));
        }
        if !(h.cache_penalty_minutes.is_finite() && h.cache_penalty_minutes >= 0.0) {
            return Err(bad("healer.cache_penalty_minutes", "must be zero or a positive number of minutes"));
        }
        if h.masking_streak == 0 {
            return Err(bad("healer.masking_streak", "must be at least 1"));
        }
        if !(h.budget_minutes_per_day.is_finite() && h.budget_minutes_per_day >= 0.0) {
            return Err(bad("healer.budget_minutes_per_day", "must be zero or a positive number of minutes"));
        }
        if h.issue_label.trim().is_empty() {
            return Err(bad("healer.issue_label", "must not be empty"));
        }
        let g = &self.gate;
        let name_ok = !g.default_policy.is_empty()
            && !g.default_policy.starts_with('.')
            && g.default_policy.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(bad("gate.default_policy", "must be a policy name: letters, digits, '-', '_' and '.'"));
        }
        if g.max_report_bytes == 0 || g.max_report_bytes > 1 << 30 {
            return Err(bad("gate.max_report_bytes", "must be between 1 and 1073741824"));
        }
        let a = &self.alerts;
        if a.interval_secs == 0 || a.interval_secs > 86_400 {
            return Err(bad("alerts.interval_secs", "must be between 1 and 86400"));
        }
        let hook = &a.webhook_url;
        if !(hook.is_empty() || hook.starts_with("http://") || hook.starts_with("https://")) {
            return Err(bad("alerts.webhook_url", "must be empty or an http(s) URL"));
        }
        if a.webhook_timeout_ms == 0 || a.webhook_retries > 20 || a.webhook_backoff_ms == 0 {
            return Err(bad(
                "alerts.webhook_timeout_ms",
                "the timeout and backoff must be positive and webhook_retries at most 20",
            ));
        }
        let rate_ok = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        if !rate_ok(a.failure_rate.threshold) || a.failure_rate.window_runs == 0 {
            return Err(bad("alerts.failure_rate", "threshold must be in [0, 1] and window_runs at least 1"));
        }
        let m = &a.model_degradation;
        if !rate_ok(m.min_confidence) || !rate_ok(m.max_correction_rate) || m.window == 0 {
            return Err(bad(
                "alerts.model_degradation",
                "min_confidence and max_correction_rate must be in [0, 1] and window at least 1",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, r) in a.rules.iter().enumerate() {
            let name_ok =
                !r.name.is_empty() && r.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !name_ok || !seen.insert(r.name.clone()) {
                return Err(bad(
                    &format!("alerts.rules[{i}].name"),
                    "must be a unique name of letters, digits, '-', '_' and '.'",
                ));
            }
            if !r.threshold.is_finite() || r.window == 0 || r.window > 1000 {
                return Err(bad(
                    &format!("alerts.rules[{i}]"),
                    "threshold must be a number and window between 1 and 1000",
                ));
            }
            if !r.repo.is_empty() && r.repo.split('/').count() != 2 {
                return Err(bad(&format!("alerts.rules[{i}].repo"), "must be owner/name"));
            }
        }
        let o = &self.ado;
        let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        if !unit(o.quorum) || !unit(o.majority) || !unit(o.min_diagnosis_confidence) {
            return Err(bad("ado", "quorum, majority and min_diagnosis_confidence must be in [0, 1]"));
        }
        if !(o.weight_prior.is_finite() && o.weight_prior > 0.0) {
            return Err(bad("ado.weight_prior", "must be a positive number"));
        }
        let l = &self.llm;
        if l.enabled {
            if !(l.base_url.starts_with("http://") || l.base_url.starts_with("https://")) {
                return Err(bad("llm.base_url", "must be an http(s) URL such as http://127.0.0.1:8081/v1"));
            }
            if l.model.trim().is_empty() {
                return Err(bad("llm.model", "must name the model when llm.enabled is true"));
            }
        }
        if l.timeout_ms == 0 || l.max_tokens == 0 || l.retries > 10 {
            return Err(bad("llm", "timeout_ms and max_tokens must be positive and retries at most 10"));
        }
        let price_ok = |x: f64| x.is_finite() && x >= 0.0;
        let temperature_ok = l.temperature.is_finite() && (0.0..=2.0).contains(&l.temperature);
        if !(temperature_ok && price_ok(l.prompt_usd_per_mtok) && price_ok(l.completion_usd_per_mtok)) {
            return Err(bad("llm", "temperature must be in [0, 2] and prices zero or positive"));
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return Err(bad("server.data_dir", "must not be empty"));
        }
        let level_ok = self.log.level.split(',').all(|part| {
            let level = part.rsplit('=').next().unwrap_or("");
            matches!(level, "trace" | "debug" | "info" | "warn" | "error" | "off")
        });
        if !level_ok {
            return Err(bad(
                "log.level",
                "must be trace, debug, info, warn, error or off (optionally per target: `info,aetherveil_store=debug`)",
            ));
        }
        Ok(())
    }

    /// The gate's policy directory: `gate.policy_dir`, or `<server.data_dir>/policies` when empty.
    pub fn gate_policy_dir(&self) -> PathBuf {
        if self.gate.policy_dir.as_os_str().is_empty() {
            self.server.data_dir.join("policies")
        } else {
            self.gate.policy_dir.clone()
        }
    }

    pub fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.bus.retention_hours * 3600)
    }
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_uppercase())
}

fn leaf_keys(table: &Table, prefix: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in table {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(t) => out.extend(leaf_keys(t, &path)),
            other => {
                out.insert(path, other.clone());
            }
        }
    }
    out
}

fn check_known(defaults: &Table, given: &Table, prefix: &str, source_name: &str) -> Result<(), ConfigError> {
    for (k, v) in given {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match (defaults.get(k), v) {
            (None, _) => {
                return Err(ConfigError::UnknownKey { source_name: source_name.into(), key: path });
            }
            (Some(Value::Table(d)), Value::Table(g)) => check_known(d, g, &path, source_name)?,
            (Some(Value::Table(_)), _) => {
                return Err(ConfigError::BadValue {
                    source_name: source_name.into(),
                    key: path,
                    reason: "must be a table".into(),
                });
            }
            (Some(default), given) if default.type_str() != given.type_str() => {
                return Err(ConfigError::BadValue {
                    source_name: source_name.into(),
                    key: path,
                    reason: format!("must be a {}, not a {}", default.type_str(), given.type_str()),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_like(default: &Value, raw: &str) -> Result<Value, String> {
    match default {
        Value::Integer(_) => {
            raw.trim().parse::<i64>().map(Value::Integer).map_err(|_| format!("must be an integer, not {raw:?}"))
        }
        Value::Float(_) => {
            raw.trim().parse::<f64>().map(Value::Float).map_err(|_| format!("must be a number, not {raw:?}"))
        }
        Value::Boolean(_) => match raw.trim() {
            "true" | "1" | "yes" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" => Ok(Value::Boolean(false)),
            _ => Err(format!("must be true or false, not {raw:?}")),
        },
        _ => Ok(Value::String(raw.to_owned())),
    }
}

fn set_path(table: &mut Table, key: &str, value: Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut cur = table;
    for p in parts {
        let entry = cur.entry(p.to_owned()).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        cur = match entry {
            Value::Table(t) => t,
            _ => return,
        };
    }
    cur.insert(last.to_owned(), value);
}

fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn defaults_load_and_validate() {
        let c = Config::defaults();
        assert_eq!(c.server.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.webhook.max_body_bytes, 25 * 1024 * 1024);
        assert_eq!(c.store.synchronous, Synchronous::Normal);
        assert_eq!(c.webhook.intake, WebhookIntake::Inline);
        assert_eq!(c.gate.default_policy, "default");
        assert_eq!(c.gate.policy_dir, PathBuf::new(), "empty: <server.data_dir>/policies");
    }

    #[test]
    fn file_then_env_then_flags_win_in_order() {
        let f = file("[server]\naddr = \"127.0.0.1:9000\"\n[bus]\nmax_attempts = 3\n");
        let e = env(&[("AETHERVEIL_BUS_MAX_ATTEMPTS", "5"), ("AETHERVEIL_WEBHOOK_SECRET", "s3cret"), ("PATH", "/bin")]);
        let c = Config::load_from(Some(f.path()), e.clone(), &Overrides::default()).expect("load");
        assert_eq!(c.server.addr.port(), 9000);
        assert_eq!(c.bus.max_attempts, 5);
        assert_eq!(c.webhook.secret, "s3cret");
        let flags = Overrides { addr: Some("127.0.0.1:7000".parse().expect("addr")), data_dir: None };
        assert_eq!(Config::load_from(Some(f.path()), e, &flags).expect("load").server.addr.port(), 7000);
    }

    #[test]
    fn unknown_keys_are_named() {
        let f = file("[server]\nadr = \"127.0.0.1:9000\"\n");
        let err = Config::load_from(Some(f.path()), env(&[]), &Overrides::default()).expect_err("typo");
        assert!(err.to_string().contains("unknown config key `server.adr`"), "{err}");
        let f = file("[sever]\n");
        let err = Config::load_from(Some(f.path()), env(&[]), &Overrides::default()).expect_err("typo");
        assert!(err.to_string().contains("`sever`"), "{err}");
    }

    #[test]
    fn unknown_env_vars_are_named() {
        let err = Config::load_from(None, env(&[("AETHERVEIL_WEBHOK_SECRET", "x")]), &Overrides::default())
            .expect_err("typo");
        assert!(err.to_string().contains("AETHERVEIL_WEBHOK_SECRET"), "{err}");
        assert!(err.to_string().contains("AETHERVEIL_WEBHOOK_SECRET"), "lists the known names: {err}");
    }

    #[test]
    fn bad_values_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("AETHERVEIL_BUS_MAX_ATTEMPTS", "many")], "AETHERVEIL_BUS_MAX_ATTEMPTS"),
            (&[("AETHERVEIL_BUS_MAX_ATTEMPTS", "0")], "bus.max_attempts"),
            (&[("AETHERVEIL_SERVER_ADDR", "localhost")], "socket address"),
            (&[("AETHERVEIL_STORE_SYNCHRONOUS", "sometimes")], "sometimes"),
            (&[("AETHERVEIL_WEBHOOK_INTAKE", "later")], "later"),
            (
                &[
                    ("AETHERVEIL_WEBHOOK_INTAKE", "log"),
                    ("AETHERVEIL_STORE_BACKEND", "firestore"),
                    ("AETHERVEIL_BUS_BACKEND", "pubsub"),
                    ("AETHERVEIL_STORE_PROJECT", "p"),
                ],
                "webhook.intake",
            ),
            (&[("AETHERVEIL_WEBHOOK_LOG_MAX_BYTES", "4096")], "webhook.log_max_bytes"),
            (&[("AETHERVEIL_LOG_LEVEL", "loud")], "log.level"),
            (&[("AETHERVEIL_WEBHOOK_MAX_BODY_BYTES", "0")], "webhook.max_body_bytes"),
            (&[("AETHERVEIL_GITHUB_API_URL", "api.github.com")], "github.api_url"),
            (&[("AETHERVEIL_GITHUB_APP_ID", "12")], "github.app_installation_id together"),
            (
                &[
                    ("AETHERVEIL_GITHUB_APP_ID", "12"),
                    ("AETHERVEIL_GITHUB_APP_PRIVATE_KEY", "pem"),
                    ("AETHERVEIL_GITHUB_APP_INSTALLATION_ID", "34"),
                    ("AETHERVEIL_GITHUB_TOKEN", "ghp_x"),
                ],
                "not both",
            ),
            (&[("AETHERVEIL_GATE_DEFAULT_POLICY", "../etc/passwd")], "gate.default_policy"),
            (&[("AETHERVEIL_GATE_MAX_REPORT_BYTES", "0")], "gate.max_report_bytes"),
        ];
        for (e, needle) in cases {
            let err = Config::load_from(None, env(e), &Overrides::default()).expect_err("bad value");
            assert!(err.to_string().contains(needle), "{e:?}: {err}");
        }
        let f = file("[bus]\nmax_attempts = \"3\"\n");
        let err = Config::load_from(Some(f.path()), env(&[]), &Overrides::default()).expect_err("type");
        assert!(err.to_string().contains("bus.max_attempts") && err.to_string().contains("integer"), "{err}");
    }

    #[test]
    fn the_secret_is_never_printed_by_debug() {
        let vars = [("AETHERVEIL_WEBHOOK_SECRET", "hunter2"), ("AETHERVEIL_GITHUB_TOKEN", "ghp_s3cret")];
        let c = Config::load_from(None, env(&vars), &Overrides::default()).expect("load");
        assert_eq!(c.github.token, "ghp_s3cret");
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("ghp_s3cret"), "{printed}");
    }
}
