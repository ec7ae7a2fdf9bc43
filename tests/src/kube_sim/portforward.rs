//! Port-forward over WebSocket with the `v4.channel.k8s.io` framing kube-rs speaks: one binary
//! message per chunk, first byte the channel (2i data, 2i+1 error for the i-th port); the
//! server first sends each channel's port number (u16, little endian).

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::Shared;
use super::api::{Body, full};
use super::store::ApiError;

const PROTOCOL: &str = "v4.channel.k8s.io";

fn error(e: &ApiError) -> Response<Body> {
    Response::builder()
        .status(e.code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(serde_json::to_vec(&e.status()).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(full("")))
}

pub async fn handle(
    mut req: Request<Incoming>,
    shared: Arc<Shared>,
    namespace: String,
    pod: String,
) -> Response<Body> {
    let ports: Vec<u16> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("ports="))
        .flat_map(|v| {
            v.split("%2C")
                .flat_map(|p| p.split(','))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter_map(|p| p.parse().ok())
        .collect();
    if ports.is_empty() {
        return error(&ApiError::new(
            400,
            "BadRequest",
            "at least one port must be specified",
        ));
    }
    let targets = match resolve_targets(&shared, &namespace, &pod, &ports) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let offered = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !offered.split(',').any(|p| p.trim() == PROTOCOL) {
        return error(&ApiError::new(
            400,
            "BadRequest",
            format!(
                "kube-sim speaks only the {PROTOCOL} WebSocket protocol for port-forward (offered: {offered:?})"
            ),
        ));
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return error(&ApiError::new(
            400,
            "BadRequest",
            "port-forward needs a WebSocket upgrade",
        ));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut req);
    let mut dropped = shared.drop_generation.subscribe();
    let mut events = shared.events.subscribe();
    // The kubelet's stream ends with its pod: a deleted pod ends the session.
    let pod_gone = async move {
        loop {
            match events.recv().await {
                Ok(e)
                    if e.kind == "DELETED"
                        && e.plural == "pods"
                        && e.namespace == namespace
                        && e.object["metadata"]["name"] == pod.as_str() =>
                {
                    return;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                _ => {}
            }
        }
    };
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        tokio::select! {
            () = session(ws, ports, targets) => {}
            _ = dropped.changed() => {}
            () = pod_gone => {}
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .header(header::SEC_WEBSOCKET_PROTOCOL, PROTOCOL)
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full("")))
}

/// Where each requested port of the pod goes: an explicit target, else the pod's annotation.
fn resolve_targets(
    shared: &Shared,
    namespace: &str,
    pod: &str,
    ports: &[u16],
) -> Result<Vec<Option<SocketAddr>>, ApiError> {
    let state = shared.state();
    let pods = state.resource("", "v1", "pods")?;
    let obj = state.get(&pods, namespace, pod)?;
    if obj["status"]["phase"] != "Running" {
        return Err(ApiError::new(
            400,
            "BadRequest",
            format!("pod {pod} is not running"),
        ));
    }
    let explicit = shared
        .forward_targets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(ports
        .iter()
        .map(|port| {
            explicit
                .get(&(namespace.to_owned(), pod.to_owned(), *port))
                .copied()
                .or_else(|| {
                    obj["metadata"]["annotations"][format!("kube-sim.slipway.dev/port-{port}")]
                        .as_str()
                        .and_then(|a| a.parse().ok())
                })
        })
        .collect())
}

async fn session<S>(ws: WebSocketStream<S>, ports: Vec<u16>, targets: Vec<Option<SocketAddr>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Message>(64);
    let mut writers = Vec::new();
    for (i, (port, target)) in ports.iter().zip(&targets).enumerate() {
        let data = (2 * i) as u8;
        let [lo, hi] = port.to_le_bytes();
        for ch in [data, data + 1] {
            if sink.send(Message::binary(vec![ch, lo, hi])).await.is_err() {
                return;
            }
        }
        let stream = match target {
            Some(addr) => tokio::net::TcpStream::connect(addr)
                .await
                .ok()
                .inspect(|s| {
                    let _ = s.set_nodelay(true);
                }),
            None => None,
        };
        let Some(stream) = stream else {
            let msg = format!(
                "error forwarding port {port} to pod: no simulated target for this port (kube-sim)"
            );
            let mut frame = vec![data + 1];
            frame.extend_from_slice(msg.as_bytes());
            let _ = sink.send(Message::binary(frame)).await;
            writers.push(None);
            continue;
        };
        let (mut read, write) = stream.into_split();
        writers.push(Some(write));
        let out = out_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match read.read(&mut buf[1..]).await {
                    Ok(0) | Err(_) => {
                        let _ = out.send(Message::Close(None)).await;
                        return;
                    }
                    Ok(n) => {
                        buf[0] = data;
                        if out.send(Message::binary(buf[..=n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    drop(out_tx);
    let forward_out = async {
        while let Some(msg) = out_rx.recv().await {
            let close = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || close {
                break;
            }
        }
        let _ = sink.close().await;
    };
    let forward_in = async {
        while let Some(Ok(msg)) = source.next().await {
            match msg {
                Message::Binary(bytes) if bytes.len() > 1 => {
                    let ch = bytes[0] as usize;
                    if ch.is_multiple_of(2)
                        && let Some(Some(w)) = writers.get_mut(ch / 2)
                        && w.write_all(&bytes[1..]).await.is_err()
                    {
                        break;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        for w in writers.iter_mut().flatten() {
            let _ = w.shutdown().await;
        }
    };
    tokio::select! {
        () = forward_out => {}
        () = forward_in => {}
    }
}
