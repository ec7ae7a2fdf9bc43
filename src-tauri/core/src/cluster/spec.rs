//! What cluster to make: parsed from a kind v1alpha4 config (the embedded one by default),
//! with the user's overrides on top, and turned into Docker container specs the way kind does.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, HostConfigCgroupnsModeEnum, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use serde::Deserialize;

use super::ClusterError;
use super::host::HostFacts;

/// Docker label kind puts on every node: the cluster name.
pub const LABEL_CLUSTER: &str = "io.x-k8s.kind.cluster";
/// Docker label kind puts on every node: `control-plane` or `worker`.
pub const LABEL_ROLE: &str = "io.x-k8s.kind.role";
/// kind's shared Docker network.
pub const DEFAULT_NETWORK: &str = "kind";
/// kind's override for the network name (kind warns it is unsupported; we honour it for parity).
pub const NETWORK_ENV: &str = "KIND_EXPERIMENTAL_DOCKER_NETWORK";
/// Test-only switch: drop `privileged` from node containers on sandboxes that refuse it.
/// Real kind nodes do not work without it.
pub const UNPRIVILEGED_ENV: &str = "SLIPWAY_UNPRIVILEGED_NODES";
/// Label a Slipway node's platform pool is selected by.
pub const POOL_LABEL: &str = "slipway.dev/pool";
/// The pool of the node services run on (team pods are held to it by admission policy).
pub const WORKLOADS_POOL: &str = "workloads";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub container_port: u16,
    pub host_port: u16,
    pub listen_address: String,
    /// Lower-case, as Docker's API keys want it.
    pub protocol: String,
}

impl PortMapping {
    pub fn docker_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Container name = hostname = Kubernetes node name.
    pub name: String,
    pub role: Role,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub port_mappings: Vec<PortMapping>,
}

/// The whole cluster as Slipway will make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    pub nodes: Vec<NodeSpec>,
    pub api_server_address: String,
    /// 0 = choose a free port once at creation (kind's default), then keep it.
    pub api_server_port: u16,
    pub pod_subnet: String,
    pub service_subnet: String,
    pub network: String,
    /// Always true outside tests; see [`UNPRIVILEGED_ENV`].
    pub privileged: bool,
}

/// The user's changes to the default cluster (CLI flags, GUI settings).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub node_image: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub listen_address: Option<String>,
    pub api_server_port: Option<u16>,
    /// The person confirmed that a `listen_address` beyond this machine is meant
    /// (`--expose-to-network`): without it such an address is refused.
    pub expose: bool,
}

/// Whether `address` only accepts connections from this machine.
pub fn is_loopback(address: &str) -> bool {
    address == "localhost"
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

// --- the subset of kind's v1alpha4 config Slipway reads ---

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindConfig {
    kind: String,
    api_version: String,
    name: Option<String>,
    #[serde(default)]
    networking: KindNetworking,
    nodes: Vec<KindNode>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct KindNetworking {
    api_server_address: Option<String>,
    api_server_port: Option<i32>,
    pod_subnet: Option<String>,
    service_subnet: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindNode {
    role: Option<String>,
    image: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    extra_port_mappings: Vec<KindPortMapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindPortMapping {
    container_port: u16,
    host_port: u16,
    listen_address: Option<String>,
    protocol: Option<String>,
}

impl ClusterSpec {
    /// The default Slipway cluster: the embedded kind config.
    pub fn embedded_default() -> Result<Self, ClusterError> {
        let text = crate::bundle::text(crate::bundle::CLUSTER_CONFIG).ok_or_else(|| {
            ClusterError::InvalidConfig("the embedded cluster config is missing".into())
        })?;
        Self::from_kind_config(&text)
    }

    /// Parse a kind v1alpha4 `Cluster` config.
    pub fn from_kind_config(yaml: &str) -> Result<Self, ClusterError> {
        let cfg: KindConfig =
            serde_saphyr::from_str(yaml).map_err(|e| ClusterError::ConfigSyntax(Box::new(e)))?;
        if cfg.kind != "Cluster" || cfg.api_version != "kind.x-k8s.io/v1alpha4" {
            return Err(ClusterError::InvalidConfig(format!(
                "expected kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4; found {} {}",
                cfg.kind, cfg.api_version
            )));
        }
        let name = cfg.name.unwrap_or_else(|| "kind".to_owned());
        let mut nodes = Vec::new();
        for node in cfg.nodes {
            let role = match node.role.as_deref().unwrap_or("control-plane") {
                "control-plane" => Role::ControlPlane,
                "worker" => Role::Worker,
                other => {
                    return Err(ClusterError::InvalidConfig(format!(
                        "unknown node role {other:?}"
                    )));
                }
            };
            let image = node.image.ok_or_else(|| {
                ClusterError::InvalidConfig("every node needs an image (pinned by digest)".into())
            })?;
            let port_mappings = node
                .extra_port_mappings
                .into_iter()
                .map(|m| PortMapping {
                    container_port: m.container_port,
                    host_port: m.host_port,
                    listen_address: m.listen_address.unwrap_or_else(|| "0.0.0.0".to_owned()),
                    protocol: m
                        .protocol
                        .unwrap_or_else(|| "TCP".to_owned())
                        .to_ascii_lowercase(),
                })
                .collect();
            nodes.push(NodeSpec {
                name: String::new(),
                role,
                image,
                labels: node.labels,
                port_mappings,
            });
        }
        let port = cfg.networking.api_server_port.unwrap_or(0);
        let mut spec = ClusterSpec {
            name,
            nodes,
            api_server_address: cfg
                .networking
                .api_server_address
                .unwrap_or_else(|| "127.0.0.1".into()),
            api_server_port: u16::try_from(port).map_err(|_| {
                ClusterError::InvalidConfig(format!(
                    "apiServerPort {port} is not supported; use 0 or a port"
                ))
            })?,
            pod_subnet: cfg
                .networking
                .pod_subnet
                .unwrap_or_else(|| "10.244.0.0/16".into()),
            service_subnet: cfg
                .networking
                .service_subnet
                .unwrap_or_else(|| "10.96.0.0/16".into()),
            network: std::env::var(NETWORK_ENV)
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| DEFAULT_NETWORK.into()),
            privileged: std::env::var(UNPRIVILEGED_ENV)
                .map(|v| v != "1")
                .unwrap_or(true),
        };
        spec.assign_names();
        spec.validate()?;
        Ok(spec)
    }

    /// Apply user overrides, then re-validate.
    pub fn with_overrides(mut self, o: &Overrides) -> Result<Self, ClusterError> {
        if let Some(name) = &o.name {
            self.name = name.clone();
        }
        if let Some(image) = &o.node_image {
            for node in &mut self.nodes {
                node.image = image.clone();
            }
        }
        let platform = self.nodes.iter_mut().find(|n| n.role == Role::ControlPlane);
        if let Some(node) = platform {
            for m in &mut node.port_mappings {
                match m.container_port {
                    80 => m.host_port = o.http_port.unwrap_or(m.host_port),
                    443 => m.host_port = o.https_port.unwrap_or(m.host_port),
                    _ => {}
                }
                if let Some(addr) = &o.listen_address {
                    if !is_loopback(addr) && !o.expose {
                        return Err(ClusterError::InvalidSetting(format!(
                            "--listen-address {addr} puts the platform's ingress on the network: anyone who reaches this machine could use Argo CD and Backstage (Backstage's guest sign-in then goes off). Pass --expose-to-network with it to confirm, or keep the default 127.0.0.1"
                        )));
                    }
                    m.listen_address = addr.clone();
                }
            }
        }
        if let Some(port) = o.api_server_port {
            self.api_server_port = port;
        }
        self.assign_names();
        self.validate()?;
        Ok(self)
    }

    /// kind's naming: `<cluster>-<role>`, then `<cluster>-<role>2`, … for later nodes of a role.
    fn assign_names(&mut self) {
        let mut seen: HashMap<Role, usize> = HashMap::new();
        for node in &mut self.nodes {
            let n = seen.entry(node.role).or_default();
            *n += 1;
            let suffix = if *n == 1 {
                String::new()
            } else {
                n.to_string()
            };
            node.name = format!("{}-{}{}", self.name, node.role.as_str(), suffix);
        }
    }

    fn validate(&self) -> Result<(), ClusterError> {
        validate_name(&self.name)?;
        let control_planes = self
            .nodes
            .iter()
            .filter(|n| n.role == Role::ControlPlane)
            .count();
        if control_planes != 1 {
            return Err(ClusterError::InvalidConfig(format!(
                "Slipway runs exactly one control-plane node; the config has {control_planes}"
            )));
        }
        let mut bound = std::collections::HashSet::new();
        for m in self.nodes.iter().flat_map(|n| &n.port_mappings) {
            if m.host_port == 0 {
                continue;
            }
            if !bound.insert((m.host_port, m.protocol.clone())) {
                return Err(ClusterError::InvalidConfig(format!(
                    "host port {} is mapped twice; give each mapping its own port",
                    m.host_port
                )));
            }
        }
        Ok(())
    }

    pub fn control_plane(&self) -> &NodeSpec {
        // validate() guarantees exactly one.
        self.nodes
            .iter()
            .find(|n| n.role == Role::ControlPlane)
            .unwrap_or(&self.nodes[0])
    }

    pub fn workers(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.iter().filter(|n| n.role == Role::Worker)
    }

    /// `kind-<name>`: kubeconfig cluster, user and context name.
    /// Where the platform node's HTTP ingress (container port 80) is reachable from this host:
    /// its published port, on loopback when it listens on every address.
    /// The host port the platform node's 443 (Traefik's HTTPS entrypoint) is published on.
    pub fn https_port(&self) -> Option<u16> {
        self.nodes
            .iter()
            .flat_map(|n| &n.port_mappings)
            .find(|m| m.container_port == 443 && m.protocol == "tcp")
            .map(|m| m.host_port)
    }

    pub fn http_ingress(&self) -> std::net::SocketAddr {
        let mapping = self
            .nodes
            .iter()
            .flat_map(|n| &n.port_mappings)
            .find(|m| m.container_port == 80 && m.protocol == "tcp");
        let (address, port) = mapping.map_or(("127.0.0.1", 80), |m| {
            (m.listen_address.as_str(), m.host_port)
        });
        let ip = match address.parse::<std::net::IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => ip,
            _ => std::net::IpAddr::from([127, 0, 0, 1]),
        };
        std::net::SocketAddr::new(ip, port)
    }

    /// The ingress ports listen beyond this machine (`--expose-to-network`).
    pub fn exposed(&self) -> Option<&str> {
        self.nodes
            .iter()
            .flat_map(|n| &n.port_mappings)
            .map(|m| m.listen_address.as_str())
            .find(|a| !is_loopback(a))
    }

    pub fn context_name(&self) -> String {
        format!("kind-{}", self.name)
    }

    /// The host ports this cluster needs free (API port only when fixed).
    pub fn host_ports(&self, api_port: u16) -> Vec<(String, u16, &'static str)> {
        let mut ports: Vec<(String, u16, &'static str)> = self
            .nodes
            .iter()
            .flat_map(|n| &n.port_mappings)
            .filter(|m| m.host_port != 0)
            .map(|m| {
                let what = match m.container_port {
                    80 => "HTTP ingress",
                    443 => "HTTPS ingress",
                    _ => "port mapping",
                };
                (m.listen_address.clone(), m.host_port, what)
            })
            .collect();
        if api_port != 0 {
            ports.push((self.api_server_address.clone(), api_port, "Kubernetes API"));
        }
        ports
    }

    /// The Docker container spec for one node, as `kind create cluster` makes it.
    /// `mount_modules`: bind `/lib/modules` (skipped only when the Docker host lacks it).
    /// The node's container as kind makes it on this host (`host`), on a network with
    /// `network_subnets` (they join NO_PROXY when a proxy is set).
    pub fn container_body(
        &self,
        node: &NodeSpec,
        api_port: u16,
        host: &HostFacts,
        network_subnets: &[String],
    ) -> ContainerCreateBody {
        let mut labels = HashMap::from([
            (LABEL_CLUSTER.to_owned(), self.name.clone()),
            (LABEL_ROLE.to_owned(), node.role.as_str().to_owned()),
        ]);
        labels.insert("dev.slipway.managed".into(), "true".into());

        let mut exposed = Vec::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut publish = |key: String, ip: &str, port: u16| {
            exposed.push(key.clone());
            bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(ip.to_owned()),
                    host_port: Some(port.to_string()),
                }]),
            );
        };
        let mut env = Vec::new();
        if node.role == Role::ControlPlane {
            publish("6443/tcp".into(), &self.api_server_address, api_port);
            env.push("KUBECONFIG=/etc/kubernetes/admin.conf".to_owned());
        }
        for m in &node.port_mappings {
            publish(m.docker_key(), &m.listen_address, m.host_port);
        }
        env.extend(self.proxy_env(&host.proxy, network_subnets));
        if let Some(snapshotter) = &host.snapshotter {
            env.push(format!(
                "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER={snapshotter}"
            ));
        }
        let mut binds = Vec::new();
        if host.lib_modules {
            binds.push("/lib/modules:/lib/modules:ro".to_owned());
        }
        if host.dev_mapper {
            binds.push("/dev/mapper:/dev/mapper".to_owned());
        }
        // Rootless Docker does not add /dev/fuse to privileged containers (fuse-overlayfs).
        let devices = host.rootless.then(|| {
            vec![DeviceMapping {
                path_on_host: Some("/dev/fuse".into()),
                path_in_container: Some("/dev/fuse".into()),
                cgroup_permissions: Some("rwm".into()),
            }]
        });

        let host_config = HostConfig {
            network_mode: Some(self.network.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(1),
            }),
            init: Some(false),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
            privileged: Some(self.privileged),
            security_opt: Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]),
            tmpfs: Some(HashMap::from([
                ("/tmp".into(), String::new()),
                ("/run".into(), String::new()),
            ])),
            binds: (!binds.is_empty()).then_some(binds),
            devices,
            userns_mode: host.userns_remap.then(|| "host".to_owned()),
            port_bindings: Some(bindings),
            ..Default::default()
        };
        ContainerCreateBody {
            hostname: Some(node.name.clone()),
            image: Some(node.image.clone()),
            tty: Some(true),
            labels: Some(labels),
            env: Some(env),
            volumes: Some(vec!["/var".to_owned()]),
            exposed_ports: Some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        }
    }

    /// The proxy variables for the nodes, both cases, when the host has any (kind forwards
    /// NO_PROXY alone too): NO_PROXY gains the network's subnets, the service and pod subnets,
    /// the node names and the cluster's service domains, so in-cluster traffic skips the proxy.
    fn proxy_env(&self, proxy: &super::host::Proxy, network_subnets: &[String]) -> Vec<String> {
        if !proxy.is_set() {
            return Vec::new();
        }
        let mut env = Vec::new();
        for (key, value) in [("HTTP_PROXY", &proxy.http), ("HTTPS_PROXY", &proxy.https)] {
            if let Some(v) = value {
                env.push(format!("{key}={v}"));
                env.push(format!("{}={v}", key.to_lowercase()));
            }
        }
        let mut no_proxy: Vec<String> = network_subnets.to_vec();
        no_proxy.extend(proxy.no_proxy.iter().cloned());
        no_proxy.extend([self.service_subnet.clone(), self.pod_subnet.clone()]);
        no_proxy.extend(self.nodes.iter().map(|n| n.name.clone()));
        no_proxy.extend([
            ".svc".into(),
            ".svc.cluster".into(),
            ".svc.cluster.local".into(),
        ]);
        let joined = no_proxy.join(",");
        env.push(format!("NO_PROXY={joined}"));
        env.push(format!("no_proxy={joined}"));
        env
    }
}

/// Cluster names become container and DNS names: kind's rule is `^[a-z0-9.-]+$`.
pub fn validate_name(name: &str) -> Result<(), ClusterError> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(ClusterError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_spec() -> ClusterSpec {
        ClusterSpec::embedded_default().expect("embedded config parses")
    }

    #[test]
    fn embedded_config_is_the_two_node_slipway_cluster() {
        let spec = default_spec();
        assert_eq!(spec.name, "slipway");
        let names: Vec<_> = spec
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.role))
            .collect();
        assert_eq!(
            names,
            [
                ("slipway-control-plane", Role::ControlPlane),
                ("slipway-worker", Role::Worker)
            ]
        );
        let cp = spec.control_plane();
        assert_eq!(
            cp.labels.get(POOL_LABEL).map(String::as_str),
            Some("platform")
        );
        assert_eq!(
            cp.labels.get("ingress-ready").map(String::as_str),
            Some("true")
        );
        let ports: Vec<_> = cp
            .port_mappings
            .iter()
            .map(|m| (m.host_port, m.container_port, m.listen_address.as_str()))
            .collect();
        assert_eq!(ports, [(8880, 80, "127.0.0.1"), (8843, 443, "127.0.0.1")]);
        let worker = spec.workers().next().expect("a worker");
        assert_eq!(
            worker.labels.get(POOL_LABEL).map(String::as_str),
            Some("workloads")
        );
        assert!(worker.port_mappings.is_empty());
        for node in &spec.nodes {
            assert!(
                node.image.contains("@sha256:"),
                "{} must be pinned by digest",
                node.image
            );
        }
    }

    #[test]
    fn overrides_rename_nodes_and_move_ports() {
        let spec = default_spec()
            .with_overrides(&Overrides {
                name: Some("t1".into()),
                node_image: Some("sim:1".into()),
                http_port: Some(18080),
                https_port: Some(18443),
                listen_address: Some("0.0.0.0".into()),
                api_server_port: Some(16443),
                expose: true,
            })
            .expect("valid overrides");
        assert_eq!(spec.control_plane().name, "t1-control-plane");
        assert_eq!(
            spec.workers().next().map(|w| w.name.as_str()),
            Some("t1-worker")
        );
        assert!(spec.nodes.iter().all(|n| n.image == "sim:1"));
        let ports = spec.host_ports(spec.api_server_port);
        assert!(ports.contains(&("0.0.0.0".into(), 18080, "HTTP ingress")));
        assert!(ports.contains(&("0.0.0.0".into(), 18443, "HTTPS ingress")));
        assert!(ports.contains(&("127.0.0.1".into(), 16443, "Kubernetes API")));
    }

    #[test]
    fn a_listen_address_beyond_this_machine_needs_the_confirmation() {
        let lan = Overrides {
            listen_address: Some("0.0.0.0".into()),
            ..Overrides::default()
        };
        let err = default_spec()
            .with_overrides(&lan)
            .expect_err("not confirmed");
        assert!(err.to_string().contains("--expose-to-network"), "{err}");
        let confirmed = Overrides {
            expose: true,
            ..lan
        };
        assert_eq!(
            default_spec()
                .with_overrides(&confirmed)
                .expect("confirmed")
                .exposed(),
            Some("0.0.0.0")
        );
        let local = Overrides {
            listen_address: Some("127.0.0.2".into()),
            ..Overrides::default()
        };
        assert_eq!(
            default_spec()
                .with_overrides(&local)
                .expect("loopback")
                .exposed(),
            None
        );
    }

    #[test]
    fn invalid_names_and_configs_are_refused_with_the_rule() {
        for bad in ["", "Slipway", "a_b", "-x", "x y", &"a".repeat(51)] {
            let err = validate_name(bad).expect_err(bad);
            assert!(err.to_string().contains("[a-z0-9.-]"), "{err}");
        }
        validate_name("dev.team-1").expect("valid");
        let two_cps = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- {role: control-plane, image: a}\n- {role: control-plane, image: a}\n";
        assert!(ClusterSpec::from_kind_config(two_cps).is_err());
        let dup_port = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  image: a\n  extraPortMappings:\n  - {containerPort: 80, hostPort: 9000}\n  - {containerPort: 443, hostPort: 9000}\n";
        let err = ClusterSpec::from_kind_config(dup_port).expect_err("duplicate port");
        assert!(err.to_string().contains("9000"), "{err}");
        assert!(ClusterSpec::from_kind_config("kind: Pod\napiVersion: v1\nnodes: []\n").is_err());
    }

    #[test]
    fn node_container_spec_matches_kind() {
        let spec = default_spec();
        let body = spec.container_body(spec.control_plane(), 40123, &host(), &[]);
        let hc = body.host_config.as_ref().expect("host config");
        assert_eq!(hc.privileged, Some(true), "real nodes are privileged");
        assert_eq!(
            hc.security_opt.as_deref(),
            Some(
                &[
                    "seccomp=unconfined".to_owned(),
                    "apparmor=unconfined".to_owned()
                ][..]
            )
        );
        assert_eq!(hc.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::PRIVATE));
        assert_eq!(hc.init, Some(false));
        assert_eq!(hc.network_mode.as_deref(), Some("kind"));
        let restart = hc.restart_policy.as_ref().expect("restart policy");
        assert_eq!(
            (restart.name, restart.maximum_retry_count),
            (Some(RestartPolicyNameEnum::ON_FAILURE), Some(1))
        );
        let tmpfs = hc.tmpfs.as_ref().expect("tmpfs");
        assert!(tmpfs.contains_key("/tmp") && tmpfs.contains_key("/run"));
        assert_eq!(
            hc.binds.as_deref(),
            Some(&["/lib/modules:/lib/modules:ro".to_owned()][..])
        );
        assert_eq!(body.volumes.as_deref(), Some(&["/var".to_owned()][..]));
        assert_eq!(body.tty, Some(true));
        assert_eq!(body.hostname.as_deref(), Some("slipway-control-plane"));
        let labels = body.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get(LABEL_CLUSTER).map(String::as_str),
            Some("slipway")
        );
        assert_eq!(
            labels.get(LABEL_ROLE).map(String::as_str),
            Some("control-plane")
        );
        assert!(
            body.env
                .as_ref()
                .is_some_and(|e| e.contains(&"KUBECONFIG=/etc/kubernetes/admin.conf".to_owned()))
        );
        let bindings = hc.port_bindings.as_ref().expect("ports");
        let bound = |key: &str| {
            bindings
                .get(key)
                .cloned()
                .flatten()
                .and_then(|b| b.into_iter().next())
                .map(|b| {
                    (
                        b.host_ip.unwrap_or_default(),
                        b.host_port.unwrap_or_default(),
                    )
                })
        };
        assert_eq!(
            bound("6443/tcp"),
            Some(("127.0.0.1".into(), "40123".into()))
        );
        assert_eq!(bound("80/tcp"), Some(("127.0.0.1".into(), "8880".into())));
        assert_eq!(bound("443/tcp"), Some(("127.0.0.1".into(), "8843".into())));

        let worker = spec.workers().next().expect("worker");
        let wbody = spec.container_body(
            worker,
            40123,
            &HostFacts {
                lib_modules: false,
                ..host()
            },
            &[],
        );
        let whc = wbody.host_config.as_ref().expect("host config");
        assert!(
            whc.port_bindings.as_ref().is_some_and(|b| b.is_empty()),
            "workers publish nothing"
        );
        assert_eq!(whc.binds, None);
        assert_eq!(
            wbody
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_ROLE))
                .map(String::as_str),
            Some("worker")
        );
        assert!(
            !wbody
                .env
                .as_ref()
                .is_some_and(|e| e.iter().any(|v| v.starts_with("KUBECONFIG=")))
        );
    }

    fn host() -> HostFacts {
        HostFacts {
            lib_modules: true,
            ..HostFacts::default()
        }
    }

    /// Per `docker info` shape, the node container comes out as kind's `commonArgs` make it.
    #[test]
    fn the_host_shapes_the_node_container_as_kind_does() {
        let spec = default_spec();
        let cp = spec.control_plane();
        let body = |host: &HostFacts| spec.container_body(cp, 1, host, &["172.18.0.0/16".into()]);
        let plain = body(&host());
        let hc = plain.host_config.as_ref().expect("hc");
        assert_eq!((hc.devices.as_ref(), hc.userns_mode.as_ref()), (None, None));
        assert!(
            !plain
                .env
                .as_ref()
                .expect("env")
                .iter()
                .any(|e| e.contains("PROXY"))
        );

        let rootless = body(&HostFacts {
            rootless: true,
            ..host()
        });
        let devices = rootless
            .host_config
            .as_ref()
            .and_then(|h| h.devices.clone())
            .expect("devices");
        assert_eq!(devices[0].path_on_host.as_deref(), Some("/dev/fuse"));

        let btrfs = body(&HostFacts {
            dev_mapper: true,
            ..host()
        });
        assert!(
            btrfs
                .host_config
                .as_ref()
                .and_then(|h| h.binds.clone())
                .expect("binds")
                .contains(&"/dev/mapper:/dev/mapper".to_owned())
        );
        let remapped = body(&HostFacts {
            userns_remap: true,
            ..host()
        });
        assert_eq!(
            remapped
                .host_config
                .as_ref()
                .and_then(|h| h.userns_mode.as_deref()),
            Some("host")
        );

        // NO_PROXY alone is forwarded, with the network, service and pod subnets, the nodes and
        // the service domains, in kind's order.
        let proxied = body(&HostFacts {
            proxy: super::super::host::Proxy {
                no_proxy: Some("corp.example".into()),
                ..Default::default()
            },
            snapshotter: Some("native".into()),
            ..host()
        });
        let env = proxied.env.expect("env");
        let no_proxy = env
            .iter()
            .find_map(|e| e.strip_prefix("NO_PROXY="))
            .expect("NO_PROXY");
        assert_eq!(
            no_proxy,
            "172.18.0.0/16,corp.example,10.96.0.0/16,10.244.0.0/16,slipway-control-plane,slipway-worker,.svc,.svc.cluster,.svc.cluster.local"
        );
        assert!(env.iter().any(|e| e.starts_with("no_proxy=172.18.0.0/16,")));
        assert!(!env.iter().any(|e| e.starts_with("HTTP_PROXY")));
        assert!(env.contains(&"KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER=native".to_owned()));
    }

    #[test]
    fn unprivileged_switch_drops_only_privileged() {
        let mut spec = default_spec();
        let privileged = spec.container_body(spec.control_plane(), 1, &host(), &[]);
        spec.privileged = false;
        let mut unprivileged = spec.container_body(spec.control_plane(), 1, &host(), &[]);
        assert_eq!(
            unprivileged.host_config.as_ref().and_then(|h| h.privileged),
            Some(false)
        );
        if let Some(hc) = unprivileged.host_config.as_mut() {
            hc.privileged = Some(true);
        }
        assert_eq!(privileged, unprivileged);
    }
}
