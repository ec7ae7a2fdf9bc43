//! SIMULATED GitHub and Backstage for tests (never shipped): stateful, following GitHub's
//! documented REST shapes, status codes and headers (401, 403/429 with rate-limit headers, 422
//! name exists, 409 empty repository) and Backstage's catalog API (409 existing location). Tests
//! assert on the resulting state: repositories, their files, topics, catalog entities.

mod backstage;
mod github;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) fn reply(status: u16, body: &Value) -> Reply {
    let text = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap_or_default()
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_default()
}

/// Serve `handle` on a random local port until the returned task is dropped.
pub(crate) async fn serve<F>(handle: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(Method, String, HashMap<String, String>, Value) -> (Reply, Duration)
        + Send
        + Sync
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = Arc::new(handle);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let handle = handle.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let headers = parts
                            .headers
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                            })
                            .collect();
                        let path = parts
                            .uri
                            .path_and_query()
                            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
                        let (response, delay) = handle(parts.method, path, headers, json);
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, task)
}

/// A fault: the `times` next requests whose method and path match get `status`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path_contains: String,
    pub status: u16,
    pub times: u32,
}

pub use backstage::{BackstageState, FakeBackstage};
pub use github::{FakeGitHub, FakeRepo, GitHubState};
