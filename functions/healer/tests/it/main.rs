//! Integration tests of the healer.
mod budget;
mod decide;
mod plan_step;
mod posterior;
mod priors;
mod shell;
mod signature;
