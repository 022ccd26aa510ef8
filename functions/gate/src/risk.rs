//! The risk score: which finding to fix first, and why.
//!
//! ```text
//! risk = min(100, base × exploited × fix × age × package)
//!   base      10 × CVSS (the severity source's, else NVD's, else the highest; v4.0, v3, then v2);
//!             without a score, 10 × the severity's stand-in: CRITICAL 9.5, HIGH 8.0,
//!             MEDIUM 5.5, LOW 2.0, UNKNOWN 5.0
//!   exploited 2.0 when the id is on the policy's known-exploited list, else 1.0
//!   fix       1.0 when a fixed version exists (or the finding is not a package vulnerability),
//!             0.8 when none does: still a risk, but nothing to upgrade to today
//!   age       1 + 0.1 × years since publication, capped at 2 years (1.0 .. 1.2; 1.0 unknown):
//!             older vulnerabilities have had longer to get public exploits
//!   package   by Trivy result class: lang-pkgs 1.0 (application dependencies, loaded by the
//!             code), os-pkgs 0.9 (distribution packages, often not reachable), secret 1.0,
//!             config 0.8, license 0.5, anything else 1.0
//! ```
//! rounded to one decimal. Findings are ranked by risk, then severity, then id.

use crate::finding::{Finding, Kind};
use aetherveil_reports::Severity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const KNOWN_EXPLOITED_FACTOR: f64 = 2.0;
pub const NO_FIX_FACTOR: f64 = 0.8;
pub const AGE_PER_YEAR: f64 = 0.1;
pub const AGE_CAP_YEARS: f64 = 2.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// 0 to 100.
    pub score: f64,
    /// The formula with this finding's numbers, in order: base, then each factor.
    pub factors: Vec<Factor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub name: String,
    pub value: f64,
    pub why: String,
}

impl Risk {
    /// One line: `10 × CVSS 9.8 (nvd V3) = 98 × 2 (known exploited) ... = 100 (capped)`.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        for (i, f) in self.factors.iter().enumerate() {
            if i == 0 {
                s.push_str(&format!("{} ({})", trim(f.value), f.why));
            } else if f.value != 1.0 {
                s.push_str(&format!(" × {} ({})", trim(f.value), f.why));
            }
        }
        s.push_str(&format!(" = {}", trim(self.score)));
        s
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The severity's stand-in for a missing CVSS score (the middle of its CVSS band).
pub fn severity_proxy(s: Severity) -> f64 {
    match s {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Unknown => 5.0,
    }
}

pub fn class_factor(class: &str) -> (f64, &'static str) {
    match class {
        "lang-pkgs" => (1.0, "application dependency"),
        "os-pkgs" => (0.9, "OS package"),
        "secret" => (1.0, "secret"),
        "config" => (0.8, "configuration"),
        "license" | "license-file" => (0.5, "license"),
        _ => (1.0, "other"),
    }
}

pub fn score(f: &Finding, known_exploited: bool, now: DateTime<Utc>) -> Risk {
    let mut factors = Vec::new();
    let base = match (f.cvss, &f.cvss_source) {
        (Some(c), source) => Factor {
            name: "base".into(),
            value: 10.0 * c,
            why: format!("10 × CVSS {c}{}", source.as_ref().map(|s| format!(" from {s}")).unwrap_or_default()),
        },
        (None, _) => Factor {
            name: "base".into(),
            value: 10.0 * severity_proxy(f.severity),
            why: format!("10 × {} for {}, no CVSS", severity_proxy(f.severity), f.severity),
        },
    };
    factors.push(base);
    factors.push(if known_exploited {
        Factor { name: "exploited".into(), value: KNOWN_EXPLOITED_FACTOR, why: "known exploited".into() }
    } else {
        Factor { name: "exploited".into(), value: 1.0, why: "not on the known-exploited list".into() }
    });
    factors.push(match (f.kind, f.fixable()) {
        (Kind::Vulnerability, true) => Factor {
            name: "fix".into(),
            value: 1.0,
            why: format!("fixed in {}", f.fixed_version.as_deref().unwrap_or("?")),
        },
        (Kind::Vulnerability, false) => {
            Factor { name: "fix".into(), value: NO_FIX_FACTOR, why: "no fixed version".into() }
        }
        (_, _) => Factor { name: "fix".into(), value: 1.0, why: "fixed by editing the source".into() },
    });
    factors.push(match f.published {
        Some(p) if p < now => {
            let years = (now - p).num_days() as f64 / 365.25;
            let value = 1.0 + AGE_PER_YEAR * years.min(AGE_CAP_YEARS);
            Factor { name: "age".into(), value: round2(value), why: format!("published {years:.1} years ago") }
        }
        Some(_) => Factor { name: "age".into(), value: 1.0, why: "published in the future".into() },
        None => Factor { name: "age".into(), value: 1.0, why: "publication date unknown".into() },
    });
    let (value, what) = class_factor(&f.class);
    factors.push(Factor { name: "package".into(), value, why: what.into() });
    let product: f64 = factors.iter().map(|f| f.value).product();
    Risk { score: (product.min(100.0) * 10.0).round() / 10.0, factors }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
