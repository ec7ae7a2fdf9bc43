//! The cluster steps of `up`, `down`, `stop` and `status`, each idempotent: it looks at what
//! exists, changes only what is missing, and says which of the two happened.
//!
//! In-node commands run through `docker exec` with the node's own `kubeadm` and `kubectl`
//! (admin kubeconfig), as kind does, so provisioning needs nothing on the host but Docker.

use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures_util::future::try_join_all;
use serde_json::{Value, json};

use super::docker::tail;
use super::host::HostFacts;
use super::kubeadm::{self, BootstrapToken, NodeFacts};
use super::spec::{NodeSpec, Role};
use super::status::{ADMIN_CONF, NodeState, Observed};
use super::{Cluster, ClusterError, kubeconfig, network, preflight};
use crate::pipeline::{Poll, StepContext, StepOutcome, poll};

/// How long a node may take to print systemd's multi-user line (kind waits 30 s).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
const KUBEADM_CONF: &str = "/kind/kubeadm.conf";
const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";
/// Written once `kubeadm init` succeeded (in the node's /kind, beside kind's own files).
const INIT_DONE: &str = "/kind/slipway-init-done";

type Result<T> = std::result::Result<T, ClusterError>;

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
    let mut docs = image_manifest(&text, "cat /kind/manifests/default-cni.yaml")?;
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
    to_manifest(&docs, "the CNI manifest")
}

/// The documents of a manifest from the node image (`command` is how it was read).
fn image_manifest(text: &str, command: &'static str) -> Result<Vec<Value>> {
    serde_saphyr::from_multiple(text).map_err(|e| ClusterError::NodeOutput {
        node: "the node image".into(),
        command,
        format: "YAML",
        reason: e.to_string(),
    })
}

/// Documents back into one multi-document manifest.
fn to_manifest(docs: &[Value], what: &'static str) -> Result<String> {
    let mut out = String::new();
    for doc in docs.iter().filter(|d| !d.is_null()) {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(doc)
                .map_err(|source| ClusterError::Render { what, source })?,
        );
    }
    Ok(out)
}

/// The local-path provisioner's helper pod (it makes and removes volume folders on the node)
/// tolerates every NoSchedule and NoExecute taint, as kind's fix for #4100 (after v0.32.0) does:
/// without it, a PVC for a pod on the tainted platform node stays Pending.
pub(crate) fn render_storage(manifest: &str) -> Result<String> {
    const COMMAND: &str = "cat /kind/manifests/default-storage.yaml";
    let mut docs = image_manifest(manifest, COMMAND)?;
    let Some(helper) = docs
        .iter_mut()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == LOCAL_PATH_CONFIG)
        .and_then(|d| d.pointer_mut("/data/helperPod.yaml"))
    else {
        return Ok(manifest.to_owned());
    };
    let mut pod = image_manifest(helper.as_str().unwrap_or_default(), COMMAND)?
        .into_iter()
        .next()
        .unwrap_or_default();
    pod["spec"]["tolerations"] = json!([
        {"operator": "Exists", "effect": "NoSchedule"},
        {"operator": "Exists", "effect": "NoExecute"},
    ]);
    *helper =
        Value::String(
            serde_saphyr::to_string(&pod).map_err(|source| ClusterError::Render {
                what: "the local-path helper pod",
                source,
            })?,
        );
    to_manifest(&docs, "the storage manifest")
}

/// The local-path provisioner's ConfigMap (namespace `local-path-storage`).
const LOCAL_PATH_CONFIG: &str = "local-path-config";

/// kind's fallback when the image has no storage manifest.
const HOST_PATH_STORAGE: &str = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\n  annotations:\n    storageclass.kubernetes.io/is-default-class: \"true\"\nprovisioner: kubernetes.io/host-path\n";

impl Cluster {
    // ---------------------------------------------------------------- preflight

    /// Validate, compare with an existing cluster, fix the API port, check host ports; no writes
    /// unless `recreate` asks to remove the old cluster.
    /// `platform_requests`: the memory the platform's pods will request (0 for a bare cluster).
    pub async fn preflight(
        &mut self,
        report: StepContext<'_>,
        recreate: bool,
        platform_requests: u64,
    ) -> Result<StepOutcome> {
        let info = self.docker_info().await?;
        preflight::check_rootless(info)?;
        for w in preflight::resource_warnings(info, platform_requests) {
            report.warn(w);
        }
        if let Some(address) = self.spec.exposed() {
            report.warn(format!(
                "the ingress listens on {address}, beyond this machine (--expose-to-network): anyone who reaches it can use Argo CD and Backstage; Backstage's guest sign-in is off"
            ));
        }
        let endpoint = self.docker.endpoint();
        report.detail(format!("Docker at {}", endpoint.describe()));
        if let Some(host) = endpoint.remote_host() {
            report.warn(format!(
                "Docker runs on {host}: the cluster's ports (ingress, API) open there, not on this machine, and the hosts file must point at {host}"
            ));
        }
        if endpoint.unix_path().is_some() {
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
        // Nodes still to make must be privileged: ask Docker now, with a throwaway container,
        // rather than fail at `nodes` with "unable to apply caps". Without the image yet, the
        // `node-image` step asks once it is pulled.
        let missing = self.spec.nodes.len() > existing.len();
        if missing
            && self
                .docker
                .image_present(&self.spec.control_plane().image)
                .await?
        {
            self.check_privileged().await?;
        }
        Ok(outcome)
    }

    /// Start and remove a privileged container from the node image, with the node's options.
    async fn check_privileged(&self) -> Result<()> {
        if !self.spec.privileged {
            return Ok(());
        }
        let name = format!("{}-privileged-check", self.spec.name);
        let host = self.host_facts().await?;
        let mut body = self
            .spec
            .container_body(self.spec.control_plane(), 0, &host, &[]);
        // Not a node: no kind labels, so nothing counts it as one while it exists.
        body.labels = Some(std::collections::HashMap::from([(
            "dev.slipway.check".to_owned(),
            "privileged".to_owned(),
        )]));
        body.entrypoint = Some(vec!["true".into()]);
        body.cmd = None;
        body.tty = Some(false);
        body.volumes = None;
        body.exposed_ports = None;
        if let Some(hc) = body.host_config.as_mut() {
            hc.port_bindings = None;
            hc.network_mode = Some("none".into());
            hc.restart_policy = None;
            hc.binds = None;
        }
        if self.docker.inspect(&name).await?.is_some() {
            self.remove_container(&name).await;
        }
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        self.docker
            .api()
            .create_container(Some(opts), body)
            .await
            .map_err(super::DockerError::api(format!("create {name}")))?;
        let started = self.docker.api().start_container(&name, None).await;
        self.remove_container(&name).await;
        match started {
            Ok(()) => Ok(()),
            Err(e) => Err(ClusterError::PrivilegedRefused {
                endpoint: self.docker.endpoint().describe(),
                reason: e.to_string(),
            }),
        }
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

    pub async fn ensure_image(&self, report: StepContext<'_>) -> Result<StepOutcome> {
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
        if !pulled.is_empty() && self.spec.nodes.len() > self.observe_all().await?.len() {
            self.check_privileged().await?;
        }
        Ok(if pulled.is_empty() {
            StepOutcome::up_to_date("node image present")
        } else {
            StepOutcome::changed(format!("pulled {}", pulled.join(", ")))
        })
    }

    pub async fn ensure_network(&self, _: StepContext<'_>) -> Result<StepOutcome> {
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
    pub async fn ensure_nodes(&self, report: StepContext<'_>) -> Result<StepOutcome> {
        let results = futures_util::future::join_all(
            self.spec.nodes.iter().map(|n| self.ensure_node(n, report)),
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

    /// One node, booted before the step's deadline (less a moment to clean up and explain).
    async fn ensure_node(&self, node: &NodeSpec, report: StepContext<'_>) -> Result<NodeAction> {
        let boot_deadline = report.deadline().less(Duration::from_secs(2));
        let (action, since) = match self.observe_node(&node.name).await? {
            // Only this start's log counts: a boot line from before a restart proves nothing.
            Some(o) if o.state == NodeState::Running => {
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
                let host = self.host_facts().await?;
                let subnets = network::subnets(&self.docker, &self.spec.network).await?;
                let body = self
                    .spec
                    .container_body(node, self.api_port, &host, &subnets);
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
        if action != NodeAction::None {
            report.detail(format!("waiting for {} to boot", node.name));
        }
        let waited = tokio::time::timeout_at(
            boot_deadline.at,
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
                secs: boot_deadline.secs(),
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

    /// The Docker host as node containers and kubeadm must see it (`docker info`, environment).
    pub(crate) async fn host_facts(&self) -> Result<HostFacts> {
        Ok(HostFacts::read(self.docker_info().await?))
    }

    /// `docker info`, asked once per connection.
    /// The Docker daemon (as [`super::endpoint::Endpoint::describe`] says it) and its memory.
    pub async fn docker_size(&self) -> Result<(String, Option<u64>)> {
        let memory = self
            .docker_info()
            .await?
            .mem_total
            .and_then(|m| u64::try_from(m).ok())
            .filter(|m| *m > 0);
        Ok((self.docker.endpoint().describe(), memory))
    }

    async fn docker_info(&self) -> Result<&bollard::models::SystemInfo> {
        self.info
            .get_or_try_init(|| async {
                self.docker
                    .api()
                    .info()
                    .await
                    .map_err(super::DockerError::api("read docker info"))
            })
            .await
            .map_err(Into::into)
    }

    async fn started_at(&self, name: &str) -> Result<i32> {
        Ok(self
            .observe_node(name)
            .await?
            .and_then(|o| o.started_at)
            .unwrap_or(0))
    }

    // ---------------------------------------------------------------- kubeadm

    /// Write `/kind/kubeadm.conf` on every node whose file is missing or stale. After a node has
    /// joined, a changed config (a new node IP after a Docker restart) is reported, not rewritten.
    pub async fn write_kubeadm_config(&self, report: StepContext<'_>) -> Result<StepOutcome> {
        // The cluster's token is the one its control plane's config carries (a re-run renders
        // the same files), else a new one.
        let token = match self.bootstrap_token().await? {
            Some(token) => token,
            None => BootstrapToken::generate()?,
        };
        let host = self.host_facts().await?;
        let mut written = Vec::new();
        for node in &self.spec.nodes {
            let version_text = self
                .docker
                .read_file(&node.name, "/kind/version")
                .await?
                .ok_or_else(|| ClusterError::NotAKindImage {
                    node: node.name.clone(),
                    image: node.image.clone(),
                    missing: "/kind/version",
                })?;
            let observed = self
                .observe_node(&node.name)
                .await?
                .ok_or_else(|| ClusterError::Missing(node.name.clone()))?;
            let ip = observed.ip.ok_or_else(|| ClusterError::NoAddress {
                node: node.name.clone(),
                network: self.spec.network.clone(),
            })?;
            let facts = NodeFacts {
                node,
                node_ip: &ip,
                version: &version_text,
                token: &token,
                rootless: host.rootless,
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

    /// `kubeadm init`, once. kubeadm writes admin.conf early (its kubeconfig phase), so only
    /// Slipway's marker, written after init succeeded, says it finished; an init cut short is
    /// reset and run again.
    pub async fn init_control_plane(&self, report: StepContext<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        if self.docker.read_file(cp, INIT_DONE).await?.is_some() {
            return Ok(StepOutcome::up_to_date("control plane initialised"));
        }
        if self.docker.read_file(cp, ADMIN_CONF).await?.is_some() {
            // A cluster an older Slipway made has no marker: its last init phase (the
            // kube-proxy addon) left kube-proxy's ConfigMap.
            let finished = Self::kubectl(&["get", "configmap", "kube-proxy", "-n", "kube-system"]);
            if self.docker.exec(cp, &finished, None).await?.code == 0 {
                self.mark_initialised(cp).await?;
                return Ok(StepOutcome::up_to_date("control plane initialised"));
            }
            report.detail("the last kubeadm init did not finish: kubeadm reset, then init again");
            self.docker
                .exec_ok(cp, &["kubeadm", "reset", "--force"], None)
                .await?;
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
        self.mark_initialised(cp).await?;
        Ok(StepOutcome::changed(format!("kubeadm init on {cp}")))
    }

    async fn mark_initialised(&self, cp: &str) -> Result<()> {
        Ok(self
            .docker
            .write_file(cp, INIT_DONE, b"kubeadm init finished\n", 0o644)
            .await?)
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

    pub async fn install_cni(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let manifest = self
            .docker
            .read_file(cp, "/kind/manifests/default-cni.yaml")
            .await?
            .ok_or_else(|| ClusterError::NotAKindImage {
                node: cp.clone(),
                image: self.spec.control_plane().image.clone(),
                missing: "/kind/manifests/default-cni.yaml",
            })?;
        let rendered = render_cni(&manifest, &self.spec.pod_subnet, &format!("{cp}:6443"))?;
        Ok(if self.apply_unless_present(&rendered).await? {
            StepOutcome::changed("applied the node image's CNI (kindnet)")
        } else {
            StepOutcome::up_to_date("CNI installed")
        })
    }

    pub async fn install_storage(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let manifest = self
            .docker
            .read_file(cp, "/kind/manifests/default-storage.yaml")
            .await?;
        let manifest = render_storage(manifest.as_deref().unwrap_or(HOST_PATH_STORAGE))?;
        if self.apply_unless_present(&manifest).await? {
            return Ok(StepOutcome::changed("applied the default StorageClass"));
        }
        // A cluster made before the helper pod's tolerations were fixed gets them now.
        let current = self
            .docker
            .exec(
                cp,
                &Self::kubectl(&[
                    "get",
                    "configmap",
                    LOCAL_PATH_CONFIG,
                    "-n",
                    "local-path-storage",
                    "-o",
                    "json",
                ]),
                None,
            )
            .await?;
        let wanted: Vec<Value> = serde_saphyr::from_multiple(&manifest).unwrap_or_default();
        let wanted = wanted
            .into_iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == LOCAL_PATH_CONFIG);
        let have: Option<Value> = serde_json::from_str(&current.stdout).ok();
        if let (Some(wanted), Some(have)) = (wanted, have)
            && have["data"]["helperPod.yaml"] != wanted["data"]["helperPod.yaml"]
        {
            let doc = serde_json::to_string(&wanted).map_err(|e| ClusterError::NodeOutput {
                node: cp.clone(),
                command: "kubectl get configmap local-path-config",
                format: "JSON",
                reason: e.to_string(),
            })?;
            self.docker
                .exec_ok(
                    cp,
                    &Self::kubectl(&["apply", "-f", "-"]),
                    Some(doc.as_bytes()),
                )
                .await?;
            return Ok(StepOutcome::changed(
                "local-path helper pods now tolerate the platform node's taint",
            ));
        }
        Ok(StepOutcome::up_to_date("StorageClass installed"))
    }

    /// Join every worker the API server does not know yet, concurrently.
    pub async fn join_workers(&self, report: StepContext<'_>) -> Result<StepOutcome> {
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
        let token = self.bootstrap_token().await?;
        if pending.is_empty() {
            return Ok(match token {
                Some(token) if self.delete_bootstrap_token(&token).await? => {
                    StepOutcome::changed("workers joined; removed the bootstrap token")
                }
                _ => StepOutcome::up_to_date("workers joined"),
            });
        }
        if let Some(token) = &token {
            self.ensure_bootstrap_token(token, report).await?;
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
        if let Some(token) = &token {
            self.delete_bootstrap_token(token).await?;
        }
        let names: Vec<&str> = pending.iter().map(|w| w.name.as_str()).collect();
        Ok(StepOutcome::changed(format!(
            "joined {}; removed the bootstrap token",
            names.join(", ")
        )))
    }

    /// The bootstrap token in the control plane's kubeadm config, once it has one.
    async fn bootstrap_token(&self) -> Result<Option<BootstrapToken>> {
        let cp = &self.spec.control_plane().name;
        let config = self.docker.read_file(cp, KUBEADM_CONF).await?;
        Ok(config.as_deref().and_then(BootstrapToken::in_config))
    }

    /// A worker joining late (a resumed `up` after the token's TTL, or after it was deleted)
    /// gets the same token made anew, for one more TTL.
    async fn ensure_bootstrap_token(
        &self,
        token: &BootstrapToken,
        report: StepContext<'_>,
    ) -> Result<()> {
        let cp = &self.spec.control_plane().name;
        let secret = format!("bootstrap-token-{}", token.id());
        let get = Self::kubectl(&["get", "secret", "-n", "kube-system", &secret, "-o", "name"]);
        if self.docker.exec(cp, &get, None).await?.code == 0 {
            return Ok(());
        }
        report.detail("the bootstrap token expired or was removed: making it anew");
        self.docker
            .exec_ok(
                cp,
                &[
                    "kubeadm",
                    "token",
                    "create",
                    token.expose(),
                    "--ttl",
                    kubeadm::BOOTSTRAP_TTL,
                    "--kubeconfig",
                    ADMIN_CONF,
                ],
                None,
            )
            .await?;
        Ok(())
    }

    /// Delete the token's Secret, as `kubeadm token delete` does: once the workers joined, no
    /// one else may. Whether there was one to delete.
    async fn delete_bootstrap_token(&self, token: &BootstrapToken) -> Result<bool> {
        let cp = &self.spec.control_plane().name;
        let secret = format!("bootstrap-token-{}", token.id());
        let out = self
            .docker
            .exec_ok(
                cp,
                &Self::kubectl(&[
                    "delete",
                    "secret",
                    "-n",
                    "kube-system",
                    &secret,
                    "--ignore-not-found",
                ]),
                None,
            )
            .await?;
        Ok(out.contains("deleted"))
    }

    /// Make sure every node carries its pool labels (kubeadm sets them at registration; this
    /// repairs a node whose labels were removed).
    pub async fn label_nodes(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let registered = self.kube_nodes().await?;
        let cp = &self.spec.control_plane().name;
        let mut fixed = Vec::new();
        for node in &self.spec.nodes {
            // A node not registered yet gets its labels from kubelet's --node-labels when it
            // registers; labelling it now would fail with NotFound.
            let Some(have) = registered
                .iter()
                .find(|k| k.name == node.name)
                .map(|k| &k.labels)
            else {
                continue;
            };
            let missing: Vec<String> = node
                .labels
                .iter()
                .filter(|(k, v)| have.get(*k) != Some(*v))
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
    pub async fn wait_ready(&self, report: StepContext<'_>) -> Result<StepOutcome> {
        let api = format!("{}:{}", self.spec.api_server_address, self.api_port);
        let looks = std::sync::atomic::AtomicU32::new(0);
        let look = || async {
            let n = looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let not_ready = if tokio::net::TcpStream::connect(&api).await.is_err() {
                format!("nothing answers on {api}")
            } else {
                match self.kube_nodes().await {
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
                            return Ok(Poll::Ready(n > 0));
                        }
                        not_ready.join("; ")
                    }
                    // The API server may still be starting: not an answer yet.
                    Err(e) => e.to_string(),
                }
            };
            if n == 0 {
                report.detail(format!("waiting: {not_ready}"));
            }
            Ok(Poll::Pending(not_ready))
        };
        let waited = poll(
            report.deadline(),
            Duration::from_millis(500),
            look,
            |detail| ClusterError::NotReady {
                what: "all nodes Ready".into(),
                secs: report.deadline().secs(),
                detail,
            },
        )
        .await?;
        Ok(if waited {
            StepOutcome::changed("all nodes Ready")
        } else {
            StepOutcome::up_to_date("API answers; all nodes Ready")
        })
    }

    /// Export `kind-<name>` into the user's kubeconfig, pointing at the published API port.
    pub async fn export_kubeconfig(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let cp = &self.spec.control_plane().name;
        let admin = self
            .docker
            .read_file(cp, ADMIN_CONF)
            .await?
            .ok_or_else(|| {
                ClusterError::Kubeconfig(kubeconfig::KubeconfigError::AdminConf {
                    reason: format!("{cp} has no {ADMIN_CONF}"),
                })
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
        .await??;
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
        serde_saphyr::to_string(&entry).map_err(|source| ClusterError::Render {
            what: "the kubeconfig",
            source,
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
    fn boot_lines_match_systemd_and_cgroup_v1() {
        assert!(is_boot_line("[  OK  ] Reached target Multi-User System."));
        assert!(is_boot_line(
            "\u{1b}[0;32m  OK  \u{1b}[0m] Reached target \u{1b}[0;1;39mMulti-User System\u{1b}[0m."
        ));
        assert!(is_boot_line("INFO: detected cgroup v1"));
        assert!(!is_boot_line("Reached target Basic System."));
    }

    /// kind v0.32.0's storage manifest (abridged to what matters): the helper pod tolerates
    /// only disk pressure, so it cannot run on the tainted platform node (kind #4100).
    #[test]
    fn the_local_path_helper_pod_tolerates_the_platform_node_s_taint() {
        let kind = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: standard\nprovisioner: rancher.io/local-path\n---\nkind: ConfigMap\napiVersion: v1\nmetadata:\n  name: local-path-config\n  namespace: local-path-storage\ndata:\n  setup: |-\n    #!/bin/sh\n    mkdir -m 0777 -p \"$VOL_DIR\"\n  helperPod.yaml: |-\n    apiVersion: v1\n    kind: Pod\n    metadata:\n      name: helper-pod\n    spec:\n      priorityClassName: system-node-critical\n      tolerations:\n        - key: node.kubernetes.io/disk-pressure\n          operator: Exists\n          effect: NoSchedule\n      containers:\n      - name: helper-pod\n        image: docker.io/kindest/local-path-helper:v20241212-8ac705d0\n";
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&render_storage(kind).expect("render")).expect("yaml");
        let config = docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap")
            .expect("configmap");
        let pod: Value = serde_saphyr::from_str(
            config["data"]["helperPod.yaml"]
                .as_str()
                .expect("helper pod"),
        )
        .expect("pod yaml");
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}])
        );
        assert_eq!(
            pod["spec"]["containers"][0]["name"], "helper-pod",
            "the rest stays"
        );
        assert!(
            config["data"]["setup"]
                .as_str()
                .expect("setup")
                .contains("VOL_DIR")
        );
        assert_eq!(docs[0]["kind"], "StorageClass");
        assert_eq!(
            render_storage(HOST_PATH_STORAGE).expect("plain"),
            HOST_PATH_STORAGE
        );
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
