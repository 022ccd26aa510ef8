//! Logscan's knobs, with the defaults the platform runs with.

/// Limits and sizes of one analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct LogscanConfig {
    /// Larger job logs are not analysed (diagnosis `unknown`, with the reason). Memory does not
    /// depend on it: logs are streamed to a temporary file and read line by line.
    pub max_log_bytes: u64,
    /// Recent passing logs of the same job the diff compares against (fetched once, then kept as
    /// a template profile in `log_profiles`).
    pub passing_runs: usize,
    /// Relevant lines a diagnosis keeps (context lines included).
    pub max_lines: usize,
    /// Deliveries of a failed job whose log cannot be fetched (5xx, network, rate limit) before the
    /// diagnosis is recorded as `unknown` with the reason, instead of retrying forever.
    pub fetch_attempts: u32,
    /// Seconds between checks for a newer trained model.
    pub model_refresh_secs: u64,
}

impl Default for LogscanConfig {
    fn default() -> Self {
        Self { max_log_bytes: 1 << 30, passing_runs: 3, max_lines: 12, fetch_attempts: 5, model_refresh_secs: 60 }
    }
}
