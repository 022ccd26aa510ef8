//! Scanner reports, typed once: Trivy's native JSON report (SchemaVersion 2) and SARIF 2.1.0 from
//! any scanner (Trivy's SARIF included).
//!
//! [`parse`] reads bytes, recognises what they are and returns a [`Report`], or a [`ReportError`]
//! that names the problem: a truncated file, a wrong schema version, or another format (CycloneDX,
//! SPDX, ASFF, GitLab, JUnit, a table, HTML, ...) with the flag that produces the right one.
//! Unknown fields are ignored, so new scanner fields never break parsing; malformed input is an
//! error, never a panic (the fuzz tests in `tests/it/fuzz.rs` hold that).

mod detect;
mod error;
mod nullable;
pub mod sarif;
pub mod trivy;

pub use detect::{parse, parse_value};
pub use error::ReportError;
pub use sarif::SarifLog;
pub use trivy::{Severity, TrivyReport};

/// A report of a supported format.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Trivy(Box<TrivyReport>),
    Sarif(SarifLog),
}

impl Report {
    /// `trivy` or `sarif`.
    pub fn format(&self) -> &'static str {
        match self {
            Report::Trivy(_) => "trivy",
            Report::Sarif(_) => "sarif",
        }
    }
}
