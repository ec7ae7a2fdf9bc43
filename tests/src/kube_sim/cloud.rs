//! A SIMULATED managed cluster (as EKS, GKE or AKS make one) for the `up --context` tests:
//! nodes labelled as a cloud provider's are, a default StorageClass, the cloud controller's
//! load balancer, and pods scheduled by their nodeSelector. Facts, from the Kubernetes docs and
//! source:
//! - Well-known node labels (kubernetes.io "Well-Known Labels, Annotations and Taints"):
//!   `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`,
//!   `topology.kubernetes.io/region|zone`, `node.kubernetes.io/instance-type`; a provider's node
//!   pool label (GKE's `cloud.google.com/gke-nodepool`). No `slipway.dev/pool`, no
//!   `ingress-ready`: those are kind's and Slipway's.
//! - `spec.providerID` (`gce://<project>/<zone>/<instance>`) is set by the cloud provider.
//! - The default StorageClass carries `storageclass.kubernetes.io/is-default-class: "true"`
//!   (kubernetes.io "Storage Classes", default StorageClass).
//! - The cloud-controller-manager's service controller (k8s.io/cloud-provider
//!   `controllers/service`) writes `status.loadBalancer.ingress[].ip` of a `LoadBalancer`
//!   Service once its load balancer exists; the test serves the simulated Traefik on that
//!   address ([`super::KubeSim::serve_ingress`]).
//! - kube-scheduler's NodeAffinity filter (`pkg/scheduler/framework/plugins/nodeaffinity`): a
//!   pod whose `nodeSelector` no node's labels satisfy is not bound; it stays Pending with
//!   condition PodScheduled False, reason Unschedulable, "0/N nodes are available: N node(s)
//!   didn't match Pod's node affinity/selector.".

use std::net::IpAddr;

use serde_json::{Value, json};

use super::Shared;
use super::controllers::{set_status, types};

/// The node pools of the simulated cloud cluster: its name → how many nodes.
pub const POOLS: &[(&str, usize)] = &[("default-pool", 2), ("big-pool", 1)];

/// The cloud's label naming a node's pool.
pub const POOL_LABEL: &str = "cloud.google.com/gke-nodepool";

/// The default StorageClass's name.
pub const STORAGE_CLASS: &str = "standard-rwo";

/// Nodes, a pod network and a default StorageClass, as a freshly made managed cluster has.
pub(super) fn seed(shared: &Shared) {
    let before = shared.state().rv;
    let mut n = 0;
    for (pool, count) in POOLS {
        for i in 0..*count {
            n += 1;
            let name = format!("gke-team-{pool}-{i:04x}");
            let zone = ["europe-west1-b", "europe-west1-c"][n % 2];
            let labels = json!({
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": "europe-west1", "topology.kubernetes.io/zone": zone,
                "node.kubernetes.io/instance-type": "e2-standard-4", POOL_LABEL: pool,
            });
            let node = json!({
                "metadata": {"name": name, "labels": labels},
                "spec": {"providerID": format!("gce://team-project/{zone}/{name}")},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": format!("10.132.0.{}", n + 1)}, {"type": "Hostname", "address": name}],
                    "nodeInfo": {"kubeletVersion": "v1.33.5-gke.1080000", "architecture": "amd64", "operatingSystem": "linux"},
                },
            });
            if let Some(t) = types(shared, "", "nodes") {
                shared.state().commit(&t, "", &name, Some(node), false);
            }
        }
    }
    // The provider's pod network, as kube-system holds it: the simulated kubelet calls a node
    // Ready once a DaemonSet runs there.
    if let Some(t) = types(shared, "apps", "daemonsets") {
        let ds = json!({"metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}}, "spec": {"containers": [{"name": "kube-proxy", "image": "gke.gcr.io/kube-proxy-amd64:v1.33.5-gke.1080000"}]}}}});
        shared
            .state()
            .commit(&t, "kube-system", "kube-proxy", Some(ds), false);
    }
    if let Some(t) = types(shared, "storage.k8s.io", "storageclasses") {
        let class = json!({"metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "pd.csi.storage.gke.io", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
        shared
            .state()
            .commit(&t, "", STORAGE_CLASS, Some(class), false);
    }
    shared.publish(before);
}

/// The service controller: each `LoadBalancer` Service without an address gets `ip`.
pub(super) fn reconcile(shared: &Shared, ip: IpAddr) {
    let Some(t) = types(shared, "", "services") else {
        return;
    };
    let services = shared.state().list(&t, None);
    for service in services {
        let balanced = service["spec"]["type"] == "LoadBalancer";
        let has_address = service["status"]["loadBalancer"]["ingress"]
            .as_array()
            .is_some_and(|i| !i.is_empty());
        if balanced && !has_address {
            let status =
                json!({"loadBalancer": {"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]}});
            set_status(shared, &t, &service, status);
        }
    }
}

/// kube-scheduler's answer for a pod spec: the first node whose labels satisfy its
/// `nodeSelector`, or the Unschedulable message.
pub(super) fn schedule(shared: &Shared, spec: &Value) -> Result<String, String> {
    let Some(t) = types(shared, "", "nodes") else {
        return Err("no nodes".into());
    };
    let nodes = shared.state().list(&t, None);
    let wanted = spec["nodeSelector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    nodes
        .iter()
        .find(|n| wanted.iter().all(|(k, v)| n["metadata"]["labels"][k] == *v))
        .and_then(|n| n["metadata"]["name"].as_str().map(str::to_owned))
        .ok_or_else(|| {
            format!(
                "0/{0} nodes are available: {0} node(s) didn't match Pod's node affinity/selector.",
                nodes.len()
            )
        })
}

/// The status of a pod no node takes.
pub(super) fn unschedulable(message: &str) -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]})
}
