//! The learned part of the classifier: multinomial naive Bayes over the features of a log (masked
//! tokens of its error-ish lines, see `features`, plus the ids of the rules that fired), trained by
//! the trainer job from recorded outcomes and stored as a versioned JSON artifact.
//!
//! Naive Bayes posteriors are over-confident (features are far from independent), so
//! [`Model::predict`] tempers them: the log-likelihood is divided by `sqrt(n)` for `n` known features
//! before the softmax. The result stays a distribution over causes in [0, 1].

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::cause::Cause;

/// Version of the artifact's JSON layout; a reader refuses other versions.
pub const FORMAT_VERSION: u32 = 1;
/// Additive (Laplace) smoothing of token counts.
const ALPHA: f64 = 1.0;
/// Vocabulary kept at training, most frequent first.
const MAX_VOCABULARY: usize = 50_000;

/// Why a model artifact cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model artifact is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model artifact has format version {found}, this build reads {FORMAT_VERSION}")]
    FormatVersion { found: u32 },
    #[error("model artifact is inconsistent: {0}")]
    Inconsistent(String),
}

/// A trained multinomial naive Bayes model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The causes seen in training, in `Cause::ALL` order.
    pub classes: Vec<Cause>,
    /// Training examples per class.
    pub class_examples: Vec<u64>,
    /// Total feature count per class.
    pub class_features: Vec<u64>,
    /// Feature -> count per class (same order as `classes`).
    pub vocabulary: BTreeMap<String, Vec<u32>>,
}

/// A model with its provenance, as stored in `models/logscan-classifier/<version>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format_version: u32,
    /// Assigned when published (1, 2, ...); 0 before.
    pub version: u64,
    /// RFC 3339.
    pub trained_at: String,
    /// Training examples.
    pub examples: usize,
    /// Labels of the causes the model knows.
    pub classes: Vec<String>,
    pub model: Model,
}

impl Model {
    /// Trains on `(features, cause)` examples. Examples with no features still count for the priors.
    pub fn train(examples: &[(Vec<String>, Cause)]) -> Model {
        let mut classes: Vec<Cause> = examples.iter().map(|(_, c)| *c).collect();
        classes.sort();
        classes.dedup();
        let index = |c: Cause| classes.iter().position(|&k| k == c);
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for (features, _) in examples {
            for f in features {
                *totals.entry(f.as_str()).or_default() += 1;
            }
        }
        let mut by_frequency: Vec<(&str, u64)> = totals.into_iter().collect();
        by_frequency.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        by_frequency.truncate(MAX_VOCABULARY);
        let mut vocabulary: BTreeMap<String, Vec<u32>> =
            by_frequency.into_iter().map(|(f, _)| (f.to_owned(), vec![0; classes.len()])).collect();
        let mut class_examples = vec![0u64; classes.len()];
        let mut class_features = vec![0u64; classes.len()];
        for (features, cause) in examples {
            let Some(k) = index(*cause) else { continue };
            class_examples[k] += 1;
            for f in features {
                if let Some(counts) = vocabulary.get_mut(f) {
                    counts[k] = counts[k].saturating_add(1);
                    class_features[k] += 1;
                }
            }
        }
        Model { classes, class_examples, class_features, vocabulary }
    }

    /// The posterior over the known causes, most likely first (empty for an untrained model).
    pub fn predict(&self, features: &[String]) -> Vec<(Cause, f64)> {
        let n_classes = self.classes.len();
        let total_examples: u64 = self.class_examples.iter().sum();
        if n_classes == 0 || total_examples == 0 {
            return Vec::new();
        }
        let v = self.vocabulary.len() as f64;
        let mut loglik = vec![0.0_f64; n_classes];
        let mut known = 0usize;
        for f in features {
            let Some(counts) = self.vocabulary.get(f) else { continue };
            known += 1;
            for (k, ll) in loglik.iter_mut().enumerate() {
                let count = f64::from(counts.get(k).copied().unwrap_or(0));
                *ll += ((count + ALPHA) / (self.class_features[k] as f64 + ALPHA * v)).ln();
            }
        }
        let temper = (known.max(1) as f64).sqrt();
        let scores: Vec<f64> = (0..n_classes)
            .map(|k| {
                let prior = (self.class_examples[k] as f64 + 1.0) / (total_examples as f64 + n_classes as f64);
                prior.ln() + loglik[k] / temper
            })
            .collect();
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        let mut out: Vec<(Cause, f64)> = self.classes.iter().zip(exp).map(|(&c, e)| (c, e / sum)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    fn check(&self) -> Result<(), ModelError> {
        let n = self.classes.len();
        if self.class_examples.len() != n || self.class_features.len() != n {
            return Err(ModelError::Inconsistent(format!("{n} classes but per-class totals of another length")));
        }
        if let Some((f, _)) = self.vocabulary.iter().find(|(_, counts)| counts.len() != n) {
            return Err(ModelError::Inconsistent(format!("feature {f:?} has counts for another number of classes")));
        }
        Ok(())
    }
}

impl ModelArtifact {
    /// Wraps a freshly trained model; the version is assigned when it is published.
    pub fn new(model: Model, examples: usize, trained_at: DateTime<Utc>) -> Self {
        ModelArtifact {
            format_version: FORMAT_VERSION,
            version: 0,
            trained_at: trained_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            examples,
            classes: model.classes.iter().map(|c| c.label().to_owned()).collect(),
            model,
        }
    }

    /// The artifact as stored.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising these types cannot fail: every map key is a string and every number is finite.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored artifact, refusing other format versions and inconsistent models.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        #[derive(Deserialize)]
        struct Header {
            format_version: u32,
        }
        let header: Header = serde_json::from_slice(bytes)?;
        if header.format_version != FORMAT_VERSION {
            return Err(ModelError::FormatVersion { found: header.format_version });
        }
        let artifact: ModelArtifact = serde_json::from_slice(bytes)?;
        artifact.model.check()?;
        Ok(artifact)
    }
}
