//! Every event that enters gets exactly one recorded outcome. Nothing is dropped silently.

use serde::{Deserialize, Serialize};

/// What happened to one inbound webhook request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Verified, persisted, normalized and published.
    Processed,
    /// Verified and persisted with its raw body; the webhook's normalizer records the final
    /// outcome (`processed` or `ignored`) a moment later (`webhook.intake = "queued"`).
    Queued,
    /// Verified and persisted, but the event type is one we do not handle (recorded, not an error).
    Ignored { event: String },
    /// A redelivery of a delivery id we already hold.
    Duplicate,
    /// Refused before anything was stored.
    Rejected { reason: RejectReason },
}

impl Outcome {
    /// A stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Queued => "queued",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected { .. } => "rejected",
        }
    }
}

/// Why a request was refused. Rejected requests are counted in metrics and logged, never stored:
/// unauthenticated input must not be able to fill the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    MissingSignature,
    BadSignature,
    TooLarge,
    MissingEventHeader,
    BadDeliveryId,
    MalformedJson,
    UnsupportedMediaType,
}

impl RejectReason {
    pub const ALL: [RejectReason; 7] = [
        RejectReason::MissingSignature,
        RejectReason::BadSignature,
        RejectReason::TooLarge,
        RejectReason::MissingEventHeader,
        RejectReason::BadDeliveryId,
        RejectReason::MalformedJson,
        RejectReason::UnsupportedMediaType,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RejectReason::MissingSignature => "missing_signature",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::TooLarge => "too_large",
            RejectReason::MissingEventHeader => "missing_event_header",
            RejectReason::BadDeliveryId => "bad_delivery_id",
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::UnsupportedMediaType => "unsupported_media_type",
        }
    }
}
