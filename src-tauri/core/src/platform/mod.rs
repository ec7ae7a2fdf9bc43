//! The `up` / `down` / `stop` / `status` pipeline.
//!
//! `up` is two lists of steps (data: id, title, timeout, retries) run in order by one small
//! runner: the cluster ([`UP_STEPS`]: preflight → nodes → kubeadm → CNI → join → Ready →
//! kubeconfig), then the platform ([`install::INSTALL_STEPS`]: Argo CD by helm → owned Secrets →
//! GitOps source → Applications Synced/Healthy → routing by HTTP). Every step checks before it
//! writes, so a re-run resumes where a failed run stopped and a healthy platform is left untouched.

pub mod gitops;
pub mod install;
pub mod publish;
pub mod routing;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use crate::bundle::BundleError;
use crate::cluster::{BOOT_TIMEOUT, Cluster, ClusterError, ClusterSpec, ClusterStatus};
use crate::helm::{HelmError, KubeContext};
use crate::k8s::{self, K8sError};
use crate::progress::{ProgressEvent, ProgressSink, StepOutcome, StepReporter};
use crate::secrets::{Keyring, accounts};
use install::InstallOptions;

/// What a step can fail with: the error of the layer it drives.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Kube(#[from] K8sError),
    #[error(transparent)]
    Helm(#[from] HelmError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
}

impl From<crate::github::GitHubError> for StepError {
    fn from(e: crate::github::GitHubError) -> Self {
        Self::Service(e.into())
    }
}

impl From<crate::backstage::BackstageError> for StepError {
    fn from(e: crate::backstage::BackstageError) -> Self {
        Self::Service(e.into())
    }
}

impl StepError {
    /// Worth another attempt: a daemon or API server was briefly unavailable.
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Cluster(e) => e.is_transient(),
            StepError::Service(
                crate::service::ServiceError::GitHub(crate::github::GitHubError::Unreachable {
                    ..
                })
                | crate::service::ServiceError::Backstage(
                    crate::backstage::BackstageError::Unreachable { .. },
                ),
            ) => true,
            StepError::Kube(e) => match e.api_error() {
                Some(kube::Error::Api(s)) => s.code >= 500 || s.code == 429,
                Some(kube::Error::HyperError(_) | kube::Error::Service(_)) => true,
                _ => false,
            },
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("step `{step}` failed: {source}")]
    Step {
        step: &'static str,
        source: StepError,
    },
    #[error("step `{step}` did not finish within {secs} s; re-run `slipway up` to resume it")]
    Timeout { step: &'static str, secs: u64 },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Kube(#[from] K8sError),
}

impl PlatformError {
    /// The id of the step that failed, if a step failed.
    pub fn step(&self) -> Option<&'static str> {
        match self {
            Self::Step { step, .. } | Self::Timeout { step, .. } => Some(step),
            Self::Cluster(_) | Self::Kube(_) => None,
        }
    }
}

/// Options of `slipway up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Delete an existing cluster first.
    pub recreate: bool,
    /// How long a node may take to boot.
    pub boot_timeout: Duration,
    /// How long to wait for every node to be Ready.
    pub ready_timeout: Duration,
    /// The platform on top of the cluster; `None` makes (or repairs) the cluster only.
    pub platform: Option<InstallOptions>,
}

impl UpOptions {
    /// Cluster only, default timeouts.
    pub fn cluster_only() -> Self {
        Self {
            recreate: false,
            boot_timeout: BOOT_TIMEOUT,
            ready_timeout: Duration::from_secs(300),
            platform: None,
        }
    }

    /// Cluster and platform with the platform defaults for `spec` (its name and ingress port).
    pub fn with_platform(spec: &ClusterSpec) -> Self {
        Self {
            platform: Some(InstallOptions::new(&spec.name, spec.http_ingress())),
            ..Self::cluster_only()
        }
    }
}

/// The steps of `up`, in order. Ids are stable: front ends and logs key on them.
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

/// One step's static description.
pub struct StepDef<Id = StepId> {
    pub id: Id,
    pub key: &'static str,
    pub title: &'static str,
    pub timeout: Duration,
    /// Extra attempts for transient errors (daemon hiccups), with a short pause between.
    pub retries: u32,
}

pub(crate) const fn step<Id>(
    id: Id,
    key: &'static str,
    title: &'static str,
    timeout_secs: u64,
    retries: u32,
) -> StepDef<Id> {
    StepDef {
        id,
        key,
        title,
        timeout: Duration::from_secs(timeout_secs),
        retries,
    }
}

/// A pipeline: what each of its step ids does. The runner ([`run_steps`]) is shared.
pub(crate) trait Stage {
    type Id: Copy;
    async fn execute(
        &mut self,
        id: Self::Id,
        reporter: StepReporter<'_>,
    ) -> Result<StepOutcome, StepError>;
    /// A step's time limit (a step with its own wait inside may need longer than its default).
    fn timeout(&self, def: &StepDef<Self::Id>) -> Duration {
        def.timeout
    }
}

/// `slipway up`, as data.
pub const UP_STEPS: &[StepDef] = &[
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
        "Create or start the node containers",
        300,
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
        900,
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
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpReport {
    pub cluster: String,
    pub steps: Vec<StepReport>,
    /// Nothing was changed: the platform was already up.
    pub up_to_date: bool,
    pub elapsed_ms: u128,
    pub status: ClusterStatus,
    /// Where the platform answers, when `up` installed it.
    pub platform: Option<PlatformSummary>,
}

/// What a user needs after `up`: the UIs' URLs and how to sign in to Argo CD.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSummary {
    pub argocd_url: String,
    pub backstage_url: String,
    /// Argo CD's user; its initial password is read on request, never shown by default.
    pub argocd_user: &'static str,
    /// The names that must resolve to the ingress address (`slipway hosts apply` writes them).
    pub hosts: Vec<String>,
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
        let port = options.ingress.port();
        let url = |host: &str| ingress_url(host, port);
        let hosts = crate::hosts::platform_hosts(&options.domain);
        Self {
            argocd_url: url(&hosts[0]),
            backstage_url: url(&hosts[1]),
            argocd_user: "admin",
            hosts,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    pub id: &'static str,
    pub outcome: StepOutcome,
    pub attempts: u32,
}

/// Bring the cluster and the platform up, resuming whatever a previous run left.
pub async fn up(
    spec: ClusterSpec,
    options: &UpOptions,
    sink: &dyn ProgressSink,
) -> Result<UpReport, PlatformError> {
    let started = Instant::now();
    let mut stage = ClusterStage {
        cluster: Cluster::connect(spec).await?,
        options,
    };
    let mut steps = run_steps(UP_STEPS, sink, &mut stage).await?;
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
            steps.extend(install::install(&kube, install_options, sink).await?);
            Some(PlatformSummary::new(install_options))
        }
    };
    if platform.is_some() {
        status = stage.cluster.status().await?;
    }
    Ok(UpReport {
        cluster: stage.cluster.spec().name.clone(),
        up_to_date: steps.iter().all(|s| !s.outcome.is_change()),
        steps,
        elapsed_ms: started.elapsed().as_millis(),
        status,
        platform,
    })
}

/// The cluster part of `up`.
struct ClusterStage<'a> {
    cluster: Cluster,
    options: &'a UpOptions,
}

impl Stage for ClusterStage<'_> {
    type Id = StepId;

    async fn execute(&mut self, id: StepId, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let (c, o) = (&mut self.cluster, self.options);
        Ok(match id {
            StepId::Preflight => c.preflight(r, o.recreate).await?,
            StepId::NodeImage => c.ensure_image(r).await?,
            StepId::Network => c.ensure_network(r).await?,
            StepId::Nodes => c.ensure_nodes(r, o.boot_timeout).await?,
            StepId::KubeadmConfig => c.write_kubeadm_config(r).await?,
            StepId::ControlPlane => c.init_control_plane(r).await?,
            StepId::Cni => c.install_cni(r).await?,
            StepId::Storage => c.install_storage(r).await?,
            StepId::Join => c.join_workers(r).await?,
            StepId::NodeLabels => c.label_nodes(r).await?,
            StepId::NodesReady => c.wait_ready(r, o.ready_timeout).await?,
            StepId::Kubeconfig => c.export_kubeconfig(r).await?,
        })
    }

    fn timeout(&self, def: &StepDef) -> Duration {
        // Waits with their own limit must fit inside the step's.
        match def.id {
            StepId::NodesReady => def
                .timeout
                .max(self.options.ready_timeout + Duration::from_secs(30)),
            StepId::Nodes => def.timeout.max(self.options.boot_timeout * 2),
            _ => def.timeout,
        }
    }
}

/// Run `steps` in order, stopping at the first failure.
pub(crate) async fn run_steps<S: Stage>(
    steps: &[StepDef<S::Id>],
    sink: &dyn ProgressSink,
    stage: &mut S,
) -> Result<Vec<StepReport>, PlatformError> {
    let mut reports = Vec::new();
    for def in steps {
        let (outcome, attempts) = run_step(def, sink, stage).await?;
        reports.push(StepReport {
            id: def.key,
            outcome,
            attempts,
        });
    }
    Ok(reports)
}

/// Run one step with its timeout and retry policy, reporting start and end.
async fn run_step<S: Stage>(
    def: &StepDef<S::Id>,
    sink: &dyn ProgressSink,
    stage: &mut S,
) -> Result<(StepOutcome, u32), PlatformError> {
    let reporter = StepReporter { id: def.key, sink };
    let timeout = stage.timeout(def);
    let mut attempt = 1;
    loop {
        sink.emit(ProgressEvent::StepStarted {
            id: def.key,
            title: def.title,
            attempt,
            at: Timestamp::now(),
        });
        let result = tokio::time::timeout(timeout, stage.execute(def.id, reporter)).await;
        let error = match result {
            Ok(Ok(outcome)) => {
                sink.emit(ProgressEvent::StepFinished {
                    id: def.key,
                    outcome: outcome.clone(),
                    attempt,
                    at: Timestamp::now(),
                });
                return Ok((outcome, attempt));
            }
            Ok(Err(e)) if e.is_transient() && attempt <= def.retries => {
                reporter.warn(format!("attempt {attempt} failed, retrying: {e}"));
                finish_failed(sink, def.key, attempt, e.to_string());
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                continue;
            }
            Ok(Err(source)) => PlatformError::Step {
                step: def.key,
                source,
            },
            Err(_) => PlatformError::Timeout {
                step: def.key,
                secs: timeout.as_secs(),
            },
        };
        finish_failed(sink, def.key, attempt, error.to_string());
        return Err(error);
    }
}

fn finish_failed(sink: &dyn ProgressSink, id: &'static str, attempt: u32, error: String) {
    sink.emit(ProgressEvent::StepFinished {
        id,
        outcome: StepOutcome::Failed { error },
        attempt,
        at: Timestamp::now(),
    });
}

/// Remove the cluster, its kubeconfig entries and its Backstage token in the keyring. Sealed
/// Secrets' escrowed key stays: the next cluster of that name gets it back.
pub async fn down(
    spec: ClusterSpec,
    sink: &dyn ProgressSink,
) -> Result<StepOutcome, PlatformError> {
    let account = accounts::backstage_api_token(&spec.name);
    let cluster = Cluster::connect(spec).await?;
    let reporter = StepReporter { id: "delete", sink };
    let outcome = single_step(
        "delete",
        "Delete the cluster",
        sink,
        cluster.delete(reporter),
    )
    .await?;
    // The API token belonged to that cluster's Backstage: a new cluster gets a new one.
    match Keyring::os().delete(&account) {
        Ok(_) => {}
        Err(e) => reporter.warn(format!("could not remove {account} from the keyring: {e}")),
    }
    Ok(outcome)
}

/// Stop the node containers, keeping their state for the next `up`.
pub async fn stop(
    spec: ClusterSpec,
    sink: &dyn ProgressSink,
) -> Result<StepOutcome, PlatformError> {
    let cluster = Cluster::connect(spec).await?;
    single_step(
        "stop",
        "Stop the nodes",
        sink,
        cluster.stop(StepReporter { id: "stop", sink }),
    )
    .await
}

/// The cluster's kubeconfig (context `kind-<name>`) as YAML.
pub async fn kubeconfig(spec: ClusterSpec) -> Result<String, PlatformError> {
    Ok(Cluster::connect(spec).await?.kubeconfig_yaml().await?)
}

/// The cluster and, when its API answers, every platform component.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    #[serde(flatten)]
    pub cluster: ClusterStatus,
    pub components: Vec<ComponentStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub name: String,
    /// `Synced`/`OutOfSync` for Argo CD Applications; helm's release status for Argo CD.
    pub sync: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Missing` …
    pub health: String,
}

pub async fn status(spec: ClusterSpec) -> Result<PlatformStatus, PlatformError> {
    let cluster = Cluster::connect(spec).await?.status().await?;
    let components = if cluster.healthy && cluster.context_present {
        let target = k8s::KubeTarget {
            kubeconfig: cluster.kubeconfig.clone(),
            context: Some(cluster.context.clone()),
        };
        components(&target.client().await?).await?
    } else {
        Vec::new()
    };
    Ok(PlatformStatus {
        cluster,
        components,
    })
}

/// Argo CD (its Deployments) and each platform Application, as the cluster reports them.
async fn components(client: &kube::Client) -> Result<Vec<ComponentStatus>, PlatformError> {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, DynamicObject, ListParams};
    let within = |what: &str| K8sError::Timeout(format!("reading {what}"));
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
    let mut out = vec![ComponentStatus {
        name: "argo-cd".into(),
        sync: format!("{ready}/{} Deployments available", list.items.len()),
        health: health.into(),
    }];
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        install::ARGO_NAMESPACE,
        &k8s::wait::application_resource(),
    );
    for c in gitops::components().map_err(|e| PlatformError::Step {
        step: "status",
        source: e.into(),
    })? {
        let app = tokio::time::timeout(Duration::from_secs(10), apps.get_opt(&c.name))
            .await
            .map_err(|_| within("Applications"))?;
        // No Application CRD yet (Argo CD not installed) reads as missing, not as a failure.
        let (sync, health) = match app {
            Ok(Some(a)) => k8s::wait::application_state(&a),
            Ok(None) => ("Missing".into(), "Missing".into()),
            Err(kube::Error::Api(s)) if s.code == 404 => ("Missing".into(), "Missing".into()),
            Err(e) => return Err(K8sError::from(e).into()),
        };
        out.push(ComponentStatus {
            name: c.name,
            sync,
            health,
        });
    }
    Ok(out)
}

/// Argo CD's initial `admin` password, from the Secret Argo CD creates at first start.
/// The checks `up` starts with, read-only: its warnings (low inotify limits, cgroup v1, disk …),
/// or the error that would stop it (Docker unreachable, a port taken, a mismatched cluster).
pub async fn preflight(spec: ClusterSpec) -> Result<Vec<String>, PlatformError> {
    let mut cluster = Cluster::connect(spec).await?;
    let recorder = crate::progress::Recorder::default();
    cluster
        .preflight(
            StepReporter {
                id: "preflight",
                sink: &recorder,
            },
            false,
        )
        .await?;
    Ok(recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message, .. } => Some(message),
            _ => None,
        })
        .collect())
}

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

async fn single_step(
    id: &'static str,
    title: &'static str,
    sink: &dyn ProgressSink,
    work: impl Future<Output = Result<StepOutcome, ClusterError>>,
) -> Result<StepOutcome, PlatformError> {
    sink.emit(ProgressEvent::StepStarted {
        id,
        title,
        attempt: 1,
        at: Timestamp::now(),
    });
    match work.await {
        Ok(outcome) => {
            sink.emit(ProgressEvent::StepFinished {
                id,
                outcome: outcome.clone(),
                attempt: 1,
                at: Timestamp::now(),
            });
            Ok(outcome)
        }
        Err(source) => {
            let error = PlatformError::Step {
                step: id,
                source: source.into(),
            };
            finish_failed(sink, id, 1, error.to_string());
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_are_unique_and_kebab_case() {
        let mut keys: Vec<_> = UP_STEPS.iter().map(|s| s.key).collect();
        assert!(
            keys.iter()
                .all(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), UP_STEPS.len());
        assert_eq!(
            UP_STEPS[0].key, "preflight",
            "nothing is created before preflight"
        );
    }
}
