//! Data models shared by every Aetherveil function.
//!
//! - [`ids`]: newtype identifiers (`RunId`, `JobId`, `DeliveryId`, ...).
//! - [`github`]: the GitHub webhook payloads we consume, typed once (only the fields we read;
//!   unknown fields are ignored so new GitHub fields never break parsing).
//! - [`events`]: the normalized records and events the webhook function publishes.
//! - [`outcome`]: the one outcome every inbound event gets.
//! - [`names`]: collection and topic names, shared by every backend.

pub mod events;
pub mod github;
pub mod ids;
pub mod names;
pub mod outcome;

pub use events::{JobRecord, PipelineEvent, PipelineEventKind, RunRecord};
pub use ids::{DeliveryId, JobId, RepoName, RunId};
pub use outcome::{Outcome, RejectReason};
