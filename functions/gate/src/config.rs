//! The gate's settings (`[gate]` in the platform's configuration).

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Where `<name>.yml` (or `.yaml`) policy files live.
    pub policy_dir: PathBuf,
    /// The policy a request that names none gets; the built-in default when no such file exists.
    pub default_policy: String,
    /// Largest request body `POST /gate/trivy` accepts.
    pub max_report_bytes: usize,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            policy_dir: PathBuf::from("./aetherveil-data/policies"),
            default_policy: "default".into(),
            max_report_bytes: 50 * 1024 * 1024,
        }
    }
}

/// A policy name: letters, digits, `-`, `_` and `.`, not starting with a dot (so never a path).
pub fn valid_policy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
