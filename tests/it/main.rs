//! End-to-end tests of the `aetherveil` binary: real processes, real HTTP, a real SQLite file.

mod cli;
mod crash;
mod eval_nab;
mod examples;
mod function;
mod gate;
mod healing;
mod sim;
mod support;
