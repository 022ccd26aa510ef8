//! The logscan function: why did this job fail, and is it worth a rerun?

pub mod cause;
pub mod classify;
