//! What exists: the node containers as Docker reports them, the Kubernetes nodes as the API
//! server reports them, and the cluster's status made from both.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use serde::Serialize;
use serde_json::Value;

use super::spec::LABEL_CLUSTER;
use super::{Cluster, ClusterError, ClusterStatus, NodeStatus, kubeconfig};

type Result<T> = std::result::Result<T, ClusterError>;

pub(crate) const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum NodeState {
    Running,
    Stopped,
    /// Created, restarting, paused or dead: Docker says it is neither running nor cleanly stopped.
    Unhealthy,
    Missing,
}

/// A node container as Docker reports it.
/// The label Docker Desktop puts on a container for each published port it forwards.
const DESKTOP_API_LABEL: &str = "desktop.docker.io/ports/6443/tcp";

pub(crate) struct Observed {
    pub name: String,
    pub state: NodeState,
    pub image: String,
    /// `"80/tcp"` → (host ip, host port)
    pub ports: HashMap<String, (String, u16)>,
    pub ip: Option<String>,
    pub started_at: Option<i32>,
    /// Docker Desktop's `desktop.docker.io/ports/6443/tcp` label: where the API is reachable
    /// from this machine when Desktop forwards it (kind prefers it to the port binding).
    pub desktop_api: Option<String>,
}

impl Observed {
    fn from_inspect(c: ContainerInspectResponse, network: &str) -> Self {
        let state = match c.state.as_ref().and_then(|s| s.status) {
            Some(ContainerStateStatusEnum::RUNNING) => NodeState::Running,
            Some(ContainerStateStatusEnum::EXITED) => NodeState::Stopped,
            _ => NodeState::Unhealthy,
        };
        let ports = c
            .host_config
            .as_ref()
            .and_then(|h| h.port_bindings.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, b)| {
                let b = b?.into_iter().next()?;
                Some((
                    key,
                    (b.host_ip.unwrap_or_default(), b.host_port?.parse().ok()?),
                ))
            })
            .collect();
        let ip = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| n.get(network))
            .and_then(|e| {
                e.ip_address
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| e.global_ipv6_address.clone().filter(|s| !s.is_empty()))
            });
        let started_at = c
            .state
            .as_ref()
            .and_then(|s| s.started_at.as_deref())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| i32::try_from(t.as_second()).ok());
        Self {
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            state,
            desktop_api: c
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(DESKTOP_API_LABEL))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && !v.contains('\n')),
            image: c.config.and_then(|c| c.image).unwrap_or_default(),
            ports,
            ip,
            started_at,
        }
    }
}

/// A Kubernetes node as `kubectl get nodes -o json` reports it.
#[derive(Debug, PartialEq)]
pub(crate) struct KubeNode {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ready: bool,
    pub reason: String,
}

pub(crate) fn parse_nodes(json_text: &str) -> Result<Vec<KubeNode>> {
    let list: Value = serde_json::from_str(json_text).map_err(|e| ClusterError::NodeOutput {
        node: "the control-plane".into(),
        command: "kubectl get nodes -o json",
        format: "JSON",
        reason: e.to_string(),
    })?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let ready = item["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready");
            KubeNode {
                name: item["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                labels: serde_json::from_value(item["metadata"]["labels"].clone())
                    .unwrap_or_default(),
                ready: ready.is_some_and(|c| c["status"] == "True"),
                reason: ready
                    .and_then(|c| c["message"].as_str().or(c["reason"].as_str()))
                    .unwrap_or("no Ready condition yet")
                    .to_owned(),
            }
        })
        .collect())
}

impl Cluster {
    pub(crate) fn kubectl<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut argv = vec!["kubectl", "--kubeconfig", ADMIN_CONF];
        argv.extend_from_slice(args);
        argv
    }

    pub(crate) async fn observe_node(&self, name: &str) -> Result<Option<Observed>> {
        Ok(self
            .docker
            .inspect(name)
            .await?
            .map(|c| Observed::from_inspect(c, &self.spec.network)))
    }

    /// Every container labelled as a node of this cluster (kind's definition of "the cluster").
    pub(crate) async fn observe_all(&self) -> Result<Vec<Observed>> {
        let mut nodes = Vec::new();
        for c in self
            .docker
            .containers_with_label(LABEL_CLUSTER, &self.spec.name)
            .await?
        {
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default();
            if let Some(o) = self.observe_node(name.trim_start_matches('/')).await? {
                nodes.push(o);
            }
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    pub(crate) async fn kube_nodes(&self) -> Result<Vec<KubeNode>> {
        let cp = &self.spec.control_plane().name;
        parse_nodes(
            &self
                .docker
                .exec_ok(cp, &Self::kubectl(&["get", "nodes", "-o", "json"]), None)
                .await?,
        )
    }

    /// `https://<host ip>:<port>` of the published API server.
    pub(crate) async fn server_url(&self) -> Result<Option<String>> {
        let cp = self.observe_node(&self.spec.control_plane().name).await?;
        if let Some(endpoint) = cp.as_ref().and_then(|o| o.desktop_api.as_deref()) {
            return Ok(Some(format!("https://{endpoint}")));
        }
        Ok(cp
            .and_then(|o| o.ports.get("6443/tcp").cloned())
            .map(|(ip, port)| {
                let ip = match ip.as_str() {
                    "" | "0.0.0.0" => "127.0.0.1".to_owned(),
                    "::" => "[::1]".to_owned(),
                    v6 if v6.contains(':') => format!("[{v6}]"),
                    v4 => v4.to_owned(),
                };
                format!("https://{ip}:{port}")
            }))
    }

    pub async fn status(&self) -> Result<ClusterStatus> {
        let observed = self.observe_all().await?;
        let cp_running = observed
            .iter()
            .any(|o| o.name == self.spec.control_plane().name && o.state == NodeState::Running);
        let kube = if cp_running {
            tokio::time::timeout(Duration::from_secs(10), self.kube_nodes())
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        let role_of = |name: &str| {
            self.spec
                .nodes
                .iter()
                .find(|n| n.name == name)
                .map_or("unknown", |n| n.role.as_str())
        };
        let mut nodes: Vec<NodeStatus> = observed
            .iter()
            .map(|o| {
                let k = kube
                    .as_ref()
                    .and_then(|k| k.iter().find(|k| k.name == o.name));
                NodeStatus {
                    name: o.name.clone(),
                    role: role_of(&o.name).to_owned(),
                    state: o.state,
                    image: o.image.clone(),
                    ready: kube.as_ref().map(|_| k.is_some_and(|k| k.ready)),
                    labels: k.map(|k| k.labels.clone()).unwrap_or_default(),
                }
            })
            .collect();
        for missing in self
            .spec
            .nodes
            .iter()
            .filter(|n| !observed.iter().any(|o| o.name == n.name))
        {
            if !observed.is_empty() {
                nodes.push(NodeStatus {
                    name: missing.name.clone(),
                    role: missing.role.as_str().to_owned(),
                    state: NodeState::Missing,
                    image: missing.image.clone(),
                    ready: None,
                    labels: BTreeMap::new(),
                });
            }
        }
        let cp = observed
            .iter()
            .find(|o| o.name == self.spec.control_plane().name);
        let ingress = cp
            .map(|o| {
                [("80/tcp", "http"), ("443/tcp", "https")]
                    .iter()
                    .filter_map(|(k, scheme)| {
                        o.ports
                            .get(*k)
                            .map(|(ip, p)| format!("{scheme}://{ip}:{p}"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kubeconfig = kubeconfig::merge_target().ok();
        let context = self.spec.context_name();
        let context_present = kubeconfig
            .as_deref()
            .and_then(|p| kubeconfig::server_of(p, &context).ok().flatten())
            .is_some();
        let healthy = !nodes.is_empty()
            && nodes.len() == self.spec.nodes.len()
            && nodes
                .iter()
                .all(|n| n.state == NodeState::Running && n.ready == Some(true));
        Ok(ClusterStatus {
            name: self.spec.name.clone(),
            docker: self.docker.endpoint().describe(),
            exists: !observed.is_empty(),
            healthy,
            nodes,
            api_server: self.server_url().await?,
            ingress,
            kubeconfig,
            context,
            context_present,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_desktop_s_api_label_is_read_verbatim() {
        let inspect = |labels: &[(&str, &str)]| ContainerInspectResponse {
            name: Some("/slipway-control-plane".into()),
            config: Some(bollard::models::ContainerConfig {
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let desktop =
            Observed::from_inspect(inspect(&[(DESKTOP_API_LABEL, "10.0.1.7:6443")]), "kind");
        assert_eq!(desktop.desktop_api.as_deref(), Some("10.0.1.7:6443"));
        assert_eq!(
            Observed::from_inspect(inspect(&[]), "kind").desktop_api,
            None
        );
    }

    #[test]
    fn node_list_parsing_reads_ready_and_labels() {
        let json = r#"{"items":[
          {"metadata":{"name":"a","labels":{"x":"1"}},"status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}]}},
          {"metadata":{"name":"b"},"status":{"conditions":[{"type":"Ready","status":"False","message":"CNI not ready"}]}},
          {"metadata":{"name":"c"},"status":{}}]}"#;
        let nodes = parse_nodes(json).expect("parse");
        assert_eq!(nodes.len(), 3);
        assert!(nodes[0].ready);
        assert_eq!(nodes[0].labels.get("x").map(String::as_str), Some("1"));
        assert!(!nodes[1].ready);
        assert_eq!(nodes[1].reason, "CNI not ready");
        assert!(!nodes[2].ready);
        assert!(parse_nodes("not json").is_err());
    }
}
