//! The healer: for each failed run attempt, the remedy with the best expected value, within a
//! budget, never looping, every action recorded with its inputs and its outcome.
//!
//! The pure core is [`decide`] (guards and expected value), [`priors`] (the gha-reruns base
//! rates), [`posterior`] (Beta posteriors pooled per cause, signature and job), [`signature`] and
//! [`budget`]. [`shell`] is the bus handler that gathers the inputs, records the intent, acts on
//! GitHub idempotently and learns from outcomes; [`plan_step`] carries out the orchestrator's
//! plan steps addressed to the healer; [`api`] serves the history and the decisions.

pub mod api;
pub mod budget;
pub mod config;
pub mod decide;
pub mod issue;
pub mod names;
pub mod plan_step;
pub mod posterior;
pub mod priors;
pub mod record;
pub mod shell;
pub mod signature;

pub use api::{ApiState, api_router};
pub use config::HealerConfig;
pub use shell::{Handled, Healer};
