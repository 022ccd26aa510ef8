//! Trivy's native JSON report, SchemaVersion 2 (`trivy ... --format json`).
//!
//! The de facto schema is Trivy's Go structs (`pkg/types/report.go`); there is no published JSON
//! Schema. Only the fields a gate reads are typed; everything else is ignored. Dates stay the
//! strings Trivy wrote, read on demand ([`Vulnerability::published`]), so one odd timestamp
//! never rejects a whole report.

use crate::nullable::or_default;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The one schema version this crate reads.
pub const SCHEMA_VERSION: u64 = 2;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrivyReport {
    pub schema_version: u64,
    #[serde(default)]
    pub trivy: Option<TrivyInfo>,
    #[serde(rename = "ReportID", default)]
    pub report_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(rename = "ArtifactID", default)]
    pub artifact_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub artifact_name: String,
    /// `container_image`, `filesystem`, `repository`, `vm`, `cyclonedx`, `spdx`, ...
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "or_default")]
    pub results: Vec<TrivyResult>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrivyInfo {
    #[serde(default, deserialize_with = "or_default")]
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    #[serde(rename = "OS", default)]
    pub os: Option<Os>,
    #[serde(rename = "ImageID", default)]
    pub image_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub repo_tags: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Os {
    #[serde(default, deserialize_with = "or_default")]
    pub family: String,
    #[serde(default, deserialize_with = "or_default")]
    pub name: String,
    /// End of service life: the distribution no longer gets security fixes.
    #[serde(rename = "EOSL", default, deserialize_with = "or_default")]
    pub eosl: bool,
}

/// One scanned target (an OS layer, a lock file, a config file, ...).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrivyResult {
    #[serde(default, deserialize_with = "or_default")]
    pub target: String,
    /// `os-pkgs`, `lang-pkgs`, `config`, `secret`, `license`, `license-file`, `custom`.
    #[serde(default, deserialize_with = "or_default")]
    pub class: String,
    /// The package or config type: `alpine`, `npm`, `gomod`, `dockerfile`, `terraform`, ...
    #[serde(rename = "Type", default, deserialize_with = "or_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "or_default")]
    pub vulnerabilities: Vec<Vulnerability>,
    #[serde(default)]
    pub misconf_summary: Option<MisconfSummary>,
    #[serde(default, deserialize_with = "or_default")]
    pub misconfigurations: Vec<Misconfiguration>,
    #[serde(default, deserialize_with = "or_default")]
    pub secrets: Vec<Secret>,
    #[serde(default, deserialize_with = "or_default")]
    pub licenses: Vec<License>,
}

/// Severity as Trivy ranks it. Unrecognised strings read as `Unknown`, never as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Unknown];

    /// Case-insensitive; `None` for anything that is not a severity name.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" => Some(Self::Unknown),
            "LOW" => Some(Self::Low),
            "MEDIUM" => Some(Self::Medium),
            "HIGH" => Some(Self::High),
            "CRITICAL" => Some(Self::Critical),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }

    /// The CVSS v3 qualitative band a score falls in (0.0 reads as `Unknown`).
    pub fn from_cvss(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Self::Critical,
            s if s >= 7.0 => Self::High,
            s if s >= 4.0 => Self::Medium,
            s if s > 0.0 => Self::Low,
            _ => Self::Unknown,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(s.as_deref().and_then(Severity::parse).unwrap_or_default())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vulnerability {
    #[serde(rename = "VulnerabilityID", default, deserialize_with = "or_default")]
    pub vulnerability_id: String,
    #[serde(rename = "PkgID", default)]
    pub pkg_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub pkg_name: String,
    /// Where a language package was found inside an image (`app/node_modules/x/package.json`).
    #[serde(default)]
    pub pkg_path: Option<String>,
    #[serde(default)]
    pub pkg_identifier: Option<PkgIdentifier>,
    #[serde(default, deserialize_with = "or_default")]
    pub installed_version: String,
    /// Empty or absent when no fixed version exists.
    #[serde(default)]
    pub fixed_version: Option<String>,
    /// `fixed`, `affected`, `will_not_fix`, `fix_deferred`, `end_of_life`, `under_investigation`, ...
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub layer: Option<Layer>,
    #[serde(default)]
    pub severity_source: Option<String>,
    #[serde(rename = "PrimaryURL", default)]
    pub primary_url: Option<String>,
    #[serde(default)]
    pub data_source: Option<DataSource>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(rename = "CweIDs", default, deserialize_with = "or_default")]
    pub cwe_ids: Vec<String>,
    /// Severity per source, as Trivy's numbers (0 unknown .. 4 critical).
    #[serde(default, deserialize_with = "or_default")]
    pub vendor_severity: BTreeMap<String, u8>,
    /// CVSS per source (`nvd`, `redhat`, `ghsa`, ...).
    #[serde(rename = "CVSS", default, deserialize_with = "or_default")]
    pub cvss: BTreeMap<String, Cvss>,
    #[serde(default, deserialize_with = "or_default")]
    pub references: Vec<String>,
    #[serde(default)]
    pub published_date: Option<String>,
    #[serde(default)]
    pub last_modified_date: Option<String>,
}

impl Vulnerability {
    /// A fixed version exists (Trivy writes it only when the data source has one).
    pub fn fixable(&self) -> bool {
        self.fixed_version.as_deref().is_some_and(|v| !v.trim().is_empty())
    }

    /// When the vulnerability was published, when Trivy's date reads as RFC 3339.
    pub fn published(&self) -> Option<DateTime<Utc>> {
        parse_date(self.published_date.as_deref()?)
    }

    /// The score a gate should read, and its source: the severity source's, then NVD's, then the
    /// highest of any other source; v3 (or v4) before v2.
    pub fn best_cvss(&self) -> Option<(f64, String)> {
        let preferred = self.severity_source.iter().map(String::as_str).chain(std::iter::once("nvd"));
        for source in preferred {
            if let Some(score) = self.cvss.get(source).and_then(Cvss::best) {
                return Some((score.0, format!("{source} {}", score.1)));
            }
        }
        self.cvss
            .iter()
            .filter_map(|(source, c)| c.best().map(|(s, v)| (s, format!("{source} {v}"))))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PkgIdentifier {
    #[serde(rename = "PURL", default)]
    pub purl: Option<String>,
    #[serde(rename = "UID", default)]
    pub uid: Option<String>,
    #[serde(rename = "BOMRef", default)]
    pub bom_ref: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Layer {
    #[serde(rename = "Digest", default)]
    pub digest: Option<String>,
    #[serde(rename = "DiffID", default)]
    pub diff_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct DataSource {
    #[serde(rename = "ID", default)]
    pub id: Option<String>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    #[serde(rename = "URL", default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Cvss {
    #[serde(rename = "V2Vector", default)]
    pub v2_vector: Option<String>,
    #[serde(rename = "V3Vector", default)]
    pub v3_vector: Option<String>,
    #[serde(rename = "V40Vector", default)]
    pub v40_vector: Option<String>,
    #[serde(rename = "V2Score", default)]
    pub v2_score: Option<f64>,
    #[serde(rename = "V3Score", default)]
    pub v3_score: Option<f64>,
    #[serde(rename = "V40Score", default)]
    pub v40_score: Option<f64>,
}

impl Cvss {
    /// The newest scoring system with a score in 0..=10: v4.0, then v3, then v2.
    pub fn best(&self) -> Option<(f64, &'static str)> {
        [(self.v40_score, "V4.0"), (self.v3_score, "V3"), (self.v2_score, "V2")].into_iter().find_map(
            |(score, version)| score.filter(|s| s.is_finite() && (0.0..=10.0).contains(s)).map(|s| (s, version)),
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MisconfSummary {
    #[serde(default, deserialize_with = "or_default")]
    pub successes: u64,
    #[serde(default, deserialize_with = "or_default")]
    pub failures: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Misconfiguration {
    #[serde(rename = "Type", default, deserialize_with = "or_default")]
    pub kind: String,
    #[serde(rename = "ID", default, deserialize_with = "or_default")]
    pub id: String,
    #[serde(rename = "AVDID", default)]
    pub avd_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(rename = "PrimaryURL", default)]
    pub primary_url: Option<String>,
    /// `FAIL`, `PASS` (with --include-non-failures) or `EXCEPTION`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub cause_metadata: Option<CauseMetadata>,
}

impl Misconfiguration {
    /// Only failed checks are findings.
    pub fn failed(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("FAIL"))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CauseMetadata {
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub start_line: Option<u64>,
    #[serde(default)]
    pub end_line: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    #[serde(rename = "RuleID", default, deserialize_with = "or_default")]
    pub rule_id: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub start_line: Option<u64>,
    #[serde(default)]
    pub end_line: Option<u64>,
    /// The matched line with the secret masked by Trivy.
    #[serde(rename = "Match", default)]
    pub matched: Option<String>,
    #[serde(default)]
    pub layer: Option<Layer>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct License {
    #[serde(default)]
    pub severity: Severity,
    /// `forbidden`, `restricted`, `reciprocal`, `notice`, `permissive`, `unencumbered`, `unknown`.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub pkg_name: Option<String>,
    #[serde(default)]
    pub file_path: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub name: String,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub link: Option<String>,
}
