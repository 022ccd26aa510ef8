//! Wiring: configuration → store → bus → functions → one HTTP server.

use crate::api::{self, ApiState};
use crate::journal::Journal;
use aetherveil_blobs_gcs::{GcsBlobStore, GcsConfig};
use aetherveil_bus::{Bus, LocalBus, RetryPolicy};
use aetherveil_bus_pubsub::{PubsubBus, PubsubConfig};
use aetherveil_config::{BlobsBackend, BusBackend, Config, HealerMode, StoreBackend, Synchronous, WebhookIntake};
use aetherveil_gate::Gate;
use aetherveil_healer::Healer;
use aetherveil_logscan::{Logscan, LogscanConfig};
use aetherveil_models::names;
use aetherveil_monitor::Monitor;
use aetherveil_runtime::background::Background;
use aetherveil_runtime::{Metrics, Platform, Registry, server};
use aetherveil_store::blob::{BlobStore, FsBlobStore};
use aetherveil_store::{SqliteStore, Store};
use aetherveil_store_firestore::{FirestoreConfig, FirestoreStore};
use aetherveil_trainer::Trainer;
use aetherveil_webhook::{Applier, IngestLog, Normalizer, Webhook};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The SQLite file inside the data directory.
pub const DB_FILE: &str = "aetherveil.db";
/// The webhook's ingest log inside the data directory (`webhook.intake = "log"`).
pub const INGEST_DIR: &str = "ingest";
/// Worker threads of the background runtime (`webhook.intake = "log"`).
const BACKGROUND_WORKERS: usize = 1;
/// Where a generated webhook secret is kept.
pub const SECRET_FILE: &str = "webhook-secret";

/// A running platform: backends plus the functions registry.
pub struct Host {
    pub platform: Platform,
    /// The embedded store, closed at shutdown (none on Firestore).
    sqlite: Option<SqliteStore>,
    bus: Arc<dyn Bus>,
    secret: Vec<u8>,
    /// The store handle of the functions that react to events: their writes wait behind
    /// deliveries and API calls (see `aetherveil_store::sqlite::Lane`).
    reacting: Arc<dyn aetherveil_store::Store>,
    monitor: Arc<Monitor>,
    logscan: Arc<Logscan>,
    healer: Arc<Healer>,
    trainer: Trainer,
    gate: Gate,
    ado: Arc<aetherveil_ado::Ado>,
    /// The client logscan and the healer share (a GitHub App's installation token is set on it).
    github: aetherveil_github::GitHub,
    /// The webhook's ingest log, with `webhook.intake = "log"`.
    ingest: Option<IngestLog>,
    /// Where the functions reacting to events and the log's applier run, with
    /// `webhook.intake = "log"`: threads that get a CPU only when requests leave one idle.
    background: Option<Background>,
}

impl Host {
    /// The platform on the configured backends: the embedded ones (SQLite and the local bus), or
    /// Google Cloud's (Firestore, Pub/Sub and Cloud Storage or files), connected first. `origin`
    /// names this process's outbox documents on Firestore (the function it serves, or `serve`),
    /// so that each function's relay publishes its own and never contends with another's.
    pub async fn connect(config: Config, origin: &str) -> anyhow::Result<Self> {
        if config.store.backend == StoreBackend::Sqlite {
            return Self::open(config);
        }
        let dir = &config.server.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let blobs: Arc<dyn BlobStore> = match config.blobs.backend {
            BlobsBackend::Fs => Arc::new(FsBlobStore::new(dir.join("blobs"))),
            BlobsBackend::Gcs => Arc::new(
                GcsBlobStore::new(GcsConfig {
                    bucket: config.blobs.bucket.clone(),
                    endpoint: non_empty(&config.blobs.endpoint),
                    emulator: config.blobs.emulator,
                })
                .await
                .context("cannot reach Cloud Storage")?,
            ),
        };
        let firestore = FirestoreConfig {
            project_id: config.store.project.clone(),
            database_id: config.store.database.clone(),
            endpoint: non_empty(&config.store.endpoint),
            emulator: config.store.emulator,
        };
        let store: Arc<dyn Store> = Arc::new(
            FirestoreStore::connect(&firestore, blobs)
                .await
                .context("cannot reach Firestore")?
                .with_outbox_origin(origin),
        );
        let project = non_empty(&config.bus.project).unwrap_or_else(|| config.store.project.clone());
        let pubsub = PubsubConfig {
            project,
            endpoint: non_empty(&config.bus.endpoint),
            anonymous: config.bus.emulator,
            manage_resources: config.bus.manage_resources,
            retry: retry_policy(&config),
            outbox_origin: Some(origin.to_owned()),
            ..PubsubConfig::emulator("", "")
        };
        let bus = PubsubBus::start(pubsub, store.clone(), None).await.context("cannot start the Pub/Sub bus")?;
        Self::assemble(config, store.clone(), store, Arc::new(bus), None)
    }

    /// The embedded platform: SQLite in the data directory and the local bus.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        let dir = &config.server.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let sync = match config.store.synchronous {
            Synchronous::Normal => aetherveil_store::Synchronous::Normal,
            Synchronous::Full => aetherveil_store::Synchronous::Full,
        };
        let store = SqliteStore::open(dir.join(DB_FILE), sync).context("cannot open the store")?;
        let reacting = store.background();
        let (ingest, background) = match config.webhook.intake {
            WebhookIntake::Log => {
                let log = IngestLog::open(
                    dir.join(INGEST_DIR),
                    config.store.synchronous == Synchronous::Full,
                    config.webhook.log_max_bytes,
                )
                .context("cannot open the webhook's ingest log")?;
                let background =
                    Background::start(BACKGROUND_WORKERS).context("cannot start the background runtime")?;
                (Some(log), Some(background))
            }
            WebhookIntake::Inline | WebhookIntake::Queued => (None, None),
        };
        let bus = match &background {
            Some(bg) => LocalBus::on_runtime(reacting.clone(), retry_policy(&config), bg.handle().clone()),
            None => LocalBus::new(reacting.clone(), retry_policy(&config)),
        };
        let mut host = Self::assemble(config, Arc::new(store.clone()), Arc::new(reacting), Arc::new(bus), Some(store))?;
        host.ingest = ingest;
        host.background = background;
        Ok(host)
    }

    fn assemble(
        config: Config,
        store: Arc<dyn Store>,
        reacting: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        sqlite: Option<SqliteStore>,
    ) -> anyhow::Result<Self> {
        let secret = webhook_secret(&config)?;
        let platform =
            Platform { config: Arc::new(config), store, bus: bus.clone(), metrics: Arc::new(Metrics::new()) };
        let reacting = Platform { store: reacting, ..platform.clone() };
        let monitor = Arc::new(Monitor::from_platform(&reacting).context("cannot configure the monitor")?);
        let gh = &platform.config.github;
        if gh.token.is_empty() && !gh.app() {
            tracing::warn!(
                "github.token is not set: logscan cannot download job logs (diagnoses will say so) and the healer leaves failed runs alone"
            );
        }
        let github = aetherveil_github::GitHub::new(aetherveil_github::Config::new(&gh.api_url, &gh.token))
            .context("cannot configure the GitHub client")?;
        let logscan = Arc::new(Logscan::new(reacting.store.clone(), github.clone(), LogscanConfig::default()));
        let healer =
            Arc::new(Healer::new(reacting.store.clone(), github.clone(), healer_config(&platform.config.healer)));
        let trainer = Trainer::new(reacting.store.clone());
        let gate = Gate::new(platform.store.clone(), gate_config(&platform.config));
        let ado = Arc::new(
            aetherveil_ado::Ado::new(reacting.store.clone(), ado_config(&platform.config))
                .context("cannot configure the orchestrator")?,
        );
        Ok(Self {
            platform,
            sqlite,
            bus,
            secret,
            reacting: reacting.store,
            monitor,
            logscan,
            healer,
            trainer,
            gate,
            ado,
            github,
            ingest: None,
            background: None,
        })
    }

    /// With `github.app_*` set, buys the App installation's first token (start-up fails, saying
    /// why, if GitHub refuses it) and keeps it fresh in the background.
    async fn start_github_app(&self) -> anyhow::Result<()> {
        let gh = &self.platform.config.github;
        if !gh.app() {
            return Ok(());
        }
        let credentials = aetherveil_github::AppCredentials::from_pem(gh.app_id, &gh.app_private_key)
            .context("github.app_private_key")?;
        let installations =
            aetherveil_github::Installations::new(credentials, aetherveil_github::Config::new(&gh.api_url, ""));
        Arc::new(installations).keep_fresh(self.github.clone(), gh.app_installation_id).await.with_context(|| {
            format!("cannot get a token for GitHub App {} installation {}", gh.app_id, gh.app_installation_id)
        })?;
        Ok(())
    }

    /// Declares the indexes behind the platform's queries (idempotent).
    async fn ensure_indexes(&self) -> anyhow::Result<()> {
        for (collection, fields) in names::INDEXES {
            self.platform.store.ensure_index(collection, fields).await?;
        }
        self.monitor.ensure_indexes().await?;
        self.logscan.ensure_indexes().await?;
        self.healer.ensure_indexes().await?;
        self.gate.ensure_indexes().await?;
        self.ado.ensure_indexes().await?;
        Ok(())
    }

    /// Every function this binary hosts. New functions register here.
    pub fn registry(&self) -> Registry {
        let p = &self.platform;
        let webhook = Arc::new(Webhook::from_platform(p, &self.secret, self.ingest.clone()));
        let journal = Arc::new(Journal { store: self.reacting.clone(), metrics: p.metrics.clone() });
        let normalizer = Arc::new(Normalizer::new(self.reacting.clone(), p.metrics.clone()));
        let registry = Registry::new()
            .http("webhook", webhook.router())
            .event(aetherveil_webhook::NORMALIZE_SUBSCRIPTION, names::TOPIC_WEBHOOK_INTAKE, normalizer)
            .event("journal", names::TOPIC_PIPELINE_EVENTS, journal)
            .event(aetherveil_monitor::SUBSCRIPTION, names::TOPIC_PIPELINE_EVENTS, self.monitor.clone())
            .event(aetherveil_logscan::SUBSCRIPTION, names::TOPIC_PIPELINE_EVENTS, self.logscan.clone())
            .event(aetherveil_healer::names::SUBSCRIPTION, names::TOPIC_PIPELINE_EVENTS, self.healer.clone())
            .event(
                aetherveil_healer::names::DIAGNOSES_SUBSCRIPTION,
                aetherveil_logscan::names::TOPIC_DIAGNOSES,
                self.healer.clone(),
            )
            .event(
                aetherveil_healer::names::PLAN_STEPS_SUBSCRIPTION,
                aetherveil_healer::names::TOPIC_PLAN_STEPS,
                self.healer.clone(),
            )
            .http("api", self.api().merge(self.dashboard(self.api()).router()))
            .http("trainer", self.trainer.router())
            .http("maintenance", crate::maintenance::router(self.maintenance()))
            .http("gate", self.gate.router())
            .event(
                aetherveil_dashboard::names::PIPELINE_SUBSCRIPTION,
                names::TOPIC_PIPELINE_EVENTS,
                self.metrics_feed(),
            )
            .event(
                aetherveil_dashboard::names::ANOMALIES_SUBSCRIPTION,
                aetherveil_monitor::names::TOPIC_ANOMALIES,
                self.metrics_feed(),
            );
        self.register_ado(registry)
    }

    /// The orchestrator's three subscriptions (docs/ado.md), unless `ado.enabled` is false.
    fn register_ado(&self, registry: Registry) -> Registry {
        use aetherveil_ado::names::{ANOMALIES_SUBSCRIPTION, DIAGNOSES_SUBSCRIPTION, VERDICTS_SUBSCRIPTION};
        if !self.ado.config().enabled {
            return registry;
        }
        registry
            .event(DIAGNOSES_SUBSCRIPTION, aetherveil_logscan::names::TOPIC_DIAGNOSES, self.ado.clone())
            .event(ANOMALIES_SUBSCRIPTION, aetherveil_monitor::names::TOPIC_ANOMALIES, self.ado.clone())
            .event(VERDICTS_SUBSCRIPTION, aetherveil_gate::names::TOPIC_VERDICTS, self.ado.clone())
    }

    fn metrics_feed(&self) -> Arc<aetherveil_dashboard::feed::MetricsFeed> {
        Arc::new(aetherveil_dashboard::feed::MetricsFeed { metrics: self.platform.metrics.clone() })
    }

    /// The web UI, its API and the alert evaluator, reading the platform's JSON API in process.
    fn dashboard(&self, api: axum::Router) -> aetherveil_dashboard::Dashboard {
        let p = &self.platform;
        aetherveil_dashboard::Dashboard::new(
            p.store.clone(),
            p.bus.clone(),
            p.metrics.clone(),
            p.config.alerts.clone(),
            api,
        )
    }

    /// The periodic jobs' endpoints (src/maintenance.rs), with the API and dashboard they reuse.
    fn maintenance(&self) -> crate::maintenance::MaintenanceState {
        let p = &self.platform;
        let api = self.api();
        crate::maintenance::MaintenanceState {
            store: p.store.clone(),
            dashboard: self.dashboard(api.clone()),
            api,
            retention: p.config.retention(),
        }
    }

    fn api(&self) -> axum::Router {
        api::router(ApiState {
            store: self.platform.store.clone(),
            bus: self.platform.bus.clone(),
            metrics: self.platform.metrics.clone(),
            ingest: self.ingest.clone(),
        })
        .merge(aetherveil_monitor::api_router(self.monitor.api_state()))
        .merge(aetherveil_logscan::api_router(aetherveil_logscan::ApiState { store: self.platform.store.clone() }))
        .merge(aetherveil_healer::api_router(aetherveil_healer::ApiState {
            store: self.platform.store.clone(),
            default_mode: self.healer.config().default_mode,
            allowance: self.healer.config().allowance,
        }))
        .merge(self.gate.api_router())
        .merge(aetherveil_ado::api_router(self.ado.clone()))
        .merge(crate::insights::router(crate::insights::InsightsState { store: self.platform.store.clone() }))
        .merge(crate::releases::router(crate::releases::ReleasesState { store: self.platform.store.clone() }))
    }

    /// `aetherveil serve`: every function in one process until SIGTERM/SIGINT.
    pub async fn serve(self, demo: bool) -> anyhow::Result<()> {
        let addr = self.platform.config.server.addr;
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        println!("aetherveil listening on http://{bound}  (webhook: POST http://{bound}{})", aetherveil_webhook::PATH);
        if demo {
            let secret = self.secret.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::demo::run(bound, &secret).await {
                    tracing::error!(error = %e, "demo failed");
                }
            });
        }
        self.serve_on(listener, server::shutdown_signal()).await
    }

    /// Serves every function on `listener` until `shutdown` completes, then stops cleanly.
    pub async fn serve_on(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let cfg = self.platform.config.clone();
        self.ensure_indexes().await?;
        self.start_github_app().await?;
        // The JSON API and the web UI are the `api` function of the registry; this dashboard
        // handle runs the alert evaluator.
        let dashboard = self.dashboard(self.api());
        dashboard.ensure_indexes().await?;
        let operational = api::operational(ApiState {
            store: self.platform.store.clone(),
            bus: self.platform.bus.clone(),
            metrics: self.platform.metrics.clone(),
            ingest: self.ingest.clone(),
        });
        let router = self.registry().mount_all(self.platform.bus.as_ref())?.merge(operational);
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %cfg.server.data_dir.display(), "aetherveil serving");
        let grace = Duration::from_secs(cfg.server.shutdown_grace_secs);
        let scheduling = crate::schedule::start_local(self.platform.store.clone(), addr)?;
        let alerting = dashboard.start_alerts();
        let applying = self.start_applier().await?;
        server::serve(listener, router, grace, shutdown).await?;
        scheduling.abort();
        alerting.abort();
        self.shutdown(applying).await;
        Ok(())
    }

    /// `aetherveil run-function`: one function, as its Cloud Run container runs it.
    pub async fn serve_function(self, target: &str, port: u16) -> anyhow::Result<()> {
        self.ensure_indexes().await?;
        self.start_github_app().await?;
        let registry = self.registry();
        let known = registry.names().join(", ");
        let function = registry
            .take(target)
            .with_context(|| format!("FUNCTION_TARGET {target:?} is not a function of this binary (known: {known})"))?;
        let bus = &self.platform.config.bus;
        if let (BusBackend::Pubsub, true, aetherveil_runtime::FunctionKind::Event { topic, handler }) =
            (bus.backend, bus.manage_resources, &function.kind)
        {
            // No Terraform here (the emulator, a test): the bus creates the push subscription, to
            // its own receiver. On Cloud Run, Terraform's subscription pushes to this service's `/`.
            self.bus.subscribe(function.name, topic, handler.clone())?;
        }
        let grace = Duration::from_secs(self.platform.config.server.shutdown_grace_secs);
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], port));
        let applying = self.start_applier().await?;
        server::serve_function(function, self.platform.metrics.clone(), addr, grace).await?;
        self.shutdown(applying).await;
        Ok(())
    }

    /// With `webhook.intake = "log"`: the task applying the ingest log to the store, on the
    /// background runtime. The store's writer then serves only that runtime's writes (and the
    /// API's few), so it runs at the same idle priority: a burst of deliveries is acknowledged
    /// at full speed and applied after.
    async fn start_applier(&self) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let (Some(log), Some(background)) = (&self.ingest, &self.background) else {
            return Ok(None);
        };
        if let Some(store) = &self.sqlite {
            store
                .write(|_| {
                    aetherveil_runtime::background::idle_priority();
                    Ok(())
                })
                .await?;
        }
        let applier = Applier::new(log.clone(), self.reacting.clone(), self.platform.metrics.clone());
        Ok(Some(background.handle().spawn(applier.run())))
    }

    /// Stops the functions' background work and closes the store. What the ingest log holds and
    /// is not yet applied stays in it, and is applied at the next start.
    async fn shutdown(&self, applying: Option<tokio::task::JoinHandle<()>>) {
        if let Some(task) = applying {
            task.abort();
        }
        if let Some(log) = &self.ingest {
            log.close();
        }
        self.bus.shutdown().await;
        if let Some(store) = &self.sqlite {
            store.close();
        }
        tracing::info!("stopped");
    }
}

fn retry_policy(config: &Config) -> RetryPolicy {
    RetryPolicy {
        max_attempts: config.bus.max_attempts,
        initial_backoff: Duration::from_millis(config.bus.initial_backoff_ms),
        max_backoff: Duration::from_millis(config.bus.max_backoff_ms),
        retention: config.retention(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The configured secret, or the one generated on first start into the data directory.
fn webhook_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if !config.webhook.secret.is_empty() {
        return Ok(config.webhook.secret.clone().into_bytes());
    }
    let path: PathBuf = config.server.data_dir.join(SECRET_FILE);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let s = existing.trim();
        if !s.is_empty() {
            tracing::info!(path = %path.display(), "using the webhook secret generated earlier");
            return Ok(s.as_bytes().to_vec());
        }
    }
    let secret = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "No webhook secret configured: generated one in {} (set AETHERVEIL_WEBHOOK_SECRET to choose your own).",
        path.display()
    );
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// The mode of repositories no operator has set one for (the healer's and the orchestrator's).
fn default_mode(mode: HealerMode) -> aetherveil_healer::decide::Mode {
    use aetherveil_healer::decide::Mode;
    match mode {
        HealerMode::Observe => Mode::Observe,
        HealerMode::Recommend => Mode::Recommend,
        HealerMode::Act => Mode::Act,
    }
}

/// The healer's settings from the platform's configuration.
pub fn healer_config(c: &aetherveil_config::HealerConfig) -> aetherveil_healer::HealerConfig {
    use aetherveil_healer::decide::Policy;
    aetherveil_healer::HealerConfig {
        default_mode: default_mode(c.mode),
        policy: Policy {
            max_attempts: c.max_attempts,
            value_of_green: c.value_of_green_minutes,
            cache_penalty: c.cache_penalty_minutes,
            masking_streak: c.masking_streak,
        },
        allowance: aetherveil_healer::budget::Allowance {
            reruns: c.budget_reruns_per_day,
            minutes: c.budget_minutes_per_day,
        },
        healthy_after: chrono::Duration::hours(i64::try_from(c.healthy_after_hours).unwrap_or(i64::MAX / 3_600_000)),
        issue_label: c.issue_label.clone(),
    }
}

/// The gate's settings from the platform's configuration.
pub fn gate_config(c: &Config) -> aetherveil_gate::GateConfig {
    aetherveil_gate::GateConfig {
        policy_dir: c.gate_policy_dir(),
        default_policy: c.gate.default_policy.clone(),
        max_report_bytes: usize::try_from(c.gate.max_report_bytes).unwrap_or(usize::MAX),
    }
}

/// The orchestrator's settings from the platform's configuration (`[ado]`, `[llm]`).
pub fn ado_config(c: &Config) -> aetherveil_ado::AdoConfig {
    use aetherveil_ado::llm::{LlmConfig, ResponseFormat};
    let l = &c.llm;
    aetherveil_ado::AdoConfig {
        enabled: c.ado.enabled,
        default_mode: default_mode(c.healer.mode),
        rule: aetherveil_ado::consensus::Rule { quorum: c.ado.quorum, majority: c.ado.majority },
        weight_prior: c.ado.weight_prior,
        min_diagnosis_confidence: c.ado.min_diagnosis_confidence,
        llm: l.enabled.then(|| LlmConfig {
            base_url: l.base_url.clone(),
            model: l.model.clone(),
            api_key: l.api_key.clone(),
            timeout: Duration::from_millis(l.timeout_ms),
            max_tokens: l.max_tokens,
            temperature: l.temperature,
            response_format: match l.response_format {
                aetherveil_config::LlmResponseFormat::JsonSchema => ResponseFormat::JsonSchema,
                aetherveil_config::LlmResponseFormat::JsonObject => ResponseFormat::JsonObject,
            },
            retries: l.retries,
            max_retry_wait: Duration::from_millis(l.max_retry_wait_ms),
            prompt_usd_per_mtok: l.prompt_usd_per_mtok,
            completion_usd_per_mtok: l.completion_usd_per_mtok,
        }),
    }
}
