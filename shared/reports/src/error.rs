use thiserror::Error;

/// Why a report could not be read. Every message names the problem and, where there is one, the
/// fix.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReportError {
    #[error("the report is empty")]
    Empty,
    #[error("the report is truncated: the JSON ends early at line {line}, column {column}")]
    Truncated { line: usize, column: usize },
    #[error("the report is not valid JSON: {reason} at line {line}, column {column}")]
    Syntax { line: usize, column: usize, reason: String },
    #[error("the report is {format}, not JSON; {hint}")]
    NotJson { format: &'static str, hint: &'static str },
    #[error("the report is {format}, not a format the gate reads (Trivy JSON or SARIF 2.1.0); {hint}")]
    OtherFormat { format: &'static str, hint: &'static str },
    #[error(
        "unsupported Trivy report schema version {found}: only SchemaVersion 2 (Trivy 0.20 and later) is supported"
    )]
    SchemaVersion { found: String },
    #[error(
        "the report has Results but no SchemaVersion: a Trivy report older than 0.20 (schema 1) or not a Trivy report; re-run a current trivy with --format json"
    )]
    MissingSchemaVersion,
    #[error(
        "the report is a bare JSON list: Trivy's schema 1 (before 0.20) or another tool's format; re-run a current trivy with --format json"
    )]
    BareList,
    #[error("unsupported SARIF version {found}: only SARIF 2.1.0 is supported")]
    SarifVersion { found: String },
    #[error("the JSON is neither a Trivy report (no SchemaVersion) nor SARIF (no version and runs)")]
    UnknownJson,
    #[error("the report does not have the expected shape at `{path}`: {reason}")]
    Shape { path: String, reason: String },
}
