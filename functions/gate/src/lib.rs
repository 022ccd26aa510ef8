//! The security gate: a Trivy or SARIF report against a policy, as a CI step and a service.
//!
//! # Path of a report through the gate
//!
//! ```text
//! CLI: aetherveil gate trivy REPORT --policy FILE [--baseline FILE]     HTTP: POST /gate/trivy
//!     1. aetherveil_reports::parse: Trivy JSON (SchemaVersion 2) or SARIF 2.1.0; anything
//!        else (CycloneDX, SPDX, JUnit, a table, a truncated file) is a named error  → exit 2 / 400
//!     2. finding.rs: one Finding shape (vulnerability, misconfiguration, secret, license, code)
//!     3. policy.rs: the YAML policy, checked strictly                                → exit 2 / 400
//!     4. evaluate.rs, per finding: scope → ignore rules (expired ones stop ignoring and say so)
//!        → baseline → only_fixable → severities and min_cvss; known-exploited ids always fail;
//!        then max_counts per severity
//!     5. risk.rs: a 0–100 score with its explanation ranks every finding
//!     6. render.rs: text, JSON, Markdown ($GITHUB_STEP_SUMMARY, check runs), SARIF   → exit 0 / 1
//!     HTTP only: ONE commit of `security_reports/<id>` and a `gate.verdict` message on
//!     `gate-verdicts`; GET /api/v1/security shows the trend per repository (api.rs)
//! ```

pub mod api;
pub mod cli;
pub mod config;
pub mod evaluate;
pub mod finding;
pub mod glob;
pub mod names;
pub mod policy;
pub mod render;
pub mod risk;

pub use api::{Gate, GateRequest, GateResponse, SecurityReport};
pub use config::GateConfig;
pub use evaluate::{Baseline, Status, Verdict, evaluate};
pub use finding::{Finding, Findings, Kind};
pub use policy::{Policy, PolicyError};
