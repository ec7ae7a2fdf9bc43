//! The `up` / `down` / `stop` / `status` pipeline.
//!
//! `up` is two lists of steps (data: id, title, timeout, retries) run in order by one small
//! runner: the cluster ([`UP_STEPS`]: preflight → nodes → kubeadm → CNI → join → Ready →
//! kubeconfig), then the platform ([`install::INSTALL_STEPS`]: Argo CD by helm → owned Secrets →
//! GitOps source → Applications Synced/Healthy → routing by HTTP). Every step checks before it
//! writes, so a re-run resumes where a failed run stopped and a healthy platform is left untouched.

pub mod durations;
pub mod existing;
pub mod gitops;
pub mod install;
pub mod publish;
pub mod routing;
pub mod target;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::bundle::BundleError;
use crate::cluster::{Cluster, ClusterError, ClusterSpec, ClusterStatus, NodeState, Overrides};
use crate::error::{Classified, ErrorKind};
use crate::helm::{ChartSource, KubeContext};
use crate::k8s::{self, K8sError};
use crate::lock::{LockError, RunLock};
use crate::pipeline::{
    self, Pipeline, PipelineError, ProgressSink, Recorder, Stage, StepContext, StepDef,
    StepFailure, StepOutcome, StepReport, Timeouts, step,
};
use crate::secrets::{Keyring, accounts};
use install::{InstallError, InstallOptions, Source};

/// Why `up`, `down`, `stop`, `status` or a read stopped.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A cluster step failed.
    #[error(transparent)]
    Cluster(#[from] PipelineError<ClusterError>),
    /// A platform step failed.
    #[error(transparent)]
    Install(#[from] PipelineError<InstallError>),
    /// An existing cluster's check or the platform's removal from it failed.
    #[error(transparent)]
    Target(#[from] PipelineError<target::TargetError>),
    /// Docker or the cluster could not be reached, or the request is invalid.
    #[error(transparent)]
    Connect(#[from] ClusterError),
    /// The cluster's API could not be read.
    #[error(transparent)]
    Kube(#[from] K8sError),
    /// The embedded bundle is broken.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Another Slipway process is working on the cluster.
    #[error(transparent)]
    Busy(#[from] LockError),
    /// The keyring could not be read (an existing cluster's Backstage sign-in).
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

/// A stopped pipeline is as actionable as its step's own error (a missing GitHub token, a
/// refused Docker); a step that ran out of time is retried by running it again.
fn pipeline_kind<E: StepFailure + Classified>(e: &PipelineError<E>) -> ErrorKind {
    match e.source_error() {
        Some(source) => match source.kind() {
            ErrorKind::Internal => ErrorKind::Internal,
            ErrorKind::Unavailable | ErrorKind::Cluster | ErrorKind::Io => ErrorKind::Step,
            kind => kind,
        },
        None => ErrorKind::Step,
    }
}

impl Classified for PlatformError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Cluster(e) => pipeline_kind(e),
            Self::Install(e) => pipeline_kind(e),
            Self::Target(e) => pipeline_kind(e),
            Self::Connect(e) => e.kind(),
            Self::Kube(e) => e.kind(),
            Self::Secrets(e) => e.kind(),
            Self::Bundle(e) => e.kind(),
            Self::Busy(e) => e.kind(),
        }
    }

    fn step(&self) -> Option<&'static str> {
        match self {
            Self::Cluster(e) => Some(e.step()),
            Self::Install(e) => Some(e.step()),
            Self::Target(e) => Some(e.step()),
            _ => None,
        }
    }
}

/// Options of `slipway up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Delete an existing cluster first.
    pub recreate: bool,
    /// Step time limits that replace the tables' (`--wait`, `--app-timeout` …).
    pub timeouts: Timeouts,
    /// The platform on top of the cluster; `None` makes (or repairs) the cluster only.
    pub platform: Option<InstallOptions>,
}

/// What a front end decides about `up`, resolved from its flags or the settings file. One
/// place turns it into the cluster spec and `up`'s options, for the CLI and the GUI alike.
#[derive(Debug, Clone, Default)]
pub struct UpSettings {
    pub cluster: Overrides,
    pub recreate: bool,
    /// Make or repair the cluster only (no keyring probe either).
    pub cluster_only: bool,
    pub domain: Option<String>,
    /// `DIR`, `oci://…` or a Helm repository URL; `None`: each chart's upstream repository.
    pub charts: Option<String>,
    pub helm: Option<std::path::PathBuf>,
    /// Local mode even when GitHub is connected.
    pub local: bool,
    pub owner: Option<String>,
    pub github_api: Option<String>,
    pub timeouts: Timeouts,
    /// Optional parts left out (`--without`; the settings key `without`).
    pub without: Vec<gitops::Part>,
    /// An existing cluster by its kubeconfig context (`--context`; the settings key
    /// `context`), instead of Slipway's own.
    pub context: Option<String>,
    /// The kubeconfig file holding `context` (default: kubectl's).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// An existing cluster's choices; each one not made is the cluster's record of the last
    /// `up --context` (else the default: a LoadBalancer, the scheduler's placement).
    pub expose: Option<target::Expose>,
    pub platform_nodes: Option<target::NodeSelector>,
    pub workload_nodes: Option<target::NodeSelector>,
}

/// The step keys `--app-timeout` sets: every step that waits for the platform's components.
pub const APP_WAIT_STEPS: &[&str] = &[
    "argocd",
    "argocd-ready",
    "platform-apps",
    "sealing-key",
    "routing",
];

impl UpSettings {
    /// The settings file's values (what the GUI and the tray start with).
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            cluster: config.cluster_overrides(),
            domain: config.domain.clone(),
            charts: config.charts.clone(),
            helm: config.helm.clone(),
            owner: config.owner.clone(),
            github_api: config.github_api.clone(),
            without: config.without.clone(),
            context: config.context.clone(),
            kubeconfig: config.kubeconfig.clone(),
            ..Self::default()
        }
    }

    /// The platform's options on the existing cluster `context` names (GitHub mode publishes
    /// the cluster's values with the bundle).
    pub fn resolve_existing(&self) -> Result<InstallOptions, ClusterError> {
        let Some(context) = &self.context else {
            return Err(ClusterError::InvalidSetting(
                "no existing cluster was named (`--context NAME`)".into(),
            ));
        };
        if self.cluster_only || self.recreate {
            return Err(ClusterError::InvalidSetting(
                "--cluster-only and --recreate make Slipway's own cluster; an existing cluster (--context) is never made or deleted".into(),
            ));
        }
        self.check()?;
        let existing = target::Existing {
            kube: target::kube_context(context, self.kubeconfig.as_deref())?,
            expose: self.expose.unwrap_or_default(),
            platform_nodes: self.platform_nodes.clone(),
            workload_nodes: self.workload_nodes.clone(),
            recall: target::Recall {
                expose: self.expose.is_none(),
                platform_nodes: self.platform_nodes.is_none(),
                workload_nodes: self.workload_nodes.is_none(),
            },
        };
        let mut p = InstallOptions::new(
            &existing.id(),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        );
        self.fill(&mut p);
        p.exposed = true;
        p.existing = Some(existing);
        Ok(p)
    }

    /// The domain and chart source are usable.
    fn check(&self) -> Result<(), ClusterError> {
        let problem = self
            .domain
            .as_deref()
            .and_then(crate::config::domain_problem)
            .or_else(|| {
                self.charts
                    .as_deref()
                    .and_then(crate::config::charts_problem)
            });
        match problem {
            Some(problem) => Err(ClusterError::InvalidSetting(problem)),
            None => Ok(()),
        }
    }

    /// What the platform's options take from these settings on any cluster: the domain, the
    /// charts and helm, the parts left out, and GitHub mode when a token is kept for the API
    /// (and not `local`).
    fn fill(&self, p: &mut InstallOptions) {
        if let Some(domain) = &self.domain {
            p.domain.clone_from(domain);
        }
        p.charts = self
            .charts
            .as_deref()
            .map_or(ChartSource::Upstream, ChartSource::parse);
        p.helm.clone_from(&self.helm);
        p.without.clone_from(&self.without);
        if !self.local {
            let api = self
                .github_api
                .clone()
                .unwrap_or_else(|| crate::github::DEFAULT_API.into());
            p.source = Source::detect(&p.keyring, &api, self.owner.clone());
        }
    }

    /// The cluster to make and how: GitHub mode when a token is kept for the API (and not
    /// `local`), else local mode.
    pub fn resolve(&self) -> Result<(ClusterSpec, UpOptions), ClusterError> {
        self.check()?;
        let spec = ClusterSpec::embedded_default()?.with_overrides(&self.cluster)?;
        let platform = (!self.cluster_only).then(|| {
            let mut p = InstallOptions::new(&spec.name, spec.http_ingress());
            p.exposed = spec.exposed().is_some();
            p.https_port = trusted_https_port(&p.keyring, spec.https_port());
            p.tls_ingress = spec
                .https_port()
                .map(|port| std::net::SocketAddr::new(spec.http_ingress().ip(), port));
            self.fill(&mut p);
            p
        });
        let options = UpOptions {
            recreate: self.recreate,
            timeouts: self.timeouts.clone(),
            platform,
        };
        Ok((spec, options))
    }
}

/// The cluster steps of `up`, in order. Ids are stable: front ends and logs key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepId {
    Preflight,
    NodeImage,
    Network,
    Nodes,
    KubeadmConfig,
    ControlPlane,
    Cni,
    Storage,
    Join,
    NodeLabels,
    NodesReady,
    Kubeconfig,
}

/// The cluster part of `slipway up`, as data: what each row says is what applies.
pub const UP: Pipeline<StepId> = Pipeline {
    steps: UP_STEPS,
    resume: "slipway up",
};

const UP_STEPS: &[StepDef<StepId>] = &[
    step(
        StepId::Preflight,
        "preflight",
        "Check Docker, ports and host limits",
        60,
        1,
    ),
    step(
        StepId::NodeImage,
        "node-image",
        "Make sure the node image is present",
        1800,
        0,
    ),
    step(
        StepId::Network,
        "network",
        "Make sure the Docker network exists",
        60,
        2,
    ),
    step(
        StepId::Nodes,
        "nodes",
        "Create or start the node containers and wait for them to boot",
        120,
        1,
    ),
    step(
        StepId::KubeadmConfig,
        "kubeadm-config",
        "Write the kubeadm config on each node",
        60,
        2,
    ),
    step(
        StepId::ControlPlane,
        "control-plane",
        "Start the control plane (kubeadm init)",
        600,
        0,
    ),
    step(StepId::Cni, "cni", "Install the pod network (CNI)", 120, 3),
    step(
        StepId::Storage,
        "storage",
        "Install the default StorageClass",
        120,
        3,
    ),
    step(StepId::Join, "join", "Join the workloads node", 600, 1),
    step(
        StepId::NodeLabels,
        "node-labels",
        "Label the platform and workloads nodes",
        60,
        3,
    ),
    step(
        StepId::NodesReady,
        "nodes-ready",
        "Wait until every node is Ready",
        300,
        0,
    ),
    step(
        StepId::Kubeconfig,
        "kubeconfig",
        "Export the kubeconfig context",
        30,
        1,
    ),
];

/// What one `up` run did.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UpReport {
    pub cluster: String,
    pub steps: Vec<StepReport>,
    /// Nothing was changed: the platform was already up.
    pub up_to_date: bool,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    pub status: ClusterStatus,
    /// Where the platform answers, when `up` installed it.
    pub platform: Option<PlatformSummary>,
}

/// What a user needs after `up`: the UIs' URLs and how to sign in to Argo CD.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlatformSummary {
    pub argocd_url: String,
    pub backstage_url: String,
    /// Grafana (traces, metrics, logs); `None` when the observability part is left out.
    pub grafana_url: Option<String>,
    /// Argo CD's user; its initial password is read on request, never shown by default.
    pub argocd_user: &'static str,
    /// The names that must resolve to the ingress address (`slipway hosts apply` writes them).
    pub hosts: Vec<String>,
    /// The URLs are the HTTPS ones: a store of this machine trusts the local CA.
    pub https: bool,
    /// An existing cluster: the records the domain's DNS zone needs (empty until Traefik's
    /// Service has an address; always on Slipway's own cluster, where the hosts file serves).
    pub dns_records: Vec<DnsRecord>,
    /// An existing cluster: Backstage is not routed (it has no GitHub sign-in yet); this
    /// reaches it from this machine.
    pub backstage_forward: Option<String>,
    /// Backstage signs people in with GitHub: the callback URL its OAuth app must have.
    pub github_callback: Option<String>,
    /// The domain is a DNS zone (an existing cluster): no hosts file is involved.
    pub dns_zone: bool,
}

/// One record of the platform's DNS zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DnsRecord {
    pub name: String,
    /// `A`, `AAAA` or `CNAME`.
    pub record_type: &'static str,
    pub value: String,
}

/// How a browser on this machine reaches the platform's UIs: HTTP on the HTTP ingress port, or
/// HTTPS on the HTTPS port once a store of this machine trusts the local CA (`slipway trust
/// install`). Backstage's and Argo CD's own URLs follow it: a page loaded over HTTPS whose
/// backend URL is HTTP would be refused as mixed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub http_port: u16,
    /// The HTTPS port, when browsers here trust what it serves.
    pub https_port: Option<u16>,
}

impl Reach {
    /// An existing cluster's: its names are in the domain's DNS zone, on HTTPS's own port.
    pub const ZONE: Self = Self {
        http_port: 80,
        https_port: Some(443),
    };

    pub fn http(http_port: u16) -> Self {
        Self {
            http_port,
            https_port: None,
        }
    }

    pub fn url(&self, host: &str) -> String {
        match self.https_port {
            Some(443) => format!("https://{host}"),
            Some(port) => format!("https://{host}:{port}"),
            None => ingress_url(host, self.http_port),
        }
    }
}

/// The HTTPS port when a store of this machine trusts the local CA kept in `keyring`.
pub fn trusted_https_port(keyring: &Keyring, https_port: Option<u16>) -> Option<u16> {
    https_port.filter(|_| crate::trust::machine_trusts(keyring))
}

/// `http://<host>[:<port>]`: a name served through the HTTP ingress published on `port`.
pub fn ingress_url(host: &str, port: u16) -> String {
    if port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{port}")
    }
}

impl PlatformSummary {
    /// Where the platform installed with `options` answers.
    pub fn new(options: &InstallOptions) -> Self {
        let reach = options.reach();
        let backstage_url = reach.url(&crate::hosts::platform_hosts(&options.domain)[1]);
        let hosts = crate::hosts::platform_hosts(&options.domain);
        Self {
            argocd_url: reach.url(&hosts[0]),
            backstage_url: backstage_url.clone(),
            grafana_url: (!options.without.contains(&gitops::Part::Observability))
                .then(|| reach.url(&hosts[2])),
            argocd_user: "admin",
            hosts,
            https: reach.https_port.is_some(),
            dns_records: Vec::new(),
            backstage_forward: options
                .existing
                .as_ref()
                .filter(|_| options.sign_in() == gitops::SignIn::Closed)
                .map(|t| format!("slipway forward --context {} backstage", t.kube.context)),
            github_callback: matches!(options.sign_in(), gitops::SignIn::GitHub { .. })
                .then(|| gitops::github_callback(&backstage_url)),
            dns_zone: options.existing.is_some(),
        }
    }
}

/// Bring the cluster and the platform up, resuming whatever a previous run left. Holds the
/// cluster's run lock throughout.
pub async fn up(
    spec: ClusterSpec,
    options: &UpOptions,
    sink: &dyn ProgressSink,
) -> Result<UpReport, PlatformError> {
    let started = Instant::now();
    let _lock = RunLock::acquire(&spec.name, "slipway up")?;
    let mut stage = ClusterStage {
        cluster: Cluster::connect(spec).await?,
        recreate: options.recreate,
        // A bare cluster (`--cluster-only`) runs no platform pods.
        platform_requests: match &options.platform {
            Some(p) => gitops::memory_requests(&p.without)?,
            None => 0,
        },
    };
    let mut steps = pipeline::run(&UP, &options.timeouts, sink, &mut stage).await?;
    let mut status = stage.cluster.status().await?;
    let platform = match &options.platform {
        None => None,
        Some(install_options) => {
            let kubeconfig = match status.kubeconfig.clone() {
                Some(path) => path,
                None => crate::cluster::kubeconfig::merge_target().map_err(ClusterError::from)?,
            };
            let kube = KubeContext {
                kubeconfig,
                context: status.context.clone(),
            };
            steps.extend(install::install(&kube, install_options, &options.timeouts, sink).await?);
            status = stage.cluster.status().await?;
            Some(PlatformSummary::new(install_options))
        }
    };
    durations::record(&stage.cluster.spec().name, &steps);
    Ok(UpReport {
        cluster: stage.cluster.spec().name.clone(),
        up_to_date: steps.iter().all(|s| !s.outcome.is_change()),
        steps,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        status,
        platform,
    })
}

/// The cluster part of `up`.
struct ClusterStage {
    cluster: Cluster,
    recreate: bool,
    /// What the platform's pods will request (preflight compares it with Docker's memory).
    platform_requests: u64,
}

impl Stage for ClusterStage {
    type Id = StepId;
    type Error = ClusterError;

    async fn execute(
        &mut self,
        id: StepId,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, ClusterError> {
        let c = &mut self.cluster;
        match id {
            StepId::Preflight => c.preflight(r, self.recreate, self.platform_requests).await,
            StepId::NodeImage => c.ensure_image(r).await,
            StepId::Network => c.ensure_network(r).await,
            StepId::Nodes => c.ensure_nodes(r).await,
            StepId::KubeadmConfig => c.write_kubeadm_config(r).await,
            StepId::ControlPlane => c.init_control_plane(r).await,
            StepId::Cni => c.install_cni(r).await,
            StepId::Storage => c.install_storage(r).await,
            StepId::Join => c.join_workers(r).await,
            StepId::NodeLabels => c.label_nodes(r).await,
            StepId::NodesReady => c.wait_ready(r).await,
            StepId::Kubeconfig => c.export_kubeconfig(r).await,
        }
    }
}

/// `down` and `stop`: one step each, on the same runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStep {
    Delete,
    Stop,
}

/// `slipway down`.
pub const DOWN: Pipeline<LifecycleStep> = Pipeline {
    steps: &[step(
        LifecycleStep::Delete,
        "delete",
        "Delete the cluster",
        300,
        1,
    )],
    resume: "slipway down",
};

/// `slipway stop`.
pub const STOP: Pipeline<LifecycleStep> = Pipeline {
    steps: &[step(LifecycleStep::Stop, "stop", "Stop the nodes", 120, 1)],
    resume: "slipway stop",
};

struct LifecycleStage(Cluster);

impl Stage for LifecycleStage {
    type Id = LifecycleStep;
    type Error = ClusterError;

    async fn execute(
        &mut self,
        id: LifecycleStep,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, ClusterError> {
        match id {
            LifecycleStep::Delete => self.0.delete(r).await,
            LifecycleStep::Stop => self.0.stop(r).await,
        }
    }
}

async fn lifecycle(
    spec: ClusterSpec,
    pipeline: &Pipeline<LifecycleStep>,
    operation: &str,
    sink: &dyn ProgressSink,
) -> Result<StepOutcome, PlatformError> {
    let _lock = RunLock::acquire(&spec.name, operation)?;
    let mut stage = LifecycleStage(Cluster::connect(spec).await?);
    let mut reports = pipeline::run(pipeline, &Timeouts::default(), sink, &mut stage).await?;
    Ok(reports.remove(0).outcome)
}

/// Remove the cluster, its kubeconfig entries and its Backstage token in the keyring. Sealed
/// Secrets' escrowed key stays: the next cluster of that name gets it back.
pub async fn down(
    spec: ClusterSpec,
    sink: &dyn ProgressSink,
) -> Result<StepOutcome, PlatformError> {
    let account = accounts::backstage_api_token(&spec.name);
    let outcome = lifecycle(spec, &DOWN, "slipway down", sink).await?;
    // The API token belonged to that cluster's Backstage: a new cluster gets a new one.
    if let Err(e) = Keyring::os().delete(&account) {
        StepContext::new("delete", sink, Duration::ZERO)
            .warn(format!("could not remove {account} from the keyring: {e}"));
    }
    Ok(outcome)
}

/// Stop the node containers, keeping their state for the next `up`.
pub async fn stop(
    spec: ClusterSpec,
    sink: &dyn ProgressSink,
) -> Result<StepOutcome, PlatformError> {
    lifecycle(spec, &STOP, "slipway stop", sink).await
}

/// The cluster's kubeconfig (context `kind-<name>`) as YAML.
pub async fn kubeconfig(spec: ClusterSpec) -> Result<String, PlatformError> {
    Ok(Cluster::connect(spec).await?.kubeconfig_yaml().await?)
}

/// The cluster and, when its API answers, every platform component.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlatformStatus {
    #[serde(flatten)]
    pub cluster: ClusterStatus,
    pub components: Vec<ComponentStatus>,
    /// The API answers through its published port (the kubeconfig's server).
    pub api_reachable: bool,
    /// The HTTP ingress port answers (with any HTTP status: Traefik is behind it).
    pub ingress_answering: bool,
    /// Argo CD or one of the platform's Applications exists (`up --cluster-only` installs none).
    pub platform_installed: bool,
    /// `github` when Argo CD's root Application runs the platform repository, `local` when
    /// Slipway runs the platform itself (no service from GitHub is deployed), else `null`.
    pub mode: Option<String>,
    /// What keeps the platform from being healthy, each with what to run; empty when it is.
    /// After a Docker restart or a reboot this is the answer to "is it back?".
    pub problems: Vec<String>,
    /// A store of this machine trusts the local CA the HTTPS ingress's certificates come from
    /// (`slipway trust install`): browsers take `https://<host>:<https-port>` without a warning.
    pub https_trusted: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ComponentStatus {
    pub name: String,
    /// `Synced`/`OutOfSync` for Argo CD Applications; helm's release status for Argo CD.
    pub sync: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Missing` …
    pub health: String,
    /// The chart version the bundle pins.
    pub pinned: Option<String>,
    /// The chart version the cluster runs: Argo CD's release label, or the chart revision the
    /// Application deploys (which an edited platform repository may have changed).
    pub running: Option<String>,
    /// Why it is not Healthy, in Argo CD's words, when Argo CD gave one.
    pub reason: Option<String>,
}

pub async fn status(spec: ClusterSpec) -> Result<PlatformStatus, PlatformError> {
    let cluster = Cluster::connect(spec).await?.status().await?;
    let mut problems = Vec::new();
    let mut api_reachable = false;
    let mut components_read = Vec::new();
    let mut root_app = false;
    if cluster.exists && cluster.context_present {
        let target = k8s::KubeTarget {
            kubeconfig: cluster.kubeconfig.clone(),
            context: Some(cluster.context.clone()),
        };
        match api_client(&target).await {
            Ok(client) => {
                api_reachable = true;
                if cluster.healthy {
                    components_read = components(&client).await?;
                    root_app = has_root_application(&client).await;
                }
            }
            Err(reason) => problems.push(format!(
                "the API server does not answer at {} ({reason}); run `slipway up`",
                cluster
                    .api_server
                    .as_deref()
                    .unwrap_or("its published port")
            )),
        }
    }
    // The ingress as published (the flags of the `up` that made it), not as this call's spec.
    let ingress = cluster
        .ingress
        .iter()
        .find_map(|url| url.strip_prefix("http://"))
        .and_then(|addr| addr.parse::<std::net::SocketAddr>().ok());
    let ingress_answering = match ingress {
        Some(addr) => routing::probe(addr, "slipway-status.invalid").await.is_ok(),
        None => false,
    };
    if !cluster.exists {
        problems.push("the cluster does not exist; run `slipway up`".into());
    } else {
        if !cluster.context_present {
            problems.push(format!(
                "the kubeconfig has no context {}; run `slipway up`",
                cluster.context
            ));
        }
        for n in &cluster.nodes {
            if n.state != NodeState::Running {
                problems.push(format!("node {} is not running; run `slipway up`", n.name));
            } else if n.ready == Some(false) {
                problems.push(format!(
                    "node {} is not Ready yet; run `slipway up` to wait for it",
                    n.name
                ));
            }
        }
        if !ingress_answering {
            problems.push(format!(
                "nothing answers on the HTTP ingress {}; run `slipway up`",
                ingress.map_or("(not published)".to_owned(), |a| a.to_string())
            ));
        }
    }
    let platform_installed = components_read.iter().any(|c| c.health != "Missing");
    let mode = platform_installed.then(|| if root_app { "github" } else { "local" }.to_owned());
    for c in components_read.iter().filter(|_| platform_installed) {
        if c.health != "Healthy" {
            problems.push(format!(
                "{} is {} ({}); run `slipway up` to repair it",
                c.name, c.health, c.sync
            ));
        }
    }
    let https_trusted = crate::trust::machine_trusts(&Keyring::os());
    Ok(PlatformStatus {
        cluster,
        components: components_read,
        api_reachable,
        ingress_answering,
        platform_installed,
        mode,
        problems,
        https_trusted,
    })
}

/// Argo CD's root Application exists: the platform runs from the platform repository.
async fn has_root_application(client: &kube::Client) -> bool {
    let apps: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        install::ARGO_NAMESPACE,
        &k8s::wait::application_resource(),
    );
    matches!(
        tokio::time::timeout(Duration::from_secs(10), apps.get_opt("root")).await,
        Ok(Ok(Some(_)))
    )
}

/// A client whose API answered `/version` through the kubeconfig's server, within 10 s.
async fn api_client(target: &k8s::KubeTarget) -> Result<kube::Client, String> {
    let client = target.client().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

/// Argo CD (its Deployments) and each platform Application, as the cluster reports them.
async fn components(client: &kube::Client) -> Result<Vec<ComponentStatus>, PlatformError> {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, DynamicObject, ListParams};
    let within = |what: &str| K8sError::Timeout {
        what: format!("reading {what}"),
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), install::ARGO_NAMESPACE);
    let list = tokio::time::timeout(
        Duration::from_secs(10),
        deployments.list(&ListParams::default()),
    )
    .await
    .map_err(|_| within("Argo CD"))?
    .map_err(K8sError::from)?;
    let ready = list
        .items
        .iter()
        .filter(|d| {
            d.status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
                > 0
        })
        .count();
    let health = match (list.items.len(), ready) {
        (0, _) => "Missing",
        (n, r) if n == r => "Healthy",
        _ => "Progressing",
    };
    let argo: gitops::Component = crate::bundle::yaml(crate::bundle::ARGO_CD)?;
    // The chart's standard label (`helm.sh/chart: argo-cd-<version>`) on what it deployed.
    let running = list.items.iter().find_map(|d| {
        d.metadata
            .labels
            .as_ref()?
            .get("helm.sh/chart")?
            .strip_prefix(&format!("{}-", argo.chart.name))
            .map(str::to_owned)
    });
    let mut out = vec![ComponentStatus {
        name: "argo-cd".into(),
        sync: format!("{ready}/{} Deployments available", list.items.len()),
        health: health.into(),
        pinned: Some(argo.chart.version),
        running,
        reason: (health != "Healthy" && !list.items.is_empty())
            .then(|| format!("{ready} of {} Deployments available", list.items.len())),
    }];
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        install::ARGO_NAMESPACE,
        &k8s::wait::application_resource(),
    );
    for c in gitops::components()? {
        let app = tokio::time::timeout(Duration::from_secs(10), apps.get_opt(&c.name))
            .await
            .map_err(|_| within("Applications"))?;
        // No Application CRD yet (Argo CD not installed) reads as missing, not as a failure.
        let app = match app {
            Ok(app) => app,
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) => return Err(K8sError::from(e).into()),
        };
        // A part left out (`--without`) has no Application: not installed, not missing.
        if app.is_none() && c.part.is_some() {
            continue;
        }
        let (sync, health) = app.as_ref().map_or_else(
            || ("Missing".into(), "Missing".into()),
            k8s::wait::application_state,
        );
        let reason = app
            .as_ref()
            .filter(|_| health != "Healthy")
            .and_then(k8s::wait::application_reason);
        out.push(ComponentStatus {
            running: app
                .as_ref()
                .and_then(|a| k8s::wait::chart_revision(a, &c.chart.name)),
            pinned: Some(c.chart.version),
            name: c.name,
            sync,
            health,
            reason,
        });
    }
    Ok(out)
}

/// What the checks `up` starts with found: the Docker daemon and its size against what the
/// platform needs, and the warnings (low inotify limits, cgroup v1, disk …).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Preflight {
    /// The Docker daemon asked, and how it was chosen (`unix:///… (context colima)`).
    pub docker: String,
    /// The memory Docker has, when it says.
    #[ts(type = "number | null")]
    pub memory_bytes: Option<u64>,
    /// What the platform's pods request plus what Kubernetes itself takes.
    #[ts(type = "number")]
    pub needed_bytes: u64,
    /// What the platform with a few services wants.
    #[ts(type = "number")]
    pub recommended_bytes: u64,
    pub warnings: Vec<String>,
}

/// The checks `up` starts with, read-only: what they found, or the error that would stop `up`
/// (Docker unreachable, a port taken, a mismatched cluster).
/// `without`: the optional parts the platform goes without (their pods request nothing).
pub async fn preflight(
    spec: ClusterSpec,
    without: &[gitops::Part],
) -> Result<Preflight, PlatformError> {
    let mut cluster = Cluster::connect(spec).await?;
    let recorder = Recorder::default();
    let limit = UP_STEPS[0].timeout;
    let requests = gitops::memory_requests(without)?;
    cluster
        .preflight(
            StepContext::new("preflight", &recorder, limit),
            false,
            requests,
        )
        .await?;
    let (docker, memory_bytes) = cluster.docker_size().await?;
    Ok(Preflight {
        docker,
        memory_bytes,
        needed_bytes: crate::cluster::preflight::needed_memory(requests),
        recommended_bytes: crate::cluster::preflight::RECOMMENDED_MEMORY_BYTES.unsigned_abs(),
        warnings: recorder.warnings(),
    })
}

/// Argo CD's initial `admin` password, from the Secret Argo CD creates at first start.
pub async fn argocd_password(spec: ClusterSpec) -> Result<Option<String>, PlatformError> {
    let status = Cluster::connect(spec).await?.status().await?;
    let target = k8s::KubeTarget {
        kubeconfig: status.kubeconfig,
        context: Some(status.context),
    };
    Ok(k8s::secret_value(
        &target.client().await?,
        install::ARGO_NAMESPACE,
        "argocd-initial-admin-secret",
        "password",
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keys_are_unique_across_up_and_kebab_case() {
        let mut keys: Vec<_> = UP_STEPS
            .iter()
            .map(|s| s.key)
            .chain(install::INSTALL.steps.iter().map(|s| s.key))
            .collect();
        assert!(
            keys.iter()
                .all(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        assert_eq!(
            UP_STEPS[0].key, "preflight",
            "nothing is created before preflight"
        );
        for key in APP_WAIT_STEPS {
            assert!(
                keys.contains(key),
                "--app-timeout names {key}, a step of up"
            );
        }
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "a timeout override names one step");
    }
}
