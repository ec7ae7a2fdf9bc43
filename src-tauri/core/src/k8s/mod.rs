//! The Kubernetes API through kube-rs: connecting to a kubeconfig context, server-side apply of
//! bundles, named waits, and the reads the helpers need.

pub mod apply;
pub mod wait;

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error(
        "cannot read the kubeconfig ({0}); run `slipway up`, or point KUBECONFIG at a valid file"
    )]
    Kubeconfig(String),
    #[error("the cluster did not answer in time ({0}); is it running? `slipway status` tells")]
    Timeout(String),
    #[error("the Kubernetes API refused the request: {0}")]
    Api(#[from] kube::Error),
    #[error("applying {object}: {source}")]
    Apply { object: String, source: kube::Error },
    #[error("invalid manifest: {0}")]
    Manifest(String),
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
            Self::Api(e) | Self::Apply { source: e, .. } => Some(e),
            _ => None,
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
        let config = match &self.kubeconfig {
            Some(path) => {
                let kc =
                    Kubeconfig::read_from(path).map_err(|e| K8sError::Kubeconfig(e.to_string()))?;
                kube::Config::from_custom_kubeconfig(kc, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| K8sError::Kubeconfig(e.to_string()))?;
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
        .map_err(|_| K8sError::Timeout(format!("reading Secret {namespace}/{name}")))??;
    Ok(secret
        .and_then(|s| s.data?.remove(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned()))
}

/// Every host named by an Ingress rule in the cluster.
pub async fn ingress_hosts(client: &kube::Client) -> Result<Vec<String>, K8sError> {
    let api: Api<Ingress> = Api::all(client.clone());
    let list = tokio::time::timeout(Duration::from_secs(10), api.list(&ListParams::default()))
        .await
        .map_err(|_| K8sError::Timeout("listing Ingresses".into()))??;
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
