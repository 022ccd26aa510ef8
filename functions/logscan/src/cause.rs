//! Why a job failed: the causes a diagnosis can name, whether each is worth a rerun, and how they map
//! onto the published taxonomy of GitHub Actions failures.
//!
//! The taxonomy is the one of "Why Do GitHub Actions Workflows Fail? An Empirical Study" (375 manually
//! labelled failed jobs, `../shared/datasets/gha-failure-taxonomy`). Its 16 sub-categories map onto our
//! causes as follows (counts are the number of the 375 jobs with that tag; the test
//! `taxonomy_counts_match_the_dataset` recomputes them from the CSV):
//!
//! | tag | sub-category (abridged) | jobs | cause |
//! |---|---|---|---|
//! | P1 | compilation fails: issues in the source code | 54 | `compilation` |
//! | P2 | compilation fails: project configuration mistakes | 19 | `configuration` |
//! | P3 | compilation fails: unresolved dependencies | 33 | `dependency` |
//! | P4 | compilation fails: dependency conflicts (incl. JDK/Gradle versions) | 45 | `dependency` |
//! | P5 | code failing predefined quality checks (format, checkstyle, javadoc) | 26 | `lint` |
//! | P6 | potential vulnerabilities (banned deps, CVEs, licences) | 15 | `security` |
//! | P7 | performance degradation detected (benchmark regression) | 3 | `test` |
//! | P8 | software tests fail | 120 | `test` |
//! | W1 | hardware/resource limitation (memory, disk space) | 2 | `resources`, `disk` |
//! | W2 | workflow configuration issues or incorrect instructions | 21 | `configuration` |
//! | W3 | network connection issues | 10 | `network` |
//! | W4 | environment setup fails: dependency issue | 13 | `dependency` |
//! | W5 | third-party service access: permission issue | 2 | `permission` |
//! | W6 | required action cannot be resolved | 3 | `configuration` |
//! | W7 | GitHub API rate limit exceeded | 3 | `rate_limit` |
//! | W8 | version control management (merge conflict, tag exists, nothing to commit) | 6 | `configuration` |
//!
//! So the base rates are: test 123, dependency 91, compilation 54, configuration 49, lint 26, security 15,
//! network 10, rate_limit 3, permission 2, resources/disk 2 (one each in the root causes). The study sampled
//! Java projects only and read every log by hand, so it has no label for what only shows outside the log or
//! is not a code problem: `flaky_test` (told apart by reruns, not by one log), `infrastructure` (runner
//! lost), `timeout` and `cancelled` (the job's conclusion), and `unknown`. Those are our operational causes.

use serde::{Deserialize, Serialize};

/// The cause of a failed job, as a diagnosis names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The code does not compile (rustc, javac, tsc, go build, Python syntax errors).
    Compilation,
    /// A test fails on its assertions.
    Test,
    /// A test fails in a way that points at timing or the environment (refused connection, deadline).
    FlakyTest,
    /// Dependencies cannot be resolved: missing or conflicting versions, wrong toolchain version.
    Dependency,
    /// A connection to something outside fails (DNS, reset, timeout) or a registry answers 5xx.
    Network,
    /// An API or registry refuses for too many requests (GitHub API, Docker Hub, npm 429).
    RateLimit,
    /// The runner itself went away (shutdown signal, lost communication, hosted runner error).
    Infrastructure,
    /// The job ran into its `timeout-minutes`.
    Timeout,
    /// Out of memory: the process was killed (exit 137, SIGKILL, heap limit).
    Resources,
    /// No space left on the runner's disk.
    Disk,
    /// A token or credential lacks a permission, or authentication fails.
    Permission,
    /// A linter or formatter check fails.
    Lint,
    /// A security gate fails: vulnerable dependencies, image CVEs, banned licences.
    Security,
    /// The workflow or project is misconfigured (invalid workflow file, unresolvable action, missing input).
    Configuration,
    /// The job was cancelled (by a user, a newer run in the same concurrency group, or a failing matrix sibling).
    Cancelled,
    /// Nothing in the log or the job says why.
    Unknown,
}

/// How one taxonomy sub-category maps onto our causes, with its count in the study's 375 labelled jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxonomyEntry {
    /// The study's `sub-category-tag` (P1–P8, W1–W8).
    pub tag: &'static str,
    /// The study's `category` column.
    pub category: &'static str,
    /// Number of labelled jobs with this tag.
    pub jobs: u32,
    /// Our causes for it; the first is the main one.
    pub causes: &'static [Cause],
}

/// The taxonomy of the study, mapped onto our causes (see the module documentation for the table).
pub const TAXONOMY: [TaxonomyEntry; 16] = [
    TaxonomyEntry { tag: "P1", category: "Compilation", jobs: 54, causes: &[Cause::Compilation] },
    TaxonomyEntry { tag: "P2", category: "Compilation", jobs: 19, causes: &[Cause::Configuration] },
    TaxonomyEntry { tag: "P3", category: "Compilation", jobs: 33, causes: &[Cause::Dependency] },
    TaxonomyEntry { tag: "P4", category: "Compilation", jobs: 45, causes: &[Cause::Dependency] },
    TaxonomyEntry { tag: "P5", category: "Quality", jobs: 26, causes: &[Cause::Lint] },
    TaxonomyEntry { tag: "P6", category: "Quality", jobs: 15, causes: &[Cause::Security] },
    TaxonomyEntry { tag: "P7", category: "Quality", jobs: 3, causes: &[Cause::Test] },
    TaxonomyEntry { tag: "P8", category: "Testing", jobs: 120, causes: &[Cause::Test] },
    TaxonomyEntry {
        tag: "W1",
        category: "Environment/Configurations",
        jobs: 2,
        causes: &[Cause::Resources, Cause::Disk],
    },
    TaxonomyEntry { tag: "W2", category: "Environment/Configurations", jobs: 21, causes: &[Cause::Configuration] },
    TaxonomyEntry { tag: "W3", category: "Environment/Configurations", jobs: 10, causes: &[Cause::Network] },
    TaxonomyEntry { tag: "W4", category: "Environment/Configurations", jobs: 13, causes: &[Cause::Dependency] },
    TaxonomyEntry { tag: "W5", category: "Environment/Configurations", jobs: 2, causes: &[Cause::Permission] },
    TaxonomyEntry { tag: "W6", category: "GitHub Issues", jobs: 3, causes: &[Cause::Configuration] },
    TaxonomyEntry { tag: "W7", category: "GitHub Issues", jobs: 3, causes: &[Cause::RateLimit] },
    TaxonomyEntry { tag: "W8", category: "GitHub Issues", jobs: 6, causes: &[Cause::Configuration] },
];

impl Cause {
    pub const ALL: [Cause; 16] = [
        Self::Compilation,
        Self::Test,
        Self::FlakyTest,
        Self::Dependency,
        Self::Network,
        Self::RateLimit,
        Self::Infrastructure,
        Self::Timeout,
        Self::Resources,
        Self::Disk,
        Self::Permission,
        Self::Lint,
        Self::Security,
        Self::Configuration,
        Self::Cancelled,
        Self::Unknown,
    ];

    /// The serde label (`flaky_test`, `rate_limit`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::Compilation => "compilation",
            Self::Test => "test",
            Self::FlakyTest => "flaky_test",
            Self::Dependency => "dependency",
            Self::Network => "network",
            Self::RateLimit => "rate_limit",
            Self::Infrastructure => "infrastructure",
            Self::Timeout => "timeout",
            Self::Resources => "resources",
            Self::Disk => "disk",
            Self::Permission => "permission",
            Self::Lint => "lint",
            Self::Security => "security",
            Self::Configuration => "configuration",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.label() == label)
    }

    /// Whether running the same commit again usually passes, before looking at the runner.
    ///
    /// - `network`, `rate_limit`, `infrastructure`, `flaky_test`: transient by nature.
    /// - `resources`, `disk`: transient here, but see [`Cause::transient_on`]: on a hosted runner each
    ///   job gets a fresh VM, so running out is usually the shared image's margin or a parallelism spike;
    ///   on a self-hosted runner the state that filled it (workspaces, docker layers) stays there, and a
    ///   rerun fails again until someone cleans it.
    /// - `timeout`: ambiguous. A job that hung once (a test waiting on a socket, a stuck download) usually
    ///   passes when rerun, so we say transient; a job that has grown past its limit fails every time,
    ///   which only the job's duration history (the monitor's baselines) can tell.
    /// - `cancelled`: not transient. Somebody or something (a newer push in the concurrency group)
    ///   cancelled it; rerunning a superseded run is waste.
    /// - everything else is the code or the configuration: deterministic until changed.
    pub fn transient_by_default(self) -> bool {
        matches!(
            self,
            Self::Network
                | Self::RateLimit
                | Self::Infrastructure
                | Self::FlakyTest
                | Self::Resources
                | Self::Disk
                | Self::Timeout
        )
    }

    /// [`Cause::transient_by_default`] adjusted for where the job ran: out of memory or disk on a
    /// self-hosted runner is the runner's state, not luck, so it is not transient there.
    pub fn transient_on(self, hosted: bool) -> bool {
        match self {
            Self::Resources | Self::Disk => hosted,
            other => other.transient_by_default(),
        }
    }

    /// One line for people: what this cause means.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Compilation => "the code does not compile",
            Self::Test => "a test fails",
            Self::FlakyTest => "a test fails in a way that points at timing or the environment",
            Self::Dependency => "dependencies cannot be resolved (missing or conflicting versions)",
            Self::Network => "a network connection or a package/container registry failed",
            Self::RateLimit => "an API or registry refused for too many requests",
            Self::Infrastructure => "the runner was lost or failed during the job",
            Self::Timeout => "the job exceeded its time limit",
            Self::Resources => "a process ran out of memory and was killed",
            Self::Disk => "the runner ran out of disk space",
            Self::Permission => "a token or credential lacks a permission, or authentication failed",
            Self::Lint => "a linter or formatter check failed",
            Self::Security => "a security scan found something the policy does not allow",
            Self::Configuration => "the workflow or project configuration is invalid",
            Self::Cancelled => "the job was cancelled",
            Self::Unknown => "the cause could not be determined",
        }
    }

    /// A short suggested remedy.
    pub fn remedy(self) -> &'static str {
        match self {
            Self::Compilation => "fix the compile error at the first reported location",
            Self::Test => "fix the failing test or the code it tests; reproduce locally",
            Self::FlakyTest => "rerun the failed job; quarantine the test if it keeps flaking",
            Self::Dependency => "pin or align the conflicting versions, or publish the missing one",
            Self::Network => "rerun the failed job; add retries or a mirror if it recurs",
            Self::RateLimit => "rerun later; authenticate requests or cache to use fewer of them",
            Self::Infrastructure => "rerun the failed job; check the runner's health if self-hosted",
            Self::Timeout => "rerun once; if it recurs, find the hang or raise timeout-minutes",
            Self::Resources => "reduce parallelism or memory use, or use a larger runner",
            Self::Disk => "free space (clean caches, docker prune) or use a larger disk",
            Self::Permission => "grant the token the needed permission or fix the credential",
            Self::Lint => "run the formatter/linter locally and commit the fixes",
            Self::Security => "upgrade the vulnerable packages or record an approved exception",
            Self::Configuration => "fix the workflow or project configuration named in the error",
            Self::Cancelled => "nothing to fix; rerun if the cancellation was not intended",
            Self::Unknown => "read the log around the last error; no automatic action",
        }
    }

    /// The study's sub-category tags that map onto this cause (empty for the operational causes).
    pub fn taxonomy_tags(self) -> Vec<&'static str> {
        TAXONOMY.iter().filter(|e| e.causes.contains(&self)).map(|e| e.tag).collect()
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Base rates of our causes from per-tag job counts (e.g. counted from the study's CSV): each tag's
/// jobs go to its main cause, plus one pseudo-count for every cause (Laplace smoothing) so that the
/// operational causes the study has no label for keep a small prior. Sums to 1.
pub fn priors_from_taxonomy<'a>(tag_counts: impl IntoIterator<Item = (&'a str, u32)>) -> Vec<(Cause, f64)> {
    let mut counts = [1.0_f64; Cause::ALL.len()];
    for (tag, n) in tag_counts {
        if let Some(entry) = TAXONOMY.iter().find(|e| e.tag == tag.trim())
            && let Some(&main) = entry.causes.first()
        {
            counts[main as usize] += f64::from(n);
        }
    }
    let total: f64 = counts.iter().sum();
    Cause::ALL.iter().map(|&c| (c, counts[c as usize] / total)).collect()
}
