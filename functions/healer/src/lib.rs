//! The healer: for each diagnosis, the remedy with the best expected value, within a budget.
//!
//! In progress (issue 6). What exists is pure and tested: the decision with its guards
//! ([`decide`]), the success probabilities ([`priors`] from the gha-reruns dataset, [`posterior`]
//! pooled per cause, signature and job), failure signatures ([`signature`]) and the daily budget
//! ([`budget`]). The bus handler, the GitHub actions, outcome tracking and the API come next.

pub mod budget;
pub mod decide;
pub mod posterior;
pub mod priors;
pub mod signature;
