//! The receiver the Alertmanager's webhooks post to: every notification kept with the time
//! it arrived, the receiver it was meant for (`/hook/<receiver>`) and its alerts.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// One alert of a notification.
#[derive(Clone, Debug)]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Its labels (`alertname`, `instance`, `severity`, …).
    pub labels: BTreeMap<String, String>,
}

impl Alert {
    /// A label, or "".
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// One notification as it arrived.
#[derive(Clone, Debug)]
pub struct Notification {
    /// When it arrived.
    pub at: Instant,
    /// The receiver named in the path.
    pub receiver: String,
    /// Its alerts.
    pub alerts: Vec<Alert>,
}

/// The receiver, listening until dropped.
pub struct Webhook {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Notification>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Webhook {
    /// Listens on a free loopback port.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen: Arc<Mutex<Vec<Notification>>> = Arc::default();
        let store = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let store = Arc::clone(&store);
                            async move {
                                let receiver = request
                                    .uri()
                                    .path()
                                    .strip_prefix("/hook/")
                                    .unwrap_or_default()
                                    .to_owned();
                                let body = request
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let status = match parse(&body) {
                                    Some(alerts) => {
                                        store.lock().unwrap_or_else(PoisonError::into_inner).push(
                                            Notification {
                                                at: Instant::now(),
                                                receiver,
                                                alerts,
                                            },
                                        );
                                        200
                                    }
                                    None => 400,
                                };
                                let mut response = hyper::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() =
                                    http::StatusCode::from_u16(status).unwrap_or_default();
                                Ok::<_, Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, seen, task })
    }

    /// Every notification so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The alerts of an Alertmanager webhook body (version 4), or `None` if it is not one.
fn parse(body: &[u8]) -> Option<Vec<Alert>> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let alerts = doc.get("alerts")?.as_array()?;
    Some(
        alerts
            .iter()
            .map(|a| Alert {
                status: a["status"].as_str().unwrap_or_default().to_owned(),
                labels: super::promql::labels_of(&a["labels"]),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_alertmanager_body() {
        let body = br#"{"version":"4","status":"resolved","receiver":"pager","alerts":[
            {"status":"resolved","labels":{"alertname":"InstanceDown","instance":"10.213.2.2:8000"}}]}"#;
        let alerts = parse(body).expect("a webhook body");
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].status, "resolved");
        assert_eq!(alerts[0].label("instance"), "10.213.2.2:8000");
        assert!(parse(b"not json").is_none());
    }
}
