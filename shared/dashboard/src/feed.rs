//! Metrics counted from events: `aetherveil_pipeline_duration_seconds` from completed jobs on
//! `pipeline-events`, `aetherveil_anomalies_detected_total` from `opened` messages on `anomalies`.
//! Both subscriptions are at-least-once: a redelivered message is counted again, which the
//! metric's help text accepts for a counter that also resets at restart.

use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_models::{PipelineEvent, PipelineEventKind};
use aetherveil_runtime::Metrics;
use aetherveil_runtime::metrics::{Counter, Histogram};
use async_trait::async_trait;
use std::sync::Arc;

pub struct MetricsFeed {
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl Handler for MetricsFeed {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let m = &delivery.message;
        if m.topic == aetherveil_monitor::names::TOPIC_ANOMALIES {
            if m.attributes.get("change").map(String::as_str) == Some("opened") {
                let kind = m.attributes.get("kind").map_or("unknown", String::as_str);
                self.metrics.inc(Counter::AnomaliesDetected, &[("kind", kind)]);
            }
            return Ok(());
        }
        // Not a pipeline event we can read: nothing to count, and retrying cannot help.
        let Ok(event) = serde_json::from_slice::<PipelineEvent>(&m.data) else {
            return Ok(());
        };
        if let PipelineEventKind::Job(job) = &event.kind {
            if job.status == "completed" {
                if let (Some(start), Some(end)) = (job.started_at, job.completed_at) {
                    let secs = (end - start).num_milliseconds() as f64 / 1000.0;
                    if secs >= 0.0 {
                        self.metrics.observe(
                            Histogram::PipelineDurationSeconds,
                            &[("repo", job.repo.0.as_str())],
                            secs,
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
