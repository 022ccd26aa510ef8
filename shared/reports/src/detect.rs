//! What a file is, decided from its first bytes and its top-level keys, before typed parsing.

use crate::error::ReportError;
use crate::{Report, sarif, trivy};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

const JSON_HINT: &str = "re-run trivy with --format json (or --format sarif)";

/// Reads a Trivy JSON report or a SARIF log from `bytes`.
pub fn parse(bytes: &[u8]) -> Result<Report, ReportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(ReportError::Empty);
    };
    let body = &bytes[start..];
    match body[0] {
        b'{' | b'[' => parse_value(serde_json::from_slice(body).map_err(json_error)?),
        b'<' => Err(markup(body)),
        _ => Err(ReportError::NotJson { format: "plain text (a table or template output)", hint: JSON_HINT }),
    }
}

/// Reads a report that is already a JSON value (for example inside an HTTP request body).
pub fn parse_value(value: Value) -> Result<Report, ReportError> {
    match value {
        Value::Object(map) => parse_object(map),
        Value::Array(items) if items.iter().any(is_code_quality) => Err(ReportError::OtherFormat {
            format: "a GitLab Code Quality report",
            hint: "give the gate trivy's --format json output instead",
        }),
        Value::Array(_) => Err(ReportError::BareList),
        _ => Err(ReportError::UnknownJson),
    }
}

fn parse_object(map: Map<String, Value>) -> Result<Report, ReportError> {
    if let Some(version) = map.get("SchemaVersion") {
        if version.as_u64() != Some(trivy::SCHEMA_VERSION) {
            return Err(ReportError::SchemaVersion { found: version.to_string() });
        }
        return typed(Value::Object(map)).map(|r| Report::Trivy(Box::new(r)));
    }
    if map.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Err(ReportError::OtherFormat {
            format: "a CycloneDX SBOM",
            hint: "scan it for vulnerabilities first: trivy sbom --format json FILE",
        });
    }
    if map.contains_key("spdxVersion") {
        return Err(ReportError::OtherFormat {
            format: "an SPDX SBOM",
            hint: "scan it for vulnerabilities first: trivy sbom --format json FILE",
        });
    }
    if map.get("Findings").is_some_and(Value::is_array) {
        return Err(ReportError::OtherFormat {
            format: "an AWS Security Finding Format (ASFF) report",
            hint: "give the gate trivy's --format json output instead",
        });
    }
    if map.contains_key("vulnerabilities") && map.contains_key("scan") {
        return Err(ReportError::OtherFormat {
            format: "a GitLab security report",
            hint: "give the gate trivy's --format json output instead",
        });
    }
    if map.contains_key("detector") && map.contains_key("manifests") {
        return Err(ReportError::OtherFormat {
            format: "a GitHub dependency snapshot",
            hint: "give the gate trivy's --format json output instead",
        });
    }
    let schema_says_sarif = map.get("$schema").and_then(Value::as_str).is_some_and(|s| s.contains("sarif"));
    if map.contains_key("runs") || schema_says_sarif {
        let version = map.get("version").cloned().unwrap_or(Value::Null);
        if version.as_str() != Some(sarif::VERSION) {
            return Err(ReportError::SarifVersion { found: version.to_string() });
        }
        return typed(Value::Object(map)).map(Report::Sarif);
    }
    if map.contains_key("Results") {
        return Err(ReportError::MissingSchemaVersion);
    }
    Err(ReportError::UnknownJson)
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ReportError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ReportError::Shape { path, reason: e.into_inner().to_string() }
    })
}

fn is_code_quality(item: &Value) -> bool {
    item.get("check_name").is_some() || (item.get("fingerprint").is_some() && item.get("location").is_some())
}

fn json_error(e: serde_json::Error) -> ReportError {
    let (line, column) = (e.line(), e.column());
    if e.is_eof() {
        ReportError::Truncated { line, column }
    } else {
        let text = e.to_string();
        let reason = text.split(" at line ").next().unwrap_or(&text).to_owned();
        ReportError::Syntax { line, column, reason }
    }
}

fn markup(body: &[u8]) -> ReportError {
    let head = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    if head.contains("<testsuites") || head.contains("<testsuite") {
        ReportError::NotJson { format: "JUnit XML", hint: JSON_HINT }
    } else if head.contains("<html") || head.contains("<!doctype html") {
        ReportError::NotJson { format: "HTML", hint: JSON_HINT }
    } else {
        ReportError::NotJson { format: "XML", hint: JSON_HINT }
    }
}
