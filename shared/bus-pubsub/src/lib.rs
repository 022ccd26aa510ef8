//! The cloud [`Bus`]: Google Cloud Pub/Sub through the official `google-cloud-pubsub` client,
//! with push delivery to this process and the transactional outbox kept in the document store.
//!
//! Path of a message:
//!
//! 1. [`Bus::publish`] creates the message's [`aetherveil_store::outbox`] document (if absent:
//!    an id already there returns false, which is the dedupe), publishes it to the Pub/Sub topic
//!    with the attributes `message_id` (our id) and `topic` (our topic name) and the message's
//!    ordering key, then marks the document `published: true`. Messages written by
//!    [`aetherveil_store::WriteBatch::publish`] through a document store (Firestore) arrive as
//!    `published: false` documents; the relay task ([`relay`]) publishes them the same way,
//!    oldest first. A crash between publishing and marking republishes with the same
//!    `message_id`, so handlers (idempotent by contract) see a duplicate, never a loss.
//! 2. [`Bus::subscribe`] makes sure the topic, its dead-letter topic (`<topic>-dead-letter`, with
//!    a pull subscription of the same name that keeps what lands there) and a push subscription
//!    exist, with message ordering, exponential retry backoff and a dead-letter policy, pushing to
//!    `<push_base_url>/_pubsub/push/<subscription>` on this process's own receiver ([`push`]).
//! 3. The receiver decodes the push envelope with [`aetherveil_runtime::cloudevent::decode`] and
//!    calls the handler: 2xx acknowledges, 503 asks Pub/Sub to redeliver after its backoff. It
//!    counts attempts itself (the emulator sends no `deliveryAttempt`, and Pub/Sub's own
//!    dead-letter policy cannot go below 5 attempts); after [`RetryPolicy::max_attempts`], or at
//!    once on [`aetherveil_bus::HandlerError::Permanent`], it records the message in the store's
//!    `dead_letters` collection exactly as [`aetherveil_bus::LocalBus`] does, publishes it to the
//!    dead-letter topic, and acknowledges. Pub/Sub's own dead-letter policy stays as a backstop
//!    for deliveries the receiver never answers.
//!
//! Resource names in Pub/Sub are `resource_prefix + name`, so several environments (or tests)
//! can share one project; the store and the handlers only ever see the unprefixed names.

mod admin;
pub mod push;
pub mod relay;

pub use aetherveil_bus::RetryPolicy;

use aetherveil_bus::{Bus, BusError, Handler, Message, SubscriptionStats};
use aetherveil_runtime::oidc::OidcVerifier;
use aetherveil_store::{Query, Store, outbox};
use async_trait::async_trait;
use google_cloud_pubsub::client::{BasePublisher, Publisher, SubscriptionAdmin, TopicAdmin};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a publish waits for the subscriptions of its topic that are still being set up, so
/// a message published right after `subscribe` returns is not missed by it.
const PROVISION_WAIT: Duration = Duration::from_secs(30);
/// Upper bound on one publish call to Pub/Sub (the client's own default is ten minutes).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum PubsubError {
    #[error("cannot build the pub/sub client: {0}")]
    Client(String),
    #[error("pub/sub call failed: {0}")]
    Rpc(String),
    #[error("publishing to pub/sub timed out")]
    Timeout,
    #[error("cannot serve the push receiver: {0}")]
    Listen(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] aetherveil_store::StoreError),
    #[error("invalid pub/sub configuration: {0}")]
    Config(String),
}

/// Where and how the bus reaches Pub/Sub and is reached by it.
#[derive(Debug, Clone)]
pub struct PubsubConfig {
    /// The Google Cloud project holding the topics and subscriptions.
    pub project: String,
    /// The Pub/Sub endpoint, e.g. `http://127.0.0.1:8085` for the emulator; `None` is Google's.
    pub endpoint: Option<String>,
    /// Anonymous credentials (the emulator); otherwise Application Default Credentials.
    pub anonymous: bool,
    /// Prepended to every topic and subscription name in Pub/Sub (not in the store).
    pub resource_prefix: String,
    /// The URL Pub/Sub pushes to, without the path; `None` is `http://<the receiver's address>`.
    pub push_base_url: Option<String>,
    /// Create or update topics and subscriptions from `subscribe`/`publish`. Off when Terraform
    /// owns them (then `subscribe` only registers the handler).
    pub manage_resources: bool,
    /// Attempts before dead-lettering, and the backoff Pub/Sub applies between redeliveries
    /// (clamped to what Pub/Sub accepts: 0 to 600 seconds).
    pub retry: RetryPolicy,
    /// How long Pub/Sub waits for the answer to a push before it redelivers.
    pub ack_deadline: Duration,
    /// How often the relay looks for outbox documents not yet published.
    pub relay_interval: Duration,
    /// How long a relay (or a publish call) owns an outbox document it is publishing.
    pub relay_lease: Duration,
    /// The publisher this bus relays for (a function's name), matching the store's
    /// [`aetherveil_store::outbox::ORIGIN_FIELD`]; `None` relays the documents without one.
    pub outbox_origin: Option<String>,
    /// Audience (and optionally push account) the receiver requires of a push request's OIDC
    /// token. `None` (the default, and the emulator's case) accepts unauthenticated pushes.
    pub push_auth: Option<Arc<OidcVerifier>>,
}

impl PubsubConfig {
    /// A configuration for the emulator at `host` (`127.0.0.1:8085`).
    pub fn emulator(project: &str, host: &str) -> Self {
        Self {
            project: project.to_owned(),
            endpoint: Some(format!("http://{}", host.trim_start_matches("http://"))),
            anonymous: true,
            resource_prefix: String::new(),
            push_base_url: None,
            manage_resources: true,
            retry: RetryPolicy::default(),
            ack_deadline: Duration::from_secs(60),
            relay_interval: Duration::from_secs(1),
            relay_lease: Duration::from_secs(60),
            outbox_origin: None,
            push_auth: None,
        }
    }

    fn topic_path(&self, topic: &str) -> String {
        format!("projects/{}/topics/{}{}", self.project, self.resource_prefix, topic)
    }

    fn subscription_path(&self, subscription: &str) -> String {
        format!("projects/{}/subscriptions/{}{}", self.project, self.resource_prefix, subscription)
    }
}

/// The dead-letter topic of `topic`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}-dead-letter")
}

/// One registered subscription and what the receiver knows of its deliveries.
pub(crate) struct Registered {
    pub(crate) name: String,
    pub(crate) topic: String,
    pub(crate) handler: Arc<dyn Handler>,
    /// True once the Pub/Sub subscription exists (or is not ours to manage).
    pub(crate) ready: watch::Sender<bool>,
    /// Failed deliveries per message id, until the message is acknowledged.
    pub(crate) failures: Mutex<HashMap<String, Failures>>,
    /// Messages acknowledged lately, to answer redeliveries of them without running the handler
    /// again (with ordering on, Pub/Sub redelivers the acknowledged messages that follow a
    /// refused one; the emulator does so even for messages without an ordering key).
    pub(crate) acked: Mutex<push::Acked>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Failures {
    pub(crate) count: u32,
    /// Set once the message is to be dead-lettered; a redelivery then retries only the
    /// dead-lettering, without calling the handler again.
    pub(crate) dead: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) config: PubsubConfig,
    pub(crate) store: Arc<dyn Store>,
    topics: TopicAdmin,
    subscriptions_admin: SubscriptionAdmin,
    base_publisher: BasePublisher,
    publishers: Mutex<HashMap<String, Publisher>>,
    /// Topics known to exist (created or found).
    known_topics: tokio::sync::Mutex<HashSet<String>>,
    pub(crate) registered: RwLock<BTreeMap<String, Arc<Registered>>>,
    pub(crate) push_base_url: String,
    pub(crate) stop: watch::Sender<bool>,
    tasks: Mutex<JoinSet<()>>,
}

/// The Pub/Sub [`Bus`]. Cheap to clone.
#[derive(Clone)]
pub struct PubsubBus {
    inner: Arc<Inner>,
}

impl PubsubBus {
    /// Connects to Pub/Sub, serves the push receiver on `listener` (or on a fresh
    /// `127.0.0.1:0` listener when `None`), and starts the outbox relay.
    pub async fn start(
        config: PubsubConfig,
        store: Arc<dyn Store>,
        listener: Option<TcpListener>,
    ) -> Result<Self, PubsubError> {
        if config.project.is_empty() {
            return Err(PubsubError::Config("project is empty".into()));
        }
        if config.retry.max_attempts == 0 {
            return Err(PubsubError::Config("retry.max_attempts must be at least 1".into()));
        }
        let (topics, subscriptions_admin, base_publisher) = admin::clients(&config).await?;
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind("127.0.0.1:0").await?,
        };
        let push_base_url = match &config.push_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            config,
            store,
            topics,
            subscriptions_admin,
            base_publisher,
            publishers: Mutex::new(HashMap::new()),
            known_topics: tokio::sync::Mutex::new(HashSet::new()),
            registered: RwLock::new(BTreeMap::new()),
            push_base_url,
            stop,
            tasks: Mutex::new(JoinSet::new()),
        });
        inner.store.ensure_index(outbox::COLLECTION, &["published", "origin", "created_at"]).await?;
        let bus = Self { inner };
        bus.spawn(push::serve(bus.inner.clone(), listener));
        bus.spawn(relay::run(bus.inner.clone()));
        Ok(bus)
    }

    /// The URL Pub/Sub pushes `subscription`'s messages to.
    pub fn push_endpoint(&self, subscription: &str) -> String {
        push::endpoint(&self.inner.push_base_url, subscription)
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.spawn(fut);
        }
    }
}

impl Inner {
    pub(crate) fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Makes sure `topic` exists in Pub/Sub (once per process and topic).
    pub(crate) async fn ensure_topic(&self, topic: &str) -> Result<(), PubsubError> {
        if !self.config.manage_resources {
            return Ok(());
        }
        let mut known = self.known_topics.lock().await;
        if known.contains(topic) {
            return Ok(());
        }
        admin::ensure_topic(&self.topics, &self.config.topic_path(topic)).await?;
        known.insert(topic.to_owned());
        Ok(())
    }

    fn publisher(&self, topic: &str) -> Result<Publisher, PubsubError> {
        let mut publishers = self.publishers.lock().map_err(|_| PubsubError::Rpc("publisher cache poisoned".into()))?;
        let publisher = publishers.entry(topic.to_owned()).or_insert_with(|| {
            self.base_publisher
                .publisher(self.config.topic_path(topic))
                .set_delay_threshold(Duration::from_millis(1))
                .build()
        });
        Ok(publisher.clone())
    }

    /// Waits (bounded) until every subscription registered on `topic` exists in Pub/Sub.
    async fn wait_for_subscriptions(&self, topic: &str) {
        let pending: Vec<watch::Receiver<bool>> = match self.registered.read() {
            Ok(r) => {
                r.values().filter(|s| s.topic == topic && !*s.ready.borrow()).map(|s| s.ready.subscribe()).collect()
            }
            Err(_) => return,
        };
        for mut ready in pending {
            if tokio::time::timeout(PROVISION_WAIT, ready.wait_for(|r| *r)).await.is_err() {
                tracing::warn!(topic, "a subscription of this topic is still not set up; publishing anyway");
            }
        }
    }

    /// Publishes `message` to its Pub/Sub topic: attributes `message_id` and `topic` carry our
    /// id and topic name, the ordering key is the message's key.
    pub(crate) async fn send(&self, message: &Message) -> Result<(), PubsubError> {
        self.ensure_topic(&message.topic).await?;
        self.wait_for_subscriptions(&message.topic).await;
        let publisher = self.publisher(&message.topic)?;
        let mut attributes = message.attributes.clone();
        attributes.insert(push::ATTR_MESSAGE_ID.to_owned(), message.id.clone());
        attributes.insert(push::ATTR_TOPIC.to_owned(), message.topic.clone());
        let key = message.key.as_deref().filter(|k| !k.is_empty());
        if let Some(key) = key {
            // The emulator leaves the ordering key out of the push envelope; the receiver falls
            // back to this attribute.
            attributes.insert(push::ATTR_ORDERING_KEY.to_owned(), key.to_owned());
        }
        let mut m =
            google_cloud_pubsub::model::Message::new().set_data(message.data.clone()).set_attributes(attributes);
        if let Some(key) = key {
            m = m.set_ordering_key(key);
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, publisher.publish(m)).await {
            Ok(Ok(_server_id)) => Ok(()),
            Ok(Err(e)) => {
                if let Some(key) = &message.key {
                    // A failed publish pauses its ordering key; the next publish of this message
                    // (by the relay) must be able to go out.
                    publisher.resume_publish(key.clone());
                }
                Err(PubsubError::Rpc(e.to_string()))
            }
            Err(_) => Err(PubsubError::Timeout),
        }
    }

    /// Marks an outbox document published.
    pub(crate) async fn mark_published(&self, id: &str, mut data: serde_json::Value) -> Result<(), PubsubError> {
        data["published"] = json!(true);
        if let Some(obj) = data.as_object_mut() {
            obj.remove(relay::LEASE_FIELD);
        }
        self.store.put(outbox::COLLECTION, id, data).await?;
        Ok(())
    }

    async fn provision(&self, registered: &Registered) -> Result<(), PubsubError> {
        let dead_letter = dead_letter_topic(&registered.topic);
        self.ensure_topic(&registered.topic).await?;
        self.ensure_topic(&dead_letter).await?;
        let dead_letter_path = self.config.topic_path(&dead_letter);
        admin::ensure_pull_subscription(
            &self.subscriptions_admin,
            &self.config.subscription_path(&dead_letter),
            &dead_letter_path,
        )
        .await?;
        admin::ensure_push_subscription(
            &self.subscriptions_admin,
            &admin::PushSubscription {
                name: self.config.subscription_path(&registered.name),
                topic: self.config.topic_path(&registered.topic),
                endpoint: push::endpoint(&self.push_base_url, &registered.name),
                dead_letter_topic: dead_letter_path,
                retry: self.config.retry,
                ack_deadline: self.config.ack_deadline,
                oidc: self.config.push_auth.as_ref().and_then(|v| v.push_identity()),
            },
        )
        .await
    }
}

/// Sets up the Pub/Sub side of a subscription, retrying with backoff until it works or the bus
/// stops.
async fn provision_loop(inner: Arc<Inner>, registered: Arc<Registered>) {
    if !inner.config.manage_resources {
        registered.ready.send_replace(true);
        return;
    }
    let mut stop = inner.stop.subscribe();
    let mut wait = Duration::from_millis(200);
    loop {
        match inner.provision(&registered).await {
            Ok(()) => {
                tracing::info!(subscription = %registered.name, topic = %registered.topic, "push subscription ready");
                registered.ready.send_replace(true);
                return;
            }
            Err(e) => {
                tracing::warn!(subscription = %registered.name, error = %e, retry_in_ms = wait.as_millis() as u64, "cannot set up the push subscription; retrying");
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

#[async_trait]
impl Bus for PubsubBus {
    async fn publish(&self, message: Message) -> Result<bool, BusError> {
        if self.inner.stopped() {
            return Err(BusError::Closed);
        }
        let mut doc = outbox::to_doc(&message, self.inner.config.outbox_origin.as_deref());
        // This call publishes the message itself; the relay leaves it alone meanwhile.
        doc[relay::LEASE_FIELD] = json!(relay::lease_until(self.inner.config.relay_lease));
        if !self.inner.store.create(outbox::COLLECTION, &message.id, doc.clone()).await? {
            return Ok(false);
        }
        match self.inner.send(&message).await {
            Ok(()) => {
                if let Err(e) = self.inner.mark_published(&message.id, doc).await {
                    // Published but not marked: the relay publishes it again after the lease,
                    // with the same message_id attribute, and handlers dedupe.
                    tracing::warn!(message = %message.id, error = %e, "published but not marked; it may be delivered twice");
                }
            }
            Err(e) => {
                // The message is safe in the outbox: hand it to the relay at once.
                tracing::warn!(message = %message.id, error = %e, "publish to pub/sub failed; the relay will retry it");
                doc[relay::LEASE_FIELD] = json!(0);
                if let Err(e) = self.inner.store.put(outbox::COLLECTION, &message.id, doc).await {
                    tracing::warn!(message = %message.id, error = %e, "cannot release the outbox lease; the relay retries after it expires");
                }
            }
        }
        Ok(true)
    }

    fn subscribe(&self, subscription: &str, topic: &str, handler: Arc<dyn Handler>) -> Result<(), BusError> {
        if self.inner.stopped() {
            return Err(BusError::Closed);
        }
        let registered = {
            let mut map = self.inner.registered.write().map_err(|_| BusError::Closed)?;
            if map.contains_key(subscription) {
                return Err(BusError::DuplicateSubscription(subscription.to_owned()));
            }
            let (ready, _) = watch::channel(false);
            let registered = Arc::new(Registered {
                name: subscription.to_owned(),
                topic: topic.to_owned(),
                handler,
                ready,
                failures: Mutex::new(HashMap::new()),
                acked: Mutex::new(push::Acked::default()),
            });
            map.insert(subscription.to_owned(), registered.clone());
            registered
        };
        self.spawn(provision_loop(self.inner.clone(), registered));
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<SubscriptionStats>, BusError> {
        // What this process can know: messages still waiting in the outbox for their topic
        // (Pub/Sub's own backlog is a Cloud Monitoring metric, not an API answer), and messages
        // whose last delivery here failed and that wait for a redelivery.
        let unpublished = self
            .inner
            .store
            .query(outbox::COLLECTION, Query::new().eq("published", false).limit(relay::BATCH * 4))
            .await?;
        let mut per_topic: HashMap<String, u64> = HashMap::new();
        for doc in &unpublished {
            if let Some(t) = doc.data["topic"].as_str() {
                *per_topic.entry(t.to_owned()).or_default() += 1;
            }
        }
        let registered: Vec<Arc<Registered>> = match self.inner.registered.read() {
            Ok(r) => r.values().cloned().collect(),
            Err(_) => return Err(BusError::Closed),
        };
        Ok(registered
            .iter()
            .map(|s| SubscriptionStats {
                subscription: s.name.clone(),
                topic: s.topic.clone(),
                backlog: per_topic.get(&s.topic).copied().unwrap_or(0),
                retrying: s.failures.lock().map(|f| f.values().filter(|f| f.count > 0).count() as u64).unwrap_or(0),
            })
            .collect())
    }

    async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        aetherveil_bus::stop_tasks(&self.inner.tasks, "pub/sub delivers them again").await;
        let publishers: Vec<Publisher> = match self.inner.publishers.lock() {
            Ok(p) => p.values().cloned().collect(),
            Err(_) => Vec::new(),
        };
        for p in publishers {
            if tokio::time::timeout(Duration::from_secs(2), p.flush()).await.is_err() {
                tracing::warn!("publisher flush timed out at shutdown");
            }
        }
    }
}
