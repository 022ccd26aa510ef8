//! End-to-end tests of the `aetherveil` binary: real processes, real HTTP, a real SQLite file.

mod ado;
mod cli;
mod cloud_e2e;
mod cloud_shape;
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
mod workflows;
