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
use crate::k8s::K8sError;

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
        let host =
            ingress
                .pointer_mut("/spec/rules/0/host")
                .ok_or_else(|| BundleError::Invalid {
                    path: path.clone(),
                    reason: "no spec.rules[0].host".into(),
                })?;
        *host = Value::String(format!("{name}.{domain}"));
        out.push(ingress);
    }
    Ok(out)
}

/// The status of `GET /` on `addr` with `Host: host`.
pub async fn probe(addr: SocketAddr, host: &str) -> Result<u16, String> {
    let io = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))?
        .map_err(|e| format!("nothing answers on {addr} ({e})"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let request = http::Request::get("/")
        .header(http::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .map_err(|_| format!("{host} via {addr} did not answer within 10 s"))?;
    driver.abort();
    Ok(response.map_err(|e| e.to_string())?.status().as_u16())
}

/// Wait until `host` answers through `addr` with a success or a redirect. A 404 means the
/// ingress controller has no route for the host; 502/503 that the service behind it is not up.
pub async fn wait_routed(addr: SocketAddr, host: &str, timeout: Duration) -> Result<u16, K8sError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match probe(addr, host).await {
            Ok(status) if status < 400 => return Ok(status),
            Ok(404) => {
                format!("HTTP 404 from {addr}: the ingress controller has no route for {host}")
            }
            Ok(status) => format!(
                "HTTP {status} from {addr}: the route exists, the service behind {host} is not answering"
            ),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(K8sError::NotReady {
                what: format!("http://{host} through {addr}"),
                secs: timeout.as_secs(),
                state: last,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
        assert_eq!(probe(addr, "backstage.local").await, Ok(200));
        let err = wait_routed(addr, "argocd.local", Duration::ZERO)
            .await
            .expect_err("404");
        assert!(
            err.to_string().contains("no route for argocd.local"),
            "{err}"
        );
        server.await.expect("server");
    }
}
