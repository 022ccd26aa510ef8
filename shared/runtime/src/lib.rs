//! A small Functions Framework for Rust.
//!
//! Cloud Functions Gen2 has no Rust runtime, so each Aetherveil function ships as a Cloud Run
//! container that behaves like a function: it serves on `$PORT`, `FUNCTION_TARGET` picks the
//! function, HTTP functions get their routes, and event functions receive Pub/Sub push envelopes
//! or CloudEvents (binary and structured mode) on `POST /` ([`cloudevent`]). SIGTERM drains the
//! requests in flight before exiting ([`server`]). In the cloud, push requests can be required to
//! carry Pub/Sub's OIDC token ([`oidc`]).
//!
//! The same [`Registry`] lets `aetherveil serve` mount every function in one process: HTTP
//! functions are merged into one router and event functions subscribe to the local bus.
//! An event function is just an [`aetherveil_bus::Handler`], so the code is identical whichever
//! transport delivers the message.

pub mod api;
pub mod background;
pub mod cloudevent;
pub mod metrics;
pub mod oidc;
pub mod server;

use aetherveil_bus::{Bus, Handler};
use aetherveil_config::Config;
use aetherveil_store::Store;
use axum::Router;
use std::sync::Arc;

pub use metrics::Metrics;

/// What every function may depend on. Backends are chosen by configuration; functions only see
/// the traits.
#[derive(Clone)]
pub struct Platform {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub metrics: Arc<Metrics>,
}

pub enum FunctionKind {
    /// Serves its own routes (for example `POST /webhook/github`).
    Http(Router),
    /// Receives every message published on `topic`.
    Event { topic: &'static str, handler: Arc<dyn Handler> },
}

pub struct Function {
    /// The `FUNCTION_TARGET` name; also the durable subscription name for event functions.
    pub name: &'static str,
    pub kind: FunctionKind,
}

/// The functions one binary can host.
#[derive(Default)]
pub struct Registry {
    functions: Vec<Function>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn http(mut self, name: &'static str, router: Router) -> Self {
        self.functions.push(Function { name, kind: FunctionKind::Http(router) });
        self
    }

    pub fn event(mut self, name: &'static str, topic: &'static str, handler: Arc<dyn Handler>) -> Self {
        self.functions.push(Function { name, kind: FunctionKind::Event { topic, handler } });
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.functions.iter().map(|f| f.name).collect()
    }

    /// Takes one function out by its `FUNCTION_TARGET` name.
    pub fn take(self, name: &str) -> Option<Function> {
        self.functions.into_iter().find(|f| f.name == name)
    }

    /// Mounts every function in one process: HTTP routers are merged into one, event functions
    /// subscribe to `bus` under their own name.
    pub fn mount_all(self, bus: &dyn Bus) -> Result<Router, aetherveil_bus::BusError> {
        let mut router = Router::new();
        for f in self.functions {
            match f.kind {
                FunctionKind::Http(r) => router = router.merge(r),
                FunctionKind::Event { topic, handler } => bus.subscribe(f.name, topic, handler)?,
            }
        }
        Ok(router)
    }
}

impl Function {
    /// The router a single-function container serves: an HTTP function's own routes, or an
    /// event function's push endpoint on every path.
    pub fn into_router(self, metrics: Arc<Metrics>) -> Router {
        match self.kind {
            FunctionKind::Http(r) => r,
            FunctionKind::Event { handler, .. } => cloudevent::push_router(handler, metrics),
        }
    }
}
