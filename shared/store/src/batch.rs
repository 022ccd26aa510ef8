use serde_json::Value;
use std::collections::BTreeMap;

/// A condition a write must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// The document must not exist (conditional create).
    Absent,
    /// The document must exist at exactly this version (optimistic update).
    Version(u64),
}

/// A message for the bus, written to the outbox in the same commit as the data it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Unique per logical message: publishing the same id twice is a no-op, which is what makes
    /// "publish exactly once per acknowledged delivery" hold across retries.
    pub id: String,
    pub topic: String,
    /// Ordering key (for example a run id); backends that order do so per key.
    pub key: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum WriteOp {
    Put {
        collection: String,
        id: String,
        data: Value,
        precondition: Precondition,
    },
    /// Writes unless the stored document carries a greater-or-equal order key; a skipped write is
    /// not an error. This keeps the newest state when events arrive out of order.
    PutIfNewer {
        collection: String,
        id: String,
        data: Value,
        order: String,
    },
    Delete {
        collection: String,
        id: String,
    },
    Blob {
        namespace: String,
        key: String,
        bytes: Vec<u8>,
    },
    Publish(Message),
}

/// Operations committed atomically by [`crate::Store::commit`].
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(self, collection: &str, id: &str, data: Value) -> Self {
        self.put_with(collection, id, data, Precondition::None)
    }

    pub fn create(self, collection: &str, id: &str, data: Value) -> Self {
        self.put_with(collection, id, data, Precondition::Absent)
    }

    pub fn put_with(mut self, collection: &str, id: &str, data: Value, precondition: Precondition) -> Self {
        self.ops.push(WriteOp::Put { collection: collection.into(), id: id.into(), data, precondition });
        self
    }

    pub fn put_if_newer(mut self, collection: &str, id: &str, data: Value, order: String) -> Self {
        self.ops.push(WriteOp::PutIfNewer { collection: collection.into(), id: id.into(), data, order });
        self
    }

    pub fn delete(mut self, collection: &str, id: &str) -> Self {
        self.ops.push(WriteOp::Delete { collection: collection.into(), id: id.into() });
        self
    }

    pub fn blob(mut self, namespace: &str, key: &str, bytes: Vec<u8>) -> Self {
        self.ops.push(WriteOp::Blob { namespace: namespace.into(), key: key.into(), bytes });
        self
    }

    pub fn publish(mut self, message: Message) -> Self {
        self.ops.push(WriteOp::Publish(message));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
