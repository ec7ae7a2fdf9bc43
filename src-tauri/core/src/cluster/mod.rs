//! Kind-compatible clusters made directly through the Docker Engine API.
//!
//! Node containers, labels, network, kubeadm config and kubeconfig entries follow kind
//! (`facts/kind.md`), so `kind get clusters`, `kind delete cluster` and `kubectl` work on what
//! Slipway makes. The provisioning steps are in [`provision`]; the `up` pipeline that orders them
//! is `platform`.

pub mod docker;
pub mod kubeadm;
pub mod kubeconfig;
pub mod network;
pub mod preflight;
mod provision;
pub mod spec;

use std::path::PathBuf;

use serde::Serialize;

pub use docker::{Docker, DockerError};
pub use kubeconfig::KubeconfigError;
pub use provision::{BOOT_TIMEOUT, NodeState};
pub use spec::{ClusterSpec, NodeSpec, Overrides, Role};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error(
        "invalid cluster name {0:?}: names must match ^[a-z0-9.-]+$ (at most 50 characters), e.g. `slipway`"
    )]
    InvalidName(String),
    #[error("invalid cluster config: {0}")]
    InvalidConfig(String),
    #[error("{0}")]
    Preflight(String),
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
    #[error(
        "cluster {name:?} exists but differs from the requested one:\n  {}\nRun `slipway down` and then \
         `slipway up`, or `slipway up --recreate` (both delete the cluster and what runs in it)",
        differences.join("\n  ")
    )]
    SpecMismatch {
        name: String,
        differences: Vec<String>,
    },
    #[error("node image problem: {0}")]
    NodeImage(String),
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
    #[error("node {node} stopped while booting. {cleanup} Its last log lines:\n{last_lines}")]
    NodeExited {
        node: String,
        last_lines: String,
        cleanup: String,
    },
    #[error("{what} did not happen within {secs} s: {detail}")]
    NotReady {
        what: String,
        secs: u64,
        detail: String,
    },
    #[error("cluster {0:?} does not exist; run `slipway up` to create it")]
    Missing(String),
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

/// The cluster as Docker and the API server report it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub name: String,
    pub exists: bool,
    /// Every node container is running and every Kubernetes node is Ready.
    pub healthy: bool,
    pub nodes: Vec<NodeStatus>,
    /// `https://127.0.0.1:<port>` when the control-plane publishes the API.
    pub api_server: Option<String>,
    /// URLs of the published ingress ports (`http://127.0.0.1:8880`, `https://127.0.0.1:8843`).
    pub ingress: Vec<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    pub context_present: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
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
        })
    }

    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}
