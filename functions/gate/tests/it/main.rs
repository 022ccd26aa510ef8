//! Integration tests of the gate.
mod action;
mod api;
mod dataset;
mod evaluate;
mod policy;
mod render;
mod risk;

use aetherveil_gate::Findings;
use serde_json::{Value, json};

/// One vulnerability of a hand-written Trivy report.
pub struct V {
    pub id: &'static str,
    pub severity: &'static str,
    pub package: &'static str,
    pub fixed: Option<&'static str>,
    pub cvss: Option<f64>,
    pub published: Option<&'static str>,
}

pub fn v(id: &'static str, severity: &'static str) -> V {
    V { id, severity, package: "openssl", fixed: Some("3.0.13"), cvss: None, published: None }
}

impl V {
    pub fn package(mut self, p: &'static str) -> Self {
        self.package = p;
        self
    }
    pub fn unfixed(mut self) -> Self {
        self.fixed = None;
        self
    }
    pub fn cvss(mut self, c: f64) -> Self {
        self.cvss = Some(c);
        self
    }
    pub fn published(mut self, d: &'static str) -> Self {
        self.published = Some(d);
        self
    }
    fn json(&self) -> Value {
        let mut v = json!({
            "VulnerabilityID": self.id, "PkgName": self.package, "InstalledVersion": "1.0",
            "Severity": self.severity,
        });
        if let Some(f) = self.fixed {
            v["FixedVersion"] = json!(f);
        }
        if let Some(c) = self.cvss {
            v["CVSS"] = json!({"nvd": {"V3Score": c}});
        }
        if let Some(p) = self.published {
            v["PublishedDate"] = json!(p);
        }
        v
    }
}

/// A Trivy report (an image) with one `os-pkgs` result per target.
pub fn report(targets: &[(&str, Vec<V>)]) -> Value {
    let results: Vec<Value> = targets
        .iter()
        .map(|(t, vs)| json!({"Target": t, "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vs.iter().map(V::json).collect::<Vec<_>>()}))
        .collect();
    json!({"SchemaVersion": 2, "ArtifactName": "acme/shop:1", "ArtifactType": "container_image", "Results": results})
}

pub fn findings(report: &Value) -> Findings {
    Findings::from_report(&aetherveil_reports::parse_value(report.clone()).expect("a valid report"))
}

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}
