//! The Kubernetes API through kube-rs: connecting to a kubeconfig context, server-side apply of
//! bundles, named waits, and the reads the helpers need.

pub mod apply;
pub mod quantity;
pub mod wait;

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// The kubeconfig file or context cannot be used.
    #[error(
        "cannot use the kubeconfig ({source}); run `slipway up`, or point KUBECONFIG at a valid file"
    )]
    Kubeconfig {
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The API server did not answer within the bound of one read.
    #[error("the cluster did not answer in time ({what}); is it running? `slipway status` tells")]
    Timeout { what: String },
    /// The API server (or the way to it) refused or failed a request.
    #[error("the Kubernetes API refused the request: {0}")]
    Api(#[from] kube::Error),
    /// Applying one object failed.
    #[error("applying {object}: {source}")]
    Apply {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The cluster does not serve a kind a manifest uses.
    #[error("{api_version} {kind}: not served by the cluster ({source}); is its CRD installed?")]
    Discovery {
        api_version: String,
        kind: String,
        #[source]
        source: kube::Error,
    },
    /// A manifest document lacks what every object needs.
    #[error("invalid manifest: {reason}")]
    Manifest { reason: String },
    /// A manifest is not YAML.
    #[error("invalid manifest: {0}")]
    Yaml(#[from] Box<serde_saphyr::Error>),
    /// An object does not have the shape of its kind.
    #[error("invalid object: {0}")]
    Object(#[from] serde_json::Error),
    /// A watch on an object ended with an error.
    #[error("watching {what} failed: {source}")]
    Watch {
        what: String,
        #[source]
        source: kube::runtime::wait::Error,
    },
    /// A wait ended at its deadline; `state` is where the object stood.
    #[error("{what} did not happen within {secs} s ({state})")]
    NotReady {
        what: String,
        secs: u64,
        state: String,
    },
}

impl K8sError {
    /// The API call's error, when the API server (or the way to it) failed.
    pub fn api_error(&self) -> Option<&kube::Error> {
        match self {
            Self::Api(e) | Self::Apply { source: e, .. } | Self::Discovery { source: e, .. } => {
                Some(e)
            }
            _ => None,
        }
    }

    /// Worth another attempt: the API server was briefly unavailable, overloaded or the
    /// connection dropped.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Watch { .. } => true,
            _ => self.api_error().is_some_and(transient_api_error),
        }
    }
}

/// 5xx, 429 and connection-level failures are the API server's hiccups, not refusals.
pub fn transient_api_error(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

impl crate::error::Classified for K8sError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Kubeconfig { .. } | Self::Timeout { .. } => ErrorKind::Cluster,
            Self::Manifest { .. } | Self::Yaml(_) | Self::Object(_) => ErrorKind::Invalid,
            Self::NotReady { .. } => ErrorKind::Step,
            _ if self.is_transient() => ErrorKind::Unavailable,
            _ => ErrorKind::Cluster,
        }
    }
}

/// Which cluster to talk to: a kubeconfig file (default: kubectl's rules) and a context.
#[derive(Debug, Clone, Default)]
pub struct KubeTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

impl KubeTarget {
    /// The kind-compatible context of a Slipway cluster (`kind-<name>`).
    pub fn cluster(name: &str) -> Self {
        Self {
            kubeconfig: None,
            context: Some(format!("kind-{name}")),
        }
    }

    pub async fn client(&self) -> Result<kube::Client, K8sError> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let mut config = match &self.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|source| K8sError::Kubeconfig { source })?;
                kube::Config::from_custom_kubeconfig(kc, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        }
        .map_err(|source| K8sError::Kubeconfig { source })?;
        // One retry policy: the step tables' (and each wait's deadline). kube's own default
        // would retry 429/503/504 up to 15 times with backoff up to minutes, hidden inside a
        // single call, so a wait could not end when its step says.
        config.default_retry = false;
        Ok(kube::Client::try_from(config)?)
    }
}

/// One key of a Secret, as text; `None` when the Secret or the key does not exist.
pub async fn secret_value(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>, K8sError> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    let secret = tokio::time::timeout(Duration::from_secs(10), api.get_opt(name))
        .await
        .map_err(|_| K8sError::Timeout {
            what: format!("reading Secret {namespace}/{name}"),
        })??;
    Ok(secret
        .and_then(|s| s.data?.remove(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned()))
}

/// Every host named by an Ingress rule in the cluster.
pub async fn ingress_hosts(client: &kube::Client) -> Result<Vec<String>, K8sError> {
    let api: Api<Ingress> = Api::all(client.clone());
    let list = tokio::time::timeout(Duration::from_secs(10), api.list(&ListParams::default()))
        .await
        .map_err(|_| K8sError::Timeout {
            what: "listing Ingresses".into(),
        })??;
    let mut hosts: Vec<String> = list
        .items
        .iter()
        .filter_map(|i| i.spec.as_ref()?.rules.as_ref())
        .flatten()
        .filter_map(|r| r.host.clone())
        .filter(|h| !h.starts_with('*'))
        .collect();
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}
