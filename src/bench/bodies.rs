//! The request bodies: signed `workflow_run` deliveries from [`crate::fixtures`].
//!
//! Delivery `i` belongs to run `i / 3` and is its `requested`, `in_progress` or `completed`
//! delivery (`i % 3`), so every run is created and then updated twice, as on GitHub. Runs spread
//! over eight repositories, with some failures, cancellations, reruns and pull-request runs.
//!
//! Two ways to produce them:
//! - **unique** (default): every delivery is a new run state, as in production. Building 7 KB of
//!   JSON per request would make the load generator the bottleneck, so 120 bodies are built up
//!   front as templates (one per action and run variant) with a sentinel run id and commit id;
//!   each request copies a template, writes its own run id (every occurrence, `node_id`
//!   included) and commit id into it, and signs it: a copy and one HMAC, a few microseconds.
//! - **pool** (`--bodies N`): N bodies built and signed before the timed part and sent round
//!   robin. Re-sent bodies repeat a run state the server already has, which is cheaper for it
//!   than real traffic, so pool figures flatter the server.

use aetherveil_webhook::signature::Secret;
use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper::header::HeaderValue;

use crate::fixtures::{self, Detail};

/// A body and its `X-Hub-Signature-256`.
#[derive(Debug, Clone)]
pub struct Signed {
    pub body: Bytes,
    pub signature: HeaderValue,
}

const REPOS: [&str; 8] = [
    "bench-org/api-gateway",
    "bench-org/billing",
    "bench-org/web",
    "bench-org/infra",
    "bench-org/mobile",
    "mona/dotfiles",
    "bench-org/search",
    "bench-org/docs",
];
const ACTIONS: [&str; 3] = ["requested", "in_progress", "completed"];
/// Every run property below depends on `run % VARIANTS` only (8 repos, 10 conclusions, 4 events).
const VARIANTS: u64 = 40;
/// Run ids are `RUN_BASE + run`: 11 digits for the first 79 billion runs.
const RUN_BASE: u64 = 20_000_000_000;
const RUN_ID_DIGITS: usize = 11;
/// Template run ids: `SENTINEL_BASE + variant`, a multiple of 40 so `sentinel % 40 == variant`
/// and the fixture derives the same properties as for the real run.
const SENTINEL_BASE: u64 = 29_876_540_000;
const SENTINEL_SHA: &str = "5e471e15e471e15e471e15e471e15e471e15e471";

/// Signed request bodies, by delivery index.
#[derive(Debug)]
pub struct Bodies {
    source: Source,
    /// Smallest, mean and largest body, bytes.
    pub sizes: (usize, usize, usize),
}

#[derive(Debug)]
enum Source {
    Unique { templates: Vec<Template>, key: Secret },
    Pool(Vec<Signed>),
}

#[derive(Debug)]
struct Template {
    bytes: Vec<u8>,
    run_id_at: Vec<usize>,
    node_id_at: Vec<usize>,
    sha_at: Vec<usize>,
}

impl Bodies {
    /// Every delivery a distinct run state, patched from templates and signed per request.
    pub fn unique(detail: Detail, secret: &[u8]) -> anyhow::Result<Self> {
        let mut templates = Vec::with_capacity((VARIANTS * 3) as usize);
        for variant in 0..VARIANTS {
            for action in 0..3 {
                templates.push(Template::build(detail, variant, action)?);
            }
        }
        let sizes = size_stats(templates.iter().map(|t| t.bytes.len()));
        let key = Secret::new(secret);
        Ok(Self { source: Source::Unique { templates, key }, sizes })
    }

    /// `count` bodies (deliveries `0..count`) built and signed now, then sent round robin.
    pub fn pool(detail: Detail, secret: &[u8], count: u64) -> anyhow::Result<Self> {
        let unique = Self::unique(detail, secret)?;
        let pool = (0..count.max(1)).map(|i| unique.get(i)).collect::<anyhow::Result<Vec<_>>>()?;
        let sizes = size_stats(pool.iter().map(|s| s.body.len()));
        Ok(Self { source: Source::Pool(pool), sizes })
    }

    /// The body of delivery `i`.
    pub fn get(&self, i: u64) -> anyhow::Result<Signed> {
        match &self.source {
            Source::Pool(pool) => Ok(pool[(i % pool.len() as u64) as usize].clone()),
            Source::Unique { templates, key } => {
                let run = i / 3;
                let t = &templates[((run % VARIANTS) * 3 + i % 3) as usize];
                let body = t.render(run)?;
                let signature = HeaderValue::from_str(&key.sign(&body))?;
                Ok(Signed { body: Bytes::from(body), signature })
            }
        }
    }

    /// `Some(n)` when bodies repeat every `n` deliveries.
    pub fn pool_size(&self) -> Option<usize> {
        match &self.source {
            Source::Pool(p) => Some(p.len()),
            Source::Unique { .. } => None,
        }
    }
}

fn size_stats(sizes: impl Iterator<Item = usize>) -> (usize, usize, usize) {
    let (mut min, mut max, mut sum, mut n) = (usize::MAX, 0, 0, 0);
    for s in sizes {
        min = min.min(s);
        max = max.max(s);
        sum += s;
        n += 1;
    }
    match sum.checked_div(n) {
        Some(mean) => (min, mean, max),
        None => (0, 0, 0),
    }
}

/// What run `run` looks like; depends on `run % VARIANTS` only.
struct RunShape {
    repo: &'static str,
    conclusion: &'static str,
    attempt: u32,
    event: &'static str,
}

fn shape(run: u64) -> RunShape {
    let v = run % VARIANTS;
    RunShape {
        repo: REPOS[(v % REPOS.len() as u64) as usize],
        conclusion: match v % 10 {
            7 => "failure",
            9 => "cancelled",
            _ => "success",
        },
        attempt: if v == 13 { 2 } else { 1 },
        event: if v % 4 == 0 { "pull_request" } else { "push" },
    }
}

/// The commit id of run `run`: 40 hex digits, distinct per run.
fn run_sha(run: u64) -> [u8; 40] {
    let mut out = [b'0'; 40];
    let mut x = run ^ 0x5851_f42d_4c95_7f2d;
    let digits = b"0123456789abcdef";
    for chunk in out.chunks_mut(16) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        for (k, b) in chunk.iter_mut().enumerate() {
            *b = digits[((z >> (60 - 4 * k)) & 0xf) as usize];
        }
    }
    out
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

impl Template {
    fn build(detail: Detail, variant: u64, action: u64) -> anyhow::Result<Self> {
        let s = shape(variant);
        let sentinel = SENTINEL_BASE + variant;
        let when: DateTime<Utc> = DateTime::from_timestamp(1_760_000_000 + (action as i64) * 60, 0).unwrap_or_default();
        let value = fixtures::workflow_run_with(
            detail,
            s.repo,
            sentinel,
            s.attempt,
            ACTIONS[action as usize],
            Some(s.conclusion),
            SENTINEL_SHA,
            s.event,
            when,
        );
        let bytes = serde_json::to_vec(&value).context("serializing a template")?;
        let run_id_at = occurrences(&bytes, sentinel.to_string().as_bytes());
        let node_id_at = occurrences(&bytes, fixtures::node_id("WorkflowRun", sentinel).as_bytes());
        let sha_at = occurrences(&bytes, SENTINEL_SHA.as_bytes());
        if run_id_at.is_empty() || node_id_at.len() != 1 || sha_at.is_empty() {
            bail!("template {variant}/{action}: run id, node id or commit id not found where expected");
        }
        Ok(Self { bytes, run_id_at, node_id_at, sha_at })
    }

    fn render(&self, run: u64) -> anyhow::Result<Vec<u8>> {
        let run_id = RUN_BASE + run;
        let id = run_id.to_string();
        let node = fixtures::node_id("WorkflowRun", run_id);
        if id.len() != RUN_ID_DIGITS {
            bail!("run {run} is past the benchmark's run id range");
        }
        let sha = run_sha(run);
        let mut out = self.bytes.clone();
        for &at in &self.run_id_at {
            out[at..at + id.len()].copy_from_slice(id.as_bytes());
        }
        for &at in &self.node_id_at {
            out[at..at + node.len()].copy_from_slice(node.as_bytes());
        }
        for &at in &self.sha_at {
            out[at..at + sha.len()].copy_from_slice(&sha);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aetherveil_models::github::WorkflowRunEvent;

    #[test]
    fn sentinels_line_up_with_variants() {
        assert_eq!(SENTINEL_BASE % VARIANTS, 0);
        assert_eq!((SENTINEL_BASE + VARIANTS).to_string().len(), RUN_ID_DIGITS);
        assert_eq!(RUN_BASE.to_string().len(), RUN_ID_DIGITS);
        assert_eq!(
            fixtures::node_id("WorkflowRun", SENTINEL_BASE).len(),
            fixtures::node_id("WorkflowRun", RUN_BASE).len()
        );
    }

    #[test]
    fn unique_bodies_are_valid_signed_and_distinct() {
        let secret = b"bench-secret";
        for detail in [Detail::Compact, Detail::Full] {
            let bodies = Bodies::unique(detail, secret).expect("templates");
            let mut seen = std::collections::HashSet::new();
            for i in [0u64, 1, 2, 3, 4, 5, 39 * 3 + 2, 40 * 3, 1_000_001] {
                let s = bodies.get(i).expect("body");
                assert_eq!(s.signature.to_str().expect("ascii"), fixtures::sign(secret, &s.body));
                let ev: WorkflowRunEvent = serde_json::from_slice(&s.body).expect("typed workflow_run");
                let run = i / 3;
                assert_eq!(ev.workflow_run.id, RUN_BASE + run);
                assert_eq!(ev.action, ACTIONS[(i % 3) as usize]);
                assert_eq!(ev.repository.full_name, shape(run).repo);
                assert_eq!(ev.workflow_run.head_sha.as_bytes(), run_sha(run));
                let v: serde_json::Value = serde_json::from_slice(&s.body).expect("json");
                assert_eq!(v["workflow_run"]["node_id"], fixtures::node_id("WorkflowRun", RUN_BASE + run));
                let text = String::from_utf8(s.body.to_vec()).expect("utf-8");
                assert!(!text.contains(&SENTINEL_BASE.to_string()[..8]), "sentinel left in body {i}");
                assert!(!text.contains(SENTINEL_SHA));
                assert!(seen.insert(s.body.clone()), "body {i} repeats");
            }
        }
    }

    #[test]
    fn pools_repeat_after_their_size() {
        let bodies = Bodies::pool(Detail::Compact, b"k", 6).expect("pool");
        assert_eq!(bodies.pool_size(), Some(6));
        assert_eq!(bodies.get(1).expect("body").body, bodies.get(7).expect("body").body);
        assert_ne!(bodies.get(1).expect("body").body, bodies.get(2).expect("body").body);
    }

    #[test]
    fn commit_ids_differ_per_run() {
        assert_ne!(run_sha(1), run_sha(2));
        assert!(run_sha(7).iter().all(u8::is_ascii_hexdigit));
    }
}
