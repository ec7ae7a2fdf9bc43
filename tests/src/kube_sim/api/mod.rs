//! HTTP handling of the simulated API server: auth, faults, CRUD, patch; discovery and watch
//! in their own files.

mod discovery;
mod watch;

use discovery::discovery;
use watch::watch;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::Shared;
use super::admission::{self, Op};
use super::registry::ResourceType;
use super::store::{self, ApiError, State, fields_match, labels_match};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn json_response(code: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(serde_json::to_vec(value).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

/// Objects a fresh cluster has.
pub fn seed(shared: &Shared) {
    let mut state = shared.state();
    let ns = state.resource("", "v1", "namespaces").ok();
    if let Some(ns) = ns {
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            state.commit(&ns, "", name, Some(json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})), false);
        }
    }
    if let Ok(svc) = state.resource("", "v1", "services") {
        state.commit(&svc, "default", "kubernetes", Some(json!({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}})), false);
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        // Small frames (watch events, port-forward chunks) must not wait for delayed ACKs.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(req, shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Parsed query parameters.
#[derive(Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(
            q.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let latency = *shared
        .latency
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let authorized = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", shared.token));
    if !authorized {
        return error_response(&ApiError::new(401, "Unauthorized", "Unauthorized"));
    }
    if req.uri().path().starts_with("/sim/") {
        return control(req, &shared).await;
    }
    if let Some(code) = take_http_fault(&shared, req.method(), req.uri().path()) {
        return error_response(&ApiError::new(
            code,
            "InternalError",
            format!("injected fault (kube-sim): HTTP {code}"),
        ));
    }
    if std::env::var_os("KUBE_SIM_LOG").is_some() {
        #[allow(clippy::print_stderr, reason = "opt-in request log of a test tool")]
        {
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            eprintln!(
                "kube-sim: {} {} content-type={ct} accept={accept}",
                req.method(),
                req.uri()
            );
        }
    }
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = Query::parse(req.uri().query());
    match discovery(&shared, &path) {
        Some(Ok(v)) => return json_response(200, &v),
        Some(Err(e)) => return error_response(&e),
        None => {}
    }
    if let Some(reply) = service_proxy(&shared, &path) {
        return reply;
    }
    let Some(target) = Target::parse(&shared, &path) else {
        return error_response(&ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    let identity = super::rbac::impersonated(req.headers());
    let method = req.method().clone();
    if target.rt.group == "authorization.k8s.io" {
        let protobuf = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/vnd.kubernetes.protobuf"));
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error_response(&ApiError::new(400, "BadRequest", "unreadable body")),
        };
        let body = if protobuf {
            match super::protobuf::decode(&body) {
                Ok(v) => Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
                Err(e) => return error_response(&ApiError::new(415, "UnsupportedMediaType", e)),
            }
        } else {
            body
        };
        return match super::rbac::review(&shared.state(), &target.rt, identity.as_ref(), &body) {
            Ok(v) => json_response(201, &v),
            Err(e) => error_response(&e),
        };
    }
    if let Some(who) = &identity {
        let attributes = super::rbac::Attributes::of(&method, &target, query.flag("watch"));
        let (allowed, _) = super::rbac::authorize(&shared.state(), who, &attributes);
        if !allowed {
            return error_response(&ApiError::new(
                403,
                "Forbidden",
                super::rbac::forbidden_message(who, &attributes),
            ));
        }
    }
    if target.subresource.as_deref() == Some("portforward") {
        return super::portforward::handle(
            req,
            shared,
            target.namespace,
            target.name.unwrap_or_default(),
        )
        .await;
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error_response(&ApiError::new(400, "BadRequest", "unreadable body")),
    };
    if method == Method::GET && target.name.is_none() && query.flag("watch") {
        return watch(shared, target, query);
    }
    let before = shared.state().rv;
    // DELETE bodies (DeleteOptions) change nothing here: deletion is immediate.
    let body = if method == Method::DELETE {
        Bytes::new()
    } else if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        match super::protobuf::decode(&body) {
            Ok(v) => Bytes::from(serde_json::to_vec(&v).unwrap_or_default()),
            Err(e) => return error_response(&ApiError::new(415, "UnsupportedMediaType", e)),
        }
    } else {
        body
    };
    let result = crud(&shared, &method, &target, &query, &content_type, &body);
    shared.publish(before);
    match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    }
}

/// `…/services/[scheme:]name[:port]/proxy/…`: the API server's service proxy. Only the simulated
/// Sealed Secrets controller answers, with its newest active certificate at `/v1/cert.pem`.
fn service_proxy(shared: &Shared, path: &str) -> Option<Response<Body>> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once("/services/")?;
    let (service, target) = rest.split_once("/proxy")?;
    let parts: Vec<&str> = service.split(':').collect();
    let name = match parts.as_slice() {
        [name] | [name, _] => *name,
        [_, name, _] => *name,
        _ => {
            return Some(error_response(&ApiError::new(
                400,
                "BadRequest",
                format!("invalid service {service:?}"),
            )));
        }
    };
    if namespace == "kube-system" && name == "sealed-secrets-controller" && target == "/v1/cert.pem"
    {
        let newest = super::controllers::active_sealing_keys(shared).last();
        let cert = newest.and_then(|k| {
            k["data"]["tls.crt"].as_str().and_then(|c| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(c).ok()
            })
        });
        return Some(match cert {
            Some(pem) => Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/x-pem-file")
                .body(full(pem))
                .unwrap_or_else(|_| Response::new(full(""))),
            None => error_response(&ApiError::new(
                503,
                "ServiceUnavailable",
                format!("no endpoints available for service \"{name}\""),
            )),
        });
    }
    Some(error_response(&ApiError::new(
        503,
        "ServiceUnavailable",
        format!(
            "no endpoints available for service \"{name}\" (kube-sim proxies only Sealed Secrets' /v1/cert.pem)"
        ),
    )))
}

/// The simulation's own control path, for tests driving a kube-sim they cannot reach in
/// process (inside a node container): `GET /sim/writes` → `{"clientWrites": N}`;
/// `POST /sim/faults` with `{"controllers": Faults, "http": [HttpFault]}` replaces all faults.
/// Both work with `kubectl get --raw` / `kubectl create --raw`.
async fn control(req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Control {
        #[serde(default)]
        controllers: super::Faults,
        #[serde(default)]
        http: Vec<super::HttpFault>,
    }
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/sim/writes") => {
            json_response(200, &json!({"clientWrites": shared.state().client_writes}))
        }
        (Method::POST, "/sim/faults") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<Control>(&body) {
                Ok(c) => {
                    *shared
                        .faults
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = c.controllers;
                    *shared
                        .http_faults
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = c.http;
                    shared.changed.notify_one();
                    json_response(201, &json!({"kind": "Status", "status": "Success"}))
                }
                Err(e) => error_response(&ApiError::new(400, "BadRequest", format!("faults: {e}"))),
            }
        }
        _ => error_response(&ApiError::new(
            404,
            "NotFound",
            "kube-sim control paths: GET /sim/writes, POST /sim/faults",
        )),
    }
}

fn take_http_fault(shared: &Shared, method: &Method, path: &str) -> Option<u16> {
    let mut faults = shared
        .http_faults
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let i = faults.iter().position(|f| {
        path.contains(&f.path_contains)
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
    })?;
    let code = faults[i].status;
    faults[i].times = faults[i].times.saturating_sub(1);
    if faults[i].times == 0 {
        faults.remove(i);
    }
    Some(code)
}

/// What a resource path names.
pub struct Target {
    pub rt: ResourceType,
    pub namespace: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The request named no namespace for a namespaced resource: list across all.
    pub all_namespaces: bool,
}

impl Target {
    fn parse(shared: &Shared, path: &str) -> Option<Result<Self, ApiError>> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return None,
        };
        let state = shared.state();
        let resolve = |plural: &str| state.resource(group, version, plural);
        let namespaced_plural = |p: &str| {
            state
                .registry
                .by_plural(group, version, p)
                .is_some_and(|t| t.namespaced)
        };
        let build = |rt: Result<ResourceType, ApiError>,
                     ns: &str,
                     name: Option<&&str>,
                     sub: Option<&&str>,
                     all: bool| {
            rt.map(|rt| Target {
                rt,
                namespace: ns.to_owned(),
                name: name.map(|s| (*s).to_owned()),
                subresource: sub.map(|s| (*s).to_owned()),
                all_namespaces: all,
            })
        };
        Some(match rest {
            ["namespaces", ns, plural, tail @ ..] if namespaced_plural(plural) => {
                build(resolve(plural), ns, tail.first(), tail.get(1), false)
            }
            [plural, tail @ ..] => {
                let rt = resolve(plural);
                let all = rt.as_ref().is_ok_and(|t| t.namespaced);
                build(rt, "", tail.first(), tail.get(1), all)
            }
            [] => return None,
        })
    }
}

fn crud(
    shared: &Shared,
    method: &Method,
    t: &Target,
    query: &Query,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    let mut state = shared.state();
    let rt = &t.rt;
    let ns = t.namespace.as_str();
    if rt.namespaced && !t.all_namespaces && rt.kind != "Namespace" {
        let ns_type = state.resource("", "v1", "namespaces")?;
        let namespace = state.get(&ns_type, "", ns);
        if namespace.is_err() && *method != Method::GET {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{ns}\" not found"),
            ));
        }
        // NamespaceLifecycle's wording for a namespace being deleted (apiserver
        // plugin/namespace/lifecycle); only new objects are refused.
        let terminating = namespace.is_ok_and(|n| !n["metadata"]["deletionTimestamp"].is_null());
        let creates = *method == Method::POST
            || (matches!(*method, Method::PUT | Method::PATCH)
                && t.name
                    .as_deref()
                    .is_some_and(|n| state.get(rt, ns, n).is_err()));
        if terminating && creates {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            ));
        }
    }
    let dry_run = query.get("dryRun").is_some();
    match (method.clone(), t.name.as_deref()) {
        (Method::GET, None) => {
            let label = query.get("labelSelector").unwrap_or("");
            let field = query.get("fieldSelector").unwrap_or("");
            let items: Vec<Value> = state
                .list(rt, (!t.all_namespaces).then_some(ns))
                .into_iter()
                .filter(|o| labels_match(label, &o["metadata"]["labels"]) && fields_match(field, o))
                .map(|o| with_quota_status(&state, rt, o))
                .collect();
            Ok((
                200,
                json!({"apiVersion": rt.api_version(), "kind": format!("{}List", rt.kind), "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
            ))
        }
        (Method::GET, Some(name)) => {
            Ok((200, with_quota_status(&state, rt, state.get(rt, ns, name)?)))
        }
        (Method::POST, None) => {
            let mut obj = parse_body(body)?;
            let name = match obj["metadata"]["name"].as_str() {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => match obj["metadata"]["generateName"].as_str() {
                    Some(prefix) => format!("{prefix}{:05x}", state.rv + 1),
                    None => {
                        return Err(ApiError::new(
                            422,
                            "Invalid",
                            "metadata.name: Required value",
                        ));
                    }
                },
            };
            if let Some(body_ns) = obj["metadata"]["namespace"]
                .as_str()
                .filter(|b| rt.namespaced && !b.is_empty() && *b != ns)
            {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!(
                        "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({ns})"
                    ),
                ));
            }
            if state.get(rt, ns, &name).is_ok() {
                return Err(ApiError::new(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", rt.plural),
                ));
            }
            validate(rt, &mut obj)?;
            obj["metadata"]["name"] = json!(name);
            admission::admit(&state, rt, ns, &name, Op::Create, &mut obj, None)?;
            if dry_run {
                return Ok((201, obj));
            }
            let stored = state
                .commit(rt, ns, &name, Some(obj), true)
                .unwrap_or_default();
            Ok((201, stored))
        }
        (Method::PUT, Some(name)) => {
            let mut obj = parse_body(body)?;
            let existing = state.get(rt, ns, name)?;
            if let Some(rv) = obj["metadata"]["resourceVersion"]
                .as_str()
                .filter(|rv| !rv.is_empty())
                && existing["metadata"]["resourceVersion"] != rv
            {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        rt.plural
                    ),
                ));
            }
            keep_status_rules(rt, t.subresource.as_deref(), &existing, &mut obj);
            validate(rt, &mut obj)?;
            if t.subresource.is_none() {
                admission::admit(&state, rt, ns, name, Op::Update, &mut obj, Some(&existing))?;
            }
            if dry_run {
                return Ok((200, obj));
            }
            Ok((
                200,
                state
                    .commit(rt, ns, name, Some(obj), true)
                    .unwrap_or_default(),
            ))
        }
        (Method::PATCH, Some(name)) => {
            let existing = state.get(rt, ns, name).ok();
            let mut obj = match content_type.split(';').next().unwrap_or("") {
                "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                    if query.get("fieldManager").is_none_or(str::is_empty) {
                        return Err(ApiError::new(
                            400,
                            "BadRequest",
                            "fieldManager is required for apply requests",
                        ));
                    }
                    let applied = parse_body(body)?;
                    if applied["kind"] != rt.kind.as_str() {
                        return Err(ApiError::new(
                            400,
                            "BadRequest",
                            format!(
                                "apply patch kind {} does not match {}",
                                applied["kind"], rt.kind
                            ),
                        ));
                    }
                    let manager = query.get("fieldManager").unwrap_or_default();
                    state.server_side_apply(
                        rt,
                        ns,
                        name,
                        manager,
                        applied,
                        existing.as_ref(),
                        dry_run,
                    )
                }
                "application/merge-patch+json" => {
                    let mut live = existing
                        .clone()
                        .ok_or_else(|| ApiError::not_found(rt, name))?;
                    json_patch::merge(&mut live, &parse_body(body)?);
                    live
                }
                "application/strategic-merge-patch+json" => {
                    let mut live = existing
                        .clone()
                        .ok_or_else(|| ApiError::not_found(rt, name))?;
                    store::strategic_merge(&mut live, &parse_body(body)?);
                    live
                }
                "application/json-patch+json" => {
                    let mut live = existing
                        .clone()
                        .ok_or_else(|| ApiError::not_found(rt, name))?;
                    let ops: json_patch::Patch = serde_json::from_slice(body)
                        .map_err(|e| ApiError::new(400, "BadRequest", e.to_string()))?;
                    json_patch::patch(&mut live, &ops)
                        .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
                    live
                }
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                        ),
                    ));
                }
            };
            if let Some(live) = &existing {
                keep_status_rules(rt, t.subresource.as_deref(), live, &mut obj);
            }
            validate(rt, &mut obj)?;
            if t.subresource.is_none() {
                let op = if existing.is_some() {
                    Op::Update
                } else {
                    Op::Create
                };
                admission::admit(&state, rt, ns, name, op, &mut obj, existing.as_ref())?;
            }
            if dry_run {
                return Ok((200, obj));
            }
            let code = if existing.is_some() { 200 } else { 201 };
            Ok((
                code,
                state
                    .commit(rt, ns, name, Some(obj), true)
                    .unwrap_or_default(),
            ))
        }
        (Method::DELETE, Some(name)) => {
            if dry_run {
                return Ok((200, state.get(rt, ns, name)?));
            }
            Ok((200, state.delete(rt, ns, name, true)?))
        }
        (Method::DELETE, None) => {
            let label = query.get("labelSelector").unwrap_or("");
            let doomed: Vec<Value> = state
                .list(rt, Some(ns))
                .into_iter()
                .filter(|o| labels_match(label, &o["metadata"]["labels"]))
                .collect();
            for o in &doomed {
                let _ = state.delete(
                    rt,
                    ns,
                    o["metadata"]["name"].as_str().unwrap_or_default(),
                    true,
                );
            }
            Ok((
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        )),
    }
}

/// A ResourceQuota's status as the quota controller keeps it (here: counted when read).
fn with_quota_status(state: &State, rt: &ResourceType, mut obj: Value) -> Value {
    if rt.group.is_empty() && rt.plural == "resourcequotas" {
        obj["status"] = admission::quota_status(state, &obj);
    }
    obj
}

/// Writes to a resource with a status subresource keep the live status; writes to `/status`
/// change only the status.
fn keep_status_rules(rt: &ResourceType, sub: Option<&str>, live: &Value, obj: &mut Value) {
    if !rt.status {
        return;
    }
    if sub == Some("status") {
        let status = obj["status"].clone();
        *obj = live.clone();
        obj["status"] = status;
    } else if let Some(status) = live.get("status") {
        obj["status"] = status.clone();
    } else if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
}

/// The checks and conversions a real API server makes that clients rely on
/// (a Secret's `stringData` is folded into base64 `data`).
fn validate(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    if rt.kind == "Secret" {
        use base64::Engine;
        if let Some(Value::Object(string_data)) =
            obj.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            for (k, v) in string_data {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(v.as_str().unwrap_or_default());
                obj["data"][k] = json!(encoded);
            }
        }
        if let Some(data) = obj["data"].as_object() {
            for (k, v) in data {
                let ok = v
                    .as_str()
                    .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
                if !ok {
                    return Err(ApiError::new(
                        400,
                        "BadRequest",
                        format!(
                            "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data.{k}"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::new(400, "BadRequest", "body is not UTF-8"))?;
    serde_json::from_str(text)
        .or_else(|_| serde_saphyr::from_str(text))
        .map_err(|e| ApiError::new(400, "BadRequest", format!("cannot parse the object: {e}")))
}
