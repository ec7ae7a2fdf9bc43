//! Kind-compatible clusters made directly through the Docker Engine API.
//!
//! Node containers, labels, network, kubeadm config and kubeconfig entries follow kind
//! (`facts/kind.md`), so `kind get clusters`, `kind delete cluster` and `kubectl` work on what
//! Slipway makes. The provisioning steps are in [`provision`]; the `up` pipeline that orders them
//! is `platform`.

pub mod docker;
pub mod endpoint;
pub mod host;
pub mod kubeadm;
pub mod kubeconfig;
mod lifecycle;
pub mod network;
pub mod preflight;
mod provision;
pub mod spec;
mod status;

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Classified, ErrorKind};
pub use docker::{Docker, DockerError};
pub use kubeconfig::KubeconfigError;
pub use provision::BOOT_TIMEOUT;
pub use spec::{ClusterSpec, NodeSpec, Overrides, Role};
pub use status::NodeState;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Docker refused or failed a call.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The kubeconfig could not be read or written.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// The embedded bundle is broken (a build fault).
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    /// The cluster name is not one kind accepts.
    #[error(
        "invalid cluster name {0:?}: names must match ^[a-z0-9.-]+$ (at most 50 characters), e.g. `slipway`"
    )]
    InvalidName(String),
    /// The cluster config asks for something Slipway cannot make.
    #[error("invalid cluster config: {0}")]
    InvalidConfig(String),
    /// A setting of `up` (flag, variable or settings file) breaks a rule; the text says which.
    #[error("{0}")]
    InvalidSetting(String),
    /// The cluster config is not YAML of kind's shape.
    #[error("not a kind cluster config: {0}")]
    ConfigSyntax(#[source] Box<serde_saphyr::Error>),
    /// Rendering YAML for a node (kubeadm config, kubeconfig) failed.
    #[error("cannot render {what}: {source}")]
    Render {
        what: &'static str,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// Rootless Docker on a host without cgroup v2.
    #[error(
        "rootless Docker needs cgroup v2 to run Kubernetes nodes. Boot the host with cgroup v2 \
         (systemd.unified_cgroup_hierarchy=1), see https://kind.sigs.k8s.io/docs/user/rootless/"
    )]
    RootlessCgroupV1,
    /// Rootless Docker without the cgroup controllers kubelet needs.
    #[error(
        "rootless Docker lacks delegated cgroup controllers (memory, pids, cpu). Run \
         `sudo mkdir -p /etc/systemd/system/user@.service.d` and add `[Service]\\nDelegate=yes` in \
         delegate.conf there, then `sudo systemctl daemon-reload` and log in again"
    )]
    RootlessNotDelegated,
    /// A host port the cluster needs is taken.
    #[error(
        "port {port} on {address} ({what}) is not available: {reason}. Stop the program using it, \
         or choose another port with {flag}"
    )]
    PortUnavailable {
        port: u16,
        address: String,
        what: String,
        reason: String,
        flag: &'static str,
    },
    /// A cluster of that name exists with other settings.
    #[error(
        "cluster {name:?} exists but differs from the requested one:\n  {}\nRun `slipway down` and then \
         `slipway up`, or `slipway up --recreate` (both delete the cluster and what runs in it)",
        differences.join("\n  ")
    )]
    SpecMismatch {
        name: String,
        differences: Vec<String>,
    },
    /// The node image lacks what a kind node image has.
    #[error("{node} has no {missing}; is {image} a kind node image? Use a kindest/node image")]
    NotAKindImage {
        node: String,
        image: String,
        missing: &'static str,
    },
    /// The node's `/kind/version` is not a Kubernetes version.
    #[error("unreadable Kubernetes version {0:?} in /kind/version; use a kindest/node image")]
    UnreadableVersion(String),
    /// The node runs a Kubernetes older than Slipway supports.
    #[error(
        "node image runs Kubernetes v{major}.{minor}, older than Slipway supports (1.23+); use a newer --node-image"
    )]
    TooOld { major: u32, minor: u32 },
    /// A node has no address on the cluster's network.
    #[error("{node} has no address on network {network}; `slipway up --recreate` makes it anew")]
    NoAddress { node: String, network: String },
    /// A command in a node printed something that is not what it should print.
    #[error("`{command}` on {node} printed unreadable {format}: {reason}")]
    NodeOutput {
        node: String,
        command: &'static str,
        format: &'static str,
        reason: String,
    },
    /// A node did not boot in time.
    #[error(
        "node {node} did not finish booting within {secs} s (no \"Reached target Multi-User System\" line). \
         {cleanup} Its last log lines:\n{last_lines}"
    )]
    BootTimeout {
        node: String,
        secs: u64,
        last_lines: String,
        cleanup: String,
    },
    /// A node's container stopped while booting.
    #[error("node {node} stopped while booting. {cleanup} Its last log lines:\n{last_lines}")]
    NodeExited {
        node: String,
        last_lines: String,
        cleanup: String,
    },
    /// A wait in a cluster step ended at the step's deadline.
    #[error("{what} did not happen within {secs} s: {detail}")]
    NotReady {
        what: String,
        secs: u64,
        detail: String,
    },
    /// The cluster does not exist.
    #[error("cluster {0:?} does not exist; run `slipway up` to create it")]
    Missing(String),
    /// A background task of Slipway's own failed (a bug).
    #[error("a background task failed: {0}; please report this")]
    Task(#[from] tokio::task::JoinError),
    /// The Docker daemon refused a privileged container; Kubernetes nodes cannot run there.
    #[error(
        "Docker at {endpoint} refused a privileged container ({reason}). Kubernetes nodes, kind's as \
         Slipway's, need privileged containers: use a Docker Engine or Docker Desktop that allows them \
         (not a sandbox or container runtime that drops capabilities, such as gVisor, a CI runner \
         without privileged mode, or Docker-in-Docker started without --privileged), or another \
         Docker with `docker context use NAME`"
    )]
    PrivilegedRefused { endpoint: String, reason: String },
    /// The OS gave no randomness for the cluster's bootstrap token.
    #[error("no randomness from the OS for the cluster's bootstrap token: {0}")]
    Random(String),
}

impl ClusterError {
    /// Worth retrying the step: the daemon or the API server was briefly unavailable.
    pub fn is_transient(&self) -> bool {
        match self {
            ClusterError::Docker(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl crate::pipeline::StepFailure for ClusterError {
    fn is_transient(&self) -> bool {
        ClusterError::is_transient(self)
    }
}

impl Classified for ClusterError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Docker(e) => e.kind(),
            Self::Kubeconfig(_) => ErrorKind::Io,
            Self::Bundle(e) => e.kind(),
            Self::InvalidName(_)
            | Self::InvalidConfig(_)
            | Self::InvalidSetting(_)
            | Self::ConfigSyntax(_)
            | Self::NotAKindImage { .. }
            | Self::UnreadableVersion(_)
            | Self::TooOld { .. } => ErrorKind::Invalid,
            Self::RootlessCgroupV1
            | Self::RootlessNotDelegated
            | Self::PrivilegedRefused { .. } => ErrorKind::Docker,
            Self::PortUnavailable { .. } | Self::SpecMismatch { .. } => ErrorKind::Conflict,
            Self::Missing(_) => ErrorKind::Cluster,
            Self::Render { .. } | Self::Task(_) | Self::Random(_) => ErrorKind::Internal,
            Self::NoAddress { .. }
            | Self::NodeOutput { .. }
            | Self::BootTimeout { .. }
            | Self::NodeExited { .. }
            | Self::NotReady { .. } => ErrorKind::Step,
        }
    }
}

/// The cluster as Docker and the API server report it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ClusterStatus {
    pub name: String,
    /// The Docker daemon asked, and how it was chosen (`unix:///… (context colima)`).
    pub docker: String,
    pub exists: bool,
    /// Every node container is running and every Kubernetes node is Ready.
    pub healthy: bool,
    pub nodes: Vec<NodeStatus>,
    /// `https://127.0.0.1:<port>` when the control-plane publishes the API.
    pub api_server: Option<String>,
    /// URLs of the published ingress ports (`http://127.0.0.1:8880`, `https://127.0.0.1:8843`).
    pub ingress: Vec<String>,
    #[ts(type = "string | null")]
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    pub context_present: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct NodeStatus {
    pub name: String,
    pub role: String,
    pub state: NodeState,
    pub image: String,
    /// The Kubernetes node's Ready condition, when the API server could be asked.
    pub ready: Option<bool>,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A cluster to act on: its spec plus a Docker connection.
pub struct Cluster {
    pub(crate) docker: Docker,
    pub(crate) spec: ClusterSpec,
    /// The API server's host port, fixed once chosen.
    pub(crate) api_port: u16,
    /// `docker info`, read once per connection (preflight and the host facts both need it; it
    /// does not change under one run).
    pub(crate) info: tokio::sync::OnceCell<bollard::models::SystemInfo>,
}

impl Cluster {
    pub async fn connect(spec: ClusterSpec) -> Result<Self, ClusterError> {
        let docker = Docker::connect()
            .await?
            .with_privileged_exec(spec.privileged);
        let api_port = spec.api_server_port;
        Ok(Self {
            docker,
            spec,
            api_port,
            info: tokio::sync::OnceCell::new(),
        })
    }

    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}
