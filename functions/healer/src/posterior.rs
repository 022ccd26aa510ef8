//! Success probabilities: Beta posteriors per (cause, signature, job), pooled.
