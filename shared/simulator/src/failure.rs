//! The library of failure kinds the simulator injects, each with its ground truth.

use serde::{Deserialize, Serialize};

/// Why a job failed, as the simulator knows it (the platform has to work it out from the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The code does not compile.
    Compile,
    /// A test fails, every time, until the code is fixed.
    TestFailure,
    /// A test that fails now and then on the same code.
    FlakyTest,
    /// A connection timeout, reset or DNS failure reaching something outside.
    Network,
    /// A package registry or container registry answering 5xx or rate limiting.
    Registry,
    /// Dependency resolution fails (conflicting or missing versions).
    DependencyResolution,
    /// The job's process is killed for running out of memory (exit 137).
    Oom,
    /// No space left on the runner's disk.
    DiskFull,
    /// The runner stops answering mid-job.
    RunnerLost,
    /// The job exceeds its `timeout-minutes`.
    Timeout,
    /// A token lacks a permission, or authentication fails.
    Permission,
    /// A linter or formatter check fails.
    Lint,
    /// A security scan finds something the policy does not allow.
    SecurityGate,
}

impl FailureKind {
    pub const ALL: [FailureKind; 13] = [
        Self::Compile,
        Self::TestFailure,
        Self::FlakyTest,
        Self::Network,
        Self::Registry,
        Self::DependencyResolution,
        Self::Oom,
        Self::DiskFull,
        Self::RunnerLost,
        Self::Timeout,
        Self::Permission,
        Self::Lint,
        Self::SecurityGate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Compile => "compile",
            Self::TestFailure => "test_failure",
            Self::FlakyTest => "flaky_test",
            Self::Network => "network",
            Self::Registry => "registry",
            Self::DependencyResolution => "dependency_resolution",
            Self::Oom => "oom",
            Self::DiskFull => "disk_full",
            Self::RunnerLost => "runner_lost",
            Self::Timeout => "timeout",
            Self::Permission => "permission",
            Self::Lint => "lint",
            Self::SecurityGate => "security_gate",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }

    /// Whether running the same code again usually passes. A scenario may override it per job
    /// (an OOM caused by the code, say, is deterministic).
    pub fn transient_by_default(self) -> bool {
        matches!(
            self,
            Self::FlakyTest
                | Self::Network
                | Self::Registry
                | Self::Oom
                | Self::DiskFull
                | Self::RunnerLost
                | Self::Timeout
        )
    }

    /// The causes (logscan's labels) a correct diagnosis of this failure may give. A flaky test
    /// looks like any failing test in its log; only history tells them apart.
    pub fn expected_causes(self) -> &'static [&'static str] {
        match self {
            Self::Compile => &["compilation"],
            Self::TestFailure => &["test"],
            Self::FlakyTest => &["flaky_test", "test"],
            Self::Network => &["network"],
            // A registry answering 429 is rate limiting; a 5xx is a network/registry failure.
            Self::Registry => &["network", "rate_limit"],
            Self::DependencyResolution => &["dependency"],
            Self::Oom => &["resources"],
            Self::DiskFull => &["disk"],
            Self::RunnerLost => &["infrastructure"],
            Self::Timeout => &["timeout"],
            Self::Permission => &["permission"],
            Self::Lint => &["lint"],
            Self::SecurityGate => &["security"],
        }
    }

    /// The conclusion GitHub reports for a job that failed this way.
    pub fn job_conclusion(self) -> &'static str {
        match self {
            Self::Timeout => "cancelled",
            _ => "failure",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
