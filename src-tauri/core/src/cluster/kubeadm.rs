//! The kubeadm config kind writes to `/kind/kubeadm.conf` on every node.
//!
//! The API version follows the node's Kubernetes version: `v1beta4` from 1.36 (list-style
//! `extraArgs`), `v1beta3` for 1.23–1.35 (map-style). Older nodes are refused.

use serde_json::{Value, json};

use super::ClusterError;
use super::spec::{ClusterSpec, NodeSpec, Role};

/// How long a bootstrap token lives if Slipway cannot delete it once the workers joined.
pub const BOOTSTRAP_TTL: &str = "1h";

/// The token a worker joins with (`[a-z0-9]{6}.[a-z0-9]{16}`, kubeadm's format). kind uses one
/// fixed value that stays valid for 24 h; Slipway makes one per cluster and deletes it once
/// every worker joined, so nothing on the Docker network can later join a node of its own.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken(String);

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.…)", self.id())
    }
}

impl BootstrapToken {
    /// A new random token.
    pub fn generate() -> Result<Self, ClusterError> {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut text = String::with_capacity(23);
        while text.len() < 22 {
            let mut bytes = [0_u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| ClusterError::Random(e.to_string()))?;
            // Bytes from 252 up are dropped: 252 = 7 × 36, so every character is equally likely.
            let wanted = 22 - text.len();
            text.extend(
                bytes
                    .iter()
                    .filter(|b| **b < 252)
                    .map(|b| char::from(ALPHABET[usize::from(*b) % 36]))
                    .take(wanted),
            );
        }
        text.insert(6, '.');
        Ok(Self(text))
    }

    /// `text` when it has kubeadm's token format.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = text.split_once('.')?;
        let ok = |part: &str, len| {
            part.len() == len
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        (ok(id, 6) && ok(secret, 16)).then(|| Self(text.to_owned()))
    }

    /// The token a rendered kubeadm config (from [`render`]) carries, so a re-run renders the
    /// same config for a cluster whose nodes have it already.
    pub fn in_config(config: &str) -> Option<Self> {
        config.lines().find_map(|line| {
            let value = line
                .trim()
                .strip_prefix("token:")?
                .trim()
                .trim_matches(['"', '\'']);
            Self::parse(value)
        })
    }

    /// The public half, which names the token's Secret (`bootstrap-token-<id>` in kube-system).
    pub fn id(&self) -> &str {
        self.0.split_once('.').map_or("", |(id, _)| id)
    }

    /// The whole token, for the kubeadm config and `kubeadm token create` only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A Kubernetes version read from the node's `/kind/version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    /// Parse `v1.36.1` (a suffix such as `-rc.1` is ignored).
    pub fn parse(text: &str) -> Result<Self, ClusterError> {
        let bad = || ClusterError::UnreadableVersion(text.trim().to_owned());
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or(core);
        let mut parts = core.split('.').map(|p| p.parse::<u32>());
        let (Some(Ok(major)), Some(Ok(minor)), patch) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self {
            major,
            minor,
            patch: patch.and_then(Result::ok).unwrap_or(0),
        })
    }

    /// The kubeadm config API this version reads.
    pub fn kubeadm_api(self) -> Result<KubeadmApi, ClusterError> {
        match (self.major, self.minor) {
            (1, m) if m >= 36 => Ok(KubeadmApi::V1Beta4),
            (1, m) if m >= 23 => Ok(KubeadmApi::V1Beta3),
            _ => Err(ClusterError::TooOld {
                major: self.major,
                minor: self.minor,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeadmApi {
    V1Beta3,
    V1Beta4,
}

impl KubeadmApi {
    fn api_version(self) -> &'static str {
        match self {
            KubeadmApi::V1Beta3 => "kubeadm.k8s.io/v1beta3",
            KubeadmApi::V1Beta4 => "kubeadm.k8s.io/v1beta4",
        }
    }

    /// `extraArgs`/`kubeletExtraArgs`: a map in v1beta3, a `{name, value}` list in v1beta4.
    fn args(self, pairs: &[(&str, String)]) -> Value {
        match self {
            KubeadmApi::V1Beta3 => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), json!(v)))
                    .collect(),
            ),
            KubeadmApi::V1Beta4 => Value::Array(
                pairs
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect(),
            ),
        }
    }
}

/// What one node's config is made from besides the cluster spec.
pub struct NodeFacts<'a> {
    pub node: &'a NodeSpec,
    pub node_ip: &'a str,
    /// The node image's `/kind/version` (`v1.36.1`, `v1.37.0-rc.1`, a custom build's).
    pub version: &'a str,
    pub token: &'a BootstrapToken,
    /// Rootless Docker: the nodes run in a user namespace.
    pub rootless: bool,
}

/// Render the multi-document kubeadm config for one node.
pub fn render(spec: &ClusterSpec, facts: &NodeFacts<'_>) -> Result<String, ClusterError> {
    let version = KubeVersion::parse(facts.version)?;
    let api = version.kubeadm_api()?;
    let node = facts.node;
    let endpoint = format!("{}:6443", spec.control_plane().name);
    let node_labels = node
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let kubelet_args = api.args(&[
        ("node-ip", facts.node_ip.to_owned()),
        (
            "provider-id",
            format!("kind://docker/{}/{}", spec.name, node.name),
        ),
        ("node-labels", node_labels),
    ]);
    let node_registration = json!({
        "criSocket": "unix:///run/containerd/containerd.sock",
        "kubeletExtraArgs": kubelet_args,
    });
    let cgroup_driver = if version.minor >= 24 {
        "systemd"
    } else {
        "cgroupfs"
    };

    // kind's rootless settings: every component knows it runs in a user namespace.
    let gate = ("feature-gates", "KubeletInUserNamespace=true".to_owned());
    let gates: &[(&str, String)] = if facts.rootless {
        std::slice::from_ref(&gate)
    } else {
        &[]
    };
    let mut docs = vec![
        json!({
            "apiVersion": api.api_version(),
            "kind": "ClusterConfiguration",
            "clusterName": spec.name,
            // Verbatim, as kind writes it: release candidates and custom builds keep their suffix.
            "kubernetesVersion": facts.version.trim(),
            "controlPlaneEndpoint": endpoint,
            "apiServer": {
                "certSANs": ["localhost", spec.api_server_address],
                "extraArgs": api.args(&[&[("runtime-config", String::new())], gates].concat()),
            },
            "controllerManager": {"extraArgs": api.args(&[&[("enable-hostpath-provisioner", "true".into())], gates].concat())},
            "scheduler": {"extraArgs": api.args(gates)},
            "networking": {"podSubnet": spec.pod_subnet, "serviceSubnet": spec.service_subnet},
        }),
        json!({
            "apiVersion": api.api_version(),
            "kind": "InitConfiguration",
            "bootstrapTokens": [{
                "token": facts.token.expose(),
                "ttl": BOOTSTRAP_TTL,
                "description": "slipway: joins this cluster's workers; deleted once they joined",
            }],
            "localAPIEndpoint": {"advertiseAddress": facts.node_ip, "bindPort": 6443},
            "nodeRegistration": node_registration,
            "skipPhases": ["preflight"],
        }),
    ];
    let mut join = json!({
        "apiVersion": api.api_version(),
        "kind": "JoinConfiguration",
        "nodeRegistration": node_registration,
        "discovery": {"bootstrapToken": {
            "apiServerEndpoint": endpoint,
            "token": facts.token.expose(),
            "unsafeSkipCAVerification": true,
        }},
        "skipPhases": ["preflight"],
    });
    if node.role == Role::ControlPlane {
        join["controlPlane"] =
            json!({"localAPIEndpoint": {"advertiseAddress": facts.node_ip, "bindPort": 6443}});
    }
    docs.push(join);
    docs.push(json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "cgroupDriver": cgroup_driver,
        "cgroupRoot": "/kubelet",
        "failSwapOn": false,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
    }));
    if facts.rootless
        && let Some(kubelet) = docs.last_mut()
    {
        kubelet["featureGates"] = json!({"KubeletInUserNamespace": true});
    }
    docs.push(json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "iptables": {"minSyncPeriod": "1s"},
        "conntrack": {"maxPerCore": 0},
    }));
    // Rootless: kube-proxy cannot set the conntrack sysctls, so it is told not to try.
    if facts.rootless
        && let Some(proxy) = docs.last_mut()
    {
        proxy["featureGates"] = json!({"KubeletInUserNamespace": true});
        proxy["conntrack"]["tcpEstablishedTimeout"] = json!("0s");
        proxy["conntrack"]["tcpCloseWaitTimeout"] = json!("0s");
    }

    let mut out = String::new();
    for doc in docs {
        let yaml = serde_saphyr::to_string(&doc).map_err(|source| ClusterError::Render {
            what: "the kubeadm config",
            source,
        })?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> BootstrapToken {
        BootstrapToken::parse("q7c2x1.0a9s8d7f6g5h4j3k").expect("token")
    }

    #[test]
    fn tokens_are_random_per_cluster_and_read_back_from_the_config() {
        let a = BootstrapToken::generate().expect("token");
        let b = BootstrapToken::generate().expect("token");
        assert_ne!(a, b);
        assert!(BootstrapToken::parse(a.expose()).is_some(), "{a:?}");
        assert_ne!(
            a.expose(),
            "abcdef.0123456789abcdef",
            "not kind's fixed token"
        );
        assert!(
            !format!("{a:?}").contains(&a.expose()[7..]),
            "Debug hides the secret half"
        );
        let spec = ClusterSpec::embedded_default().expect("spec");
        let rendered = render(
            &spec,
            &NodeFacts {
                node: spec.control_plane(),
                node_ip: "172.18.0.2",
                version: "v1.36.1",
                token: &a,
                rootless: false,
            },
        )
        .expect("render");
        assert_eq!(BootstrapToken::in_config(&rendered), Some(a.clone()));
        let d = docs(&rendered);
        let init = find(&d, "InitConfiguration");
        assert_eq!(init["bootstrapTokens"][0]["token"], a.expose());
        assert_eq!(init["bootstrapTokens"][0]["ttl"], BOOTSTRAP_TTL);
        assert_eq!(
            find(&d, "JoinConfiguration")["discovery"]["bootstrapToken"]["token"],
            a.expose()
        );
        for bad in [
            "abcdef.0123",
            "ABCDEF.0123456789abcdef",
            "abcdef0123456789abcdef0",
        ] {
            assert!(BootstrapToken::parse(bad).is_none(), "{bad}");
        }
    }

    /// kind's rootless kubeadm config (`kubeadm/config.go`): the KubeletInUserNamespace gate
    /// on the API server, controller manager, scheduler, kubelet and kube-proxy, and
    /// kube-proxy's conntrack timeouts at 0s. And the version verbatim, suffix and all.
    #[test]
    fn rootless_hosts_get_kind_s_user_namespace_settings() {
        let spec = ClusterSpec::embedded_default().expect("spec");
        let render_for = |rootless, version| {
            docs(
                &render(
                    &spec,
                    &NodeFacts {
                        node: spec.control_plane(),
                        node_ip: "172.18.0.2",
                        version,
                        token: &token(),
                        rootless,
                    },
                )
                .expect("render"),
            )
        };
        let d = render_for(true, "v1.37.0-rc.1\n");
        let cc = find(&d, "ClusterConfiguration");
        assert_eq!(cc["kubernetesVersion"], "v1.37.0-rc.1");
        let gate = json!({"name": "feature-gates", "value": "KubeletInUserNamespace=true"});
        for component in ["apiServer", "controllerManager", "scheduler"] {
            assert!(
                cc[component]["extraArgs"]
                    .as_array()
                    .expect("list")
                    .contains(&gate),
                "{component}: {}",
                cc[component]
            );
        }
        assert_eq!(
            find(&d, "KubeletConfiguration")["featureGates"],
            json!({"KubeletInUserNamespace": true})
        );
        let proxy = find(&d, "KubeProxyConfiguration");
        assert_eq!(
            proxy["featureGates"],
            json!({"KubeletInUserNamespace": true})
        );
        assert_eq!(
            proxy["conntrack"],
            json!({"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"})
        );

        let rootful = render_for(false, "v1.36.1");
        assert!(
            find(&rootful, "KubeletConfiguration")
                .get("featureGates")
                .is_none()
        );
        assert_eq!(
            find(&rootful, "ClusterConfiguration")["scheduler"]["extraArgs"],
            json!([])
        );
        // v1beta3 takes the gate as a map entry.
        let old = render_for(true, "v1.31.0");
        assert_eq!(
            find(&old, "ClusterConfiguration")["scheduler"]["extraArgs"],
            json!({"feature-gates": "KubeletInUserNamespace=true"})
        );
    }

    fn docs(yaml: &str) -> Vec<Value> {
        serde_saphyr::from_multiple(yaml).expect("rendered config is YAML")
    }

    fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    }

    #[test]
    fn version_picks_the_kubeadm_api() {
        let v = |s| KubeVersion::parse(s).expect(s);
        assert_eq!(v("v1.36.1").kubeadm_api().ok(), Some(KubeadmApi::V1Beta4));
        assert_eq!(
            v("v1.37.0-rc.1").kubeadm_api().ok(),
            Some(KubeadmApi::V1Beta4)
        );
        assert_eq!(v("v1.35.4\n").kubeadm_api().ok(), Some(KubeadmApi::V1Beta3));
        assert_eq!(v("v1.23.0").kubeadm_api().ok(), Some(KubeadmApi::V1Beta3));
        let old = v("v1.22.9").kubeadm_api().expect_err("too old");
        assert!(old.to_string().contains("--node-image"), "{old}");
        assert!(KubeVersion::parse("garbage").is_err());
    }

    #[test]
    fn v1beta4_uses_list_args_and_node_labels() {
        let spec = ClusterSpec::embedded_default().expect("spec");
        let facts = NodeFacts {
            node: spec.control_plane(),
            node_ip: "172.18.0.2",
            version: "v1.36.1",
            token: &token(),
            rootless: false,
        };
        let d = docs(&render(&spec, &facts).expect("render"));
        assert_eq!(d.len(), 5);
        let cc = find(&d, "ClusterConfiguration");
        assert_eq!(cc["apiVersion"], "kubeadm.k8s.io/v1beta4");
        assert_eq!(cc["controlPlaneEndpoint"], "slipway-control-plane:6443");
        assert_eq!(cc["networking"]["podSubnet"], "10.244.0.0/16");
        assert_eq!(
            cc["apiServer"]["certSANs"],
            json!(["localhost", "127.0.0.1"])
        );
        assert_eq!(
            cc["controllerManager"]["extraArgs"],
            json!([{"name": "enable-hostpath-provisioner", "value": "true"}])
        );
        let init = find(&d, "InitConfiguration");
        assert_eq!(init["localAPIEndpoint"]["advertiseAddress"], "172.18.0.2");
        let args = init["nodeRegistration"]["kubeletExtraArgs"]
            .as_array()
            .expect("list");
        let labels = args
            .iter()
            .find(|a| a["name"] == "node-labels")
            .expect("node-labels");
        assert_eq!(
            labels["value"],
            "ingress-ready=true,slipway.dev/pool=platform"
        );
        assert!(args.iter().any(|a| a["name"] == "provider-id"
            && a["value"] == "kind://docker/slipway/slipway-control-plane"));
        let join = find(&d, "JoinConfiguration");
        assert!(
            join.get("controlPlane").is_some(),
            "control-plane join config carries its endpoint"
        );
        assert_eq!(find(&d, "KubeletConfiguration")["cgroupDriver"], "systemd");
    }

    #[test]
    fn v1beta3_uses_map_args_and_workers_have_no_control_plane() {
        let spec = ClusterSpec::embedded_default().expect("spec");
        let worker = spec.workers().next().expect("worker");
        let facts = NodeFacts {
            node: worker,
            node_ip: "172.18.0.3",
            version: "v1.31.0",
            token: &token(),
            rootless: false,
        };
        let d = docs(&render(&spec, &facts).expect("render"));
        let cc = find(&d, "ClusterConfiguration");
        assert_eq!(cc["apiVersion"], "kubeadm.k8s.io/v1beta3");
        assert_eq!(
            cc["controllerManager"]["extraArgs"],
            json!({"enable-hostpath-provisioner": "true"})
        );
        let join = find(&d, "JoinConfiguration");
        assert_eq!(
            join["nodeRegistration"]["kubeletExtraArgs"]["node-labels"],
            "slipway.dev/pool=workloads"
        );
        assert_eq!(
            join["discovery"]["bootstrapToken"]["apiServerEndpoint"],
            "slipway-control-plane:6443"
        );
        assert!(join.get("controlPlane").is_none());
    }
}
