//! SIMULATED controllers: they give objects the status real controllers would, so readiness
//! waits finish; each is switchable and takes faults (delay, never-ready, failure, degraded).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::Shared;
use super::admission::{self, Op};
use super::registry::ResourceType;

/// How the simulated controllers misbehave. Object keys are `namespace/name` (or `*`).
/// Also settable over HTTP (`POST /sim/faults`, camelCase JSON) when kube-sim runs in a node.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Controllers switched off, by kind (`Deployment`, `Application`, `Service` …).
    pub disabled: HashSet<String>,
    /// How long a workload takes to turn ready after it changes.
    pub ready_delay: Duration,
    /// Workloads that never turn ready.
    pub never_ready: HashSet<String>,
    /// Workloads whose rollout fails (`Progressing=False`, `ProgressDeadlineExceeded`).
    pub failing: HashSet<String>,
    /// Argo CD Applications reported `Degraded`.
    pub degraded: HashSet<String>,
    /// Argo CD Applications that never become `Synced`.
    pub never_synced: HashSet<String>,
    /// The simulated kubelets never report their node Ready.
    pub nodes_never_ready: bool,
}

impl Faults {
    pub(super) fn hit(set: &HashSet<String>, key: &str) -> bool {
        set.contains(key) || set.contains("*")
    }
}

const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
];

pub async fn run(shared: Arc<Shared>, snapshot: Option<std::path::PathBuf>) {
    let mut first_seen: HashMap<(String, String, u64), Instant> = HashMap::new();
    let mut saved_rv = None;
    loop {
        if let Some(path) = &snapshot {
            let rv = shared.state().rv;
            if saved_rv != Some(rv) {
                let data = serde_json::to_vec(&shared.state().snapshot()).unwrap_or_default();
                let tmp = path.with_extension("json.tmp");
                if std::fs::write(&tmp, data)
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .is_ok()
                {
                    saved_rv = Some(rv);
                }
            }
        }
        tokio::select! {
            () = shared.changed.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let faults = shared.faults.lock().map(|f| f.clone()).unwrap_or_default();
        let before = shared.state().rv;
        reconcile(&shared, &faults, &mut first_seen);
        if shared.state().rv != before {
            // Publish without waking ourselves into a busy loop: events only.
            let events: Vec<_> = shared
                .state()
                .events
                .iter()
                .filter(|e| e.rv > before)
                .cloned()
                .collect();
            for e in events {
                let _ = shared.events.send(e);
            }
        }
    }
}

fn key(o: &Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default()
    )
}

pub(super) fn types(shared: &Shared, group: &str, plural: &str) -> Option<ResourceType> {
    shared
        .state()
        .registry
        .types
        .iter()
        .find(|t| t.group == group && t.plural == plural)
        .cloned()
}

/// Write `status` as a controller does, through the status subresource: only the status of the
/// live object changes (a client's write since `o` was read is kept).
pub(super) fn set_status(shared: &Shared, t: &ResourceType, o: &Value, status: Value) {
    let ns = o["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let mut state = shared.state();
    let Ok(mut live) = state.get(t, ns, name) else {
        return;
    };
    if live["metadata"]["uid"] != o["metadata"]["uid"] || live["status"] == status {
        return;
    }
    live["status"] = status;
    state.commit(t, ns, name, Some(live), false);
}

pub(super) fn condition(kind: &str, status: bool, reason: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason, "message": format!("{reason} (simulated)"), "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z"})
}

fn reconcile(
    shared: &Shared,
    faults: &Faults,
    first_seen: &mut HashMap<(String, String, u64), Instant>,
) {
    let enabled = |kind: &str| !faults.disabled.contains(kind);
    let list = |t: &ResourceType| shared.state().list(t, None);

    if let Some(t) = types(shared, "apiextensions.k8s.io", "customresourcedefinitions")
        .filter(|_| enabled("CustomResourceDefinition"))
    {
        for crd in list(&t) {
            let status = json!({
                "conditions": [condition("NamesAccepted", true, "NoConflicts"), condition("Established", true, "InitialNamesAccepted")],
                "acceptedNames": crd["spec"]["names"], "storedVersions": crd["spec"]["versions"].as_array().into_iter().flatten().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect::<Vec<_>>(),
            });
            set_status(shared, &t, &crd, status);
        }
    }

    for (group, plural) in WORKLOADS {
        let Some(t) = types(shared, group, plural) else {
            continue;
        };
        if !enabled(&t.kind) {
            continue;
        }
        for o in list(&t) {
            let k = key(&o);
            let generation = o["metadata"]["generation"].as_u64().unwrap_or(1);
            let seen = *first_seen
                .entry((t.kind.clone(), k.clone(), generation))
                .or_insert_with(Instant::now);
            let replicas = if t.kind == "DaemonSet" {
                1
            } else {
                o["spec"]["replicas"].as_u64().unwrap_or(1)
            };
            let waiting = seen.elapsed() < faults.ready_delay;
            let never = Faults::hit(&faults.never_ready, &k);
            let failing = Faults::hit(&faults.failing, &k);
            let ready = !(waiting || never || failing);
            let (refused, pods_ready) = ensure_pods(shared, &t, &o, replicas, ready);
            let ready = ready && pods_ready && refused.is_none();
            let n = if ready { replicas } else { 0 };
            let status = match t.kind.as_str() {
                "DaemonSet" => {
                    json!({"observedGeneration": generation, "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberReady": n, "numberAvailable": n, "updatedNumberScheduled": 1, "numberMisscheduled": 0})
                }
                "StatefulSet" => {
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": n, "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": n, "currentRevision": "sim", "updateRevision": "sim"})
                }
                _ => {
                    let progressing = if failing {
                        condition("Progressing", false, "ProgressDeadlineExceeded")
                    } else if ready {
                        condition("Progressing", true, "NewReplicaSetAvailable")
                    } else {
                        condition("Progressing", true, "ReplicaSetUpdated")
                    };
                    let available = if ready {
                        condition("Available", true, "MinimumReplicasAvailable")
                    } else {
                        condition("Available", false, "MinimumReplicasUnavailable")
                    };
                    let mut conditions = vec![available, progressing];
                    // The ReplicaSet controller's FailedCreate, surfaced on the Deployment.
                    if let Some(message) = &refused {
                        let mut c = condition("ReplicaFailure", true, "FailedCreate");
                        c["message"] = json!(message);
                        conditions.push(c);
                    }
                    let mut s = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": n, "availableReplicas": n, "conditions": conditions});
                    if !ready {
                        s["unavailableReplicas"] = json!(replicas);
                    }
                    s
                }
            };
            set_status(shared, &t, &o, status);
        }
    }

    if let Some(t) = types(shared, "batch", "jobs").filter(|_| enabled("Job")) {
        for job in list(&t) {
            let k = key(&job);
            let status = if Faults::hit(&faults.failing, &k) {
                json!({"failed": 1, "conditions": [condition("Failed", true, "BackoffLimitExceeded")]})
            } else if Faults::hit(&faults.never_ready, &k) {
                json!({"active": 1})
            } else {
                json!({"succeeded": 1, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:01Z", "conditions": [condition("Complete", true, "Completed")]})
            };
            set_status(shared, &t, &job, status);
        }
    }

    if let (Some(svc_t), Some(ep_t), Some(pod_t)) = (
        types(shared, "", "services"),
        types(shared, "", "endpoints"),
        types(shared, "", "pods"),
    ) && enabled("Service")
    {
        let pods = list(&pod_t);
        for svc in list(&svc_t) {
            let Some(selector) = svc["spec"]["selector"].as_object() else {
                continue;
            };
            let ns = svc["metadata"]["namespace"].as_str().unwrap_or_default();
            let name = svc["metadata"]["name"].as_str().unwrap_or_default();
            let ready: Vec<Value> = pods
                    .iter()
                    .filter(|p| p["metadata"]["namespace"] == ns && p["metadata"]["deletionTimestamp"].is_null())
                    .filter(|p| selector.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v))
                    .filter(|p| p["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
                    .map(|p| json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"], "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}))
                    .collect();
            let ports: Vec<Value> = svc["spec"]["ports"].as_array().into_iter().flatten().map(|p| json!({"name": p["name"], "port": p.get("targetPort").filter(|t| t.is_u64()).unwrap_or(&p["port"]), "protocol": p["protocol"].as_str().unwrap_or("TCP")})).collect();
            let subsets = if ready.is_empty() {
                json!([])
            } else {
                json!([{"addresses": ready, "ports": ports}])
            };
            let existing = shared.state().get(&ep_t, ns, name).ok();
            if existing.as_ref().is_none_or(|e| e["subsets"] != subsets) {
                let mut ep = existing.unwrap_or_else(|| json!({"metadata": {"name": name, "namespace": ns, "labels": svc["metadata"]["labels"]}}));
                ep["subsets"] = subsets;
                shared.state().commit(&ep_t, ns, name, Some(ep), false);
            }
        }
    }

    if let Some(ip) = shared.cloud() {
        super::cloud::reconcile(shared, ip);
    }
    super::argocd::reconcile(shared, faults);
    if enabled("CertManager") {
        super::certmanager::reconcile(shared);
    }

    // Simulated kubelet: a node is Ready once a pod network (a DaemonSet in kube-system) exists.
    if let (Some(nodes), Some(ds)) = (
        types(shared, "", "nodes"),
        types(shared, "apps", "daemonsets"),
    ) && enabled("Node")
    {
        let cni = !shared.state().list(&ds, Some("kube-system")).is_empty();
        let ready = cni && !faults.nodes_never_ready;
        let reason = if ready {
            "KubeletReady"
        } else {
            "KubeletNotReady"
        };
        for node in list(&nodes) {
            let mut c = condition("Ready", ready, reason);
            if !cni {
                c["message"] = json!(
                    "container runtime network not ready: cni plugin not initialized (simulated)"
                );
            }
            let mut status = node["status"].clone();
            if !status.is_object() {
                status = json!({});
            }
            status["conditions"] = json!([c]);
            set_status(shared, &nodes, &node, status);
        }
    }

    if enabled("SealedSecrets") && sealed_secrets_deployed(shared) {
        ensure_sealing_key(shared);
    }

    if let Some(t) = types(shared, "", "namespaces") {
        for ns in list(&t)
            .into_iter()
            .filter(|n| n["status"]["phase"].is_null())
        {
            set_status(shared, &t, &ns, json!({"phase": "Active"}));
        }
    }
}

/// The label of Sealed Secrets' key Secrets.
pub const SEALING_KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";

/// The Sealed Secrets controller runs once Argo CD reports its Application Healthy (the
/// simulated Argo CD deploys nothing) or its Deployment exists in kube-system.
fn sealed_secrets_deployed(shared: &Shared) -> bool {
    let healthy_app = types(shared, "argoproj.io", "applications").is_some_and(|t| {
        shared.state().list(&t, None).iter().any(|a| {
            a["metadata"]["name"] == "sealed-secrets"
                && a["status"]["health"]["status"] == "Healthy"
        })
    });
    let deployment = types(shared, "apps", "deployments").is_some_and(|t| {
        shared
            .state()
            .get(&t, "kube-system", "sealed-secrets-controller")
            .is_ok()
    });
    healthy_app || deployment
}

/// SIMULATED Sealed Secrets controller start: adopt the active key Secrets in kube-system, or
/// make one as the controller does (an RSA key and a self-signed certificate in a
/// `kubernetes.io/tls` Secret labelled `active`). 2048-bit here to keep tests quick (the real
/// controller's default is 4096).
fn ensure_sealing_key(shared: &Shared) {
    let Some(t) = types(shared, "", "secrets") else {
        return;
    };
    if active_sealing_keys(shared).next().is_some() {
        return;
    }
    let Some((cert, key)) = new_sealing_key() else {
        return;
    };
    let mut suffix = [0_u8; 5];
    let _ = getrandom::fill(&mut suffix);
    let name = format!(
        "sealed-secrets-key{}",
        suffix
            .iter()
            .map(|b| char::from(b'a' + b % 26))
            .collect::<String>()
    );
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = json!({
        "metadata": {"name": name, "namespace": "kube-system", "labels": {SEALING_KEY_LABEL: "active"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(&cert), "tls.key": b64(&key)},
    });
    shared
        .state()
        .commit(&t, "kube-system", &name, Some(secret), false);
}

/// The active sealing key Secrets in kube-system, oldest first.
pub fn active_sealing_keys(shared: &Shared) -> impl Iterator<Item = Value> {
    let mut keys: Vec<Value> = types(shared, "", "secrets")
        .map(|t| shared.state().list(&t, Some("kube-system")))
        .unwrap_or_default();
    keys.retain(|s| s["metadata"]["labels"][SEALING_KEY_LABEL] == "active");
    keys.sort_by_key(|s| {
        s["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    });
    keys.into_iter()
}

fn new_sealing_key() -> Option<(String, String)> {
    use rsa::pkcs8::EncodePrivateKey;
    let private = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).ok()?;
    let pem = private
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .ok()?
        .to_string();
    let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).ok()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).ok()?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "sealed-secret (kube-sim simulated controller)",
    );
    let cert = params.self_signed(&pair).ok()?.pem();
    Some((cert, pem))
}

/// Keep `replicas` pods for a workload; ready or not as told, and only once the simulated
/// kubelet pulled their images. Deleted pods are replaced, and so are pods of an older template
/// (a rollout, simplified to all at once). New pods pass admission as the ReplicaSet
/// controller's creates do (the ServiceAccount admission plugin giving a pod without pull
/// Secrets its ServiceAccount's), then the scheduler binds them; a refusal is returned, as the
/// controller's FailedCreate. Also returned: whether every pod is ready.
fn ensure_pods(
    shared: &Shared,
    owner_type: &ResourceType,
    owner: &Value,
    replicas: u64,
    ready: bool,
) -> (Option<String>, bool) {
    let Some(pod_t) = types(shared, "", "pods") else {
        return (None, ready);
    };
    let ns = owner["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = owner["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let uid = owner["metadata"]["uid"].clone();
    let template = &owner["spec"]["template"];
    let images = |spec: &Value| -> Vec<Value> {
        spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["image"].clone())
            .collect()
    };
    let (owned, outdated): (Vec<Value>, Vec<Value>) = shared
        .state()
        .list(&pod_t, Some(&ns))
        .into_iter()
        .filter(|p| {
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
        })
        .partition(|p| images(&p["spec"]) == images(&template["spec"]));
    for old in &outdated {
        let pod_name = old["metadata"]["name"].as_str().unwrap_or_default();
        let _ = shared.state().delete(&pod_t, &ns, pod_name, false);
    }
    let registry = shared.images.lock().ok().and_then(|r| r.clone());
    let mut all_ready = true;
    let cloud = shared.cloud().is_some();
    let unbound = |p: &&Value| cloud && p["spec"]["nodeName"].is_null();
    // A pod no node took when it was made stays so: these tests add no nodes.
    if owned.iter().any(|p| unbound(&p)) {
        all_ready = false;
    }
    for pod in owned.iter().filter(|p| !unbound(p)) {
        let ip = pod["status"]["podIP"]
            .as_str()
            .unwrap_or("10.244.0.10")
            .to_owned();
        let pulled = pull_images(shared, registry.as_deref(), pod);
        all_ready &= ready && pulled.is_ok();
        set_status(shared, &pod_t, pod, pod_status(pod, &ip, ready, pulled));
    }
    for _ in owned.len() as u64..replicas {
        let state = shared.state();
        // The owner may have been deleted since this pass listed it: a ReplicaSet controller
        // makes no pods for an owner that is gone (they would be orphans).
        let alive = state
            .get(owner_type, &ns, &name)
            .is_ok_and(|o| o["metadata"]["uid"] == uid);
        if !alive {
            return (None, false);
        }
        let n = state.rv + 1;
        let pod_name = format!("{name}-sim-{n:05x}");
        let ip = format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 2);
        let mut meta = template["metadata"].clone();
        if !meta.is_object() {
            meta = json!({});
        }
        meta["name"] = json!(pod_name);
        meta["namespace"] = json!(ns);
        meta["ownerReferences"] = json!([{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": name, "uid": uid, "controller": true}]);
        let mut spec = template["spec"].clone();
        if !spec.is_object() {
            spec = json!({});
        }
        if spec["imagePullSecrets"].is_null()
            && let Some(sa_t) = state
                .registry
                .types
                .iter()
                .find(|t| t.group.is_empty() && t.plural == "serviceaccounts")
                .cloned()
        {
            let sa_name = spec["serviceAccountName"].as_str().unwrap_or("default");
            if let Ok(sa) = state.get(&sa_t, &ns, sa_name)
                && sa["imagePullSecrets"].is_array()
            {
                spec["imagePullSecrets"] = sa["imagePullSecrets"].clone();
            }
        }
        let mut pod = json!({"metadata": meta, "spec": spec});
        if let Err(e) = admission::admit(&state, &pod_t, &ns, &pod_name, Op::Create, &mut pod, None)
        {
            return (Some(e.message), false);
        }
        drop(state);
        if cloud {
            match super::cloud::schedule(shared, &pod["spec"]) {
                Ok(node) => pod["spec"]["nodeName"] = json!(node),
                Err(message) => {
                    pod["status"] = super::cloud::unschedulable(&message);
                    all_ready = false;
                    shared
                        .state()
                        .commit(&pod_t, &ns, &pod_name, Some(pod), false);
                    continue;
                }
            }
        } else {
            pod["spec"]["nodeName"] = json!("kube-sim-node");
        }
        let pulled = pull_images(shared, registry.as_deref(), &pod);
        all_ready &= ready && pulled.is_ok();
        pod["status"] = pod_status(&pod, &ip, ready, pulled);
        shared
            .state()
            .commit(&pod_t, &ns, &pod_name, Some(pod), false);
    }
    for extra in owned.iter().skip(replicas as usize) {
        let pod_name = extra["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let _ = shared.state().delete(&pod_t, &ns, &pod_name, false);
    }
    (None, all_ready && outdated.is_empty())
}

/// The kubelet's pulls of a pod's images, with the credentials of its `imagePullSecrets`
/// (`kubernetes.io/dockerconfigjson`: `auths.<registry>.username`/`password`, or `auth` as
/// base64 `user:password`); the first refusal's message.
fn pull_images(
    shared: &Shared,
    registry: Option<&dyn super::ImageRegistry>,
    pod: &Value,
) -> Result<(), (String, String)> {
    let Some(registry) = registry else {
        return Ok(());
    };
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let configs: Vec<Value> = pod["spec"]["imagePullSecrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .filter_map(|secret| {
            let t = types(shared, "", "secrets")?;
            let s = shared.state().get(&t, ns, secret).ok()?;
            let raw = s["data"][".dockerconfigjson"].as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
            serde_json::from_slice(&bytes).ok()
        })
        .collect();
    for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let image = container["image"].as_str().unwrap_or_default();
        let host = image.split('/').next().unwrap_or_default();
        let auth = configs.iter().find_map(|c| {
            let entry = &c["auths"][host];
            if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
                return Some((u.to_owned(), p.to_owned()));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(entry["auth"].as_str()?)
                .ok()?;
            let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
            Some((u.to_owned(), p.to_owned()))
        });
        if let Some(Err(message)) =
            registry.pull(image, auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())))
        {
            return Err((image.to_owned(), message));
        }
    }
    Ok(())
}

/// A pod's status from the kubelet: Running and ready, or Pending with each container waiting
/// on its image (`ErrImagePull` on the first failed pull, `ImagePullBackOff` from the next,
/// kubelet's `images/image_manager.go`).
fn pod_status(pod: &Value, ip: &str, ready: bool, pulled: Result<(), (String, String)>) -> Value {
    let pull_failed = pulled.is_err();
    let ready = ready && !pull_failed;
    let before = &pod["status"]["containerStatuses"];
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let mut status = json!({"name": c["name"], "ready": ready, "restartCount": 0, "image": c["image"], "started": ready});
            if let Err((image, message)) = &pulled {
                let backing_off = before[i]["state"]["waiting"]["reason"]
                    .as_str()
                    .is_some_and(|r| r == "ErrImagePull" || r == "ImagePullBackOff");
                status["state"] = if backing_off {
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\": ErrImagePull: {message}")}})
                } else {
                    json!({"waiting": {"reason": "ErrImagePull", "message": message}})
                };
            } else if ready {
                status["state"] = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
            }
            status
        })
        .collect();
    json!({
        "phase": if ready { "Running" } else { "Pending" },
        "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.2",
        "conditions": [condition("Ready", ready, if ready { "PodReady" } else { "ContainersNotReady" }), condition("ContainersReady", ready, "Simulated")],
        "containerStatuses": containers,
    })
}

/// Register a node; the simulated kubelet reports it Ready once a pod network exists.
pub fn set_node(shared: &Shared, name: &str, labels: &[(&str, &str)]) {
    let Some(t) = types(shared, "", "nodes") else {
        return;
    };
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let node = json!({"metadata": {"name": name, "labels": labels}, "spec": {}});
    let before = shared.state().rv;
    shared.state().commit(&t, "", name, Some(node), false);
    shared.publish(before);
}
