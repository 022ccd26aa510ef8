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
    #[error("cannot encode an anomaly: {0}")]
    Encode(String),
    #[error("document {0} kept changing under concurrent writers")]
    Contended(String),
}
