//! Success probabilities: Beta posteriors per (cause, signature, job), pooled.
//!
//! Three levels, each the parent's estimate plus its own outcomes (empirical Bayes):
//!
//! 1. **cause**, pooled over every job and repository: the dataset prior
//!    ([`crate::priors::prior`], worth [`crate::priors::PRIOR_STRENGTH`] observations) plus every
//!    outcome recorded for the cause;
//! 2. **signature** (cause, log signature): a prior with the cause posterior's mean, worth
//!    [`SIGNATURE_STRENGTH`] observations, plus the signature's outcomes in every job;
//! 3. **job** (cause, signature, job): a prior with the signature posterior's mean, worth
//!    [`JOB_STRENGTH`] observations, plus the job's own outcomes.
//!
//! A job without history so starts where its signature is, and a signature without history where its
//! cause is. [`Posteriors::record`] updates the three levels at once.
//!
//! Memory is bounded: at most `max_signatures` signature entries and `max_jobs` job entries (defaults
//! [`DEFAULT_MAX_SIGNATURES`] and [`DEFAULT_MAX_JOBS`], about 100 bytes each plus the key strings);
//! when a new entry would exceed the cap, the entry updated least recently is dropped, and its
//! estimates fall back to the parent level. The cause level has one entry per cause.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use aetherveil_logscan::Cause;
use serde::{Deserialize, Serialize};

use crate::priors;

/// How many observations a signature's prior (the cause posterior's mean) is worth. Larger than
/// [`JOB_STRENGTH`]: a signature is one failure mode, so its jobs should mostly agree with it, but ten
/// of its own outcomes are enough to leave the cause's average behind.
pub const SIGNATURE_STRENGTH: f64 = 10.0;

/// How many observations a job's prior (the signature posterior's mean) is worth: five outcomes of the
/// job itself weigh as much as everything the signature says.
pub const JOB_STRENGTH: f64 = 5.0;

/// The probability of the lower credible bound reported in [`Estimate::lower`]: the 5% quantile.
pub const LOWER_BOUND_PROBABILITY: f64 = 0.05;

/// Outcomes of a cause below which a transient failure is judged by an optimistic estimate (the
/// [`EXPLORE_QUANTILE`] of its posterior) rather than the mean. A mean below break-even would never be
/// tested again: one unlucky first rerun of a timeout, and no timeout would ever be rerun to show
/// how often they pass. So each transient cause gets ten tries before its mean decides: with five,
/// four unlucky repeats of a timeout that passes 85% of the time still ended its reruns.
pub const EXPLORE_OUTCOMES: u64 = 10;

/// The posterior quantile used while exploring.
pub const EXPLORE_QUANTILE: f64 = 0.95;

/// Default cap on signature entries.
pub const DEFAULT_MAX_SIGNATURES: usize = 20_000;

/// Default cap on job entries.
pub const DEFAULT_MAX_JOBS: usize = 100_000;

/// Means are kept within `[MEAN_FLOOR, 1 - MEAN_FLOOR]` when a prior is built from a mean, so that both
/// pseudo-counts stay positive.
const MEAN_FLOOR: f64 = 1e-4;

/// A Beta distribution over a success probability.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Beta {
    pub alpha: f64,
    pub beta: f64,
}

impl Beta {
    /// The Beta with the given pseudo-counts of successes and failures.
    pub fn new(alpha: f64, beta: f64) -> Self {
        Self { alpha, beta }
    }

    /// The Beta with the given mean, worth `strength` observations (`alpha + beta = strength`).
    pub fn from_mean(mean: f64, strength: f64) -> Self {
        let mean = mean.clamp(MEAN_FLOOR, 1.0 - MEAN_FLOOR);
        Self { alpha: mean * strength, beta: (1.0 - mean) * strength }
    }

    /// The posterior mean, `alpha / (alpha + beta)`.
    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// Updates with one outcome.
    pub fn observe(&mut self, success: bool) {
        if success {
            self.alpha += 1.0;
        } else {
            self.beta += 1.0;
        }
    }

    /// This Beta updated with counted outcomes.
    pub fn with_counts(self, counts: Counts) -> Self {
        Self { alpha: self.alpha + counts.successes as f64, beta: self.beta + counts.failures as f64 }
    }

    /// The cumulative distribution function, the regularized incomplete beta `I_x(alpha, beta)`.
    pub fn cdf(&self, x: f64) -> f64 {
        regularized_incomplete_beta(self.alpha, self.beta, x)
    }

    /// The `p`-quantile: the `x` with `cdf(x) = p`, by bisection on the CDF (60 halvings of `[0, 1]`,
    /// so within 1e-15 of the exact value whenever the CDF is accurate, which it is to about 1e-13).
    pub fn quantile(&self, p: f64) -> f64 {
        if p <= 0.0 {
            return 0.0;
        }
        if p >= 1.0 {
            return 1.0;
        }
        let (mut low, mut high) = (0.0_f64, 1.0_f64);
        for _ in 0..60 {
            let middle = 0.5 * (low + high);
            if self.cdf(middle) < p {
                low = middle;
            } else {
                high = middle;
            }
        }
        0.5 * (low + high)
    }

    /// The lower credible bound: the [`LOWER_BOUND_PROBABILITY`] quantile.
    pub fn lower(&self) -> f64 {
        self.quantile(LOWER_BOUND_PROBABILITY)
    }
}

/// `ln Γ(x)` for `x > 0`: shift `x` up to at least 10 with `Γ(x + 1) = x Γ(x)`, then Stirling's series
/// to the `x⁻⁹` term, whose truncation error is below 1e-13 there.
fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 10.0 {
        shift += x.ln();
        x += 1.0;
    }
    let inverse = 1.0 / x;
    let inverse2 = inverse * inverse;
    // Bernoulli-number coefficients B_{2k} / (2k (2k - 1)) for k = 1..5.
    let series = inverse
        * (1.0 / 12.0
            + inverse2
                * (-1.0 / 360.0 + inverse2 * (1.0 / 1260.0 + inverse2 * (-1.0 / 1680.0 + inverse2 * (1.0 / 1188.0)))));
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + series - shift
}

/// `I_x(a, b)` by its continued fraction, evaluated with the modified Lentz method. The fraction
/// converges fast for `x < (a + 1) / (a + b + 2)`; above that, `I_x(a, b) = 1 - I_{1-x}(b, a)`.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction `1 / (1 + d1 / (1 + d2 / (1 + ...)))` of the incomplete beta, with
/// `d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))` and
/// `d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-15;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut result = d;
    for m in 1..=500 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        result *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        result *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    result
}

/// Outcomes counted at one level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub successes: u64,
    pub failures: u64,
}

impl Counts {
    /// All outcomes.
    pub fn total(self) -> u64 {
        self.successes + self.failures
    }

    fn add(&mut self, success: bool) {
        if success {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
    }
}

/// The most specific level with outcomes of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Job,
    Signature,
    Cause,
    Prior,
}

/// A success probability with what it rests on, stored with each decision so that it can be explained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The posterior mean for the job.
    pub mean: f64,
    /// The [`LOWER_BOUND_PROBABILITY`] quantile of the job's posterior.
    pub lower: f64,
    /// The [`EXPLORE_QUANTILE`] quantile of the job's posterior.
    #[serde(default)]
    pub upper: f64,
    /// The job posterior's pseudo-counts.
    pub alpha: f64,
    pub beta: f64,
    /// The most specific level with outcomes.
    pub level: Level,
    /// The number of outcomes at that level (0 for [`Level::Prior`]).
    pub observations: u64,
    /// The dataset prior of the cause.
    pub prior: Beta,
    /// Outcomes at each level.
    pub cause_counts: Counts,
    pub signature_counts: Counts,
    pub job_counts: Counts,
}

impl Estimate {
    /// The probability a decision uses, and whether it explores: the optimistic [`Estimate::upper`]
    /// for a transient failure whose cause has fewer than [`EXPLORE_OUTCOMES`] outcomes, the mean
    /// otherwise.
    pub fn for_decision(&self, transient: bool) -> (f64, bool) {
        if transient && self.cause_counts.total() < EXPLORE_OUTCOMES { (self.upper, true) } else { (self.mean, false) }
    }
}

/// A map whose entries are dropped least recently updated first once it holds `cap` of them.
#[derive(Clone, Debug)]
struct Recent<K> {
    entries: HashMap<K, (Counts, u64)>,
    order: BTreeMap<u64, K>,
    next_tick: u64,
    cap: usize,
}

impl<K: Clone + Eq + Hash> Recent<K> {
    fn new(cap: usize) -> Self {
        Self { entries: HashMap::new(), order: BTreeMap::new(), next_tick: 0, cap: cap.max(1) }
    }

    fn get(&self, key: &K) -> Counts {
        self.entries.get(key).map(|(counts, _)| *counts).unwrap_or_default()
    }

    fn touch(&mut self, key: K, update: impl FnOnce(&mut Counts)) {
        let tick = self.next_tick;
        self.next_tick += 1;
        let entry = self.entries.entry(key.clone()).or_insert((Counts::default(), tick));
        update(&mut entry.0);
        let previous = std::mem::replace(&mut entry.1, tick);
        self.order.remove(&previous);
        self.order.insert(tick, key);
        while self.entries.len() > self.cap {
            match self.order.pop_first() {
                Some((_, oldest)) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
    }

    /// Entries from the least to the most recently updated.
    fn oldest_first(&self) -> impl Iterator<Item = (&K, Counts)> {
        self.order.values().filter_map(|key| self.entries.get(key).map(|(counts, _)| (key, *counts)))
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

type SignatureKey = (Cause, String);
type JobKey = (Cause, String, String);

/// The posteriors of every (cause, signature, job) seen, pooled by signature and by cause.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "PosteriorsRecord", into = "PosteriorsRecord")]
pub struct Posteriors {
    causes: BTreeMap<Cause, Counts>,
    signatures: Recent<SignatureKey>,
    jobs: Recent<JobKey>,
}

impl Default for Posteriors {
    fn default() -> Self {
        Self::new()
    }
}

impl Posteriors {
    /// Empty, with the default caps.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_SIGNATURES, DEFAULT_MAX_JOBS)
    }

    /// Empty, keeping at most `max_signatures` signatures and `max_jobs` jobs (each at least 1).
    pub fn with_limits(max_signatures: usize, max_jobs: usize) -> Self {
        Self { causes: BTreeMap::new(), signatures: Recent::new(max_signatures), jobs: Recent::new(max_jobs) }
    }

    /// Records the outcome of one remedy at the three levels.
    pub fn record(&mut self, cause: Cause, signature: &str, job: &str, success: bool) {
        self.causes.entry(cause).or_default().add(success);
        self.signatures.touch((cause, signature.to_owned()), |counts| counts.add(success));
        self.jobs.touch((cause, signature.to_owned(), job.to_owned()), |counts| counts.add(success));
    }

    /// The success probability of a remedy for this (cause, signature, job).
    pub fn probability(&self, cause: Cause, signature: &str, job: &str) -> Estimate {
        let prior = priors::prior(cause);
        let cause_counts = self.causes.get(&cause).copied().unwrap_or_default();
        let signature_counts = self.signatures.get(&(cause, signature.to_owned()));
        let job_counts = self.jobs.get(&(cause, signature.to_owned(), job.to_owned()));

        let cause_posterior = prior.with_counts(cause_counts);
        let signature_posterior =
            Beta::from_mean(cause_posterior.mean(), SIGNATURE_STRENGTH).with_counts(signature_counts);
        let job_posterior = Beta::from_mean(signature_posterior.mean(), JOB_STRENGTH).with_counts(job_counts);

        let (level, observations) = if job_counts.total() > 0 {
            (Level::Job, job_counts.total())
        } else if signature_counts.total() > 0 {
            (Level::Signature, signature_counts.total())
        } else if cause_counts.total() > 0 {
            (Level::Cause, cause_counts.total())
        } else {
            (Level::Prior, 0)
        };
        Estimate {
            mean: job_posterior.mean(),
            lower: job_posterior.lower(),
            upper: job_posterior.quantile(EXPLORE_QUANTILE),
            alpha: job_posterior.alpha,
            beta: job_posterior.beta,
            level,
            observations,
            prior,
            cause_counts,
            signature_counts,
            job_counts,
        }
    }

    /// The number of signature entries held.
    pub fn signature_count(&self) -> usize {
        self.signatures.len()
    }

    /// The number of job entries held.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }
}

/// The stored form of [`Posteriors`]: entries as lists, least recently updated first, so that loading
/// them in order restores the eviction order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PosteriorsRecord {
    max_signatures: usize,
    max_jobs: usize,
    causes: Vec<CauseRecord>,
    signatures: Vec<SignatureRecord>,
    jobs: Vec<JobRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseRecord {
    cause: Cause,
    successes: u64,
    failures: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureRecord {
    cause: Cause,
    signature: String,
    successes: u64,
    failures: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobRecord {
    cause: Cause,
    signature: String,
    job: String,
    successes: u64,
    failures: u64,
}

impl From<Posteriors> for PosteriorsRecord {
    fn from(posteriors: Posteriors) -> Self {
        Self {
            max_signatures: posteriors.signatures.cap,
            max_jobs: posteriors.jobs.cap,
            causes: posteriors
                .causes
                .iter()
                .map(|(&cause, &counts)| CauseRecord { cause, successes: counts.successes, failures: counts.failures })
                .collect(),
            signatures: posteriors
                .signatures
                .oldest_first()
                .map(|((cause, signature), counts)| SignatureRecord {
                    cause: *cause,
                    signature: signature.clone(),
                    successes: counts.successes,
                    failures: counts.failures,
                })
                .collect(),
            jobs: posteriors
                .jobs
                .oldest_first()
                .map(|((cause, signature, job), counts)| JobRecord {
                    cause: *cause,
                    signature: signature.clone(),
                    job: job.clone(),
                    successes: counts.successes,
                    failures: counts.failures,
                })
                .collect(),
        }
    }
}

impl From<PosteriorsRecord> for Posteriors {
    fn from(record: PosteriorsRecord) -> Self {
        let mut posteriors = Self::with_limits(record.max_signatures, record.max_jobs);
        posteriors.causes = record
            .causes
            .into_iter()
            .map(|entry| (entry.cause, Counts { successes: entry.successes, failures: entry.failures }))
            .collect();
        for entry in record.signatures {
            posteriors.signatures.touch((entry.cause, entry.signature), |counts| {
                *counts = Counts { successes: entry.successes, failures: entry.failures }
            });
        }
        for entry in record.jobs {
            posteriors.jobs.touch((entry.cause, entry.signature, entry.job), |counts| {
                *counts = Counts { successes: entry.successes, failures: entry.failures }
            });
        }
        posteriors
    }
}
