//! The event bus: topics, subscriptions, at-least-once delivery with retry and backoff, and a
//! dead-letter collection for messages that fail for good. Nothing is dropped silently.
//!
//! [`Bus`] is the trait the functions see. [`LocalBus`] is the embedded backend: messages live
//! in the SQLite outbox (written by [`aetherveil_store::WriteBatch::publish`] in the same commit
//! as the data they describe), and one dispatcher task per subscription walks the outbox with a
//! durable cursor. A crash between handling and moving the cursor means redelivery, never loss,
//! so handlers must be idempotent (key their effects by message id).
//!
//! [`testsuite`] holds the behaviour every backend must show.

mod local;
pub mod testsuite;

pub use aetherveil_store::Message;
pub use local::{LocalBus, RetryPolicy, SubscriptionStats};

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinSet;

/// How long [`Bus::shutdown`] waits for the deliveries in flight (a handler may be waiting out
/// GitHub's rate limit) before it stops without them.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What a backend's `shutdown` does with its tasks: takes them, waits up to [`SHUTDOWN_WAIT`] for
/// them to end (logging any that ended abnormally), then aborts the rest. Their deliveries are
/// not acknowledged, so `redelivery` (logged) says when they come again.
pub async fn stop_tasks(tasks: &Mutex<JoinSet<()>>, redelivery: &str) {
    let mut tasks = match tasks.lock() {
        Ok(mut t) => std::mem::take(&mut *t),
        Err(_) => return,
    };
    let drain = async {
        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "bus task ended abnormally");
            }
        }
    };
    if tokio::time::timeout(SHUTDOWN_WAIT, drain).await.is_err() {
        tracing::warn!(wait_secs = SHUTDOWN_WAIT.as_secs(), "deliveries still in flight at shutdown; {redelivery}");
        tasks.abort_all();
    }
}

#[derive(Debug, Error)]
pub enum BusError {
    #[error(transparent)]
    Store(#[from] aetherveil_store::StoreError),
    #[error("subscription {0} is already registered")]
    DuplicateSubscription(String),
    #[error("the bus is shut down")]
    Closed,
}

/// Why a handler did not accept a message.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// Try again later (with backoff), up to the retry policy's limit.
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help: dead-letter now.
    #[error("{0}")]
    Permanent(String),
}

/// One delivery of a message to a subscription.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Message,
    /// 1 for the first delivery, then 2, 3, ...
    pub attempt: u32,
}

#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError>;
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes one message on its own. Publishing an id that was already published is a no-op
    /// and returns false. To publish together with a data write, use the store's `WriteBatch`.
    async fn publish(&self, message: Message) -> Result<bool, BusError>;

    /// Registers `handler` under a durable subscription name and starts delivering to it,
    /// beginning with every message of `topic` it has not yet acknowledged.
    fn subscribe(&self, subscription: &str, topic: &str, handler: Arc<dyn Handler>) -> Result<(), BusError>;

    /// Per-subscription backlog, for metrics and health.
    async fn stats(&self) -> Result<Vec<SubscriptionStats>, BusError>;

    /// Stops the dispatchers after the deliveries in flight finish, or after a bounded wait;
    /// deliveries it did not wait for are not acknowledged, so they come again.
    async fn shutdown(&self);
}
