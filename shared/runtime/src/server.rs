//! Serving with a graceful shutdown: on SIGTERM (Cloud Run's stop signal) or SIGINT the listener
//! closes, requests in flight run to completion, and after the grace period the server gives up
//! waiting.

use crate::{Function, Metrics};
use axum::Router;
use axum::routing::get;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received; draining"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; draining"),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests for
/// at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (triggered_tx, triggered_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown.await;
        if triggered_tx.send(()).is_err() {
            tracing::debug!("server already stopped");
        }
    });
    let mut server = std::pin::pin!(server.into_future());
    let deadline = async move {
        if triggered_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = &mut server => result,
        _ = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over; abandoning requests still in flight");
            Ok(())
        }
    }
}

/// Runs one function as a Cloud Run container would: `addr` is `0.0.0.0:$PORT`; adds
/// `GET /healthz` and `GET /metrics`.
pub async fn serve_function(
    function: Function,
    metrics: Arc<Metrics>,
    addr: SocketAddr,
    grace: Duration,
) -> std::io::Result<()> {
    let name = function.name;
    let metrics_route = metrics.clone();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let m = metrics_route.clone();
                async move { m.render() }
            }),
        )
        .merge(function.into_router(metrics));
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(function = name, addr = %listener.local_addr()?, "function serving");
    serve(listener, router, grace, shutdown_signal()).await
}
