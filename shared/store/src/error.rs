use thiserror::Error;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("precondition failed for {collection}/{id}")]
    Conflict { collection: String, id: String },
    #[error("{collection}/{id} is too contended to update")]
    Contended { collection: String, id: String },
    #[error("document {id} does not decode: {reason}")]
    Decode { id: String, reason: String },
    #[error("value does not encode: {0}")]
    Encode(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the write was abandoned before it committed; see the log")]
    Abandoned,
    #[error("the store is closed")]
    Closed,
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: String, reason: String },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}
