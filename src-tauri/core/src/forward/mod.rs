//! The port-forward helper: local listeners that stay open while the target behind them
//! changes. A Service or Deployment is resolved to a ready pod; when that pod goes away (or the
//! API connection drops) the next connection re-resolves, with backoff, so clients see a short
//! stall instead of a dead forward. A registry tracks running forwards for the GUI.

mod spec;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_util_task::AbortOnDrop;

pub use spec::{
    ForwardSpec, PortMap, RemotePort, SpecError, TargetKind, from_words, parse, preset,
};

/// How long a new connection may wait for a ready pod before it is closed.
const RECONNECT_WINDOW: Duration = Duration::from_secs(30);
/// How long replies may still flow after the client stopped sending.
const HALF_CLOSE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The forward's words are not a target and ports.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A local port below 1024 this user may not bind.
    #[error(
        "port {port} on {address} is privileged and this user may not bind it. Use a port above 1023 \
         (e.g. 8080:{port}), run as administrator, or on Linux allow it with \
         `sudo sysctl net.ipv4.ip_unprivileged_port_start={port}`"
    )]
    PrivilegedPort { address: IpAddr, port: u16 },
    /// A local port could not be bound.
    #[error(
        "cannot listen on {address}:{port}: {source}. Choose another local port (LOCAL:REMOTE)"
    )]
    Bind {
        address: IpAddr,
        port: u16,
        source: std::io::Error,
    },
    /// The Kubernetes API refused or failed.
    #[error("the Kubernetes API refused the request: {0}")]
    Api(#[from] kube::Error),
}

impl crate::error::Classified for ForwardError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Spec(_) => ErrorKind::Invalid,
            Self::PrivilegedPort { .. } | Self::Bind { .. } => ErrorKind::Conflict,
            Self::Api(_) => ErrorKind::Cluster,
        }
    }
}

impl crate::error::Classified for SpecError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

/// Why a connection found no pod to forward to (shown in the forward's state; it retries).
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error("{what} {name}: {source}")]
    Api {
        what: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("pod {0} is not ready")]
    NotReady(String),
    #[error("port-forward to {0}: no stream")]
    NoStream(String),
    #[error("service {0} has no selector, so no pods to forward to")]
    NoSelector(String),
    #[error("deployment {0} has no matchLabels selector")]
    NoMatchLabels(String),
    #[error("no ready pod behind {0} yet")]
    NoReadyPod(String),
    #[error("service {service} has no port {port}")]
    NoServicePort { service: String, port: String },
    #[error("service {service} has an invalid port {port}")]
    BadPort { service: String, port: i32 },
    #[error("pod {pod} has no container port named {name}")]
    NoNamedPort { pod: String, name: String },
}

fn api(what: &'static str, name: &str) -> impl FnOnce(kube::Error) -> TargetError {
    let name = name.to_owned();
    move |source| TargetError::Api { what, name, source }
}

/// Where a forward stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "camelCase")]
#[ts(export)]
pub enum ForwardState {
    /// Listening; no connection has needed a pod yet, or one is being resolved.
    Connecting,
    /// Connections go to this pod.
    Ready {
        pod: String,
    },
    /// The pod went away or the API dropped; new connections wait for a new one.
    Reconnecting {
        reason: String,
    },
    /// No ready pod within the reconnect window; the listener stays open and keeps trying.
    Failed {
        error: String,
    },
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardEvent {
    pub id: u64,
    pub state: ForwardState,
    pub at: Timestamp,
}

/// One running forward, as the GUI lists it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ForwardInfo {
    #[ts(type = "number")]
    pub id: u64,
    pub target: String,
    /// `local address → remote port`, one per port of the spec.
    #[ts(as = "Vec<(String, String)>")]
    pub listeners: Vec<(SocketAddr, String)>,
    pub state: ForwardState,
    /// Connections that found a pod after the previous one went away.
    #[ts(type = "number")]
    pub reconnects: u64,
}

struct Running {
    info: ForwardInfo,
    _tasks: Vec<AbortOnDrop>,
}

/// The running forwards. Cheap to clone; every clone sees the same forwards.
#[derive(Clone)]
pub struct Forwards {
    inner: Arc<Mutex<HashMap<u64, Running>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
    events: broadcast::Sender<ForwardEvent>,
}

impl Default for Forwards {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            next: Arc::default(),
            events: broadcast::channel(1024).0,
        }
    }
}

/// The shared view of one forward, for its listener and watcher tasks.
struct Shared {
    id: u64,
    client: kube::Client,
    spec: ForwardSpec,
    forwards: Forwards,
    /// The pod connections currently go to.
    pod: Mutex<Option<String>>,
}

impl Shared {
    fn set_state(&self, state: ForwardState) {
        let mut map = self
            .forwards
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = map.get_mut(&self.id) {
            if r.info.state == state {
                return;
            }
            if matches!(state, ForwardState::Ready { .. })
                && matches!(
                    r.info.state,
                    ForwardState::Reconnecting { .. } | ForwardState::Failed { .. }
                )
            {
                r.info.reconnects += 1;
            }
            r.info.state = state.clone();
        }
        drop(map);
        let _ = self.forwards.events.send(ForwardEvent {
            id: self.id,
            state,
            at: Timestamp::now(),
        });
    }

    fn invalidate(&self, reason: String) {
        let had = self
            .pod
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if had.is_some() {
            self.set_state(ForwardState::Reconnecting { reason });
        }
    }
}

/// A port-forward to the platform's preset `name` (`backstage`, `argocd`) on a free local port
/// for Slipway's own calls: the forwards (dropping them closes it) and where it listens.
pub async fn preset_for_calls(
    client: kube::Client,
    name: &str,
) -> Result<(Forwards, SocketAddr), ForwardError> {
    let mut spec = preset(name).ok_or_else(|| SpecError::Target(name.to_owned()))?;
    let shown = spec.to_string();
    for port in &mut spec.ports {
        port.local = 0;
    }
    let forwards = Forwards::default();
    let info = forwards
        .start(client, spec, std::net::Ipv4Addr::LOCALHOST.into())
        .await?;
    let local = info
        .listeners
        .first()
        .map(|(addr, _)| *addr)
        .ok_or(SpecError::NoPorts(shown))?;
    Ok((forwards, local))
}

/// Where the user's own `slipway forward NAME` shows the preset (the links Slipway prints).
pub fn preset_url(name: &str) -> Option<String> {
    let port = preset(name)?.ports.first()?.local;
    Some(format!("http://127.0.0.1:{port}"))
}

impl Forwards {
    pub fn subscribe(&self) -> broadcast::Receiver<ForwardEvent> {
        self.events.subscribe()
    }

    pub fn list(&self) -> Vec<ForwardInfo> {
        let map = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut list: Vec<ForwardInfo> = map.values().map(|r| r.info.clone()).collect();
        list.sort_by_key(|i| i.id);
        list
    }

    /// Stop a forward: its listeners close. Returns whether it existed.
    pub fn stop(&self, id: u64) -> bool {
        let removed = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
        if removed.is_some() {
            let _ = self.events.send(ForwardEvent {
                id,
                state: ForwardState::Stopped,
                at: Timestamp::now(),
            });
        }
        removed.is_some()
    }

    /// Bind the spec's local ports on `address` and start forwarding. Binding errors (a port in
    /// use, a privileged port) come back now; the target is resolved per connection.
    pub async fn start(
        &self,
        client: kube::Client,
        spec: ForwardSpec,
        address: IpAddr,
    ) -> Result<ForwardInfo, ForwardError> {
        let mut listeners = Vec::new();
        for port in &spec.ports {
            let listener = TcpListener::bind((address, port.local))
                .await
                .map_err(|source| {
                    if source.kind() == std::io::ErrorKind::PermissionDenied && port.local < 1024 {
                        ForwardError::PrivilegedPort {
                            address,
                            port: port.local,
                        }
                    } else {
                        ForwardError::Bind {
                            address,
                            port: port.local,
                            source,
                        }
                    }
                })?;
            listeners.push((listener, port.remote.clone()));
        }
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let info = ForwardInfo {
            id,
            target: spec.to_string(),
            listeners: listeners
                .iter()
                .filter_map(|(l, r)| Some((l.local_addr().ok()?, r.to_string())))
                .collect(),
            state: ForwardState::Connecting,
            reconnects: 0,
        };
        let shared = Arc::new(Shared {
            id,
            client,
            spec,
            forwards: self.clone(),
            pod: Mutex::new(None),
        });
        let mut tasks = vec![AbortOnDrop(tokio::spawn(watch_pods(shared.clone())))];
        for (listener, remote) in listeners {
            tasks.push(AbortOnDrop(tokio::spawn(serve(
                listener,
                remote,
                shared.clone(),
            ))));
        }
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                id,
                Running {
                    info: info.clone(),
                    _tasks: tasks,
                },
            );
        let _ = self.events.send(ForwardEvent {
            id,
            state: ForwardState::Connecting,
            at: Timestamp::now(),
        });
        Ok(info)
    }
}

async fn serve(listener: TcpListener, remote: RemotePort, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(tcp, remote.clone(), shared.clone()));
    }
}

/// One client connection: find the pod (waiting through a replacement, with backoff up to
/// [`RECONNECT_WINDOW`]), then pipe bytes.
async fn connection(mut tcp: TcpStream, remote: RemotePort, shared: Arc<Shared>) {
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_total_delay(Some(RECONNECT_WINDOW))
        .without_max_times();
    let opened = (|| open(&shared, &remote))
        .retry(policy)
        .notify(|reason, _| shared.invalidate(reason.to_string()))
        .await;
    match opened {
        Ok((pf, stream)) => {
            let remote_ended_first = pipe(&mut tcp, stream).await;
            // The pod side ending first with a broken stream (API server or pod gone, not a
            // clean close) is reported; the next connection resolves afresh.
            if let Err(e) = pf.join().await
                && remote_ended_first
            {
                shared.invalidate(format!("the port-forward stream broke ({e})"));
            }
        }
        Err(reason) => {
            let reason = reason.to_string();
            shared.invalidate(reason.clone());
            shared.set_state(ForwardState::Failed { error: reason });
        }
    }
}

type Opened = (kube::api::Portforwarder, tokio::io::DuplexStream);

/// Copy both ways until done. Returns true when the pod side ended while the client was still
/// sending (the client's own close is the normal end).
async fn pipe(tcp: &mut TcpStream, stream: tokio::io::DuplexStream) -> bool {
    use tokio::io::AsyncWriteExt;
    let (mut client_read, mut client_write) = tcp.split();
    let (mut pod_read, mut pod_write) = tokio::io::split(stream);
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut pod_write).await;
        let _ = pod_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut pod_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut up => {
            // The channel protocol cannot pass a half-close on, so the pod side may never end:
            // let replies in flight arrive, then close.
            let _ = tokio::time::timeout(HALF_CLOSE_GRACE, down).await;
            false
        }
        () = &mut down => true,
    }
}

async fn open(shared: &Shared, remote: &RemotePort) -> Result<Opened, TargetError> {
    let cached = shared
        .pod
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let pod_name = match cached {
        Some(p) => p,
        None => {
            let pod = resolve(shared).await?;
            *shared
                .pod
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(pod.clone());
            pod
        }
    };
    let pods: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.spec.namespace);
    let pod = pods.get(&pod_name).await.map_err(api("pod", &pod_name))?;
    if !is_ready(&pod) {
        return Err(TargetError::NotReady(pod_name));
    }
    let port = pod_port(shared, &pod, remote).await?;
    let mut pf = pods
        .portforward(&pod_name, &[port])
        .await
        .map_err(api("port-forward to", &pod_name))?;
    let stream = pf
        .take_stream(port)
        .ok_or_else(|| TargetError::NoStream(pod_name.clone()))?;
    shared.set_state(ForwardState::Ready { pod: pod_name });
    Ok((pf, stream))
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .as_ref()
                    .is_none_or(|c| c.iter().all(|c| c.type_ != "Ready" || c.status == "True"))
        })
}

/// The label selector of the spec's pods (a pod's own name for `pod/…`).
async fn selector(shared: &Shared) -> Result<ListParams, TargetError> {
    let spec = &shared.spec;
    let labels = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(match spec.kind {
        TargetKind::Pod => ListParams::default().fields(&format!("metadata.name={}", spec.name)),
        TargetKind::Service => {
            let svc = Api::<Service>::namespaced(shared.client.clone(), &spec.namespace)
                .get(&spec.name)
                .await
                .map_err(api("service", &spec.name))?;
            let sel = svc
                .spec
                .and_then(|s| s.selector)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| TargetError::NoSelector(spec.name.clone()))?;
            ListParams::default().labels(&labels(&sel))
        }
        TargetKind::Deployment => {
            let d = Api::<Deployment>::namespaced(shared.client.clone(), &spec.namespace)
                .get(&spec.name)
                .await
                .map_err(api("deployment", &spec.name))?;
            let sel = d
                .spec
                .and_then(|s| s.selector.match_labels)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| TargetError::NoMatchLabels(spec.name.clone()))?;
            ListParams::default().labels(&labels(&sel))
        }
    })
}

/// A ready pod behind the spec.
async fn resolve(shared: &Shared) -> Result<String, TargetError> {
    let lp = selector(shared).await?;
    let pods: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.spec.namespace);
    let list = pods
        .list(&lp)
        .await
        .map_err(api("listing the pods of", &shared.spec.to_string()))?;
    let mut ready: Vec<&Pod> = list.items.iter().filter(|p| is_ready(p)).collect();
    ready.sort_by_key(|p| p.metadata.creation_timestamp.clone());
    ready
        .last()
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| TargetError::NoReadyPod(shared.spec.to_string()))
}

/// The container port a remote port means: a Service port maps through its targetPort; names
/// resolve against the pod's container ports.
async fn pod_port(shared: &Shared, pod: &Pod, remote: &RemotePort) -> Result<u16, TargetError> {
    let mut wanted = remote.clone();
    if shared.spec.kind == TargetKind::Service {
        let service = shared.spec.name.clone();
        let svc = Api::<Service>::namespaced(shared.client.clone(), &shared.spec.namespace)
            .get(&service)
            .await
            .map_err(api("service", &service))?;
        let ports = svc.spec.and_then(|s| s.ports).unwrap_or_default();
        let port = ports
            .iter()
            .find(|p| match remote {
                RemotePort::Number(n) => p.port == i32::from(*n),
                RemotePort::Name(n) => p.name.as_deref() == Some(n),
            })
            .ok_or_else(|| TargetError::NoServicePort {
                service: service.clone(),
                port: remote.to_string(),
            })?;
        let number = |n: i32| {
            u16::try_from(n).map_err(|_| TargetError::BadPort {
                service: service.clone(),
                port: n,
            })
        };
        wanted = match &port.target_port {
            Some(IntOrString::Int(n)) => RemotePort::Number(number(*n)?),
            Some(IntOrString::String(s)) => RemotePort::Name(s.clone()),
            None => RemotePort::Number(number(port.port)?),
        };
    }
    match wanted {
        RemotePort::Number(n) => Ok(n),
        RemotePort::Name(name) => pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| TargetError::NoNamedPort {
                pod: pod.metadata.name.clone().unwrap_or_default(),
                name: name.clone(),
            }),
    }
}

/// Watch the spec's pods so a deleted or unready target is dropped at once (and reported),
/// rather than discovered by the next failing connection.
async fn watch_pods(shared: Arc<Shared>) {
    loop {
        let Ok(lp) = selector(&shared).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(shared.client.clone(), &shared.spec.namespace);
        let mut config = watcher::Config::default();
        if let Some(l) = lp.label_selector {
            config = config.labels(&l);
        }
        if let Some(f) = lp.field_selector {
            config = config.fields(&f);
        }
        let mut stream = Box::pin(watcher(pods, config));
        while let Some(event) = stream.next().await {
            let current = shared
                .pod
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let Some(current) = current else { continue };
            match event {
                Ok(watcher::Event::Delete(p))
                    if p.metadata.name.as_deref() == Some(current.as_str()) =>
                {
                    shared.invalidate(format!("pod {current} was deleted"));
                }
                Ok(watcher::Event::Apply(p))
                    if p.metadata.name.as_deref() == Some(current.as_str()) && !is_ready(&p) =>
                {
                    shared.invalidate(format!("pod {current} is no longer ready"));
                }
                Err(e) => {
                    shared.invalidate(format!("lost the API connection ({e})"));
                    break;
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Abort a task when its handle is dropped (stopping a forward closes its listeners).
mod tokio_util_task {
    pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}
