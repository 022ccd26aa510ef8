//! The gate as a service.
//!
//! - `POST /gate/trivy`: `{"repo": "owner/name", "report": {...}, "policy": "name", "ref":
//!   "refs/pull/7/merge", "sha": "...", "run_id": 1, "baseline": {...} | "baseline_ref":
//!   "refs/heads/main"}`. Gates the report (Trivy JSON or SARIF) against the named policy from
//!   the policy directory, records the verdict in `security_reports` and publishes a
//!   `gate.verdict` message on `gate-verdicts` in the same commit; answers the verdict, its
//!   Markdown and the CLI's exit code. A bad report or policy name is a 400 naming the problem.
//! - `GET /api/v1/security[?repo=owner/name&limit=N]`: per repository, the recorded verdicts as a
//!   trend (oldest first), the pass rate and the change since the previous verdict.

use crate::config::{GateConfig, valid_policy_name};
use crate::evaluate::{Baseline, Counts, Status, Verdict, evaluate};
use crate::finding::{Finding, Findings};
use crate::names::{API_PATH, EVENT_TYPE, PATH, TOPIC_VERDICTS};
use crate::policy::{Policy, PolicyError};
use aetherveil_models::names::SECURITY_REPORTS;
use aetherveil_reports::{ReportError, Severity};
use aetherveil_runtime::api::{ApiError, ApiResult, limit, repo_filter};
use aetherveil_store::{Message, Order, Query, Store, StoreError, WriteBatch, to_value};
use axum::extract::{DefaultBodyLimit, Query as UrlQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// Findings kept in a recorded verdict (the highest risks); the full list is in the response.
pub const RECORDED_TOP: usize = 20;

#[derive(Debug, Error)]
pub enum GateError {
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown policy {0:?}: no {0}.yml or {0}.yaml in the policy directory")]
    UnknownPolicy(String),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("report: {0}")]
    Report(ReportError),
    #[error("baseline: {0}")]
    Baseline(ReportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        let api = match self {
            GateError::BadRequest(m) => ApiError::BadRequest(m),
            e @ (GateError::UnknownPolicy(_) | GateError::Report(_) | GateError::Baseline(_)) => {
                ApiError::BadRequest(e.to_string())
            }
            GateError::Policy(e) => {
                tracing::error!(error = %e, "a gate policy is invalid");
                ApiError::BadRequest("the policy is invalid; its error is in the server log".into())
            }
            GateError::Store(e) => ApiError::Internal(e.to_string()),
        };
        api.into_response()
    }
}

/// A `POST /gate/trivy` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateRequest {
    pub repo: String,
    /// Trivy's JSON report or a SARIF log, as a JSON value.
    pub report: Value,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub run_id: Option<u64>,
    /// A baseline report given inline.
    #[serde(default)]
    pub baseline: Option<Value>,
    /// Or: the latest verdict recorded for this ref of the repository is the baseline.
    #[serde(default)]
    pub baseline_ref: Option<String>,
}

/// One finding of a recorded verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopFinding {
    pub id: String,
    pub severity: Severity,
    pub status: Status,
    pub risk: f64,
    pub known_exploited: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub target: String,
}

/// A document of `security_reports`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityReport {
    pub id: String,
    pub repo: String,
    #[serde(default)]
    pub git_ref: Option<String>,
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub run_id: Option<u64>,
    pub policy: String,
    pub passed: bool,
    /// RFC 3339 with milliseconds, UTC: orders as text.
    pub gated_at: String,
    pub format: String,
    pub tool: String,
    pub artifact_name: String,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub baseline: bool,
    pub reasons: Vec<String>,
    pub warnings: Vec<String>,
    pub counts: Counts,
    pub max_risk: f64,
    pub top: Vec<TopFinding>,
    /// Every finding's [`Finding::key`]: what a later `baseline_ref` compares against.
    pub finding_keys: Vec<String>,
}

impl SecurityReport {
    fn from_verdict(id: String, req: &GateRequest, v: &Verdict, findings: &Findings) -> Self {
        Self {
            id,
            repo: req.repo.clone(),
            git_ref: req.git_ref.clone(),
            sha: req.sha.clone(),
            run_id: req.run_id,
            policy: v.policy.clone(),
            passed: v.passed,
            gated_at: v.evaluated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            format: v.format.clone(),
            tool: v.tool.clone(),
            artifact_name: v.artifact_name.clone(),
            artifact_type: v.artifact_type.clone(),
            baseline: v.baseline,
            reasons: v.reasons.clone(),
            warnings: v.warnings.clone(),
            counts: v.counts.clone(),
            max_risk: v.findings.iter().filter(|a| a.status.considered()).map(|a| a.risk.score).fold(0.0, f64::max),
            top: v
                .findings
                .iter()
                .filter(|a| a.status.considered())
                .take(RECORDED_TOP)
                .map(|a| TopFinding {
                    id: a.finding.id.clone(),
                    severity: a.finding.severity,
                    status: a.status,
                    risk: a.risk.score,
                    known_exploited: a.known_exploited,
                    package: a.finding.package.clone(),
                    target: a.finding.target.clone(),
                })
                .collect(),
            finding_keys: findings.findings.iter().map(Finding::key).collect(),
        }
    }
}

/// What `POST /gate/trivy` answers.
#[derive(Debug, Clone, Serialize)]
pub struct GateResponse {
    pub id: String,
    pub passed: bool,
    /// The CLI's exit code for the same verdict: 0 pass, 1 fail.
    pub exit_code: u8,
    pub verdict: Verdict,
    /// The summary for a check run or `$GITHUB_STEP_SUMMARY`.
    pub markdown: String,
}

#[derive(Clone)]
pub struct Gate {
    store: Arc<dyn Store>,
    config: Arc<GateConfig>,
}

impl Gate {
    pub fn new(store: Arc<dyn Store>, config: GateConfig) -> Self {
        Self { store, config: Arc::new(config) }
    }

    /// `POST /gate/trivy` (the HTTP function).
    pub fn router(&self) -> Router {
        Router::new()
            .route(PATH, post(gate_handler))
            .layer(DefaultBodyLimit::max(self.config.max_report_bytes))
            .with_state(self.clone())
    }

    /// `GET /api/v1/security` (the read API).
    pub fn api_router(&self) -> Router {
        Router::new().route(API_PATH, get(security)).with_state(self.clone())
    }

    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        for (collection, fields) in crate::names::INDEXES {
            self.store.ensure_index(collection, fields).await?;
        }
        Ok(())
    }

    /// The named policy from the policy directory; the built-in default for the default name
    /// when the directory has no such file.
    pub async fn policy(&self, name: Option<&str>) -> Result<Policy, GateError> {
        let name = name.unwrap_or(&self.config.default_policy);
        if !valid_policy_name(name) {
            return Err(GateError::BadRequest(format!(
                "policy names are letters, digits, '-', '_' and '.', not starting with '.'; got {name:?}"
            )));
        }
        for ext in ["yml", "yaml"] {
            let path = self.config.policy_dir.join(format!("{name}.{ext}"));
            if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return tokio::task::spawn_blocking(move || Policy::load(&path))
                    .await
                    .map_err(|e| GateError::BadRequest(format!("policy load interrupted: {e}")))?
                    .map_err(GateError::from);
            }
        }
        if name == self.config.default_policy {
            return Ok(Policy::builtin_default());
        }
        Err(GateError::UnknownPolicy(name.to_owned()))
    }

    /// Gates, records and publishes one report.
    pub async fn gate(&self, req: GateRequest, now: DateTime<Utc>) -> Result<GateResponse, GateError> {
        if aetherveil_runtime::api::repo_filter(Query::new(), Some(&req.repo)).is_err() {
            return Err(GateError::BadRequest(format!("repo must be owner/name, got {:?}", req.repo)));
        }
        let policy = self.policy(req.policy.as_deref()).await?;
        let report = aetherveil_reports::parse_value(req.report.clone()).map_err(GateError::Report)?;
        let findings = Findings::from_report(&report);
        let mut warnings = Vec::new();
        let baseline = match (&req.baseline, &req.baseline_ref) {
            (Some(_), Some(_)) => {
                return Err(GateError::BadRequest("give baseline or baseline_ref, not both".into()));
            }
            (Some(b), None) => {
                let r = aetherveil_reports::parse_value(b.clone()).map_err(GateError::Baseline)?;
                Some(Baseline::from_findings(&Findings::from_report(&r)))
            }
            (None, Some(git_ref)) => {
                let latest = self
                    .store
                    .query(
                        SECURITY_REPORTS,
                        Query::new()
                            .eq("repo", req.repo.as_str())
                            .eq("git_ref", git_ref.as_str())
                            .order_by("gated_at", Order::Desc)
                            .limit(1),
                    )
                    .await?;
                match latest.first().map(|d| d.parse::<SecurityReport>()).transpose()? {
                    Some(r) => Some(Baseline::from_keys(r.finding_keys)),
                    None => {
                        warnings.push(format!(
                            "no verdict recorded for {git_ref} of {}: gated without a baseline",
                            req.repo
                        ));
                        None
                    }
                }
            }
            (None, None) => None,
        };
        let mut verdict = evaluate(&findings, &policy, baseline.as_ref(), now);
        verdict.warnings.extend(warnings);
        let id = uuid::Uuid::new_v4().to_string();
        let record = SecurityReport::from_verdict(id.clone(), &req, &verdict, &findings);
        let event = SecurityReport { finding_keys: Vec::new(), ..record.clone() };
        let message = Message {
            id: format!("{EVENT_TYPE}:{id}"),
            topic: TOPIC_VERDICTS.into(),
            key: Some(req.repo.clone()),
            attributes: BTreeMap::from([
                ("type".to_owned(), EVENT_TYPE.to_owned()),
                ("repo".to_owned(), req.repo.clone()),
                ("passed".to_owned(), verdict.passed.to_string()),
                ("policy".to_owned(), verdict.policy.clone()),
            ]),
            data: serde_json::to_vec(&event).map_err(|e| StoreError::Encode(e.to_string()))?,
        };
        self.store.commit(WriteBatch::new().create(SECURITY_REPORTS, &id, to_value(&record)?).publish(message)).await?;
        tracing::info!(repo = %req.repo, policy = %verdict.policy, passed = verdict.passed, id = %id, "gate verdict");
        Ok(GateResponse {
            id,
            passed: verdict.passed,
            exit_code: verdict.exit_code(),
            markdown: crate::render::markdown(&verdict),
            verdict,
        })
    }
}

async fn gate_handler(State(gate): State<Gate>, body: axum::body::Bytes) -> Response {
    let req: GateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return ApiError::BadRequest(format!("the body is not a gate request: {e}")).into_response();
        }
    };
    match gate.gate(req, Utc::now()).await {
        Ok(response) => Json(response).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct SecurityQuery {
    repo: Option<String>,
    limit: Option<usize>,
}

async fn security(State(gate): State<Gate>, UrlQuery(q): UrlQuery<SecurityQuery>) -> ApiResult {
    let query = repo_filter(Query::new(), q.repo.as_deref())?.order_by("gated_at", Order::Desc).limit(limit(q.limit)?);
    let reports: Vec<SecurityReport> =
        gate.store.query(SECURITY_REPORTS, query).await?.iter().map(|d| d.parse()).collect::<Result<_, _>>()?;
    Ok(Json(json!({ "repositories": trends(&reports) })))
}

/// Per repository (in order of their latest verdict): the verdicts oldest first, the pass rate
/// and the change of each count since the previous verdict. `reports` is newest first.
pub fn trends(reports: &[SecurityReport]) -> Vec<Value> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_repo: BTreeMap<&str, Vec<&SecurityReport>> = BTreeMap::new();
    for r in reports {
        if !by_repo.contains_key(r.repo.as_str()) {
            order.push(&r.repo);
        }
        by_repo.entry(&r.repo).or_default().push(r);
    }
    order
        .into_iter()
        .map(|repo| {
            let newest_first = &by_repo[repo];
            let passed = newest_first.iter().filter(|r| r.passed).count();
            let latest = newest_first[0];
            let change = newest_first.get(1).map(|prev| {
                let d = |a: usize, b: usize| a as i64 - b as i64;
                let (l, p) = (&latest.counts, &prev.counts);
                json!({
                    "critical": d(l.all.critical, p.all.critical),
                    "high": d(l.all.high, p.all.high),
                    "medium": d(l.all.medium, p.all.medium),
                    "low": d(l.all.low, p.all.low),
                    "failing": d(l.failing.total(), p.failing.total()),
                })
            });
            let trend: Vec<Value> = newest_first
                .iter()
                .rev()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "gated_at": r.gated_at,
                        "ref": r.git_ref,
                        "sha": r.sha,
                        "policy": r.policy,
                        "passed": r.passed,
                        "critical": r.counts.all.critical,
                        "high": r.counts.all.high,
                        "medium": r.counts.all.medium,
                        "low": r.counts.all.low,
                        "failing": r.counts.failing.total(),
                        "max_risk": r.max_risk,
                    })
                })
                .collect();
            json!({
                "repo": repo,
                "verdicts": newest_first.len(),
                "passed": passed,
                "pass_rate": passed as f64 / newest_first.len() as f64,
                "latest": {
                    "id": latest.id,
                    "gated_at": latest.gated_at,
                    "passed": latest.passed,
                    "reasons": latest.reasons,
                    "warnings": latest.warnings,
                    "counts": latest.counts,
                    "top": latest.top,
                },
                "change_since_previous": change,
                "trend": trend,
            })
        })
        .collect()
}
