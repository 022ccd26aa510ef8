//! Cause classification: rules, then a learned model.
