//! Where the platform goes: Slipway's own kind-compatible cluster, for which the bundle is
//! written, or an existing cluster a kube context reaches (`slipway up --context NAME`). What
//! differs on an existing cluster is data, in `embedded-manifests/targets/cluster/`: values
//! merged over each component's, the placement rule that replaces Slipway's pool labels, the
//! Kubernetes versions and access the platform needs, and the UIs' HTTPS-only routing.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bundle::{self, BundleError};
use crate::error::{Classified, ErrorKind};
use crate::helm::KubeContext;
use crate::k8s::K8sError;
use crate::pipeline::{StepContext, StepOutcome};

/// The target description in the bundle.
pub const TARGET_FILE: &str = "targets/cluster/target.yaml";

/// `targets/cluster/target.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetFile {
    pub kubernetes: Versions,
    pub access: Vec<Access>,
    pub placement: Placement,
    pub ingress: IngressRule,
    pub removal: Removal,
}

/// What `down --context` removes beyond the objects Slipway and Argo CD made.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Removal {
    pub crd_groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    /// `major.minor`: below it the pinned charts refuse to install.
    pub minimum: String,
    /// `[first, last]` `major.minor` Argo CD is tested on.
    pub tested: [String; 2],
}

/// One thing the caller must be allowed to do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub verb: String,
    pub group: String,
    pub resource: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    pub pool_label: String,
    pub kind_labels: Vec<String>,
    pub kind_tolerations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressRule {
    pub annotations: BTreeMap<String, String>,
}

/// The target file, parsed.
pub fn file() -> Result<TargetFile, BundleError> {
    bundle::yaml(TARGET_FILE)
}

/// How traffic reaches Traefik on an existing cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expose {
    /// A `LoadBalancer` Service: the cloud's (or MetalLB's) address.
    #[default]
    LoadBalancer,
    /// A `NodePort` Service: any node's address on the ports Kubernetes picks.
    NodePort,
}

impl Expose {
    pub fn service_type(self) -> &'static str {
        match self {
            Self::LoadBalancer => "LoadBalancer",
            Self::NodePort => "NodePort",
        }
    }
}

/// A node label the user names (`--platform-nodes key=value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSelector {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for NodeSelector {
    type Err = String;

    /// `key=value` with Kubernetes' label syntax (an optional DNS-name prefix and `/`, a name
    /// of at most 63 characters; a value of at most 63).
    fn from_str(text: &str) -> Result<Self, String> {
        let problem = || {
            format!(
                "{text:?} is not a node label selector; write KEY=VALUE as `kubectl get nodes --show-labels` lists them, e.g. node-pool=platform"
            )
        };
        let (key, value) = text.split_once('=').ok_or_else(problem)?;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let key_ok = match key.rsplit_once('/') {
            Some((prefix, name)) => crate::config::is_dns_name(prefix, 253) && name_ok(name),
            None => name_ok(key),
        };
        if !key_ok || !(value.is_empty() || name_ok(value)) {
            return Err(problem());
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

impl std::fmt::Display for NodeSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The kubeconfig file holding `context`: `kubeconfig` when given, else the first of kubectl's
/// files (`KUBECONFIG`, else `~/.kube/config`) that has it.
pub fn kube_context(
    context: &str,
    kubeconfig: Option<&std::path::Path>,
) -> Result<KubeContext, crate::cluster::ClusterError> {
    use crate::cluster::ClusterError;
    let paths = match kubeconfig {
        Some(p) => vec![p.to_path_buf()],
        None => crate::cluster::kubeconfig::paths()?,
    };
    for path in &paths {
        let Ok(config) = kube::config::Kubeconfig::read_from(path) else {
            continue;
        };
        if config.contexts.iter().any(|c| c.name == context) {
            return Ok(KubeContext {
                kubeconfig: path.clone(),
                context: context.to_owned(),
            });
        }
    }
    let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(ClusterError::InvalidSetting(format!(
        "no kubeconfig context {context:?} in {}; `kubectl config get-contexts` lists them, or pass --kubeconfig PATH",
        listed.join(", ")
    )))
}

/// Every context of `kubeconfig` (else of kubectl's files), sorted, without Slipway's own
/// clusters' (`kind-…`): what Settings offers as existing clusters.
pub fn contexts(kubeconfig: Option<&std::path::Path>) -> Vec<String> {
    let paths = match kubeconfig {
        Some(p) => vec![p.to_path_buf()],
        None => crate::cluster::kubeconfig::paths().unwrap_or_default(),
    };
    let mut names: Vec<String> = paths
        .iter()
        .filter_map(|p| kube::config::Kubeconfig::read_from(p).ok())
        .flat_map(|c| c.contexts.into_iter().map(|c| c.name))
        .filter(|n| !n.starts_with("kind-"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What Slipway keys an existing cluster's state on, from its context's name.
pub fn id_of(context: &str) -> String {
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("context-{}", safe.trim_matches('-'))
}

/// Slipway's key for an existing cluster and how to reach it: its context in the kubeconfig
/// that holds it.
pub fn located(
    context: &str,
    kubeconfig: Option<&std::path::Path>,
) -> Result<(String, crate::k8s::KubeTarget), crate::cluster::ClusterError> {
    let kube = kube_context(context, kubeconfig)?;
    Ok((
        id_of(context),
        crate::k8s::KubeTarget {
            kubeconfig: Some(kube.kubeconfig),
            context: Some(kube.context),
        },
    ))
}

/// An existing cluster the platform goes onto, and what the user chose for it.
#[derive(Debug, Clone)]
pub struct Existing {
    pub kube: KubeContext,
    pub expose: Expose,
    /// Where platform pods run; `None`: wherever the scheduler puts them.
    pub platform_nodes: Option<NodeSelector>,
    /// Where team pods run (`--workload-nodes`); `None`: wherever the scheduler puts them.
    pub workload_nodes: Option<NodeSelector>,
    /// The choices the user did not make this time, to be taken from the cluster's record of
    /// the last `up` (so a teammate's `up --context` keeps the platform as it is).
    pub recall: Recall,
}

/// Which of an [`Existing`]'s choices come from the cluster's record (`argocd/slipway-site`)
/// when it has one; none by default (every field as given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recall {
    pub expose: bool,
    pub platform_nodes: bool,
    pub workload_nodes: bool,
}

impl Existing {
    /// This target with what the cluster's record (`data` of `argocd/slipway-site`) says for
    /// the choices to recall; a record without a key keeps the choice as it is.
    pub fn recalled(mut self, data: &std::collections::BTreeMap<String, String>) -> Self {
        let selector = |key: &str| data.get(key).map(|text| text.parse::<NodeSelector>().ok());
        if self.recall.expose
            && let Some(expose) = data.get("expose")
        {
            self.expose = match expose.as_str() {
                "node-port" => Expose::NodePort,
                _ => Expose::LoadBalancer,
            };
        }
        if self.recall.platform_nodes
            && let Some(nodes) = selector("platformNodes")
        {
            self.platform_nodes = nodes;
        }
        if self.recall.workload_nodes
            && let (Some(label), Some(pool)) =
                (data.get("workloadsLabel"), data.get("workloadsPool"))
        {
            self.workload_nodes = (!label.is_empty()).then(|| NodeSelector {
                key: label.clone(),
                value: pool.clone(),
            });
        }
        self.recall = Recall::default();
        self
    }
}

/// What of an existing cluster's choices shapes the platform's values, and so the files the
/// platform repository carries for it: the way in and the platform's nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub expose: Expose,
    pub platform_nodes: Option<NodeSelector>,
    pub workload_nodes: Option<NodeSelector>,
}

impl Shape {
    /// `component`'s values as this target wants them: the target's values file merged over
    /// them, then the placement rule.
    pub fn values(&self, component: &str, mut values: Value) -> Result<Value, BundleError> {
        let path = format!("targets/cluster/values/{component}.yaml");
        if let Some(text) = bundle::text(&path) {
            let overlay: Value = bundle::parse(&path, &text)?;
            json_patch::merge(&mut values, &overlay);
        }
        if component == "traefik" {
            values["service"]["spec"]["type"] = Value::from(self.expose.service_type());
        }
        place(
            &mut values,
            &file()?.placement,
            self.platform_nodes.as_ref(),
        );
        Ok(values)
    }

    /// The values file that, merged over `base` as Helm merges a later values file, gives
    /// `component`'s values on this target: what GitHub mode publishes as
    /// `targets/cluster/values/<component>.yaml`.
    pub fn overlay(&self, component: &str, base: &Value) -> Result<Value, BundleError> {
        Ok(merge_diff(base, &self.values(component, base.clone())?))
    }
}

/// The merge patch (RFC 7386, as Helm merges values files) that turns `from` into `to`: maps
/// compared key by key, a key `to` lacks set to `null`, anything else replaced whole.
pub fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = serde_json::Map::new();
            for key in a.keys().filter(|k| !b.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            for (key, value) in b {
                match a.get(key) {
                    Some(old) if old == value => {}
                    Some(old @ Value::Object(_)) if value.is_object() => {
                        patch.insert(key.clone(), merge_diff(old, value));
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

impl Existing {
    /// What of this target shapes the values.
    pub fn shape(&self) -> Shape {
        Shape {
            expose: self.expose,
            platform_nodes: self.platform_nodes.clone(),
            workload_nodes: self.workload_nodes.clone(),
        }
    }

    /// What Slipway keys this target's state on (lock, keyring entries, team files): the
    /// context's name in the characters a file name and a cluster name take.
    pub fn id(&self) -> String {
        id_of(&self.kube.context)
    }

    pub async fn client(&self) -> Result<kube::Client, K8sError> {
        crate::k8s::KubeTarget {
            kubeconfig: Some(self.kube.kubeconfig.clone()),
            context: Some(self.kube.context.clone()),
        }
        .client()
        .await
    }

    /// `component`'s values (already moved to the domain) as this target wants them.
    pub fn values(&self, component: &str, values: Value) -> Result<Value, BundleError> {
        self.shape().values(component, values)
    }

    /// A platform UI's Ingress as this target routes it: HTTPS only.
    pub fn ingress(&self, ingress: &mut Value) -> Result<(), BundleError> {
        let annotations = &mut ingress["metadata"]["annotations"];
        for (key, value) in file()?.ingress.annotations {
            annotations[key] = Value::from(value);
        }
        Ok(())
    }
}

/// Every `nodeSelector` naming Slipway's pool selects `nodes` instead (or nothing), without
/// the kind-only labels; the tolerations beside it lose the kind-only ones.
fn place(values: &mut Value, rule: &Placement, nodes: Option<&NodeSelector>) {
    match values {
        Value::Object(map) => {
            let pooled = map
                .get("nodeSelector")
                .and_then(Value::as_object)
                .is_some_and(|s| s.contains_key(&rule.pool_label));
            if pooled {
                if let Some(Value::Object(selector)) = map.get_mut("nodeSelector") {
                    selector.remove(&rule.pool_label);
                    for label in &rule.kind_labels {
                        selector.remove(label);
                    }
                    if let Some(n) = nodes {
                        selector.insert(n.key.clone(), Value::from(n.value.clone()));
                    }
                }
                if let Some(Value::Array(tolerations)) = map.get_mut("tolerations") {
                    tolerations.retain(|t| {
                        !rule
                            .kind_tolerations
                            .iter()
                            .any(|k| t["key"].as_str() == Some(k))
                    });
                }
            }
            map.values_mut().for_each(|v| place(v, rule, nodes));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| place(v, rule, nodes)),
        _ => {}
    }
}

/// Where team pods must run: Slipway's workloads pool on its own cluster (`target` none), the
/// nodes the user named on an existing one, or anywhere the scheduler puts them (`None`).
pub fn workload_nodes(target: Option<&Shape>) -> Option<NodeSelector> {
    match target {
        None => Some(NodeSelector {
            key: crate::cluster::spec::POOL_LABEL.to_owned(),
            value: crate::cluster::spec::WORKLOADS_POOL.to_owned(),
        }),
        Some(shape) => shape.workload_nodes.clone(),
    }
}

/// The `nodeSelector` the workloads ApplicationSets merge into every service's Deployments and
/// StatefulSets (a strategic merge patch): the service template's pool label removed (`null`)
/// unless it is the one that applies, then the label that does.
pub fn workload_patch(target: Option<&Shape>) -> Value {
    let mut selector = serde_json::Map::new();
    selector.insert(crate::cluster::spec::POOL_LABEL.to_owned(), Value::Null);
    if let Some(n) = workload_nodes(target) {
        selector.insert(n.key, Value::from(n.value));
    }
    Value::Object(selector)
}

/// Why an existing cluster cannot take the platform.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Kube(#[from] K8sError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The server's version is below what the pinned charts accept.
    #[error(
        "the cluster runs Kubernetes {found}; the pinned charts need {minimum} or newer (helm refuses them below). Upgrade the cluster, or point --context at a newer one"
    )]
    TooOld { found: String, minimum: String },
    /// The version could not be read as `major.minor`.
    #[error("the cluster reports Kubernetes version {0:?}, which Slipway cannot read")]
    Version(String),
    /// A dry-run server-side apply was refused.
    #[error(
        "the API server refused a dry-run server-side apply ({0}); Slipway and Argo CD write with server-side apply (Kubernetes 1.22 or newer, not disabled by an admission webhook)"
    )]
    NoServerSideApply(String),
    /// The caller lacks rights the platform needs.
    #[error(
        "the context's user may not {0}; the platform installs cluster-wide objects, so it needs cluster-admin (or a role with these rights). Ask the cluster's administrator, or use a context that has them"
    )]
    Forbidden(String),
    /// Loki and Prometheus claim volumes, and nothing provides them.
    #[error(
        "the cluster has no default StorageClass; Loki and Prometheus claim volumes without naming a class. Mark one the default (`kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true`), or leave them out with `--without observability`"
    )]
    NoDefaultStorageClass,
    /// No node matches the selector the user named.
    #[error(
        "no node has the label {selector}; name a label the nodes for {role} carry (`kubectl get nodes --show-labels`), or leave {flag} out"
    )]
    NoMatchingNode {
        selector: NodeSelector,
        role: &'static str,
        flag: &'static str,
    },
    #[error(transparent)]
    Helm(#[from] crate::helm::HelmError),
    /// The domain is the laptop's `.local`.
    #[error(
        "an existing cluster needs --domain ZONE: a DNS zone whose records you manage (argocd.ZONE, grafana.ZONE point at the load balancer); `.local` names resolve only on this machine"
    )]
    LocalDomain,
    /// Traefik's Service got no address to reach it by.
    #[error(
        "Traefik's Service traefik/traefik has no address within {secs} s ({state}); with a LoadBalancer Service the cluster may have no load balancer controller: re-run with `--expose node-port`, or install one (MetalLB on bare metal)"
    )]
    NoAddress { secs: u64, state: String },
    /// The load balancer's host name does not resolve here.
    #[error("the load balancer's name {host} does not resolve from this machine: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
}

impl Classified for TargetError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Kube(e) => e.kind(),
            Self::Bundle(e) => e.kind(),
            Self::Helm(e) => e.kind(),
            Self::TooOld { .. }
            | Self::Version(_)
            | Self::NoServerSideApply(_)
            | Self::NoDefaultStorageClass
            | Self::Forbidden(_) => ErrorKind::Cluster,
            Self::NoMatchingNode { .. } | Self::LocalDomain => ErrorKind::Settings,
            Self::NoAddress { .. } | Self::Resolve { .. } => ErrorKind::Step,
        }
    }
}

impl crate::pipeline::StepFailure for TargetError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Kube(e) if e.is_transient())
    }
}

/// Where Traefik's HTTPS entrypoint answers on an existing cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// An IP address, or the host name a cloud load balancer has (AWS's ELBs).
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host.parse::<std::net::Ipv6Addr>() {
            Ok(_) => write!(f, "[{}]:{}", self.host, self.port),
            Err(_) => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

impl Address {
    /// Whether DNS should point a name here with an A/AAAA record (an IP) or a CNAME.
    pub fn record_type(&self) -> &'static str {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => "A",
            Ok(std::net::IpAddr::V6(_)) => "AAAA",
            Err(_) => "CNAME",
        }
    }

    pub async fn resolve(&self) -> Result<std::net::SocketAddr, TargetError> {
        let resolve_error = |source| TargetError::Resolve {
            host: self.host.clone(),
            source,
        };
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(resolve_error)?
            .next()
            .ok_or_else(|| resolve_error(std::io::Error::other("no address")))
    }
}

/// Traefik's release and Service (the chart names it after the release).
pub const TRAEFIK: (&str, &str) = ("traefik", "traefik");

/// Where Traefik's `websecure` port answers: its `LoadBalancer` Service's address, or a node's
/// address and the port's NodePort. Waits until `deadline` for the load balancer to give one.
pub async fn traefik_address(
    client: &kube::Client,
    deadline: crate::pipeline::Deadline,
) -> Result<Address, TargetError> {
    traefik_entrypoint(client, deadline, "websecure").await
}

/// Where Traefik's Service port `name` (the chart's `web` or `websecure`) answers.
pub async fn traefik_entrypoint(
    client: &kube::Client,
    deadline: crate::pipeline::Deadline,
    name: &str,
) -> Result<Address, TargetError> {
    let services: Api<Service> = Api::namespaced(client.clone(), TRAEFIK.0);
    let nodes: Api<Node> = Api::all(client.clone());
    let look = || async {
        let Some(service) = within("Traefik's Service", services.get_opt(TRAEFIK.1)).await? else {
            return Ok(crate::pipeline::Poll::Pending("no Service yet".to_owned()));
        };
        let port = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some(name)))
            .cloned();
        let Some(port) = port else {
            return Ok(crate::pipeline::Poll::Pending(format!("no {name} port")));
        };
        let expose = match service.spec.as_ref().and_then(|s| s.type_.as_deref()) {
            Some("NodePort") => Expose::NodePort,
            _ => Expose::LoadBalancer,
        };
        let address = match expose {
            Expose::LoadBalancer => service
                .status
                .and_then(|s| s.load_balancer)
                .and_then(|lb| lb.ingress)
                .and_then(|i| i.into_iter().next())
                .and_then(|i| i.ip.or(i.hostname))
                .map(|host| Address {
                    host,
                    port: u16::try_from(port.port).unwrap_or_default(),
                }),
            Expose::NodePort => {
                let node_port = port.node_port.and_then(|p| u16::try_from(p).ok());
                let list = within("the nodes", nodes.list(&ListParams::default())).await?;
                // An external address when the nodes have one (a client outside the cluster's
                // network reaches that), else the internal one.
                let addresses: Vec<_> = list
                    .items
                    .into_iter()
                    .filter_map(|n| n.status?.addresses)
                    .flatten()
                    .collect();
                let host = ["ExternalIP", "InternalIP"].iter().find_map(|kind| {
                    addresses
                        .iter()
                        .find(|a| a.type_ == *kind)
                        .map(|a| a.address.clone())
                });
                host.zip(node_port)
                    .map(|(host, port)| Address { host, port })
            }
        };
        Ok(match address {
            Some(a) => crate::pipeline::Poll::Ready(a),
            None => crate::pipeline::Poll::Pending(format!(
                "type {}",
                service.spec.and_then(|s| s.type_).unwrap_or_default()
            )),
        })
    };
    crate::pipeline::poll(deadline, Duration::from_secs(1), look, |state| {
        TargetError::NoAddress {
            secs: deadline.secs(),
            state,
        }
    })
    .await
}

/// `(major, minor)` of a `major.minor` text or a server's `gitVersion` (`v1.31.4-eks-0a1b2c`:
/// providers' suffixes are not a lower version, as helm's `>=1.25.0-0` ranges agree).
pub fn major_minor(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.trim_start_matches('v').split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The cluster's record of the last `up --context` (`argocd/slipway-site`'s data; empty before
/// the first).
pub async fn record(
    client: &kube::Client,
) -> Result<std::collections::BTreeMap<String, String>, K8sError> {
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), super::install::ARGO_NAMESPACE);
    let site = match within(
        "the platform's site record",
        maps.get_opt(super::gitops::SITE_CONFIG),
    )
    .await
    {
        // A user who may not read it may not install either: the check says which rights.
        Err(K8sError::Api(kube::Error::Api(s))) if s.code == 403 => None,
        other => other?,
    };
    Ok(site.and_then(|m| m.data).unwrap_or_default())
}

fn within<T>(
    what: &str,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> impl Future<Output = Result<T, K8sError>> {
    let what = what.to_owned();
    async move {
        match tokio::time::timeout(Duration::from_secs(15), call).await {
            Ok(result) => result.map_err(K8sError::from),
            Err(_) => Err(K8sError::Timeout { what }),
        }
    }
}

/// The checks before anything is written to an existing cluster: the Kubernetes version the
/// charts accept, server-side apply, the caller's rights, a default StorageClass when a
/// component claims volumes, the nodes the user named, and how traffic will get in.
pub async fn preflight(
    client: &kube::Client,
    target: &Existing,
    domain: &str,
    needs_volumes: bool,
    r: StepContext<'_>,
) -> Result<StepOutcome, TargetError> {
    let rules = file()?;
    if domain.trim_start_matches('.') == "local" || domain.ends_with(".local") {
        return Err(TargetError::LocalDomain);
    }
    let version = within("the server version", client.apiserver_version()).await?;
    let found = version.git_version.clone();
    let have = major_minor(&found).ok_or_else(|| TargetError::Version(found.clone()))?;
    let minimum = major_minor(&rules.kubernetes.minimum)
        .ok_or_else(|| TargetError::Version(rules.kubernetes.minimum.clone()))?;
    if have < minimum {
        return Err(TargetError::TooOld {
            found,
            minimum: rules.kubernetes.minimum,
        });
    }
    let [first, last] = &rules.kubernetes.tested;
    if major_minor(first).is_some_and(|f| have < f) || major_minor(last).is_some_and(|l| have > l) {
        r.warn(format!(
            "Kubernetes {found} is outside Argo CD's tested range {first}–{last}; going on"
        ));
    }

    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut denied = Vec::new();
    for a in &rules.access {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(a.verb.clone()),
                    group: Some(a.group.clone()),
                    resource: Some(a.resource.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = within(
            "an access review",
            reviews.create(&PostParams::default(), &review),
        )
        .await?;
        if !answer.status.is_some_and(|s| s.allowed) {
            let group = if a.group.is_empty() { "core" } else { &a.group };
            denied.push(format!("{} {} ({group})", a.verb, a.resource));
        }
    }
    if !denied.is_empty() {
        return Err(TargetError::Forbidden(denied.join(", ")));
    }

    // A dry run writes nothing, and proves the server takes server-side apply from this user.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let probe =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "slipway-preflight"}});
    let params = PatchParams::apply(super::install::FIELD_MANAGER).dry_run();
    if let Err(e) = within(
        "a dry-run apply",
        namespaces.patch("slipway-preflight", &params, &Patch::Apply(&probe)),
    )
    .await
    {
        return Err(match e {
            K8sError::Api(kube::Error::Api(s)) => TargetError::NoServerSideApply(s.message),
            other => other.into(),
        });
    }

    let classes: Api<StorageClass> = Api::all(client.clone());
    let default_class = within("StorageClasses", classes.list(&ListParams::default()))
        .await?
        .items
        .into_iter()
        .find(|c| {
            c.metadata.annotations.as_ref().is_some_and(|a| {
                // The GA annotation, and the beta one older clusters still carry.
                [
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ]
                .iter()
                .any(|k| a.get(*k).is_some_and(|v| v == "true"))
            })
        })
        .and_then(|c| c.metadata.name);
    match (&default_class, needs_volumes) {
        (None, true) => return Err(TargetError::NoDefaultStorageClass),
        (None, false) => r.warn("no default StorageClass: a service that claims a volume stays Pending until one is marked default"),
        (Some(_), _) => {}
    }

    let nodes: Api<Node> = Api::all(client.clone());
    let nodes = within("the nodes", nodes.list(&ListParams::default()))
        .await?
        .items;
    let chosen = [
        (&target.platform_nodes, "the platform", "--platform-nodes"),
        (&target.workload_nodes, "services", "--workload-nodes"),
    ];
    for (selector, role, flag) in chosen {
        let Some(wanted) = selector else { continue };
        let matches = nodes.iter().any(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get(&wanted.key) == Some(&wanted.value))
        });
        if !matches {
            return Err(TargetError::NoMatchingNode {
                selector: wanted.clone(),
                role,
                flag,
            });
        }
    }
    // A cloud's nodes carry its provider ID; elsewhere a LoadBalancer Service needs MetalLB or
    // the like, and an address another one already got shows it is there.
    let cloud = nodes
        .iter()
        .find_map(|n| n.spec.as_ref()?.provider_id.clone())
        .and_then(|id| id.split_once("://").map(|(p, _)| p.to_owned()));
    let traffic = match (target.expose, &cloud) {
        (Expose::NodePort, _) => "Traefik on NodePorts".to_owned(),
        (Expose::LoadBalancer, Some(provider)) => {
            format!("Traefik behind a {provider} load balancer")
        }
        (Expose::LoadBalancer, None) => {
            let services: Api<Service> = Api::all(client.clone());
            let served = within("Services", services.list(&ListParams::default()))
                .await?
                .items
                .iter()
                .any(|s| {
                    s.status
                        .as_ref()
                        .and_then(|s| s.load_balancer.as_ref())
                        .and_then(|lb| lb.ingress.as_ref())
                        .is_some_and(|i| !i.is_empty())
                });
            if !served {
                r.warn("no node names a cloud provider and no LoadBalancer Service has an address: if Traefik's stays pending, re-run with --expose node-port");
            }
            "Traefik behind a LoadBalancer Service".to_owned()
        }
    };
    Ok(StepOutcome::up_to_date(format!(
        "Kubernetes {found}, {} node(s), server-side apply, cluster-wide rights, {}, {traffic}",
        nodes.len(),
        default_class.map_or("no default StorageClass".to_owned(), |c| format!(
            "default StorageClass {c}"
        )),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(nodes: Option<&str>) -> Existing {
        Existing {
            kube: KubeContext {
                kubeconfig: "/dev/null".into(),
                context: "team".into(),
            },
            expose: Expose::LoadBalancer,
            platform_nodes: nodes.map(|n| n.parse().expect("selector")),
            workload_nodes: None,
            recall: Recall::default(),
        }
    }

    #[test]
    fn choices_not_made_are_the_cluster_s_record_of_the_last_up() {
        let chosen = Existing {
            expose: Expose::NodePort,
            workload_nodes: Some("pool=apps".parse().expect("selector")),
            ..existing(Some("pool=platform"))
        };
        let shape = chosen.shape();
        let site = crate::platform::gitops::site_config("team.example.com", Some(&shape));
        let record: std::collections::BTreeMap<String, String> =
            serde_json::from_value(site["data"].clone()).expect("data");
        let plain = Existing {
            recall: Recall {
                expose: true,
                platform_nodes: true,
                workload_nodes: true,
            },
            ..existing(None)
        };
        assert_eq!(plain.clone().recalled(&record).shape(), shape);
        // What this run names wins; a cluster without a record keeps the defaults.
        let named = Existing {
            platform_nodes: Some("pool=big".parse().expect("selector")),
            recall: Recall {
                platform_nodes: false,
                ..plain.recall
            },
            ..plain.clone()
        };
        let recalled = named.recalled(&record);
        assert_eq!(recalled.platform_nodes.expect("nodes").value, "big");
        assert_eq!(recalled.expose, Expose::NodePort);
        let fresh = plain.recalled(&Default::default());
        assert_eq!(fresh.shape(), Shape::default());
    }

    #[test]
    fn a_shared_cluster_runs_two_of_argo_cd_s_stateless_parts() {
        let base = crate::platform::gitops::values("argo-cd", "team.example.com").expect("values");
        let values = existing(None).values("argo-cd", base).expect("on target");
        for part in ["server", "repoServer", "applicationSet"] {
            assert_eq!(values[part]["replicas"], 2, "{part}");
        }
        assert_eq!(values["server"]["pdb"]["minAvailable"], 1);
        assert_eq!(
            values["server"]["ingress"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"],
            "websecure"
        );
    }

    #[test]
    fn versions_read_as_helm_ranges_do() {
        assert_eq!(major_minor("v1.31.4-eks-0a1b2c3"), Some((1, 31)));
        assert_eq!(major_minor("v1.29.10-gke.1200"), Some((1, 29)));
        assert_eq!(major_minor("1.25"), Some((1, 25)));
        assert_eq!(major_minor("v1.33.1+k3s1"), Some((1, 33)));
        assert_eq!(major_minor("unknown"), None);
        let minimum = major_minor(&file().expect("target").kubernetes.minimum).expect("minimum");
        assert!(major_minor("v1.24.17").expect("v") < minimum);
        assert!(major_minor("v1.25.0-rc.1").expect("v") >= minimum);
    }

    #[test]
    fn selectors_take_kubernetes_label_syntax_only() {
        let s: NodeSelector = "cloud.google.com/gke-nodepool=platform"
            .parse()
            .expect("ok");
        assert_eq!(
            (s.key.as_str(), s.value.as_str()),
            ("cloud.google.com/gke-nodepool", "platform")
        );
        for bad in ["pool", "=x", "a b=c", "pool=-x", "/p=x"] {
            let err = bad.parse::<NodeSelector>().expect_err(bad);
            assert!(err.contains("KEY=VALUE"), "{err}");
        }
    }

    #[test]
    fn placement_replaces_every_pool_selector_and_the_kind_only_bits() {
        let base =
            crate::platform::gitops::values("cert-manager", "team.example.com").expect("values");
        let placed = existing(Some("node-pool=platform"))
            .values("cert-manager", base.clone())
            .expect("placed");
        let text = placed.to_string();
        assert!(!text.contains("slipway.dev/pool"), "{text}");
        assert!(
            !text.contains("node-role.kubernetes.io/control-plane"),
            "{text}"
        );
        // Each selector the base had, now the user's, in the same places.
        let count = |v: &Value, needle: &str| v.to_string().matches(needle).count();
        assert_eq!(
            count(&base, "slipway.dev/pool"),
            count(&placed, "\"node-pool\":\"platform\""),
        );
        let anywhere = existing(None).values("cert-manager", base).expect("placed");
        assert!(!anywhere.to_string().contains("node-pool"));
    }

    #[test]
    fn traefik_leaves_the_host_ports_for_the_service_the_target_asks() {
        let base = crate::platform::gitops::values("traefik", "team.example.com").expect("values");
        let mut target = existing(None);
        let lb = target.values("traefik", base.clone()).expect("lb");
        assert_eq!(lb["service"]["spec"]["type"], "LoadBalancer");
        assert!(
            lb["ports"]["web"].get("hostPort").is_none(),
            "{}",
            lb["ports"]
        );
        assert!(lb["ports"]["websecure"].get("hostPort").is_none());
        assert_eq!(lb["ports"]["web"]["exposedPort"], 80);
        assert!(lb.get("updateStrategy").is_none());
        assert_eq!(
            lb["providers"]["kubernetesIngress"]["publishedService"]["enabled"],
            true
        );
        assert!(lb["nodeSelector"].as_object().is_some_and(|s| s.is_empty()));
        target.expose = Expose::NodePort;
        let np = target.values("traefik", base).expect("np");
        assert_eq!(np["service"]["spec"]["type"], "NodePort");
    }

    #[test]
    fn the_published_overlay_merged_as_helm_merges_gives_the_target_values() {
        let shape = existing(Some("node-pool=platform")).shape();
        for c in crate::platform::gitops::components().expect("components") {
            let base: Value =
                bundle::yaml(&format!("platform/values/{}.yaml", c.name)).expect("values");
            let overlay = shape.overlay(&c.name, &base).expect("overlay");
            let mut merged = base.clone();
            json_patch::merge(&mut merged, &overlay);
            assert_eq!(
                merged,
                shape.values(&c.name, base).expect("values"),
                "{}",
                c.name
            );
        }
        assert_eq!(
            merge_diff(
                &json!({"a": {"b": 1, "c": 2}, "d": [1]}),
                &json!({"a": {"b": 1}, "d": [2], "e": true})
            ),
            json!({"a": {"c": null}, "d": [2], "e": true})
        );
    }

    #[test]
    fn the_uis_are_routed_over_https_only() {
        let mut ingress = json!({"metadata": {"name": "backstage", "annotations": {"cert-manager.io/cluster-issuer": "slipway-ca"}}});
        existing(None).ingress(&mut ingress).expect("ingress");
        let a = &ingress["metadata"]["annotations"];
        assert_eq!(
            a["traefik.ingress.kubernetes.io/router.entrypoints"],
            "websecure"
        );
        assert_eq!(a["cert-manager.io/cluster-issuer"], "slipway-ca");
        let argo = existing(None)
            .values(
                "argo-cd",
                crate::platform::gitops::values("argo-cd", "t.example").expect("v"),
            )
            .expect("argo");
        assert_eq!(
            argo["server"]["ingress"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"],
            "websecure"
        );
    }
}
