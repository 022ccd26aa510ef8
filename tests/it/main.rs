//! End-to-end tests of the `aetherveil` binary: real processes, real HTTP, a real SQLite file.

mod ado;
mod cli;
mod crash;
mod dashboard;
mod eval_nab;
mod examples;
mod function;
mod gate;
mod healing;
mod sim;
mod support;
mod ui_browser;
