//! Prior rerun success rates, seeded from the "On the Reruns of GitHub Actions Workflows" dataset
//! (`../shared/datasets/gha-reruns`, repository `jiangnanpro/Reruns-of-GHA-workflow` at `080aa9e`).
//!
//! The code never reads the dataset: the figures below are constants, and the integration test
//! `priors::constants_match_the_dataset` recomputes every count from the CSV files.
//!
//! # How the counts were computed
//!
//! Each dataframe row is one (repository, workflow file, branch) with a list of rerun sets; the column
//! `rerun conclusion` holds, for each set, the conclusions of its attempts in order: the original
//! failed attempt, then one per rerun (`reruns` of them).
//!
//! - **Job reruns** (`dataframe_job_rerun_distinct_with_conclusion.csv.gz`, 4,261 rows, 17,034 sets):
//!   GitHub's "re-run failed jobs" on the *same* run id, which is exactly the healer's remedy. We keep
//!   the 7,597 sets that are well formed (`reruns + 1` conclusions) and start with `failure`; the other
//!   9,437 mostly start with `action_required` (a pull request waiting for approval, not a failure)
//!   or list fewer conclusions than attempts.
//! - **Workflow reruns** (`dataframe_workflow_rerun_distinct.csv.gz`, 1,372 rows, 6,302 sets, all well
//!   formed and starting with `failure`): new runs of the same workflow on the same branch. A fresh run
//!   includes failures nobody expected a rerun to fix, so it is the rate for a mixed population.
//!
//! The *k*-th rerun is counted only when every earlier attempt of its set failed (the healer's
//! situation: it reruns after a failure). Only `success` and `failure` conclusions are trials;
//! `cancelled`, `skipped`, `startup_failure` and missing conclusions are left out (job 1st rerun: 221
//! left out; workflow 1st rerun: 289).
//!
//! | attempt | job reruns: success / failure | rate | workflow reruns: success / failure | rate |
//! |---|---|---|---|---|
//! | 1st rerun | 4,451 / 2,925 | 0.603 | 1,966 / 4,047 | 0.327 |
//! | 2nd rerun | 688 / 852 | 0.447 | 264 / 1,852 | 0.125 |
//! | 3rd or later | 410 / 1,119 | 0.268 | 197 / 12,520 | 0.0155 |
//!
//! (Cross-check: `Part_2_Flakiness/flakiness_data/flakiness_job_rerun.csv` lists 4,458 job sets that
//! passed after exactly one failure, against our 4,451 first-rerun successes.)
//!
//! # What the dataset cannot say, and how each cause was placed
//!
//! The dataframes carry no cause. The manual analysis (`flakiness_manual_analysis.*.csv`, 50 job and
//! 50 workflow cases) names causes, but only for sets that *did* pass on a rerun, picked among those
//! with the most failures: it tells which causes a rerun can heal, not how often. In the job cases:
//! test flakiness 20, no logs 22, external service or dependency 5, authentication 3 (see
//! [`JOB_MANUAL_CAUSES`]). So we place each cause in one of three tiers, following
//! [`Cause::transient_by_default`]:
//!
//! - **Transient** → the job 1st-rerun rate (0.603): `flaky_test`, `network`, `rate_limit`,
//!   `infrastructure`. People rerun a job when they believe the failure is transient, so that rate is
//!   the best available figure for failures that are; test flakiness and external services are the
//!   named causes of the healed cases.
//! - **Ambiguous** → the workflow 1st-rerun rate (0.327), a mixed population: `timeout` (a hang passes,
//!   a job that outgrew its limit does not), `resources` and `disk` (fresh VM on hosted runners, the
//!   same full disk on self-hosted ones), and `unknown`.
//! - **Deterministic** → the workflow rate of the 3rd or later rerun after only failures (0.0155): by
//!   then what is left is failures that do not go away; the rate is not zero because code or services
//!   change meanwhile. `compilation`, `test` (assertion failures; logscan moves those that point at
//!   timing to `flaky_test`), `dependency`, `permission` (the 3 authentication cases healed by a rotated
//!   secret, not by a rerun), `lint`, `security`, `configuration`, and `cancelled` (rerunning a
//!   superseded run is waste).
//!
//! The posterior at the cause level learns the real rate from outcomes; the tiers are only a start.

use aetherveil_logscan::Cause;

use crate::posterior::Beta;

/// Successes and failures of rerun attempts, counted in the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RerunCounts {
    pub successes: u32,
    pub failures: u32,
}

impl RerunCounts {
    /// The success rate, `successes / (successes + failures)`.
    pub fn rate(self) -> f64 {
        let trials = self.successes + self.failures;
        if trials == 0 {
            return 0.0;
        }
        f64::from(self.successes) / f64::from(trials)
    }
}

/// Job reruns (same run id), by attempt: the 1st rerun, the 2nd, and the 3rd or later, each counted
/// only when every earlier attempt failed.
pub const JOB_RERUNS_BY_ATTEMPT: [RerunCounts; 3] = [
    RerunCounts { successes: 4451, failures: 2925 },
    RerunCounts { successes: 688, failures: 852 },
    RerunCounts { successes: 410, failures: 1119 },
];

/// Workflow reruns (new runs of the same workflow and branch), by attempt, as for job reruns.
pub const WORKFLOW_RERUNS_BY_ATTEMPT: [RerunCounts; 3] = [
    RerunCounts { successes: 1966, failures: 4047 },
    RerunCounts { successes: 264, failures: 1852 },
    RerunCounts { successes: 197, failures: 12520 },
];

/// Causes named in the manual analysis of 50 job reruns that passed after failing (`Causes of
/// flakiness`, spellings merged): what a rerun healed, not how often it heals.
pub const JOB_MANUAL_CAUSES: [(&str, u32); 4] =
    [("test flakiness", 20), ("no logs", 22), ("external service or dependency", 5), ("authentication", 3)];

/// How many observations the dataset prior is worth. Four: one real outcome moves the estimate by a
/// fifth of the way, so a job's own history takes over after a handful of reruns, while a single
/// unlucky outcome does not swing it.
pub const PRIOR_STRENGTH: f64 = 4.0;

/// The three tiers of causes, see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Transient,
    Ambiguous,
    Deterministic,
}

/// The tier of a cause.
pub fn tier(cause: Cause) -> Tier {
    match cause {
        Cause::FlakyTest | Cause::Network | Cause::RateLimit | Cause::Infrastructure => Tier::Transient,
        Cause::Timeout | Cause::Resources | Cause::Disk | Cause::Unknown => Tier::Ambiguous,
        Cause::Compilation
        | Cause::Test
        | Cause::Dependency
        | Cause::Permission
        | Cause::Lint
        | Cause::Security
        | Cause::Configuration
        | Cause::Cancelled => Tier::Deterministic,
    }
}

/// The dataset's base rate for a tier.
pub fn base_rate(tier: Tier) -> f64 {
    match tier {
        Tier::Transient => JOB_RERUNS_BY_ATTEMPT[0].rate(),
        Tier::Ambiguous => WORKFLOW_RERUNS_BY_ATTEMPT[0].rate(),
        Tier::Deterministic => WORKFLOW_RERUNS_BY_ATTEMPT[2].rate(),
    }
}

/// The prior success probability of one rerun for a cause: its tier's base rate, worth
/// [`PRIOR_STRENGTH`] observations.
pub fn prior(cause: Cause) -> Beta {
    Beta::from_mean(base_rate(tier(cause)), PRIOR_STRENGTH)
}

/// How much less likely the `attempt`-th rerun (1-based) of a job is to pass than the first, given
/// that all earlier ones failed: the ratio of the job rates by attempt (1.0, 0.74, 0.44 for the 3rd
/// and later). Attempt 0 is treated as the first.
pub fn attempt_factor(attempt: u32) -> f64 {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX).min(JOB_RERUNS_BY_ATTEMPT.len() - 1);
    JOB_RERUNS_BY_ATTEMPT[index].rate() / JOB_RERUNS_BY_ATTEMPT[0].rate()
}
