//! kube-sim: a SIMULATED Kubernetes API server for tests (never shipped).
//!
//! In-memory state behind real HTTPS with a generated CA and bearer-token auth; legacy
//! discovery; CRUD for built-in kinds and run-time CRDs; server-side apply (simplified: the
//! applied config is merged into the live object), merge, strategic-merge and JSON patches;
//! list and watch with resume and bookmarks; `status` subresources; namespace and owner
//! cascade on delete; WebSocket port-forward (the channel protocol kube-rs speaks) to a
//! per-pod TCP target; simulated controllers with fault injection (including Argo CD's:
//! list- and Git-files-generator ApplicationSets make Applications, which become Synced/Healthy
//! or Degraded; directory Applications deploy their repository's YAML, read through a test-given
//! [`git::GitSource`]);
//! HTTP-level faults.
//! Its fidelity is checked by running the real kubectl and helm against it (tests/tests/kube_sim.rs).

mod admission;
mod api;
mod argocd;
mod certmanager;
pub mod cloud;
mod controllers;
pub mod git;
mod ingress;
mod portforward;
mod protobuf;
mod rbac;
pub mod registry;
pub mod store;
mod template;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, broadcast, watch};

pub use controllers::Faults;
use store::{State, WatchEvent};

/// An HTTP fault: requests whose method and path match get `status` instead of an answer.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFault {
    #[serde(default)]
    pub method: Option<String>,
    pub path_contains: String,
    pub status: u16,
    /// How many requests to fail (then the rule is dropped).
    pub times: u32,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    events: broadcast::Sender<WatchEvent>,
    /// Wakes the simulated controllers after a write.
    changed: Notify,
    token: String,
    pub(crate) faults: Mutex<Faults>,
    http_faults: Mutex<Vec<HttpFault>>,
    latency: Mutex<Duration>,
    /// Bumped to drop every open watch and port-forward (a lost API connection).
    drop_generation: watch::Sender<u64>,
    /// (namespace, pod, port) → where port-forwards to that pod port go.
    forward_targets: Mutex<HashMap<(String, String, u16), SocketAddr>>,
    /// What the simulated Argo CD reads Git repositories from (none: every Git source fails).
    git: Mutex<Option<Arc<dyn git::GitSource>>>,
    /// The real `helm` the simulated repo-server renders Helm paths in Git with (none: not
    /// rendered), and what it rendered, by inputs.
    helm: Mutex<Option<std::path::PathBuf>>,
    /// The real `kubectl` it renders Kustomize paths with (`kubectl kustomize`; none: not
    /// rendered).
    kubectl: Mutex<Option<std::path::PathBuf>>,
    /// (namespace, Service) → a server the test stands in for it; the simulated Traefik proxies
    /// requests routed there.
    backends: Mutex<HashMap<(String, String), SocketAddr>>,
    /// Where the simulated kubelet pulls images from (none: every pull succeeds).
    images: Mutex<Option<Arc<dyn ImageRegistry>>>,
    helm_cache: Mutex<HashMap<u64, Result<Vec<Value>, String>>>,
    /// A managed cluster's load balancer address ([`KubeSim::as_cloud_cluster`]); also switches
    /// on scheduling by nodeSelector.
    pub(crate) cloud: Mutex<Option<std::net::IpAddr>>,
    /// Stand-ins for remote charts, `<dir>/<chart>/Chart.yaml` at the pinned version, rendered
    /// with the real helm where Argo CD would pull the chart.
    pub(crate) chart_stand_ins: Mutex<Option<std::path::PathBuf>>,
}

impl Shared {
    pub(crate) fn cloud(&self) -> Option<std::net::IpAddr> {
        self.cloud.lock().ok().and_then(|c| *c)
    }
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publish the events a write produced and wake the controllers.
    pub(crate) fn publish(&self, from_rv: u64) {
        let events: Vec<WatchEvent> = self
            .state()
            .events
            .iter()
            .filter(|e| e.rv > from_rv)
            .cloned()
            .collect();
        for e in events {
            let _ = self.events.send(e);
        }
        self.changed.notify_one();
    }
}

/// A container registry as the simulated kubelet pulls from it.
pub trait ImageRegistry: Send + Sync {
    /// Pull `image` with the pod's pull credentials for its registry (user, password):
    /// `None` when this registry does not serve it (the pull succeeds, as for every image the
    /// tests do not model), else the pull's outcome with containerd's message.
    fn pull(&self, image: &str, auth: Option<(&str, &str)>) -> Option<Result<(), String>>;
}

/// A running simulated API server.
pub struct KubeSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: String,
    server_task: tokio::task::JoinHandle<()>,
    controller_task: tokio::task::JoinHandle<()>,
    extra_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl KubeSim {
    /// Serve on 127.0.0.1 with a random port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?, &[]).await
    }

    /// Serve on `addr`; the certificate also names `extra_names` (e.g. a node's hostname).
    pub async fn start_on(addr: SocketAddr, extra_names: &[String]) -> std::io::Result<Self> {
        Self::start_with(addr, extra_names, None).await
    }

    /// Like [`start_on`](Self::start_on), keeping certificates, token and objects in
    /// `state_dir` (as an API server keeps them in etcd), so a restart resumes where it stopped.
    pub async fn start_with(
        addr: SocketAddr,
        extra_names: &[String],
        state_dir: Option<&Path>,
    ) -> std::io::Result<Self> {
        let certs = match state_dir {
            Some(dir) => tls::Certs::load_or_generate(dir, extra_names),
            None => tls::Certs::generate(extra_names),
        }
        .map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (events, _) = broadcast::channel(65_536);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            events,
            changed: Notify::new(),
            token: certs.token.clone(),
            faults: Mutex::new(Faults::default()),
            http_faults: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            drop_generation: watch::channel(0).0,
            forward_targets: Mutex::new(HashMap::new()),
            git: Mutex::new(None),
            helm: Mutex::new(None),
            kubectl: Mutex::new(None),
            images: Mutex::new(None),
            backends: Mutex::new(HashMap::new()),
            helm_cache: Mutex::new(HashMap::new()),
            cloud: Mutex::new(None),
            chart_stand_ins: Mutex::new(None),
        });
        let snapshot = state_dir.map(|d| d.join("objects.json"));
        let restored = snapshot
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        match &restored {
            Some(saved) => shared.state().restore(saved),
            None => api::seed(&shared),
        }
        let server_task = tokio::spawn(api::serve(
            listener,
            certs.server_config.clone(),
            shared.clone(),
        ));
        let controller_task = tokio::spawn(controllers::run(shared.clone(), snapshot));
        Ok(Self {
            shared,
            addr,
            ca_pem: certs.ca_pem,
            server_task,
            controller_task,
            extra_tasks: Mutex::new(Vec::new()),
        })
    }

    /// Stand `target` in for the Service `namespace/name` on `port` as a port-forward reaches
    /// it: a Deployment whose pods' `port` goes to `target` (the forward-target annotation)
    /// behind a Service of that name (e.g. the fake Backstage as the platform's Backstage).
    pub async fn serve_service(
        &self,
        namespace: &str,
        name: &str,
        port: u16,
        target: SocketAddr,
    ) -> Result<(), kube::Error> {
        use kube::api::{Api, DynamicObject, Patch, PatchParams};
        let client = self.client().await?;
        let pp = PatchParams::apply("kube-sim-test").force();
        let objects = [
            (
                "apps",
                "v1",
                "Deployment",
                "deployments",
                serde_json::json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                    "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                        "metadata": {"labels": {"app": name}, "annotations": {format!("kube-sim.slipway.dev/port-{port}"): target.to_string()}},
                        "spec": {"containers": [{"name": name, "image": name, "ports": [{"name": "http", "containerPort": port}]}]}}},
                }),
            ),
            (
                "",
                "v1",
                "Service",
                "services",
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                    "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
                }),
            ),
        ];
        for (group, version, kind, plural, object) in objects {
            let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
            let resource = kube::api::ApiResource::from_gvk_with_plural(&gvk, plural);
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let object: DynamicObject =
                serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
            api.patch(name, &pp, &Patch::Apply(&object)).await?;
        }
        Ok(())
    }

    /// Serve the SIMULATED Traefik on `addr`: host-routed HTTP from the stored Ingresses.
    pub async fn serve_ingress(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        self.serve_on(addr, ingress::serve).await
    }

    /// Serve the SIMULATED Traefik's TLS entrypoint (`websecure`) on `addr`.
    pub async fn serve_ingress_tls(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        self.serve_on(addr, ingress::serve_tls).await
    }

    /// Bind `addr` and run `serve` on it for as long as this server lives.
    async fn serve_on<F, Fut>(&self, addr: SocketAddr, serve: F) -> std::io::Result<SocketAddr>
    where
        F: FnOnce(tokio::net::TcpListener, Arc<Shared>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        self.extra_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(tokio::spawn(serve(listener, self.shared.clone())));
        Ok(local)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn server_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A kubeconfig for this server (context `kube-sim`), CA-verified, token auth.
    pub fn kubeconfig(&self) -> String {
        self.kubeconfig_for(&self.server_url())
    }

    /// The same kubeconfig pointing at another URL (a published port, a hostname in the cert).
    pub fn kubeconfig_for(&self, server: &str) -> String {
        tls::kubeconfig(server, &self.ca_pem, &self.shared.token, "kube-sim")
    }

    /// This server's kubeconfig with context (cluster and user) `name`, e.g. `kind-<cluster>`
    /// as `slipway up` names a cluster's context.
    pub fn kubeconfig_as(&self, name: &str) -> String {
        tls::kubeconfig(&self.server_url(), &self.ca_pem, &self.shared.token, name)
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// A kube-rs client for this server.
    pub async fn client(&self) -> kube::Result<kube::Client> {
        let kc = kube::config::Kubeconfig::from_yaml(&self.kubeconfig())
            .map_err(kube::Error::InferKubeconfig)?;
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(kube::Error::InferKubeconfig)?;
        // As Slipway's own clients are (`KubeTarget::client`): no hidden retries.
        config.default_retry = false;
        kube::Client::try_from(config)
    }

    /// Writes made by clients since start (controllers' writes not included).
    pub fn client_writes(&self) -> u64 {
        self.shared.state().client_writes
    }

    /// An object as stored, for assertions (`group` "" for core).
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = self.shared.state();
        state
            .objects
            .get(&(group.to_owned(), plural.to_owned()))?
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Change the simulated controllers' behaviour (delays, never-ready, degraded …).
    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(
            &mut self
                .shared
                .faults
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.shared.changed.notify_one();
    }

    pub fn inject_http_fault(&self, fault: HttpFault) {
        self.shared
            .http_faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(fault);
    }

    pub fn set_latency(&self, latency: Duration) {
        *self
            .shared
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = latency;
    }

    /// Drop every open watch and port-forward connection, as a restarting API server would.
    pub fn drop_connections(&self) {
        self.shared.drop_generation.send_modify(|g| *g += 1);
    }

    /// Send port-forwards to `pod`'s `port` to `target` (also settable with the pod annotation
    /// `kube-sim.slipway.dev/port-<port>: host:port`).
    pub fn set_forward_target(&self, namespace: &str, pod: &str, port: u16, target: SocketAddr) {
        self.shared
            .forward_targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((namespace.into(), pod.into(), port), target);
    }

    /// Register a node (Ready once a DaemonSet in `kube-system`, the pod network, exists).
    /// Let the simulated Argo CD read Git repositories from `source`.
    pub fn set_git_source(&self, source: Arc<dyn git::GitSource>) {
        *self
            .shared
            .git
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(source);
        self.shared.changed.notify_one();
    }

    /// Let the simulated repo-server render Helm charts in Git with this real `helm`.
    pub fn set_helm(&self, helm: &Path) {
        *self
            .shared
            .helm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(helm.to_owned());
        self.shared.changed.notify_one();
    }

    /// Stand `target` in for the Service `namespace/service`: the simulated Traefik proxies the
    /// requests its Ingresses route there (e.g. the fake Backstage for the platform's Backstage).
    pub fn set_backend(&self, namespace: &str, service: &str, target: SocketAddr) {
        self.shared
            .backends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((namespace.to_owned(), service.to_owned()), target);
    }

    /// Let the simulated kubelet pull images from `registry`: a pod whose image it refuses stays
    /// Pending in `ErrImagePull` / `ImagePullBackOff` until a later pull succeeds.
    pub fn set_image_registry(&self, registry: Arc<dyn ImageRegistry>) {
        *self
            .shared
            .images
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(registry);
        self.shared.changed.notify_one();
    }

    /// Let the simulated repo-server render Kustomize paths in Git with this real `kubectl`.
    /// Look like a managed cloud cluster ([`cloud`]): its nodes, pod network and default
    /// StorageClass, `LoadBalancer` Services given `lb_ip`, pods scheduled by nodeSelector.
    pub fn as_cloud_cluster(&self, lb_ip: std::net::IpAddr) {
        *self
            .shared
            .cloud
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(lb_ip);
        cloud::seed(&self.shared);
    }

    /// Render Helm chart sources from remote repositories with the stand-in charts in `dir`
    /// (`<dir>/<chart>/` whose Chart.yaml has the pinned version) and the real helm
    /// ([`set_helm`](Self::set_helm)).
    pub fn set_chart_stand_ins(&self, dir: &Path) {
        *self
            .shared
            .chart_stand_ins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dir.to_owned());
        self.shared.changed.notify_one();
    }

    /// Every stored object as `apiVersion kind namespace/name` (Events left out).
    pub fn object_names(&self) -> std::collections::BTreeSet<String> {
        let state = self.shared.state();
        let mut names = std::collections::BTreeSet::new();
        for t in state.registry.types.iter().filter(|t| t.kind != "Event") {
            for o in state.list(t, None) {
                names.insert(format!(
                    "{} {} {}/{}",
                    t.api_version(),
                    t.kind,
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                ));
            }
        }
        names
    }

    pub fn set_kubectl(&self, kubectl: &Path) {
        *self
            .shared
            .kubectl
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(kubectl.to_owned());
        self.shared.changed.notify_one();
    }

    pub fn set_node(&self, name: &str, labels: &[(&str, &str)]) {
        controllers::set_node(&self.shared, name, labels);
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        self.server_task.abort();
        self.controller_task.abort();
        for t in self
            .extra_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}
