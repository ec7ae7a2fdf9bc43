//! SIMULATED Traefik (test harness only): plain HTTP that routes by `Host` to the Ingress
//! objects in the store, as Traefik's Kubernetes Ingress provider would. A routed request gets
//! `200` naming the backend; an unknown host gets Traefik's own `404 page not found`.
//! Backends are not proxied: the simulation proves the route exists, not the service behind it.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::Shared;

pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&req, &shared)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn route(req: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h).to_owned();
    let path = req.uri().path();
    let reply = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
    };
    let backend = {
        let state = shared.state();
        let ingresses = state
            .registry
            .types
            .iter()
            .find(|t| t.group == "networking.k8s.io" && t.plural == "ingresses")
            .map(|t| state.list(t, None))
            .unwrap_or_default();
        ingresses
            .iter()
            .filter(|i| served_by_traefik(i))
            .find_map(|i| backend_for(i, &host, path))
    };
    match backend {
        Some(b) => reply(
            200,
            format!("kube-sim simulated Traefik: {host}{path} -> {b}\n"),
        ),
        None => reply(404, "404 page not found\n".into()),
    }
    .unwrap_or_default()
}

/// Traefik is the default IngressClass on the platform: Ingresses naming no class count too.
fn served_by_traefik(ingress: &Value) -> bool {
    ingress["spec"]["ingressClassName"]
        .as_str()
        .is_none_or(|c| c.is_empty() || c == "traefik")
}

fn backend_for(ingress: &Value, host: &str, path: &str) -> Option<String> {
    let ns = ingress["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    ingress["spec"]["rules"]
        .as_array()?
        .iter()
        .filter(|r| r["host"].as_str().is_none_or(|h| h == host))
        .find_map(|r| {
            r["http"]["paths"]
                .as_array()?
                .iter()
                .find(|p| path.starts_with(p["path"].as_str().unwrap_or("/")))
                .map(|p| {
                    let svc = &p["backend"]["service"];
                    format!(
                        "{ns}/{}:{}",
                        svc["name"].as_str().unwrap_or("?"),
                        svc["port"]["number"].as_u64().map_or_else(
                            || svc["port"]["name"].as_str().unwrap_or("?").to_owned(),
                            |n| n.to_string()
                        )
                    )
                })
        })
}
