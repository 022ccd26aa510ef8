//! The healer: for each diagnosis, the remedy with the best expected value, within a budget.

pub mod decide;
pub mod posterior;
pub mod priors;
