//! A failure's signature: what makes two failures "the same" for the healer's statistics and for
//! its one-issue-per-failure rule. Two diagnoses share a signature when they have the same cause,
//! the same deciding rule and the same template of the first evidence line (numbers, ids, paths and
//! other values masked by the template miner), whatever the run.

use aetherveil_logparse::miner::{Miner, MinerConfig};
use aetherveil_logscan::Diagnosis;
use std::hash::Hasher;

/// The signature of `diagnosis`: 16 hex digits, stable across runs, processes and versions of the
/// hasher (FNV-1a over the parts, so it can be stored and compared later).
pub fn signature(diagnosis: &Diagnosis) -> String {
    let finding = diagnosis.findings.first();
    let rule = finding.map_or("", |f| f.id.as_str());
    let evidence = finding.and_then(|f| f.evidence.first()).map(|e| e.text.as_str());
    let text =
        evidence.or_else(|| diagnosis.lines.iter().max_by(|a, b| a.score.total_cmp(&b.score)).map(|l| l.text.as_str()));
    let template = text.map(template_of).unwrap_or_default();
    let mut hash = Fnv1a::default();
    for part in [diagnosis.cause.label(), rule, &template] {
        hash.write(part.as_bytes());
        hash.write_u8(0xff);
    }
    format!("{:016x}", hash.finish())
}

/// The line with its values masked: the template a fresh miner makes of it.
fn template_of(text: &str) -> String {
    let mut miner = Miner::new(MinerConfig::default());
    let id = miner.insert(text);
    miner.template(id).map(|t| t.text).unwrap_or_default()
}

/// FNV-1a, 64 bits: tiny, and the same on every platform and release (unlike std's hasher).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
