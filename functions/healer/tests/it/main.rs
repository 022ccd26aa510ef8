//! Integration tests of the healer.
mod decide;
mod posterior;
mod priors;
