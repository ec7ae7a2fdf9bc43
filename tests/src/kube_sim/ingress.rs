//! SIMULATED Traefik (test harness only): plain HTTP that routes by `Host` to the Ingress
//! objects in the store, as Traefik's Kubernetes Ingress provider would. A routed request gets
//! `200` naming the backend (`503 no available server` while its Service has no ready endpoint);
//! an unknown host gets Traefik's own `404 page not found`.
//! A backend Service the test stands a server in for ([`super::KubeSim::set_backend`]) is
//! proxied to; others are not: there the simulation proves the route exists, not the service.
//! Its Ingress provider also writes the Ingresses' status as Traefik does ([`publish_status`]).
//!
//! Two entrypoints, as the chart makes them: `web` (plain HTTP, [`serve`]) and `websecure`
//! (TLS, [`serve_tls`]: the chart's `ports.websecure.http.tls.enabled` is on by default, so every
//! router there terminates TLS). Facts from traefik/traefik v3.7 (`pkg/provider/kubernetes/
//! ingress/kubernetes.go`, `pkg/server/aggregator.go`, `pkg/config/runtime/runtime_http.go`,
//! `pkg/tls/tlsmanager.go`): a router with no `router.entrypoints` annotation is on every
//! entrypoint; `router.tls: "true"` makes it TLS-only (plain HTTP then misses it); `spec.tls` only
//! loads its Secret's `tls.crt`/`tls.key` (from the Ingress's namespace) into the one certificate
//! store, where the client's SNI picks a certificate by its names (not by `spec.tls[].hosts`);
//! no match gets Traefik's generated default certificate ("TRAEFIK DEFAULT CERT").

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
        tokio::spawn(serve_connection(tcp, shared.clone(), Entrypoint::Web));
    }
}

/// The `websecure` entrypoint: TLS with the certificate the SNI picks, then the same routing.
pub async fn serve_tls(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let Ok(resolver) = Certificates::new(shared.clone()) else {
        return;
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(config) = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_no_client_auth()
                .with_cert_resolver(Arc::new(resolver))
        })
    else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                serve_connection(tls, shared, Entrypoint::WebSecure).await;
            }
        });
    }
}

async fn serve_connection<S>(io: S, shared: Arc<Shared>, entrypoint: Entrypoint)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        async move {
            let answer = route(&req, &shared, entrypoint);
            Ok::<_, Infallible>(match answer {
                Routed::Answer(response) => response,
                Routed::Proxy(target) => proxy(req, target).await,
            })
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entrypoint {
    Web,
    WebSecure,
}

impl Entrypoint {
    fn name(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::WebSecure => "websecure",
        }
    }
}

/// Whether the Ingress's routers are on this entrypoint (see the module's facts).
fn on_entrypoint(ingress: &Value, entrypoint: Entrypoint) -> bool {
    let annotations = &ingress["metadata"]["annotations"];
    let listed = annotations["traefik.ingress.kubernetes.io/router.entrypoints"]
        .as_str()
        .is_none_or(|list| list.split(',').any(|e| e.trim() == entrypoint.name()));
    let tls_only = annotations["traefik.ingress.kubernetes.io/router.tls"] == "true";
    listed && !(tls_only && entrypoint == Entrypoint::Web)
}

/// Traefik's one certificate store: every served Ingress's `spec.tls` Secrets, read when a
/// client says hello, and the generated default.
struct Certificates {
    shared: Arc<Shared>,
    default: Arc<rustls::sign::CertifiedKey>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificates")
    }
}

impl Certificates {
    fn new(shared: Arc<Shared>) -> Result<Self, rcgen::Error> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(vec![format!(
            "{:016x}.traefik.default",
            std::process::id()
        )])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "TRAEFIK DEFAULT CERT");
        let cert = params.self_signed(&key)?;
        let default = certified(&[cert.der().clone()], &key.serialize_der())
            .ok_or(rcgen::Error::CouldNotParseKeyPair)?;
        Ok(Self {
            shared,
            default: Arc::new(default),
        })
    }

    fn for_name(&self, sni: &str) -> Option<rustls::sign::CertifiedKey> {
        use rustls::pki_types::pem::PemObject as _;
        let ingresses = super::controllers::types(&self.shared, "networking.k8s.io", "ingresses")?;
        let secrets = super::controllers::types(&self.shared, "", "secrets")?;
        let state = self.shared.state();
        for ingress in state
            .list(&ingresses, None)
            .iter()
            .filter(|i| served_by_traefik(i))
        {
            let ns = ingress["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default();
            for tls in ingress["spec"]["tls"].as_array().into_iter().flatten() {
                let Some(secret) = tls["secretName"]
                    .as_str()
                    .and_then(|n| state.get(&secrets, ns, n).ok())
                else {
                    continue;
                };
                let pem = |k: &str| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(secret["data"][k].as_str().unwrap_or_default())
                        .ok()
                };
                let (Some(crt), Some(key)) = (pem("tls.crt"), pem("tls.key")) else {
                    continue;
                };
                let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&crt)
                    .filter_map(Result::ok)
                    .collect();
                let Some(leaf) = chain.first() else { continue };
                if !names_of(leaf).iter().any(|n| name_matches(n, sni)) {
                    continue;
                }
                let Ok(key) = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key) else {
                    continue;
                };
                return certified(&chain, key.secret_der());
            }
        }
        None
    }
}

impl rustls::server::ResolvesServerCert for Certificates {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            hello
                .server_name()
                .and_then(|sni| self.for_name(sni))
                .map_or_else(|| self.default.clone(), Arc::new),
        )
    }
}

fn certified(
    chain: &[rustls::pki_types::CertificateDer<'static>],
    key: &[u8],
) -> Option<rustls::sign::CertifiedKey> {
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.to_vec()).ok()?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).ok()?;
    Some(rustls::sign::CertifiedKey::new(chain.to_vec(), signer))
}

/// The DNS names a certificate is for (its SANs).
fn names_of(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    cert.subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(suffix)),
        None => pattern.eq_ignore_ascii_case(name),
    }
}

enum Routed {
    Answer(Response<Full<Bytes>>),
    Proxy(std::net::SocketAddr),
}

/// Forward the request as Traefik's reverse proxy does (method, path, headers and body, the
/// `Host` kept); a backend that does not answer is Traefik's `502 Bad Gateway`.
async fn proxy(req: Request<Incoming>, target: std::net::SocketAddr) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt as _;
    let bad_gateway = || {
        Response::builder()
            .status(502)
            .body(Full::new(Bytes::from_static(b"Bad Gateway")))
            .unwrap_or_default()
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return bad_gateway();
    };
    let Ok(tcp) = tokio::net::TcpStream::connect(target).await else {
        return bad_gateway();
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tcp)).await
    else {
        return bad_gateway();
    };
    tokio::spawn(connection);
    let Ok(response) = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
    else {
        return bad_gateway();
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(b) => Response::from_parts(parts, Full::new(b.to_bytes())),
        Err(_) => bad_gateway(),
    }
}

fn route(req: &Request<Incoming>, shared: &Shared, entrypoint: Entrypoint) -> Routed {
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
            .filter(|i| served_by_traefik(i) && on_entrypoint(i, entrypoint))
            .find_map(|i| backend_for(i, &host, path))
    };
    // With no ready endpoint behind the Service, Traefik (allowEmptyServices, the chart's
    // default) keeps the route and answers 503 "no available server"
    // (`pkg/server/service/loadbalancer`: errNoAvailableServer).
    let empty = backend.as_ref().is_some_and(|b| {
        let (ns, rest) = b.split_once('/').unwrap_or_default();
        let service = rest.split(':').next().unwrap_or_default();
        let state = shared.state();
        let endpoints = state
            .registry
            .types
            .iter()
            .find(|t| t.group.is_empty() && t.plural == "endpoints")
            .and_then(|t| state.get(t, ns, service).ok());
        // A Service kube-sim keeps no Endpoints for (no selector) is not modelled: routed.
        endpoints.is_some_and(|e| {
            !e["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["addresses"].as_array().is_some_and(|a| !a.is_empty()))
        })
    });
    let proxied = backend.as_ref().and_then(|b| {
        let (ns, rest) = b.split_once('/')?;
        let service = rest.split(':').next()?;
        shared
            .backends
            .lock()
            .ok()?
            .get(&(ns.to_owned(), service.to_owned()))
            .copied()
    });
    if let Some(target) = proxied {
        return Routed::Proxy(target);
    }
    Routed::Answer(
        match backend {
            Some(_) if empty => reply(503, "no available server\n".into()),
            Some(b) => reply(
                200,
                format!("kube-sim simulated Traefik: {host}{path} -> {b}\n"),
            ),
            None => reply(404, "404 page not found\n".into()),
        }
        .unwrap_or_default(),
    )
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

/// Where Traefik's Kubernetes Ingress provider says its Ingresses are reachable, from the
/// `traefik` Application's chart values as chart 41.3.0 turns them into flags
/// (`templates/_podtemplate.tpl`: `providers.kubernetesIngress.publishedService.enabled`, default
/// true with `service.enabled`, becomes `--providers.kubernetesingress.ingressendpoint.
/// publishedservice=<namespace>/<fullname>`; `ingressEndpoint.ip` / `.hostname` become theirs),
/// resolved as Traefik does (`pkg/provider/kubernetes/ingress/kubernetes.go`
/// updateIngressStatus): a published Service wins over ip/hostname; a `LoadBalancer` Service
/// lends its own status, a `ClusterIP` one its `externalIPs`, a missing one nothing. `None`:
/// no Traefik Application, or nothing to publish.
fn ingress_endpoint(shared: &Shared, git: Option<&dyn super::git::GitSource>) -> Option<Value> {
    let apps = super::controllers::types(shared, "argoproj.io", "applications")?;
    let app = shared
        .state()
        .list(&apps, None)
        .into_iter()
        .find(|a| a["metadata"]["name"] == "traefik")?;
    let values = super::argocd::chart_values(git, &app, "traefik")?;
    let provider = &values["providers"]["kubernetesIngress"];
    let published = &provider["publishedService"];
    let release_ns = app["spec"]["destination"]["namespace"]
        .as_str()
        .unwrap_or("default");
    if published["enabled"].as_bool().unwrap_or(true)
        && (values["service"]["enabled"].as_bool().unwrap_or(true)
            || published["pathOverride"]
                .as_str()
                .is_some_and(|p| !p.is_empty()))
    {
        let path = published["pathOverride"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map_or_else(|| format!("{release_ns}/traefik"), str::to_owned);
        let (ns, name) = path.split_once('/')?;
        let services = super::controllers::types(shared, "", "services")?;
        let service = shared.state().get(&services, ns, name).ok()?;
        let entries: Vec<Value> = match service["spec"]["type"].as_str().unwrap_or("ClusterIP") {
            "LoadBalancer" => service["status"]["loadBalancer"]["ingress"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            "ClusterIP" => service["spec"]["externalIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|ip| serde_json::json!({"ip": ip}))
                .collect(),
            _ => Vec::new(),
        };
        return (!entries.is_empty()).then(|| Value::Array(entries));
    }
    let endpoint = &provider["ingressEndpoint"];
    let mut entry = serde_json::Map::new();
    for key in ["ip", "hostname"] {
        if let Some(v) = endpoint[key].as_str().filter(|v| !v.is_empty()) {
            entry.insert(key.to_owned(), Value::from(v));
        }
    }
    (!entry.is_empty()).then(|| serde_json::json!([entry]))
}

/// Traefik's status updates: every Ingress it serves gets the endpoint in
/// `status.loadBalancer.ingress` (Argo CD calls an Ingress Healthy only then).
pub(super) fn publish_status(shared: &Shared, git: Option<&dyn super::git::GitSource>) {
    let Some(endpoint) = ingress_endpoint(shared, git) else {
        return;
    };
    let Some(t) = super::controllers::types(shared, "networking.k8s.io", "ingresses") else {
        return;
    };
    let ingresses = shared.state().list(&t, None);
    for ingress in ingresses.iter().filter(|i| served_by_traefik(i)) {
        let mut status = ingress["status"].clone();
        if !status.is_object() {
            status = serde_json::json!({});
        }
        status["loadBalancer"] = serde_json::json!({"ingress": endpoint});
        super::controllers::set_status(shared, &t, ingress, status);
    }
}
