//! SARIF 2.1.0 (OASIS), the subset a gate reads: tools, rules, results, locations and the
//! `security-severity` property GitHub code scanning uses. Any scanner's SARIF reads; Trivy's
//! (`--format sarif`) also carries the package, installed and fixed versions in each result's
//! message, which [`SarifResult::trivy_field`] reads.

use crate::nullable::or_default;
use crate::trivy::Severity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The one SARIF version this crate reads.
pub const VERSION: &str = "2.1.0";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SarifLog {
    pub version: String,
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Run {
    #[serde(default)]
    pub tool: Tool,
    #[serde(default, deserialize_with = "or_default")]
    pub results: Vec<SarifResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Tool {
    #[serde(default)]
    pub driver: Driver,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    #[serde(default, deserialize_with = "or_default")]
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub semantic_version: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, deserialize_with = "or_default")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub short_description: Option<Message>,
    #[serde(default)]
    pub help_uri: Option<String>,
    #[serde(default)]
    pub default_configuration: Option<Configuration>,
    #[serde(default)]
    pub properties: Option<Properties>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Configuration {
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Properties {
    #[serde(default, deserialize_with = "or_default")]
    pub tags: Vec<String>,
    /// A CVSS-like score, as a string (`"9.8"`) by GitHub's convention, or a number.
    #[serde(rename = "security-severity", default)]
    pub security_severity: Option<Value>,
    #[serde(default)]
    pub precision: Option<String>,
}

impl Properties {
    /// `security-severity` as a number in 0..=10.
    pub fn score(&self) -> Option<f64> {
        let v = self.security_severity.as_ref()?;
        let n = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
        (n.is_finite() && (0.0..=10.0).contains(&n)).then_some(n)
    }

    /// A severity named in the tags (Trivy tags each rule with its severity).
    pub fn tagged_severity(&self) -> Option<Severity> {
        self.tags.iter().find_map(|t| Severity::parse(t))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Message {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub markdown: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default)]
    pub rule_index: Option<usize>,
    /// `error`, `warning`, `note` or `none`; absent means the rule's default (`warning`).
    #[serde(default)]
    pub level: Option<String>,
    /// `fail`, `pass`, `open`, `review`, `informational`, `notApplicable`; absent means `fail`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Message,
    #[serde(default, deserialize_with = "or_default")]
    pub locations: Vec<Location>,
    #[serde(default, deserialize_with = "or_default")]
    pub partial_fingerprints: BTreeMap<String, String>,
    /// `new`, `unchanged`, `updated`, `absent` when the tool compared against a baseline.
    #[serde(default)]
    pub baseline_state: Option<String>,
    #[serde(default)]
    pub properties: Option<Properties>,
}

impl SarifResult {
    /// The value of a `Name: value` line of Trivy's result message (`Package`, `Installed
    /// Version`, `Fixed Version`, `Severity`, ...).
    pub fn trivy_field(&self, name: &str) -> Option<&str> {
        let text = self.message.text.as_deref()?;
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim()).filter(|v| !v.is_empty())
        })
    }

    /// The first location's file, if any.
    pub fn uri(&self) -> Option<&str> {
        self.locations.first()?.physical_location.as_ref()?.artifact_location.as_ref()?.uri.as_deref()
    }

    /// The first location's start line, if any.
    pub fn start_line(&self) -> Option<u64> {
        self.locations.first()?.physical_location.as_ref()?.region.as_ref()?.start_line
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(default)]
    pub physical_location: Option<PhysicalLocation>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    #[serde(default)]
    pub artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    pub region: Option<Region>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ArtifactLocation {
    #[serde(default)]
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    #[serde(default)]
    pub start_line: Option<u64>,
    #[serde(default)]
    pub end_line: Option<u64>,
}
