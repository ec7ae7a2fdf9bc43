//! Routing to the platform UIs: the Backstage Ingress from the bundle (Argo CD's comes with its
//! chart), and the check a user would make: an HTTP request through the published ingress port
//! with each UI's `Host` header.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::bundle::{self, BundleError};
use crate::pipeline::{Deadline, Poll, poll};

/// The Ingresses `ingress/base/kustomization.yaml` lists, each host set to `<name>.<domain>` as
/// the `overlays/local` patch does for `local`.
pub fn ingresses(domain: &str) -> Result<Vec<Value>, BundleError> {
    let domain = domain.trim_start_matches('.');
    let kustomization: Value = bundle::yaml("ingress/base/kustomization.yaml")?;
    let mut out = Vec::new();
    for resource in kustomization["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let path = format!("ingress/base/{resource}");
        let mut ingress: Value = bundle::yaml(&path)?;
        let name = ingress["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let host = ingress
            .pointer_mut("/spec/rules/0/host")
            .ok_or_else(|| BundleError::Shape {
                path: path.clone(),
                reason: "no spec.rules[0].host",
            })?;
        *host = Value::String(format!("{name}.{domain}"));
        // Its certificate is for the same host.
        if let Some(tls_host) = ingress.pointer_mut("/spec/tls/0/hosts/0") {
            *tls_host = Value::String(format!("{name}.{domain}"));
        }
        out.push(ingress);
    }
    Ok(out)
}

/// Why a probe got no HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TCP connection was not made within 5 s.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(SocketAddr),
    /// The TCP connection was refused or failed.
    #[error("nothing answers on {addr} ({source})")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The connection broke, or the answer was not HTTP.
    #[error("no HTTP answer from {addr}: {source}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    /// The host name cannot be an HTTP header value.
    #[error("{0:?} is not a host name")]
    InvalidHost(String),
    /// No answer within 10 s.
    #[error("{host} via {addr} did not answer within 10 s")]
    AnswerTimeout { host: String, addr: SocketAddr },
}

/// A route that did not answer before the step's deadline.
#[derive(Debug, thiserror::Error)]
#[error("http://{host} through {addr} did not answer within {secs} s ({state})")]
pub struct NotRouted {
    pub host: String,
    pub addr: SocketAddr,
    pub secs: u64,
    /// The last answer, or why there was none.
    pub state: String,
}

/// The status of `GET /` on `addr` with `Host: host`.
pub async fn probe(addr: SocketAddr, host: &str) -> Result<u16, ProbeError> {
    let io = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| ProbeError::ConnectTimeout(addr))?
        .map_err(|source| ProbeError::Connect { addr, source })?;
    let http = |source| ProbeError::Http { addr, source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(connection);
    let mut request = http::Request::new(Empty::<Bytes>::new());
    let value =
        http::HeaderValue::from_str(host).map_err(|_| ProbeError::InvalidHost(host.to_owned()))?;
    request.headers_mut().insert(http::header::HOST, value);
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .map_err(|_| ProbeError::AnswerTimeout {
            host: host.to_owned(),
            addr,
        })?;
    driver.abort();
    Ok(response.map_err(http)?.status().as_u16())
}

/// Wait until `host` answers through `addr` with a success or a redirect, at the latest until
/// `deadline`. A 404 means the ingress controller has no route for the host; 502/503 that the
/// service behind it is not up.
pub async fn wait_routed(
    addr: SocketAddr,
    host: &str,
    deadline: Deadline,
) -> Result<u16, NotRouted> {
    let look = || async {
        Ok(match probe(addr, host).await {
            Ok(status) if status < 400 => Poll::Ready(status),
            Ok(404) => Poll::Pending(format!(
                "HTTP 404 from {addr}: the ingress controller has no route for {host}"
            )),
            Ok(status) => Poll::Pending(format!(
                "HTTP {status} from {addr}: the route exists, the service behind {host} is not answering"
            )),
            Err(e) => Poll::Pending(e.to_string()),
        })
    };
    poll(deadline, Duration::from_millis(500), look, |state| {
        NotRouted {
            host: host.to_owned(),
            addr,
            secs: deadline.secs(),
            state,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backstage_ingress_follows_the_domain() {
        let i = ingresses("dev.test").expect("ingresses");
        assert_eq!(i.len(), 1);
        assert_eq!(i[0]["spec"]["rules"][0]["host"], "backstage.dev.test");
        assert_eq!(i[0]["spec"]["ingressClassName"], "traefik");
        assert_eq!(
            ingresses("local").expect("local")[0]["spec"]["rules"][0]["host"],
            "backstage.local",
            "as overlays/local says"
        );
    }

    #[tokio::test]
    async fn probe_sends_the_host_header_and_reads_the_status() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0; 4096];
                let n = s.read(&mut buf).await.expect("read");
                let request = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                let status = if request.contains("host: backstage.local") {
                    "200 OK"
                } else {
                    "404 Not Found"
                };
                s.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await
                    .expect("write");
            }
        });
        assert_eq!(probe(addr, "backstage.local").await.ok(), Some(200));
        let err = wait_routed(addr, "argocd.local", Deadline::after(Duration::ZERO))
            .await
            .expect_err("404");
        assert!(
            err.to_string().contains("no route for argocd.local"),
            "{err}"
        );
        server.await.expect("server");
    }
}
