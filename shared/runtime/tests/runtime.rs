//! The functions runtime end to end: graceful drain, and an event function receiving pushes.

use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_runtime::{Metrics, Registry, server};
use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn raw_request(addr: std::net::SocketAddr, request: String) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(request.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_refuses_new_ones() {
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "finished"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, router, Duration::from_secs(5), async {
        stop_rx.await.ok();
    }));
    let in_flight =
        tokio::spawn(raw_request(addr, "GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).expect("signal");
    let answer = in_flight.await.expect("join").expect("request");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("finished"));
    server.await.expect("join").expect("server");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed after shutdown");
}

struct Collect(Mutex<Vec<Delivery>>);

#[async_trait]
impl Handler for Collect {
    async fn handle(&self, d: &Delivery) -> Result<(), HandlerError> {
        if d.message.data == b"fail" {
            return Err(HandlerError::Retry("asked to fail".into()));
        }
        self.0.lock().expect("lock").push(d.clone());
        Ok(())
    }
}

#[tokio::test]
async fn an_event_function_acknowledges_pushes_and_asks_for_redelivery_on_failure() {
    let collect = Arc::new(Collect(Mutex::new(Vec::new())));
    let function =
        Registry::new().event("monitor", "pipeline-events", collect.clone()).take("monitor").expect("registered");
    let router = function.into_router(Arc::new(Metrics::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(server::serve(listener, router, Duration::from_secs(1), std::future::pending()));

    let post = |body: String| {
        format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let ok = serde_json::json!({"message": {"data": b64(b"hello"), "messageId": "1", "attributes": {"topic": "pipeline-events"}}, "subscription": "projects/p/subscriptions/monitor"});
    let answer = raw_request(addr, post(ok.to_string())).await.expect("request");
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let fail = serde_json::json!({"message": {"data": b64(b"fail"), "messageId": "2"}});
    let answer = raw_request(addr, post(fail.to_string())).await.expect("request");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let answer = raw_request(addr, post("{\"message\": 1".into())).await.expect("request");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let seen = collect.0.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].message.data, b"hello");
    assert_eq!(seen[0].message.topic, "pipeline-events");
}
