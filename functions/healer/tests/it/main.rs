//! Integration tests of the healer.
mod budget;
mod decide;
mod plan_step;
mod posterior;
mod priors;
mod recurrence;
mod shell;
mod signature;
mod support;
