//! Building the clients and making topics and subscriptions exist.

use crate::{PubsubConfig, PubsubError, RetryPolicy};
use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::{BasePublisher, SubscriptionAdmin, TopicAdmin};
use google_cloud_pubsub::model::{DeadLetterPolicy, ExpirationPolicy, PushConfig, Subscription, push_config};
use google_cloud_wkt::{Duration as ProtoDuration, FieldMask};
use std::time::Duration;

/// Pub/Sub's bounds on a subscription's retry backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Pub/Sub's bounds on a dead-letter policy's delivery attempts.
const MIN_DELIVERY_ATTEMPTS: u32 = 5;
const MAX_DELIVERY_ATTEMPTS: u32 = 100;
/// Pub/Sub's bounds on the ack deadline.
const MIN_ACK_DEADLINE: u64 = 10;
const MAX_ACK_DEADLINE: u64 = 600;

/// Installs aws-lc-rs as rustls's process-wide crypto provider unless one is installed: the
/// workspace compiles rustls with two providers (ring for reqwest 0.12, aws-lc-rs for the Google
/// crates), and without a default a TLS client for an `https` endpoint cannot be built.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none()
        && rustls::crypto::aws_lc_rs::default_provider().install_default().is_err()
    {
        tracing::debug!("another thread installed a rustls crypto provider first; using it");
    }
}

pub(crate) async fn clients(
    config: &PubsubConfig,
) -> Result<(TopicAdmin, SubscriptionAdmin, BasePublisher), PubsubError> {
    ensure_crypto_provider();
    let client = |e: google_cloud_gax::client_builder::Error| PubsubError::Client(e.to_string());
    let mut topics = TopicAdmin::builder();
    let mut subscriptions = SubscriptionAdmin::builder();
    let mut publisher = BasePublisher::builder();
    if let Some(endpoint) = &config.endpoint {
        topics = topics.with_endpoint(endpoint);
        subscriptions = subscriptions.with_endpoint(endpoint);
        publisher = publisher.with_endpoint(endpoint);
    }
    if config.anonymous {
        let anonymous = || google_cloud_auth::credentials::anonymous::Builder::new().build();
        topics = topics.with_credentials(anonymous());
        subscriptions = subscriptions.with_credentials(anonymous());
        publisher = publisher.with_credentials(anonymous());
    }
    Ok((
        topics.build().await.map_err(client)?,
        subscriptions.build().await.map_err(client)?,
        publisher.build().await.map_err(client)?,
    ))
}

fn code(e: &google_cloud_gax::error::Error) -> Option<Code> {
    e.status().map(|s| s.code)
}

fn rpc(what: &str, e: google_cloud_gax::error::Error) -> PubsubError {
    PubsubError::Rpc(format!("{what}: {e}"))
}

pub(crate) async fn ensure_topic(topics: &TopicAdmin, path: &str) -> Result<(), PubsubError> {
    match topics.create_topic().set_name(path).send().await {
        Ok(_) => {
            tracing::info!(topic = path, "created pub/sub topic");
            Ok(())
        }
        Err(e) if code(&e) == Some(Code::AlreadyExists) => Ok(()),
        Err(e) => Err(rpc(&format!("creating topic {path}"), e)),
    }
}

/// A pull subscription that keeps what reaches a dead-letter topic (a topic without any
/// subscription drops its messages).
pub(crate) async fn ensure_pull_subscription(
    subscriptions: &SubscriptionAdmin,
    path: &str,
    topic: &str,
) -> Result<(), PubsubError> {
    match subscriptions
        .create_subscription()
        .set_name(path)
        .set_topic(topic)
        .set_ack_deadline_seconds(60)
        .set_expiration_policy(ExpirationPolicy::new())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some(Code::AlreadyExists) => Ok(()),
        Err(e) => Err(rpc(&format!("creating subscription {path}"), e)),
    }
}

/// What a push subscription of the bus looks like.
pub(crate) struct PushSubscription {
    pub name: String,
    pub topic: String,
    pub endpoint: String,
    pub dead_letter_topic: String,
    pub retry: RetryPolicy,
    pub ack_deadline: Duration,
    /// Service account and audience of the OIDC token Pub/Sub attaches to each push.
    pub oidc: Option<(String, String)>,
}

fn proto_duration(d: Duration) -> ProtoDuration {
    ProtoDuration::clamp(d.as_secs() as i64, d.subsec_nanos() as i32)
}

impl PushSubscription {
    /// Pub/Sub's dead-letter policy is a backstop for deliveries the receiver never answers: the
    /// receiver dead-letters after `retry.max_attempts` itself, so Pub/Sub's limit is one more
    /// (within the 5..=100 it accepts).
    fn max_delivery_attempts(&self) -> i32 {
        (self.retry.max_attempts.saturating_add(1)).clamp(MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS) as i32
    }

    fn push_config(&self) -> PushConfig {
        let config = PushConfig::new().set_push_endpoint(self.endpoint.clone());
        match &self.oidc {
            Some((account, audience)) => config.set_oidc_token(
                push_config::OidcToken::new().set_service_account_email(account.clone()).set_audience(audience.clone()),
            ),
            None => config,
        }
    }

    fn subscription(&self) -> Subscription {
        let min = self.retry.initial_backoff.min(MAX_BACKOFF);
        let max = self.retry.max_backoff.clamp(min, MAX_BACKOFF);
        Subscription::new()
            .set_name(self.name.clone())
            .set_topic(self.topic.clone())
            .set_push_config(self.push_config())
            .set_ack_deadline_seconds(self.ack_deadline.as_secs().clamp(MIN_ACK_DEADLINE, MAX_ACK_DEADLINE) as i32)
            .set_enable_message_ordering(true)
            .set_retry_policy(
                google_cloud_pubsub::model::RetryPolicy::new()
                    .set_minimum_backoff(proto_duration(min))
                    .set_maximum_backoff(proto_duration(max)),
            )
            .set_dead_letter_policy(
                DeadLetterPolicy::new()
                    .set_dead_letter_topic(self.dead_letter_topic.clone())
                    .set_max_delivery_attempts(self.max_delivery_attempts()),
            )
            .set_expiration_policy(ExpirationPolicy::new())
    }
}

/// Creates the push subscription, or brings an existing one to this shape (its endpoint may
/// have moved: a restarted process listens elsewhere).
pub(crate) async fn ensure_push_subscription(
    subscriptions: &SubscriptionAdmin,
    wanted: &PushSubscription,
) -> Result<(), PubsubError> {
    let subscription = wanted.subscription();
    match subscriptions.create_subscription().with_request(subscription.clone()).send().await {
        Ok(_) => {
            tracing::info!(subscription = %wanted.name, endpoint = %wanted.endpoint, "created push subscription");
            return Ok(());
        }
        Err(e) if code(&e) == Some(Code::AlreadyExists) => {}
        Err(e) => return Err(rpc(&format!("creating subscription {}", wanted.name), e)),
    }
    let existing = subscriptions
        .get_subscription()
        .set_subscription(wanted.name.clone())
        .send()
        .await
        .map_err(|e| rpc(&format!("reading subscription {}", wanted.name), e))?;
    if existing.topic != wanted.topic {
        return Err(PubsubError::Config(format!(
            "subscription {} exists on topic {}, not {}",
            wanted.name, existing.topic, wanted.topic
        )));
    }
    if !existing.enable_message_ordering {
        // Ordering cannot be switched on after creation.
        tracing::warn!(subscription = %wanted.name, "existing subscription has no message ordering; recreate it to get per-key order");
    }
    let mask =
        FieldMask::default().set_paths(["push_config", "ack_deadline_seconds", "retry_policy", "dead_letter_policy"]);
    subscriptions
        .update_subscription()
        .set_subscription(subscription)
        .set_update_mask(mask)
        .send()
        .await
        .map_err(|e| rpc(&format!("updating subscription {}", wanted.name), e))?;
    tracing::info!(subscription = %wanted.name, endpoint = %wanted.endpoint, "updated push subscription");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(max_attempts: u32, initial: Duration, max: Duration) -> PushSubscription {
        PushSubscription {
            name: "projects/p/subscriptions/s".into(),
            topic: "projects/p/topics/t".into(),
            endpoint: "http://127.0.0.1:1/_pubsub/push/s".into(),
            dead_letter_topic: "projects/p/topics/t-dead-letter".into(),
            retry: RetryPolicy { max_attempts, initial_backoff: initial, max_backoff: max, ..RetryPolicy::default() },
            ack_deadline: Duration::from_secs(5),
            oidc: Some(("push@p.iam.gserviceaccount.com".into(), "https://aud".into())),
        }
    }

    #[test]
    fn the_subscription_carries_ordering_backoff_dead_lettering_and_auth() {
        let s = wanted(3, Duration::from_millis(20), Duration::from_secs(3600)).subscription();
        assert!(s.enable_message_ordering);
        assert_eq!(s.ack_deadline_seconds, 10, "raised to Pub/Sub's minimum");
        let retry = s.retry_policy.expect("retry policy");
        assert_eq!(retry.minimum_backoff.expect("min").nanos(), 20_000_000);
        assert_eq!(retry.maximum_backoff.expect("max").seconds(), 600, "capped at Pub/Sub's maximum");
        let dl = s.dead_letter_policy.expect("dead-letter policy");
        assert_eq!(dl.dead_letter_topic, "projects/p/topics/t-dead-letter");
        assert_eq!(dl.max_delivery_attempts, 5, "the backstop is at least Pub/Sub's minimum");
        let push = s.push_config.expect("push config");
        assert_eq!(push.push_endpoint, "http://127.0.0.1:1/_pubsub/push/s");
        let token = push.oidc_token().expect("oidc token");
        assert_eq!(token.audience, "https://aud");
    }

    #[tokio::test]
    async fn clients_for_google_endpoints_build_without_a_preinstalled_crypto_provider() {
        let mut config = PubsubConfig::emulator("p", "127.0.0.1:1");
        config.endpoint = None;
        clients(&config).await.expect("clients for https://pubsub.googleapis.com");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn the_backstop_comes_one_attempt_after_the_receiver_gives_up() {
        let w = wanted(8, Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(w.max_delivery_attempts(), 9);
        assert_eq!(wanted(500, Duration::ZERO, Duration::ZERO).max_delivery_attempts(), 100);
    }
}
