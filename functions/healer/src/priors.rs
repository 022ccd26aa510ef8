//! Prior rerun success rates.
