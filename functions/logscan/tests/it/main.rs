//! Integration tests of the logscan function.

mod api;
mod classify;
mod flaky;
mod shell;
