//! The orchestrator's settings (built by the host from `[ado]` and `[llm]`).

use crate::consensus::Rule;
use crate::llm::LlmConfig;
use aetherveil_healer::decide::Mode;

#[derive(Debug, Clone)]
pub struct AdoConfig {
    /// Whether the orchestrator subscribes to the platform's topics (the API works either way).
    pub enabled: bool,
    /// A repository's mode when nobody set one (the healer's per-repository mode is used).
    pub default_mode: Mode,
    pub rule: Rule,
    /// Prior strength k of the learned weights.
    pub weight_prior: f64,
    /// Diagnoses less confident than this go to the council.
    pub min_diagnosis_confidence: f64,
    /// `None`: no model, the expert policies alone.
    pub llm: Option<LlmConfig>,
}

impl Default for AdoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_mode: Mode::Recommend,
            rule: Rule::default(),
            weight_prior: 1.0,
            min_diagnosis_confidence: 0.6,
            llm: None,
        }
    }
}
