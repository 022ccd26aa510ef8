//! The client against a fake GitHub on loopback (`server.rs`): one module per area of `src/`, plus
//! `client.rs` for retries, rate limits, errors, headers and configuration.

mod actions;
mod app;
mod caches;
mod checks;
mod client;
mod issues;
mod server;
mod simulator;

use aetherveil_github::{Config, GitHub};
use server::{FakeGitHub, TOKEN};
use std::time::Duration;

/// Small waits so the suite stays fast: backoff in milliseconds, rate-limit waits up to 3 s.
fn fast_config(base_url: &str) -> Config {
    let mut config = Config::new(base_url, TOKEN);
    config.max_retries = 4;
    config.backoff_base = Duration::from_millis(5);
    config.backoff_cap = Duration::from_millis(20);
    config.max_wait = Duration::from_secs(3);
    config.timeout = Duration::from_secs(5);
    config
}

fn client_for(server: &FakeGitHub) -> anyhow::Result<GitHub> {
    Ok(GitHub::new(fast_config(&server.base_url))?)
}
