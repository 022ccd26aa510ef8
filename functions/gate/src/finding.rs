//! One finding shape for every report format: what the policy and the risk score read.

use aetherveil_reports::sarif::{Rule, SarifLog, SarifResult};
use aetherveil_reports::trivy::{TrivyReport, Vulnerability};
use aetherveil_reports::{Report, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Vulnerability,
    Misconfiguration,
    Secret,
    License,
    /// A SARIF result of a code analyser (neither of the above).
    Code,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Vulnerability => "vulnerability",
            Kind::Misconfiguration => "misconfiguration",
            Kind::Secret => "secret",
            Kind::License => "license",
            Kind::Code => "code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    /// CVE/GHSA id, check id (`DS-0002`), secret rule id, license name or SARIF rule id.
    pub id: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The scanned target (image layer, lock file, config file) or SARIF location.
    pub target: String,
    /// Trivy's result class: `os-pkgs`, `lang-pkgs`, `config`, `secret`, `license`; empty for SARIF.
    pub class: String,
    /// Package or config type: `alpine`, `npm`, `dockerfile`, ...
    pub package_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A package's path inside the artifact, or a secret's or license's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Finding {
    fn new(kind: Kind, id: String, severity: Severity, target: String) -> Self {
        Self {
            kind,
            id,
            severity,
            title: None,
            target,
            class: String::new(),
            package_type: String::new(),
            package: None,
            installed_version: None,
            fixed_version: None,
            status: None,
            path: None,
            line: None,
            cvss: None,
            cvss_source: None,
            published: None,
            data_source: None,
            layer: None,
            url: None,
        }
    }

    /// A fixed version exists. Only vulnerabilities have versions; for other kinds the fix is an
    /// edit of one's own files, always available.
    pub fn fixable(&self) -> bool {
        self.kind != Kind::Vulnerability || self.fixed_version.as_deref().is_some_and(|v| !v.trim().is_empty())
    }

    /// The identity a baseline compares: the same issue in the same place, whatever its version.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.kind.label(),
            self.id,
            self.package.as_deref().unwrap_or(""),
            self.target,
            self.path.as_deref().unwrap_or("")
        )
    }
}

/// Every finding of one report, with what the report says about the scanned artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// `trivy` or `sarif`.
    pub format: String,
    /// The scanner (`Trivy`, `CodeQL`, ...).
    pub tool: String,
    pub artifact_name: String,
    /// Trivy's `ArtifactType` (`container_image`, `repository`, `filesystem`, `vm`, ...).
    pub artifact_type: Option<String>,
    pub findings: Vec<Finding>,
}

impl Findings {
    pub fn from_report(report: &Report) -> Self {
        match report {
            Report::Trivy(r) => from_trivy(r),
            Report::Sarif(s) => from_sarif(s),
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn from_trivy(report: &TrivyReport) -> Findings {
    let mut findings = Vec::new();
    for result in &report.results {
        let base = |kind, id: &str, severity| {
            let mut f = Finding::new(kind, id.to_owned(), severity, result.target.clone());
            f.class = result.class.clone();
            f.package_type = result.kind.clone();
            f
        };
        for v in &result.vulnerabilities {
            findings.push(vulnerability(base(Kind::Vulnerability, &v.vulnerability_id, v.severity), v));
        }
        for m in result.misconfigurations.iter().filter(|m| m.failed()) {
            let mut f = base(Kind::Misconfiguration, &m.id, m.severity);
            f.title = non_empty(m.title.as_deref());
            f.status = non_empty(m.status.as_deref());
            f.url = non_empty(m.primary_url.as_deref());
            f.package = m.cause_metadata.as_ref().and_then(|c| non_empty(c.resource.as_deref()));
            f.line = m.cause_metadata.as_ref().and_then(|c| c.start_line);
            findings.push(f);
        }
        for s in &result.secrets {
            let mut f = base(Kind::Secret, &s.rule_id, s.severity);
            f.title = non_empty(s.title.as_deref());
            f.line = s.start_line;
            f.layer = s.layer.as_ref().and_then(|l| non_empty(l.digest.as_deref()));
            findings.push(f);
        }
        for l in &result.licenses {
            let mut f = base(Kind::License, &l.name, l.severity);
            f.title = non_empty(l.category.as_deref()).map(|c| format!("{} license ({c})", l.name));
            f.package = non_empty(l.pkg_name.as_deref());
            f.path = non_empty(l.file_path.as_deref());
            f.url = non_empty(l.link.as_deref());
            findings.push(f);
        }
    }
    Findings {
        format: "trivy".into(),
        tool: "Trivy".into(),
        artifact_name: report.artifact_name.clone(),
        artifact_type: report.artifact_type.clone(),
        findings,
    }
}

fn vulnerability(mut f: Finding, v: &Vulnerability) -> Finding {
    f.title = non_empty(v.title.as_deref());
    f.package = non_empty(Some(&v.pkg_name));
    f.installed_version = non_empty(Some(&v.installed_version));
    f.fixed_version = non_empty(v.fixed_version.as_deref());
    f.status = non_empty(v.status.as_deref());
    f.path = non_empty(v.pkg_path.as_deref());
    if let Some((score, source)) = v.best_cvss() {
        f.cvss = Some(score);
        f.cvss_source = Some(source);
    }
    f.published = v.published();
    f.data_source = v.data_source.as_ref().and_then(|d| non_empty(d.name.as_deref().or(d.id.as_deref())));
    f.layer = v.layer.as_ref().and_then(|l| non_empty(l.digest.as_deref().or(l.diff_id.as_deref())));
    f.url = non_empty(v.primary_url.as_deref());
    f
}

fn from_sarif(log: &SarifLog) -> Findings {
    let mut findings = Vec::new();
    let mut tools = Vec::new();
    for run in &log.runs {
        let driver = &run.tool.driver;
        if !driver.name.is_empty() && !tools.contains(&driver.name) {
            tools.push(driver.name.clone());
        }
        for result in &run.results {
            if !counts_as_finding(result) {
                continue;
            }
            let rule = rule_of(&driver.rules, result);
            findings.push(sarif_finding(result, rule));
        }
    }
    Findings {
        format: "sarif".into(),
        tool: if tools.is_empty() { "unknown".into() } else { tools.join(", ") },
        artifact_name: String::new(),
        artifact_type: None,
        findings,
    }
}

/// Results that report a problem: `kind` absent or `fail`/`open`/`review`, and not `absent`
/// from the scan the tool compared with.
fn counts_as_finding(r: &SarifResult) -> bool {
    let kind_fails = r.kind.as_deref().is_none_or(|k| matches!(k, "fail" | "open" | "review"));
    kind_fails && r.baseline_state.as_deref() != Some("absent")
}

fn rule_of<'a>(rules: &'a [Rule], r: &SarifResult) -> Option<&'a Rule> {
    let by_index = r.rule_index.and_then(|i| rules.get(i));
    match (&r.rule_id, by_index) {
        (Some(id), Some(rule)) if &rule.id == id => Some(rule),
        (Some(id), _) => rules.iter().find(|rule| &rule.id == id),
        (None, rule) => rule,
    }
}

fn sarif_finding(r: &SarifResult, rule: Option<&Rule>) -> Finding {
    let id = r.rule_id.clone().or_else(|| rule.map(|x| x.id.clone())).unwrap_or_else(|| "unknown".into());
    let props = rule.and_then(|x| x.properties.as_ref());
    let tags: Vec<String> = props.map(|p| p.tags.iter().map(|t| t.to_ascii_lowercase()).collect()).unwrap_or_default();
    let kind = if tags.iter().any(|t| t == "vulnerability") {
        Kind::Vulnerability
    } else if tags.iter().any(|t| t == "misconfiguration") {
        Kind::Misconfiguration
    } else if tags.iter().any(|t| t == "secret") {
        Kind::Secret
    } else if tags.iter().any(|t| t == "license") {
        Kind::License
    } else if id.starts_with("CVE-") || id.starts_with("GHSA-") {
        Kind::Vulnerability
    } else {
        Kind::Code
    };
    let score = r.properties.as_ref().and_then(|p| p.score()).or_else(|| props.and_then(|p| p.score()));
    let level = r.level.as_deref().or_else(|| rule.and_then(|x| x.default_configuration.as_ref()?.level.as_deref()));
    let severity = r
        .trivy_field("Severity")
        .and_then(Severity::parse)
        .or_else(|| props.and_then(|p| p.tagged_severity()))
        .or_else(|| score.map(Severity::from_cvss))
        .unwrap_or(match level.unwrap_or("warning") {
            "error" => Severity::High,
            "warning" => Severity::Medium,
            "note" => Severity::Low,
            _ => Severity::Unknown,
        });
    let mut f = Finding::new(kind, id, severity, r.uri().unwrap_or("").to_owned());
    f.title = rule.and_then(|x| x.short_description.as_ref()?.text.clone()).or_else(|| r.message.text.clone());
    f.package = r.trivy_field("Package").map(str::to_owned);
    f.installed_version = r.trivy_field("Installed Version").map(str::to_owned);
    f.fixed_version = r.trivy_field("Fixed Version").map(str::to_owned);
    f.line = r.start_line();
    f.url = rule.and_then(|x| x.help_uri.clone()).or_else(|| r.trivy_field("Link").map(str::to_owned));
    if let Some(s) = score {
        f.cvss = Some(s);
        f.cvss_source = Some("sarif security-severity".into());
    }
    f
}
