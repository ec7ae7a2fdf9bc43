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
/// the `overlays/local` patch does for `local`; those in the namespace of a part left out
/// (`without`) are not.
pub fn ingresses(domain: &str, without: &[super::gitops::Part]) -> Result<Vec<Value>, BundleError> {
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
        let namespace = ingress["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        if without.iter().any(|p| p.namespace() == namespace) {
            continue;
        }
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

/// Backstage with guest sign-in would be published where others reach it.
#[derive(Debug, thiserror::Error)]
#[error(
    "Slipway will not publish Backstage with guest sign-in on an address beyond this machine: anyone who reaches it would act as a signed-in user, with the platform's GitHub token. Keep the ingress on 127.0.0.1, or reach Backstage by `slipway forward` until it has another sign-in"
)]
pub struct GuestExposed;

/// Refuse to route Backstage (an Ingress named `backstage` in `ingresses`) while its sign-in
/// is `guest` and the ingress is not on loopback.
pub fn refuse_exposed_guest(
    ingresses: &[Value],
    guest: bool,
    loopback: bool,
) -> Result<(), GuestExposed> {
    let routes_backstage = ingresses
        .iter()
        .any(|i| i["metadata"]["name"] == "backstage" && i["metadata"]["namespace"] == "backstage");
    if guest && routes_backstage && !loopback {
        return Err(GuestExposed);
    }
    Ok(())
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
    /// The TLS handshake failed: most often a certificate not (yet) from the local CA, such as
    /// Traefik's default one while cert-manager has not issued the host's.
    #[error("TLS with {host} via {addr} failed: {source}")]
    Tls {
        host: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A route that did not answer before the step's deadline.
#[derive(Debug, thiserror::Error)]
#[error("{scheme}://{host} through {addr} did not answer within {secs} s ({state})")]
pub struct NotRouted {
    pub scheme: &'static str,
    pub host: String,
    pub addr: SocketAddr,
    pub secs: u64,
    /// The last answer, or why there was none.
    pub state: String,
}

/// The status of `GET /` on `addr` with `Host: host`.
pub async fn probe(addr: SocketAddr, host: &str) -> Result<u16, ProbeError> {
    get(connect(addr).await?, addr, host).await
}

/// The status of `GET https://host/` on `addr`, the server's certificate checked against `ca`
/// alone (as a browser trusting the local CA does, name constraints included), `host` as SNI.
pub async fn probe_tls(addr: SocketAddr, host: &str, ca: &[u8]) -> Result<u16, ProbeError> {
    let tls = |source| ProbeError::Tls {
        host: host.to_owned(),
        addr,
        source,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.to_vec()))
        .map_err(|e| tls(std::io::Error::other(e)))?;
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls(std::io::Error::other(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| ProbeError::InvalidHost(host.to_owned()))?;
    let io = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, connect(addr).await?)
        .await
        .map_err(tls)?;
    get(io, addr, host).await
}

async fn connect(addr: SocketAddr) -> Result<tokio::net::TcpStream, ProbeError> {
    tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| ProbeError::ConnectTimeout(addr))?
        .map_err(|source| ProbeError::Connect { addr, source })
}

async fn get<S>(io: S, addr: SocketAddr, host: &str) -> Result<u16, ProbeError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
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
/// `deadline`: over HTTP, or over HTTPS trusting only `ca` (DER) when given. A 404 means the
/// ingress controller has no route for the host; 502/503 that the service behind it is not up.
pub async fn wait_routed(
    addr: SocketAddr,
    host: &str,
    ca: Option<&[u8]>,
    deadline: Deadline,
) -> Result<u16, NotRouted> {
    let look = || async {
        let answer = match ca {
            Some(ca) => probe_tls(addr, host, ca).await,
            None => probe(addr, host).await,
        };
        Ok(match answer {
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
            scheme: if ca.is_some() { "https" } else { "http" },
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
    fn guest_sign_in_never_faces_a_reachable_address() {
        let all = ingresses("team.example.com", &[]).expect("ingresses");
        assert!(
            refuse_exposed_guest(&all, true, true).is_ok(),
            "loopback: a laptop's"
        );
        assert!(refuse_exposed_guest(&all, false, false).is_ok(), "no guest");
        let err = refuse_exposed_guest(&all, true, false).expect_err("refused");
        assert!(err.to_string().contains("slipway forward"), "{err}");
        let without_backstage: Vec<Value> = all
            .into_iter()
            .filter(|i| i["metadata"]["name"] != "backstage")
            .collect();
        assert!(refuse_exposed_guest(&without_backstage, true, false).is_ok());
    }

    #[test]
    fn the_ui_ingresses_follow_the_domain_and_the_parts_installed() {
        let hosts = |domain: &str, without: &[super::super::gitops::Part]| -> Vec<String> {
            ingresses(domain, without)
                .expect("ingresses")
                .iter()
                .map(|i| {
                    assert_eq!(i["spec"]["ingressClassName"], "traefik");
                    // Its certificate is for the same host.
                    assert_eq!(
                        i["spec"]["tls"][0]["hosts"][0],
                        i["spec"]["rules"][0]["host"]
                    );
                    i["spec"]["rules"][0]["host"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        };
        assert_eq!(
            hosts("dev.test", &[]),
            ["backstage.dev.test", "grafana.dev.test"]
        );
        assert_eq!(
            hosts("local", &[]),
            ["backstage.local", "grafana.local"],
            "as overlays/local says"
        );
        assert_eq!(
            hosts("local", &[super::super::gitops::Part::Observability]),
            ["backstage.local"],
            "Grafana's Ingress goes with the observability part"
        );
    }

    /// An HTTPS server on 127.0.0.1 answering 200 with a leaf for `names` signed by `ca`.
    async fn tls_server(ca: &crate::trust::LocalCa, names: &[&str]) -> SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let key = rcgen::KeyPair::from_pem(ca.key_pem()).expect("CA key");
        let issuer = rcgen::Issuer::from_ca_cert_pem(ca.cert_pem(), key).expect("issuer");
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("config");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = vec![0; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_is_checked_as_a_browser_trusting_only_the_local_ca_would() {
        let ca = crate::trust::LocalCa::generate("dev@laptop", "local").expect("ca");
        let der = ca.cert().der().to_vec();
        let good = tls_server(&ca, &["argocd.local"]).await;
        assert_eq!(probe_tls(good, "argocd.local", &der).await.ok(), Some(200));
        // Another name than the certificate's: refused.
        assert!(matches!(
            probe_tls(good, "backstage.local", &der).await,
            Err(ProbeError::Tls { .. })
        ));
        // Signed by another CA (Traefik's default certificate is the same case): refused.
        let other = crate::trust::LocalCa::generate("dev@laptop", "local").expect("ca");
        let foreign = tls_server(&other, &["argocd.local"]).await;
        assert!(matches!(
            probe_tls(foreign, "argocd.local", &der).await,
            Err(ProbeError::Tls { .. })
        ));
        // The local CA's own signature on a real site's name: refused by its name constraints.
        let real = tls_server(&ca, &["github.com"]).await;
        let refused = probe_tls(real, "github.com", &der).await;
        assert!(
            matches!(refused, Err(ProbeError::Tls { .. })),
            "{refused:?}"
        );
        let err = wait_routed(
            good,
            "backstage.local",
            Some(&der),
            Deadline::after(Duration::ZERO),
        )
        .await
        .expect_err("wrong name");
        assert!(
            err.to_string().starts_with("https://backstage.local"),
            "{err}"
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
        let err = wait_routed(addr, "argocd.local", None, Deadline::after(Duration::ZERO))
            .await
            .expect_err("404");
        assert!(
            err.to_string().contains("no route for argocd.local"),
            "{err}"
        );
        server.await.expect("server");
    }
}
