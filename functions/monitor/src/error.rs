//! The crate's errors.

use crate::config::ConfigError;
use aetherveil_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MonitorError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored monitor document {id} cannot be read: {reason}")]
    Decode { id: String, reason: String },
}
