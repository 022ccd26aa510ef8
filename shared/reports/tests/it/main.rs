//! Integration tests of the report parsers.
mod dataset;
mod detect;
mod fuzz;
mod sarif;
mod trivy;

/// A fixture of this crate's `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
