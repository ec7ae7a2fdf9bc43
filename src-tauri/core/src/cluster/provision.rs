//! The cluster steps of `up`, `down`, `stop` and `status`, each idempotent: it looks at what
//! exists, changes only what is missing, and says which of the two happened.
//!
//! In-node commands run through `docker exec` with the node's own `kubeadm` and `kubectl`
//! (admin kubeconfig), as kind does, so provisioning needs nothing on the host but Docker.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::future::try_join_all;
use serde::Serialize;
use serde_json::{Value, json};

use super::docker::tail;
use super::kubeadm::{self, KubeVersion, NodeFacts};
use super::spec::{LABEL_CLUSTER, NodeSpec, Role};
use super::{Cluster, ClusterError, ClusterStatus, NodeStatus, kubeconfig, network, preflight};
use crate::progress::{StepOutcome, StepReporter};

/// How long a node may take to print systemd's multi-user line (kind waits 30 s).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
const KUBEADM_CONF: &str = "/kind/kubeadm.conf";
const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";

type Result<T> = std::result::Result<T, ClusterError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeState {
    Running,
    Stopped,
    /// Created, restarting, paused or dead: Docker says it is neither running nor cleanly stopped.
    Unhealthy,
    Missing,
}

/// A node container as Docker reports it.
struct Observed {
    name: String,
    state: NodeState,
    image: String,
    /// `"80/tcp"` → (host ip, host port)
    ports: HashMap<String, (String, u16)>,
    ip: Option<String>,
    started_at: Option<i32>,
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
    let list: Value = serde_json::from_str(json_text).map_err(|e| {
        ClusterError::NodeImage(format!("kubectl get nodes printed unreadable JSON: {e}"))
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

fn is_boot_line(line: &str) -> bool {
    (line.contains("Reached target") && line.contains("Multi-User System"))
        || line.contains("detected cgroup v1")
}

/// kind's CNI manifest is a template (`{{ .PodSubnet }}`) or asks for the control-plane endpoint.
pub(crate) fn render_cni(manifest: &str, pod_subnet: &str, endpoint: &str) -> Result<String> {
    let mut text = manifest.to_owned();
    if text.contains("would you kindly template this file") {
        for pattern in ["{{ .PodSubnet }}", "{{.PodSubnet}}"] {
            text = text.replace(pattern, pod_subnet);
        }
    }
    if !text.contains("would you kindly patch this file") {
        return Ok(text);
    }
    let mut docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| {
        ClusterError::NodeImage(format!("the node's CNI manifest is not YAML: {e}"))
    })?;
    if let Some(container) = docs
        .iter_mut()
        .find(|d| d["kind"] == "DaemonSet")
        .and_then(|d| d.pointer_mut("/spec/template/spec/containers/0"))
    {
        let env = container
            .as_object_mut()
            .map(|c| c.entry("env").or_insert_with(|| json!([])));
        if let Some(Value::Array(env)) = env {
            env.push(json!({"name": "CONTROL_PLANE_ENDPOINT", "value": endpoint}));
        }
    }
    let mut out = String::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(doc).map_err(|e| ClusterError::NodeImage(e.to_string()))?,
        );
    }
    Ok(out)
}

/// kind's fallback when the image has no storage manifest.
const HOST_PATH_STORAGE: &str = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: kubernetes.io/host-path\n";

impl Cluster {
    fn kubectl<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut argv = vec!["kubectl", "--kubeconfig", ADMIN_CONF];
        argv.extend_from_slice(args);
        argv
    }

    async fn observe_node(&self, name: &str) -> Result<Option<Observed>> {
        Ok(self
            .docker
            .inspect(name)
            .await?
            .map(|c| Observed::from_inspect(c, &self.spec.network)))
    }

    /// Every container labelled as a node of this cluster (kind's definition of "the cluster").
    async fn observe_all(&self) -> Result<Vec<Observed>> {
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

    async fn kube_nodes(&self) -> Result<Vec<KubeNode>> {
        let cp = &self.spec.control_plane().name;
        parse_nodes(
            &self
                .docker
                .exec_ok(cp, &Self::kubectl(&["get", "nodes", "-o", "json"]), None)
                .await?,
        )
    }

    // ---------------------------------------------------------------- preflight

    /// Validate, compare with an existing cluster, fix the API port, check host ports; no writes
    /// unless `recreate` asks to remove the old cluster.
    pub async fn preflight(
        &mut self,
        report: StepReporter<'_>,
        recreate: bool,
    ) -> Result<StepOutcome> {
        let info = self
            .docker
            .api()
            .info()
            .await
            .map_err(super::DockerError::api("read docker info"))?;
        preflight::check_rootless(&info)?;
        for w in preflight::resource_warnings(&info) {
            report.warn(w);
        }
        if self.docker.endpoint().starts_with("unix://") {
            if let Some(w) = preflight::host_inotify_warning() {
                report.warn(w);
            }
            if let Some(w) = info
                .docker_root_dir
                .as_deref()
                .filter(|d| Path::new(d).exists())
                .and_then(preflight::disk_warning)
            {
                report.warn(w);
            }
        }
        if !self.spec.privileged {
            report.warn(format!(
                "{}=1: node containers run without --privileged. This is a test-only switch; real Kubernetes nodes need privileged containers",
                super::spec::UNPRIVILEGED_ENV
            ));
        }

        let mut existing = self.observe_all().await?;
        let mut outcome = StepOutcome::up_to_date("checks passed");
        if recreate && !existing.is_empty() {
            let removed = self.remove_nodes().await?;
            existing.clear();
            outcome = StepOutcome::changed(format!(
                "removed the old cluster ({removed}) to recreate it"
            ));
        }
        let differences = self.differences(&existing);
        if !differences.is_empty() {
            return Err(ClusterError::SpecMismatch {
                name: self.spec.name.clone(),
                differences,
            });
        }

        // Ports Docker already holds for a running node of ours are fine; all others must be free.
        let cp = existing
            .iter()
            .find(|o| o.name == self.spec.control_plane().name);
        if let Some((_, port)) = cp.and_then(|o| o.ports.get("6443/tcp")) {
            self.api_port = *port;
        }
        let held_by_us = |port: u16| {
            existing
                .iter()
                .any(|o| o.state == NodeState::Running && o.ports.values().any(|(_, p)| *p == port))
        };
        for (address, port, what) in self.spec.host_ports(self.api_port) {
            if !held_by_us(port) {
                preflight::check_port(&address, port, what)?;
            }
        }
        if self.api_port == 0 {
            self.api_port = preflight::free_port(&self.spec.api_server_address)?;
        }
        Ok(outcome)
    }

    /// What an existing cluster has that the requested one does not (ports, nodes, image).
    fn differences(&self, existing: &[Observed]) -> Vec<String> {
        let mut diffs = Vec::new();
        for o in existing {
            let Some(want) = self.spec.nodes.iter().find(|n| n.name == o.name) else {
                diffs.push(format!(
                    "node {} exists but is not part of the requested cluster",
                    o.name
                ));
                continue;
            };
            if o.image != want.image {
                diffs.push(format!(
                    "{} runs image {}, requested {}",
                    o.name, o.image, want.image
                ));
            }
            for m in &want.port_mappings {
                let have = o.ports.get(&m.docker_key());
                if have != Some(&(m.listen_address.clone(), m.host_port)) {
                    let have = have.map_or("nothing".to_owned(), |(ip, p)| format!("{ip}:{p}"));
                    diffs.push(format!(
                        "{} publishes {} on {have}, requested {}:{}",
                        o.name,
                        m.docker_key(),
                        m.listen_address,
                        m.host_port
                    ));
                }
            }
            let extra: Vec<_> = o
                .ports
                .keys()
                .filter(|k| {
                    *k != "6443/tcp" && !want.port_mappings.iter().any(|m| &m.docker_key() == *k)
                })
                .collect();
            if !extra.is_empty() {
                diffs.push(format!(
                    "{} publishes {extra:?}, which the requested cluster does not",
                    o.name
                ));
            }
            if want.role == Role::ControlPlane
                && self.spec.api_server_port != 0
                && let Some((_, port)) = o
                    .ports
                    .get("6443/tcp")
                    .filter(|(_, p)| *p != self.spec.api_server_port)
            {
                diffs.push(format!(
                    "the API server is on port {port}, requested {}",
                    self.spec.api_server_port
                ));
            }
        }
        diffs
    }

    // ---------------------------------------------------------------- image, network, nodes

    pub async fn ensure_image(&self, report: StepReporter<'_>) -> Result<StepOutcome> {
        let mut images: Vec<&str> = self.spec.nodes.iter().map(|n| n.image.as_str()).collect();
        images.dedup();
        let mut pulled = Vec::new();
        for image in images {
            if !self.docker.image_present(image).await? {
                report.detail(format!("pulling {image}"));
                self.docker.pull(image, report).await?;
                pulled.push(image);
            }
        }
        Ok(if pulled.is_empty() {
            StepOutcome::up_to_date("node image present")
        } else {
            StepOutcome::changed(format!("pulled {}", pulled.join(", ")))
        })
    }

    pub async fn ensure_network(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        Ok(
            match network::ensure(&self.docker, &self.spec.network).await? {
                network::NetworkOutcome::Existing => {
                    StepOutcome::up_to_date(format!("network {} exists", self.spec.network))
                }
                network::NetworkOutcome::Created { ipv6: Some(subnet) } => StepOutcome::changed(
                    format!("created network {} (IPv6 {subnet})", self.spec.network),
                ),
                network::NetworkOutcome::Created { ipv6: None } => StepOutcome::changed(format!(
                    "created network {} (IPv4 only)",
                    self.spec.network
                )),
            },
        )
    }

    /// Create missing nodes and start stopped ones, concurrently, then wait for each to boot.
    /// Nodes created by this run that fail to boot are removed, so a re-run starts clean.
    pub async fn ensure_nodes(
        &self,
        report: StepReporter<'_>,
        boot_timeout: Duration,
    ) -> Result<StepOutcome> {
        let results = futures_util::future::join_all(
            self.spec
                .nodes
                .iter()
                .map(|n| self.ensure_node(n, report, boot_timeout)),
        )
        .await;
        let mut created = Vec::new();
        let mut started = Vec::new();
        let mut failure = None;
        for (node, result) in self.spec.nodes.iter().zip(results) {
            match result {
                Ok(NodeAction::Created) => created.push(node.name.clone()),
                Ok(NodeAction::Started) => started.push(node.name.clone()),
                Ok(NodeAction::None) => {}
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut done = Vec::new();
        if !created.is_empty() {
            done.push(format!("created {}", created.join(", ")));
        }
        if !started.is_empty() {
            done.push(format!("started stopped node(s) {}", started.join(", ")));
        }
        Ok(if done.is_empty() {
            StepOutcome::up_to_date("both nodes running")
        } else {
            StepOutcome::changed(done.join("; "))
        })
    }

    async fn ensure_node(
        &self,
        node: &NodeSpec,
        report: StepReporter<'_>,
        boot_timeout: Duration,
    ) -> Result<NodeAction> {
        let (action, since) = match self.observe_node(&node.name).await? {
            Some(o) if o.state == NodeState::Running => {
                let booted = self
                    .docker
                    .log_tail(&node.name, 2000)
                    .await
                    .lines()
                    .any(is_boot_line);
                if booted {
                    return Ok(NodeAction::None);
                }
                (NodeAction::None, o.started_at.unwrap_or(0))
            }
            Some(_) => {
                report.detail(format!("starting {}", node.name));
                self.docker
                    .api()
                    .start_container(&node.name, None)
                    .await
                    .map_err(super::DockerError::api(format!("start {}", node.name)))?;
                (NodeAction::Started, self.started_at(&node.name).await?)
            }
            None => {
                report.detail(format!("creating {}", node.name));
                // kind binds /lib/modules; a Linux host without it (minimal VMs, sandboxes) cannot.
                let mount_modules =
                    !cfg!(target_os = "linux") || Path::new("/lib/modules").exists();
                let body = self.spec.container_body(node, self.api_port, mount_modules);
                let opts = CreateContainerOptionsBuilder::default()
                    .name(&node.name)
                    .build();
                self.docker
                    .api()
                    .create_container(Some(opts), body)
                    .await
                    .map_err(super::DockerError::api(format!("create {}", node.name)))?;
                if let Err(e) = self.docker.api().start_container(&node.name, None).await {
                    self.remove_container(&node.name).await;
                    return Err(super::DockerError::api(format!("start {}", node.name))(e).into());
                }
                (NodeAction::Created, self.started_at(&node.name).await?)
            }
        };
        report.detail(format!("waiting for {} to boot", node.name));
        let waited = tokio::time::timeout(
            boot_timeout,
            self.docker.wait_for_log(&node.name, since, is_boot_line),
        )
        .await;
        let timed_out = match waited {
            Ok(Ok(true)) => return Ok(action),
            Ok(Ok(false)) => false,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => true,
        };
        let last_lines = tail(&self.docker.log_tail(&node.name, 30).await, 15);
        let cleanup = if action == NodeAction::Created {
            self.remove_container(&node.name).await;
            "Slipway removed the half-made node, so re-running `slipway up` starts it afresh."
        } else {
            "If this persists, `slipway up --recreate` makes the cluster anew."
        }
        .to_owned();
        let node = node.name.clone();
        Err(if timed_out {
            ClusterError::BootTimeout {
                node,
                secs: boot_timeout.as_secs(),
                last_lines,
                cleanup,
            }
        } else {
            ClusterError::NodeExited {
                node,
                last_lines,
                cleanup,
            }
        })
    }

    async fn started_at(&self, name: &str) -> Result<i32> {
        Ok(self
            .observe_node(name)
            .await?
            .and_then(|o| o.started_at)
            .unwrap_or(0))
    }

    async fn remove_container(&self, name: &str) {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        if let Err(e) = self.docker.api().remove_container(name, Some(opts)).await {
            tracing::warn!("could not remove {name}: {e}");
        }
    }

    // ---------------------------------------------------------------- kubeadm

    /// Write `/kind/kubeadm.conf` on every node whose file is missing or stale. After a node has
    /// joined, a changed config (a new node IP after a Docker restart) is reported, not rewritten.
    pub async fn write_kubeadm_config(&self, report: StepReporter<'_>) -> Result<StepOutcome> {
        let mut written = Vec::new();
        for node in &self.spec.nodes {
            let version_text = self
                .docker
                .read_file(&node.name, "/kind/version")
                .await?
                .ok_or_else(|| {
                    ClusterError::NodeImage(format!(
                        "{} has no /kind/version; is {} a kind node image?",
                        node.name, node.image
                    ))
                })?;
            let observed = self
                .observe_node(&node.name)
                .await?
                .ok_or_else(|| ClusterError::Missing(node.name.clone()))?;
            let ip = observed.ip.ok_or_else(|| {
                ClusterError::NodeImage(format!(
                    "{} has no address on network {}",
                    node.name, self.spec.network
                ))
            })?;
            let facts = NodeFacts {
                node,
                node_ip: &ip,
                version: KubeVersion::parse(&version_text)?,
            };
            let rendered = kubeadm::render(&self.spec, &facts)?;
            let current = self.docker.read_file(&node.name, KUBEADM_CONF).await?;
            if current.as_deref() == Some(rendered.as_str()) {
                continue;
            }
            let configured = if node.role == Role::ControlPlane {
                ADMIN_CONF
            } else {
                KUBELET_CONF
            };
            if current.is_some()
                && self
                    .docker
                    .read_file(&node.name, configured)
                    .await?
                    .is_some()
            {
                report.warn(format!(
                    "{}'s address or settings changed since it was set up (now {ip}); if it stays NotReady, run `slipway up --recreate`",
                    node.name
                ));
                continue;
            }
            self.docker
                .write_file(&node.name, KUBEADM_CONF, rendered.as_bytes(), 0o644)
                .await?;
            written.push(node.name.clone());
        }
        Ok(if written.is_empty() {
            StepOutcome::up_to_date("kubeadm config current")
        } else {
            StepOutcome::changed(format!("wrote {KUBEADM_CONF} on {}", written.join(", ")))
        })
    }

    pub async fn init_control_plane(&self, report: StepReporter<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        if self.docker.read_file(cp, ADMIN_CONF).await?.is_some() {
            return Ok(StepOutcome::up_to_date("control plane initialised"));
        }
        report.detail("kubeadm init");
        self.docker
            .exec_ok(
                cp,
                &[
                    "kubeadm",
                    "init",
                    &format!("--config={KUBEADM_CONF}"),
                    "--skip-token-print",
                    "--v=6",
                ],
                None,
            )
            .await?;
        Ok(StepOutcome::changed(format!("kubeadm init on {cp}")))
    }

    /// Apply a manifest through the control-plane's kubectl unless all its objects exist.
    async fn apply_unless_present(&self, manifest: &str) -> Result<bool> {
        let cp = &self.spec.control_plane().name;
        let present = self
            .docker
            .exec(
                cp,
                &Self::kubectl(&["get", "-f", "-", "-o", "name"]),
                Some(manifest.as_bytes()),
            )
            .await?;
        if present.code == 0 {
            return Ok(false);
        }
        self.docker
            .exec_ok(
                cp,
                &Self::kubectl(&["apply", "-f", "-"]),
                Some(manifest.as_bytes()),
            )
            .await?;
        Ok(true)
    }

    pub async fn install_cni(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let manifest = self
            .docker
            .read_file(cp, "/kind/manifests/default-cni.yaml")
            .await?
            .ok_or_else(|| {
                ClusterError::NodeImage(format!(
                    "{cp} has no /kind/manifests/default-cni.yaml; use a kindest/node image"
                ))
            })?;
        let rendered = render_cni(&manifest, &self.spec.pod_subnet, &format!("{cp}:6443"))?;
        Ok(if self.apply_unless_present(&rendered).await? {
            StepOutcome::changed("applied the node image's CNI (kindnet)")
        } else {
            StepOutcome::up_to_date("CNI installed")
        })
    }

    pub async fn install_storage(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let manifest = self
            .docker
            .read_file(cp, "/kind/manifests/default-storage.yaml")
            .await?;
        let manifest = manifest.as_deref().unwrap_or(HOST_PATH_STORAGE);
        Ok(if self.apply_unless_present(manifest).await? {
            StepOutcome::changed("applied the default StorageClass")
        } else {
            StepOutcome::up_to_date("StorageClass installed")
        })
    }

    /// Join every worker the API server does not know yet, concurrently.
    pub async fn join_workers(&self, report: StepReporter<'_>) -> Result<StepOutcome> {
        let known: Vec<String> = self
            .kube_nodes()
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        let pending: Vec<&NodeSpec> = self
            .spec
            .workers()
            .filter(|w| !known.contains(&w.name))
            .collect();
        if pending.is_empty() {
            return Ok(StepOutcome::up_to_date("workers joined"));
        }
        try_join_all(pending.iter().map(|w| async move {
            report.detail(format!("kubeadm join on {}", w.name));
            self.docker
                .exec_ok(
                    &w.name,
                    &["kubeadm", "join", "--config", KUBEADM_CONF, "--v=6"],
                    None,
                )
                .await
        }))
        .await?;
        let names: Vec<&str> = pending.iter().map(|w| w.name.as_str()).collect();
        Ok(StepOutcome::changed(format!("joined {}", names.join(", "))))
    }

    /// Make sure every node carries its pool labels (kubeadm sets them at registration; this
    /// repairs a node whose labels were removed).
    pub async fn label_nodes(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let registered = self.kube_nodes().await?;
        let cp = &self.spec.control_plane().name;
        let mut fixed = Vec::new();
        for node in &self.spec.nodes {
            let have = registered
                .iter()
                .find(|k| k.name == node.name)
                .map(|k| &k.labels);
            let missing: Vec<String> = node
                .labels
                .iter()
                .filter(|(k, v)| have.and_then(|h| h.get(*k)) != Some(*v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let mut args = vec!["label", "node", node.name.as_str(), "--overwrite"];
            args.extend(missing.iter().map(String::as_str));
            self.docker.exec_ok(cp, &Self::kubectl(&args), None).await?;
            fixed.push(format!("{} ({})", node.name, missing.join(", ")));
        }
        Ok(if fixed.is_empty() {
            StepOutcome::up_to_date("node labels set")
        } else {
            StepOutcome::changed(format!("labelled {}", fixed.join("; ")))
        })
    }

    /// Wait until the published API port answers and every node is Ready (kind does not wait by default).
    pub async fn wait_ready(
        &self,
        report: StepReporter<'_>,
        timeout: Duration,
    ) -> Result<StepOutcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        let api = format!("{}:{}", self.spec.api_server_address, self.api_port);
        let mut waited = false;
        let mut last;
        loop {
            let api_ok = tokio::net::TcpStream::connect(&api).await.is_ok();
            let status = if api_ok {
                self.kube_nodes().await.map_err(|e| e.to_string())
            } else {
                Err(format!("nothing answers on {api}"))
            };
            match status {
                Ok(nodes) => {
                    let not_ready: Vec<String> = self
                        .spec
                        .nodes
                        .iter()
                        .filter_map(|n| match nodes.iter().find(|k| k.name == n.name) {
                            Some(k) if k.ready => None,
                            Some(k) => Some(format!("{} NotReady ({})", n.name, k.reason)),
                            None => Some(format!("{} not registered", n.name)),
                        })
                        .collect();
                    if not_ready.is_empty() {
                        return Ok(if waited {
                            StepOutcome::changed("all nodes Ready")
                        } else {
                            StepOutcome::up_to_date("API answers; all nodes Ready")
                        });
                    }
                    last = not_ready.join("; ");
                }
                Err(e) => last = e,
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::NotReady {
                    what: "all nodes Ready".into(),
                    secs: timeout.as_secs(),
                    detail: last,
                });
            }
            if !waited {
                report.detail(format!("waiting: {last}"));
            }
            waited = true;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Export `kind-<name>` into the user's kubeconfig, pointing at the published API port.
    pub async fn export_kubeconfig(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let admin = self
            .docker
            .read_file(cp, ADMIN_CONF)
            .await?
            .ok_or_else(|| {
                ClusterError::Kubeconfig(kubeconfig::KubeconfigError::AdminConf(format!(
                    "{cp} has no {ADMIN_CONF}"
                )))
            })?;
        let server = self
            .server_url()
            .await?
            .ok_or_else(|| ClusterError::Missing(cp.clone()))?;
        let entry = kubeconfig::entry_from_admin_conf(&admin, &self.spec.context_name(), &server)?;
        let path = kubeconfig::merge_target()?;
        let changed = tokio::task::spawn_blocking({
            let path = path.clone();
            move || kubeconfig::merge(&path, &entry)
        })
        .await
        .map_err(|e| ClusterError::Preflight(format!("kubeconfig writer crashed: {e}")))??;
        let context = self.spec.context_name();
        Ok(if changed {
            StepOutcome::changed(format!(
                "context {context} → {server} in {}",
                path.display()
            ))
        } else {
            StepOutcome::up_to_date(format!("context {context} in {}", path.display()))
        })
    }

    /// The `kind-<name>` kubeconfig on its own (what `kind get kubeconfig` prints).
    pub async fn kubeconfig_yaml(&self) -> Result<String> {
        let cp = &self.spec.control_plane().name;
        let admin = self
            .docker
            .read_file(cp, ADMIN_CONF)
            .await?
            .ok_or_else(|| ClusterError::Missing(self.spec.name.clone()))?;
        let server = self
            .server_url()
            .await?
            .ok_or_else(|| ClusterError::Missing(self.spec.name.clone()))?;
        let entry = kubeconfig::entry_from_admin_conf(&admin, &self.spec.context_name(), &server)?;
        serde_saphyr::to_string(&entry).map_err(|e| ClusterError::InvalidConfig(e.to_string()))
    }

    /// `https://<host ip>:<port>` of the published API server.
    async fn server_url(&self) -> Result<Option<String>> {
        let cp = self.observe_node(&self.spec.control_plane().name).await?;
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

    // ---------------------------------------------------------------- down, stop, status

    async fn remove_nodes(&self) -> Result<String> {
        let nodes = self.observe_all().await?;
        for node in &nodes {
            self.remove_container(&node.name).await;
        }
        Ok(nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    }

    /// Remove the nodes with their volumes and the kubeconfig entries. The network stays (it is
    /// shared by all kind clusters). A cluster that does not exist is not an error.
    pub async fn delete(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let removed = self.remove_nodes().await?;
        let context = self.spec.context_name();
        let mut cleaned = Vec::new();
        for path in kubeconfig::paths()? {
            let ctx = context.clone();
            let p = path.clone();
            let changed = tokio::task::spawn_blocking(move || kubeconfig::remove(&p, &ctx))
                .await
                .map_err(|e| {
                    ClusterError::Preflight(format!("kubeconfig writer crashed: {e}"))
                })??;
            if changed {
                cleaned.push(path.display().to_string());
            }
        }
        Ok(match (removed.is_empty(), cleaned.is_empty()) {
            (true, true) => StepOutcome::up_to_date(format!("no cluster named {}", self.spec.name)),
            _ => StepOutcome::changed(format!(
                "removed nodes [{removed}] and context {context} from [{}]",
                cleaned.join(", ")
            )),
        })
    }

    /// Stop the node containers (their state stays; `up` starts and re-verifies them).
    pub async fn stop(&self, _: StepReporter<'_>) -> Result<StepOutcome> {
        let nodes = self.observe_all().await?;
        if nodes.is_empty() {
            return Err(ClusterError::Missing(self.spec.name.clone()));
        }
        let running: Vec<&Observed> = nodes
            .iter()
            .filter(|n| n.state == NodeState::Running)
            .collect();
        try_join_all(running.iter().map(|n| async move {
            let opts = StopContainerOptionsBuilder::default().t(30).build();
            self.docker
                .api()
                .stop_container(&n.name, Some(opts))
                .await
                .map_err(super::DockerError::api(format!("stop {}", n.name)))
        }))
        .await?;
        Ok(if running.is_empty() {
            StepOutcome::up_to_date("already stopped")
        } else {
            StepOutcome::changed(format!(
                "stopped {}",
                running
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeAction {
    None,
    Created,
    Started,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn boot_lines_match_systemd_and_cgroup_v1() {
        assert!(is_boot_line("[  OK  ] Reached target Multi-User System."));
        assert!(is_boot_line(
            "\u{1b}[0;32m  OK  \u{1b}[0m] Reached target \u{1b}[0;1;39mMulti-User System\u{1b}[0m."
        ));
        assert!(is_boot_line("INFO: detected cgroup v1"));
        assert!(!is_boot_line("Reached target Basic System."));
    }

    #[test]
    fn cni_template_and_patch_follow_kind() {
        let templated = "# would you kindly template this file\nvalue: {{ .PodSubnet }}\n";
        assert_eq!(
            render_cni(templated, "10.244.0.0/16", "x:6443").expect("render"),
            "# would you kindly template this file\nvalue: 10.244.0.0/16\n"
        );
        let patched = "# would you kindly patch this file\n---\nkind: ServiceAccount\nmetadata: {name: kindnet}\n---\nkind: DaemonSet\nmetadata: {name: kindnet}\nspec:\n  template:\n    spec:\n      containers:\n      - name: kindnet-cni\n        env:\n        - {name: HOST_IP, value: x}\n";
        let out = render_cni(patched, "10.244.0.0/16", "c-control-plane:6443").expect("render");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&out).expect("yaml");
        let env = &docs.iter().find(|d| d["kind"] == "DaemonSet").expect("ds")["spec"]["template"]
            ["spec"]["containers"][0]["env"];
        assert_eq!(
            env[1],
            json!({"name": "CONTROL_PLANE_ENDPOINT", "value": "c-control-plane:6443"})
        );
        assert_eq!(
            render_cni("plain: yaml\n", "s", "e").expect("render"),
            "plain: yaml\n"
        );
    }
}
