//! The optional language-model backend: an OpenAI-compatible chat-completions client (OpenAI,
//! vLLM, llama.cpp's server, Ollama) that enriches the agents' rationales and may propose
//! actions, only from the closed set.
//!
//! ```text
//! prompt (evidence needed, secrets redacted) ─▶ POST {base_url}/chat/completions
//!     response_format: json_schema (OpenAI, vLLM, llama-server) or json_object + schema
//!     (llama-cpp-python), with ADVICE_SCHEMA
//! ─▶ 200: choices[0].message.content parsed and validated against the schema and the closed set
//!     valid   → outcome `used`
//!     invalid → `invalid_json` / `schema_violation`: the expert policy stands
//! ─▶ 429: retried after Retry-After (bounded), then `rate_limited`
//! ─▶ past the timeout → `timeout`; other statuses → `http_error`; no connection → `unreachable`
//! ```
//! Every call's outcome, latency, token usage and cost are kept in the plan ([`LlmReport`]).

use crate::decision::{Action, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How the answer is constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}` (OpenAI, vLLM,
    /// llama.cpp's `llama-server`, Ollama's OpenAI endpoint).
    JsonSchema,
    /// `{"type": "json_object", "schema": ...}` (llama-cpp-python's server).
    JsonObject,
}

/// The client's settings (`[llm]` in the platform's configuration).
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8081/v1`.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; empty for local servers.
    pub api_key: String,
    /// The whole exchange, retries included.
    pub timeout: Duration,
    pub max_tokens: u32,
    pub temperature: f64,
    pub response_format: ResponseFormat,
    /// Retries after a 429 (each waits for Retry-After, at most `max_retry_wait`).
    pub retries: u32,
    pub max_retry_wait: Duration,
    /// US dollars per million prompt and completion tokens (0 for a local model).
    pub prompt_usd_per_mtok: f64,
    pub completion_usd_per_mtok: f64,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &if self.api_key.is_empty() { "<unset>" } else { "<redacted>" })
            .field("timeout", &self.timeout)
            .field("response_format", &self.response_format)
            .finish_non_exhaustive()
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmOutcome {
    /// No model configured: the expert policies alone.
    Disabled,
    /// A valid answer, merged into the agents' views.
    Used,
    /// The content was not JSON.
    InvalidJson,
    /// JSON, but not the schema or outside the closed set.
    SchemaViolation,
    /// No answer within the timeout.
    Timeout,
    /// 429 until the retries ran out.
    RateLimited,
    /// Another non-2xx status, or a body that is not a chat completion.
    HttpError,
    /// No connection.
    Unreachable,
}

impl LlmOutcome {
    pub fn label(self) -> &'static str {
        match self {
            LlmOutcome::Disabled => "disabled",
            LlmOutcome::Used => "used",
            LlmOutcome::InvalidJson => "invalid_json",
            LlmOutcome::SchemaViolation => "schema_violation",
            LlmOutcome::Timeout => "timeout",
            LlmOutcome::RateLimited => "rate_limited",
            LlmOutcome::HttpError => "http_error",
            LlmOutcome::Unreachable => "unreachable",
        }
    }

    /// Whether the expert policy stood in for the model.
    pub fn fell_back(self) -> bool {
        !matches!(self, LlmOutcome::Used | LlmOutcome::Disabled)
    }
}

/// Token counts as the server reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// What the model did for one plan (stored in the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmReport {
    pub outcome: LlmOutcome,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub latency_ms: u64,
    /// HTTP requests made (retries after 429 included).
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub cost_usd: f64,
    /// Why it fell back, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl LlmReport {
    pub fn disabled() -> Self {
        Self {
            outcome: LlmOutcome::Disabled,
            model: String::new(),
            latency_ms: 0,
            attempts: 0,
            usage: Usage::default(),
            cost_usd: 0.0,
            detail: None,
        }
    }
}

/// One agent's view as the model gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentAdvice {
    pub role: Role,
    pub action: Action,
    pub confidence: f64,
    pub rationale: String,
}

/// The model's whole answer, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    pub agents: Vec<AgentAdvice>,
}

/// Longest rationale accepted from the model, in characters.
pub const MAX_RATIONALE: usize = 600;

/// The JSON schema the answer must follow (sent as the response format, and checked here).
pub fn advice_schema() -> Value {
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.label()).collect();
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.label()).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["agents"],
        "properties": {
            "agents": {
                "type": "array",
                "minItems": 1,
                "maxItems": 5,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["role", "action", "confidence", "rationale"],
                    "properties": {
                        "role": {"type": "string", "enum": roles},
                        "action": {"type": "string", "enum": actions},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                        "rationale": {"type": "string", "minLength": 1, "maxLength": MAX_RATIONALE}
                    }
                }
            }
        }
    })
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("does not follow the schema: {0}")]
    Schema(String),
}

/// Parses and validates the model's content against [`advice_schema`] and the closed sets.
pub fn validate(content: &str) -> Result<Advice, Invalid> {
    let value: Value = serde_json::from_str(content.trim()).map_err(|e| Invalid::Json(e.to_string()))?;
    let schema = |m: String| Invalid::Schema(m);
    let obj = value.as_object().ok_or_else(|| schema("the answer is not an object".into()))?;
    if let Some(extra) = obj.keys().find(|k| *k != "agents") {
        return Err(schema(format!("unexpected field {extra:?}")));
    }
    let items =
        obj.get("agents").and_then(Value::as_array).ok_or_else(|| schema("`agents` must be an array".into()))?;
    if items.is_empty() || items.len() > Role::ALL.len() {
        return Err(schema(format!("`agents` must hold 1 to 5 entries, got {}", items.len())));
    }
    let mut agents = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let o = item.as_object().ok_or_else(|| schema(format!("agents[{i}] is not an object")))?;
        if let Some(extra) = o.keys().find(|k| !matches!(k.as_str(), "role" | "action" | "confidence" | "rationale")) {
            return Err(schema(format!("agents[{i}] has unexpected field {extra:?}")));
        }
        let text = |k: &str| {
            o.get(k).and_then(Value::as_str).ok_or_else(|| schema(format!("agents[{i}].{k} must be a string")))
        };
        let role_s = text("role")?;
        let role = Role::parse(role_s).ok_or_else(|| schema(format!("agents[{i}].role {role_s:?} is not a role")))?;
        let action_s = text("action")?;
        let action = Action::parse(action_s)
            .ok_or_else(|| schema(format!("agents[{i}].action {action_s:?} is not in the closed set")))?;
        let confidence = o
            .get("confidence")
            .and_then(Value::as_f64)
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| schema(format!("agents[{i}].confidence must be a number in [0, 1]")))?;
        let rationale = text("rationale")?.trim().to_owned();
        if rationale.is_empty() || rationale.chars().count() > MAX_RATIONALE {
            return Err(schema(format!("agents[{i}].rationale must have 1 to {MAX_RATIONALE} characters")));
        }
        if agents.iter().any(|a: &AgentAdvice| a.role == role) {
            return Err(schema(format!("agents[{i}]: {role} answered twice")));
        }
        agents.push(AgentAdvice { role, action, confidence, rationale });
    }
    Ok(Advice { agents })
}

/// The OpenAI-compatible client.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
}

/// The system prompt: the task, the closed set, the answer's shape.
pub fn system_prompt() -> String {
    let actions: Vec<&str> = Action::ALL.iter().map(|a| a.label()).collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.label()).collect();
    format!(
        "You advise a council of CI/CD agents ({}) about one GitHub Actions event. Each agent has \
         given its expert view. For each agent, answer its action (one of: {}), a confidence in [0, 1] \
         and a one- or two-sentence rationale grounded only in the evidence given. Keep the expert's \
         action unless the evidence clearly supports another. Never recommend rerunning a \
         pull_request_target or fork run, or promoting past a failed gate. Answer with JSON only: \
         {{\"agents\": [{{\"role\": ..., \"action\": ..., \"confidence\": ..., \"rationale\": ...}}]}}.",
        roles.join(", "),
        actions.join(", ")
    )
}

impl LlmClient {
    pub fn new(config: LlmConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(config.timeout).build()?;
        Ok(Self { http, config })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    fn body(&self, user: &str) -> Value {
        let schema = advice_schema();
        let response_format = match self.config.response_format {
            ResponseFormat::JsonSchema => json!({
                "type": "json_schema",
                "json_schema": {"name": "council_advice", "strict": true, "schema": schema}
            }),
            ResponseFormat::JsonObject => json!({"type": "json_object", "schema": schema}),
        };
        json!({
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system_prompt()},
                {"role": "user", "content": user}
            ],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "response_format": response_format,
            "stream": false
        })
    }

    /// Asks for advice on `prompt` (already redacted). Never fails: every way it can go wrong
    /// is an outcome in the report.
    pub async fn advise(&self, prompt: &str) -> (LlmReport, Option<Advice>) {
        let started = Instant::now();
        let mut report = LlmReport { model: self.config.model.clone(), ..LlmReport::disabled() };
        let result = tokio::time::timeout(self.config.timeout, self.exchange(prompt, &mut report)).await;
        report.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let advice = match result {
            Err(_) => {
                report.outcome = LlmOutcome::Timeout;
                report.detail = Some(format!("no answer within {} ms", self.config.timeout.as_millis()));
                None
            }
            Ok(Err((outcome, detail))) => {
                report.outcome = outcome;
                report.detail = Some(detail);
                None
            }
            Ok(Ok(advice)) => {
                report.outcome = LlmOutcome::Used;
                Some(advice)
            }
        };
        report.cost_usd = (report.usage.prompt_tokens as f64 * self.config.prompt_usd_per_mtok
            + report.usage.completion_tokens as f64 * self.config.completion_usd_per_mtok)
            / 1e6;
        (report, advice)
    }

    async fn exchange(&self, prompt: &str, report: &mut LlmReport) -> Result<Advice, (LlmOutcome, String)> {
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let body = self.body(prompt);
        loop {
            report.attempts += 1;
            let mut req = self.http.post(&url).json(&body);
            if !self.config.api_key.is_empty() {
                req = req.bearer_auth(&self.config.api_key);
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    (LlmOutcome::Timeout, "the request timed out".to_owned())
                } else {
                    (LlmOutcome::Unreachable, format!("cannot reach {url}: {e}"))
                }
            })?;
            let status = resp.status();
            if status.as_u16() == 429 {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map_or(Duration::from_secs(1), |s| Duration::from_secs_f64(s.max(0.0)));
                if report.attempts > self.config.retries || wait > self.config.max_retry_wait {
                    return Err((
                        LlmOutcome::RateLimited,
                        format!("429 after {} attempt(s), Retry-After {:.1}s", report.attempts, wait.as_secs_f64()),
                    ));
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                return Err((LlmOutcome::HttpError, format!("HTTP {status}")));
            }
            let completion: Value =
                resp.json().await.map_err(|e| (LlmOutcome::HttpError, format!("not a chat completion: {e}")))?;
            if let Some(u) = completion.get("usage").and_then(|u| serde_json::from_value::<Usage>(u.clone()).ok()) {
                report.usage = u;
            }
            let choice = &completion["choices"][0];
            let content = choice["message"]["content"]
                .as_str()
                .ok_or_else(|| (LlmOutcome::HttpError, "no choices[0].message.content".to_owned()))?;
            return validate(content).map_err(|e| match e {
                Invalid::Json(m) => (LlmOutcome::InvalidJson, m),
                Invalid::Schema(m) => (LlmOutcome::SchemaViolation, m),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_advice_passes_and_anything_outside_the_closed_set_does_not() {
        let ok = r#"{"agents":[{"role":"build_optimizer","action":"rerun_failed_jobs","confidence":0.7,"rationale":"network blip"}]}"#;
        assert_eq!(validate(ok).map(|a| a.agents[0].action), Ok(Action::RerunFailedJobs));
        let cases = [
            (
                r#"{"agents":[{"role":"build_optimizer","action":"delete_repo","confidence":0.7,"rationale":"x"}]}"#,
                "closed set",
            ),
            (r#"{"agents":[{"role":"ceo","action":"no_action","confidence":0.7,"rationale":"x"}]}"#, "not a role"),
            (
                r#"{"agents":[{"role":"build_optimizer","action":"no_action","confidence":1.7,"rationale":"x"}]}"#,
                "confidence",
            ),
            (
                r#"{"agents":[{"role":"build_optimizer","action":"no_action","confidence":0.5,"rationale":""}]}"#,
                "rationale",
            ),
            (r#"{"agents":[],"x":1}"#, "unexpected field"),
            (r#"{"agents":[]}"#, "1 to 5"),
        ];
        for (content, why) in cases {
            match validate(content) {
                Err(Invalid::Schema(m)) => assert!(m.contains(why), "{content}: {m}"),
                other => panic!("{content}: {other:?}"),
            }
        }
        assert!(matches!(validate("Sure! Here is the JSON"), Err(Invalid::Json(_))));
    }
}
