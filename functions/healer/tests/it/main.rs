//! Integration tests of the healer.
mod budget;
mod decide;
mod posterior;
mod priors;
mod shell;
mod signature;
