//! The platform on an existing cluster (`slipway up --context NAME`): no Docker and no node of
//! Slipway's. `up` checks the cluster, then runs the same platform pipeline as on Slipway's own
//! cluster; `status` reads it; `down` removes the platform and never the cluster.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{Discovery, Scope, verbs};

use super::install::{self, ARGO_NAMESPACE, InstallOptions, MANAGED_BY};
use super::target::{self, Existing, TargetError};
use super::{PlatformError, PlatformStatus, PlatformSummary, UpReport, gitops};
use crate::cluster::{ClusterStatus, NodeState, NodeStatus};
use crate::helm::Helm;
use crate::k8s::{K8sError, wait};
use crate::lock::RunLock;
use crate::pipeline::{
    self, Deadline, Pipeline, Poll, ProgressSink, Stage, StepContext, StepOutcome, Timeouts, step,
};
use crate::secrets::{Keyring, accounts};

/// Argo CD's finalizer that makes deleting an Application delete what it deployed.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Namespaces `down` never deletes, whoever labelled them.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStep {
    Check,
}

/// The checks `up --context` starts with, before the platform steps.
pub const CHECK: Pipeline<CheckStep> = Pipeline {
    steps: &[step(
        CheckStep::Check,
        "cluster-check",
        "Check the cluster: Kubernetes version, server-side apply, access, StorageClass, traffic",
        60,
        2,
    )],
    resume: "slipway up --context",
};

struct CheckStage<'a> {
    client: kube::Client,
    target: &'a Existing,
    options: &'a InstallOptions,
}

impl Stage for CheckStage<'_> {
    type Id = CheckStep;
    type Error = TargetError;

    async fn execute(
        &mut self,
        _: CheckStep,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, TargetError> {
        // Loki and Prometheus claim volumes; nothing else in the platform does.
        let needs_volumes = !self.options.without.contains(&gitops::Part::Observability);
        target::preflight(
            &self.client,
            self.target,
            &self.options.domain,
            needs_volumes,
            r,
        )
        .await
    }
}

/// `options` with what this run did not name from the cluster's record, and Backstage's GitHub
/// sign-in from the keyring, else the one a teammate gave the cluster (kept in this keyring
/// too, as Backstage's API token is: a second person's `up` keeps the platform as it is).
async fn prepared(
    options: &InstallOptions,
    target: &Existing,
    client: &kube::Client,
) -> Result<InstallOptions, PlatformError> {
    let mut prepared = options.clone();
    if target.recall != target::Recall::default() {
        prepared.existing = Some(target.clone().recalled(&target::record(client).await?));
    }
    if prepared.github_sign_in.is_none() && prepared.keyring.unavailable_reason().is_none() {
        use crate::github::account::OAuthApp;
        prepared.github_sign_in = match OAuthApp::kept(&target.id(), &prepared.keyring)? {
            Some(app) => Some(app),
            // Checked when it was set; the keyring is where this person's runs read it.
            None => cluster_sign_in(client)
                .await
                .filter(|app| app.keep(&target.id(), &prepared.keyring).is_ok()),
        };
    }
    Ok(prepared)
}

/// The GitHub sign-in the cluster's Backstage has: its app's client ID in Backstage's config
/// (`slipway-backstage-config`), its secret in `backstage-secrets`. `None` when either is
/// missing or unreadable (a user who may not read them may not install either).
async fn cluster_sign_in(client: &kube::Client) -> Option<crate::github::account::OAuthApp> {
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "backstage");
    let config = maps.get_opt(gitops::BACKSTAGE_CONFIG).await.ok()??;
    let text = config.data?.remove("app-config.slipway.yaml")?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let client_id = config
        .pointer("/auth/providers/github/production/clientId")?
        .as_str()?
        .to_owned();
    let client_secret = crate::k8s::secret_value(
        client,
        "backstage",
        "backstage-secrets",
        gitops::GITHUB_CLIENT_SECRET_ENV,
    )
    .await
    .ok()??;
    Some(crate::github::account::OAuthApp {
        client_id,
        client_secret,
    })
}

fn existing(options: &InstallOptions) -> Result<&Existing, crate::cluster::ClusterError> {
    options.existing.as_ref().ok_or_else(|| {
        crate::cluster::ClusterError::InvalidSetting(
            "no existing cluster was named (`--context NAME`)".into(),
        )
    })
}

/// Check the cluster `options.existing` names, then install or repair the platform on it.
pub async fn up(
    options: &InstallOptions,
    timeouts: &Timeouts,
    sink: &dyn ProgressSink,
) -> Result<UpReport, PlatformError> {
    let started = Instant::now();
    let target = existing(options)?;
    let _lock = RunLock::acquire(&target.id(), "slipway up --context")?;
    let client = target.client().await?;
    let options = &prepared(options, target, &client).await?;
    let target = existing(options)?;
    let mut check = CheckStage {
        client: client.clone(),
        target,
        options,
    };
    let mut steps = pipeline::run(&CHECK, timeouts, sink, &mut check).await?;
    steps.extend(install::install(&target.kube, options, timeouts, sink).await?);
    super::durations::record(&target.id(), &steps);
    let status = cluster_status(&client, target).await?;
    let mut summary = PlatformSummary::new(options);
    if let Ok(address) = target::traefik_address(&client, Deadline::after(Duration::ZERO)).await {
        summary.dns_records = dns_records(&summary.hosts, &address);
    }
    Ok(UpReport {
        cluster: target.kube.context.clone(),
        up_to_date: steps.iter().all(|s| !s.outcome.is_change()),
        steps,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        status,
        platform: Some(summary),
    })
}

/// The records the platform's names need in the domain's DNS zone (Backstage's only once it is
/// routed).
fn dns_records(hosts: &[String], address: &target::Address) -> Vec<super::DnsRecord> {
    hosts
        .iter()
        .filter(|h| !h.starts_with("backstage."))
        .map(|name| super::DnsRecord {
            name: name.clone(),
            record_type: address.record_type(),
            value: address.host.clone(),
        })
        .collect()
}

/// The cluster as its API reports it (Docker plays no part).
async fn cluster_status(
    client: &kube::Client,
    target: &Existing,
) -> Result<ClusterStatus, PlatformError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let nodes = tokio::time::timeout(Duration::from_secs(15), nodes.list(&ListParams::default()))
        .await
        .map_err(|_| K8sError::Timeout {
            what: "reading the nodes".into(),
        })?
        .map_err(K8sError::from)?
        .items;
    let nodes: Vec<NodeStatus> = nodes
        .into_iter()
        .map(|n| {
            let labels = n.metadata.labels.clone().unwrap_or_default();
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .map(|c| c.status == "True");
            let role = if labels.contains_key("node-role.kubernetes.io/control-plane") {
                "control-plane"
            } else {
                "worker"
            };
            NodeStatus {
                name: n.metadata.name.unwrap_or_default(),
                role: role.into(),
                state: NodeState::Running,
                image: n
                    .status
                    .and_then(|s| s.node_info)
                    .map(|i| i.kubelet_version)
                    .unwrap_or_default(),
                ready,
                labels: labels.into_iter().collect(),
            }
        })
        .collect();
    let address = target::traefik_address(client, Deadline::after(Duration::ZERO))
        .await
        .ok();
    Ok(ClusterStatus {
        name: target.kube.context.clone(),
        docker: "not used (an existing cluster)".into(),
        exists: true,
        healthy: !nodes.is_empty() && nodes.iter().all(|n| n.ready == Some(true)),
        nodes,
        api_server: api_server(target),
        ingress: address.iter().map(|a| format!("https://{a}")).collect(),
        kubeconfig: Some(target.kube.kubeconfig.clone()),
        context: target.kube.context.clone(),
        context_present: true,
    })
}

/// The server URL the context's cluster entry names.
fn api_server(target: &Existing) -> Option<String> {
    let config = kube::config::Kubeconfig::read_from(&target.kube.kubeconfig).ok()?;
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == target.kube.context)?
        .context
        .as_ref()?;
    config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)?
        .cluster
        .as_ref()?
        .server
        .clone()
}

/// The platform on `target` as the cluster reports it, with what to run for each problem.
pub async fn status(target: &Existing) -> Result<PlatformStatus, PlatformError> {
    let resume = format!("slipway up --context {}", target.kube.context);
    let client = match super::api_client(&crate::k8s::KubeTarget {
        kubeconfig: Some(target.kube.kubeconfig.clone()),
        context: Some(target.kube.context.clone()),
    })
    .await
    {
        Ok(client) => client,
        Err(reason) => {
            return Ok(PlatformStatus {
                cluster: ClusterStatus {
                    name: target.kube.context.clone(),
                    docker: "not used (an existing cluster)".into(),
                    exists: true,
                    healthy: false,
                    nodes: Vec::new(),
                    api_server: api_server(target),
                    ingress: Vec::new(),
                    kubeconfig: Some(target.kube.kubeconfig.clone()),
                    context: target.kube.context.clone(),
                    context_present: true,
                },
                components: Vec::new(),
                api_reachable: false,
                ingress_answering: false,
                platform_installed: false,
                mode: None,
                problems: vec![format!(
                    "the API server of context {} does not answer ({reason}); check the kubeconfig's credentials and network",
                    target.kube.context
                )],
                https_trusted: crate::trust::machine_trusts(&Keyring::os()),
            });
        }
    };
    let cluster = cluster_status(&client, target).await?;
    let components = super::components(&client).await?;
    let platform_installed = components.iter().any(|c| c.health != "Missing");
    let root_app = super::has_root_application(&client).await;
    let mut problems = Vec::new();
    for n in cluster.nodes.iter().filter(|n| n.ready == Some(false)) {
        problems.push(format!(
            "node {} is not Ready (the cluster's own concern)",
            n.name
        ));
    }
    let address = cluster.ingress.first().cloned();
    let ingress_answering = match target::traefik_address(&client, Deadline::after(Duration::ZERO))
        .await
    {
        Ok(a) => match a.resolve().await {
            Ok(addr) => matches!(
                tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
                    .await,
                Ok(Ok(_))
            ),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if platform_installed {
        if !ingress_answering {
            problems.push(format!(
                "Traefik does not answer{}; run `{resume}`",
                address
                    .map(|a| format!(" at {a}"))
                    .unwrap_or_else(|| " (its Service has no address)".into())
            ));
        }
        for c in components.iter().filter(|c| c.health != "Healthy") {
            problems.push(format!(
                "{} is {} ({}); run `{resume}` to repair it",
                c.name, c.health, c.sync
            ));
        }
    } else {
        problems.push(format!("the platform is not installed; run `{resume}`"));
    }
    Ok(PlatformStatus {
        cluster,
        components,
        api_reachable: true,
        ingress_answering,
        platform_installed,
        mode: platform_installed.then(|| if root_app { "github" } else { "local" }.to_owned()),
        problems,
        https_trusted: crate::trust::machine_trusts(&Keyring::os()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveStep {
    Applications,
    ArgoCd,
    Owned,
    Namespaces,
}

/// `slipway down --context`: the platform off the cluster, the cluster left as it was.
pub const REMOVE: Pipeline<RemoveStep> = Pipeline {
    steps: &[
        step(
            RemoveStep::Applications,
            "applications",
            "Delete the platform's Applications (Argo CD deletes what they deployed)",
            600,
            1,
        ),
        step(
            RemoveStep::ArgoCd,
            "argocd",
            "Uninstall Argo CD (helm)",
            300,
            1,
        ),
        step(
            RemoveStep::Owned,
            "owned",
            "Delete what Slipway applied itself, and Sealed Secrets' keys (the keyring keeps them)",
            300,
            2,
        ),
        step(
            RemoveStep::Namespaces,
            "namespaces",
            "Delete the platform's namespaces and the CRDs its charts keep",
            300,
            1,
        ),
    ],
    resume: "slipway down --context",
};

struct RemoveStage<'a> {
    client: kube::Client,
    target: &'a Existing,
    helm: Option<&'a std::path::Path>,
}

impl Stage for RemoveStage<'_> {
    type Id = RemoveStep;
    type Error = TargetError;

    async fn execute(
        &mut self,
        id: RemoveStep,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, TargetError> {
        match id {
            RemoveStep::Applications => self.applications(r).await,
            RemoveStep::ArgoCd => self.argo_cd(r).await,
            RemoveStep::Owned => self.owned().await,
            RemoveStep::Namespaces => self.namespaces(r).await,
        }
    }
}

/// Remove the platform from `target`: the Applications with their finalizers while Argo CD
/// still runs, then Argo CD's release, then what Slipway applied, the platform's namespaces and
/// the CRDs its charts keep. The cluster and everything else on it stay.
pub async fn down(
    target: &Existing,
    helm: Option<&std::path::Path>,
    sink: &dyn ProgressSink,
) -> Result<Vec<crate::pipeline::StepReport>, PlatformError> {
    let _lock = RunLock::acquire(&target.id(), "slipway down --context")?;
    let mut stage = RemoveStage {
        client: target.client().await?,
        target,
        helm,
    };
    let steps = pipeline::run(&REMOVE, &Timeouts::default(), sink, &mut stage).await?;
    let account = accounts::backstage_api_token(&target.id());
    if let Err(e) = Keyring::os().delete(&account) {
        StepContext::new("namespaces", sink, Duration::ZERO)
            .warn(format!("could not remove {account} from the keyring: {e}"));
    }
    Ok(steps)
}

/// A list of kind `resource` in `namespace` (`None`: the cluster's), empty when the kind is not
/// served (Argo CD never installed, or gone already).
async fn list_or_none(
    api: &Api<DynamicObject>,
    params: &ListParams,
) -> Result<Vec<DynamicObject>, TargetError> {
    match api.list(params).await {
        Ok(list) => Ok(list.items),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        Err(e) => Err(K8sError::from(e).into()),
    }
}

async fn delete_ignoring_gone(api: &Api<DynamicObject>, name: &str) -> Result<(), TargetError> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(K8sError::from(e).into()),
    }
}

/// Wait within the step until `left` names nothing, or fail naming what is left.
async fn until_gone<F, Fut>(r: StepContext<'_>, what: &str, left: F) -> Result<(), TargetError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<String>, TargetError>>,
{
    let look = || async {
        let left = left().await?;
        Ok(if left.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending(left.join(", "))
        })
    };
    pipeline::poll(r.deadline(), Duration::from_secs(1), look, |state| {
        TargetError::Kube(K8sError::NotReady {
            what: what.to_owned(),
            secs: r.deadline().secs(),
            state: format!("left: {state}"),
        })
    })
    .await
}

impl RemoveStage<'_> {
    fn argo(&self, resource: &kube::discovery::ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ARGO_NAMESPACE, resource)
    }

    /// Every Application gets Argo CD's resources finalizer, so deleting it deletes what it
    /// deployed; the ApplicationSets go first (they would make the Applications again).
    async fn applications(&self, r: StepContext<'_>) -> Result<StepOutcome, TargetError> {
        let apps = self.argo(&wait::application_resource());
        let sets = self.argo(&wait::application_set_resource());
        let all = ListParams::default();
        let listed = list_or_none(&apps, &all).await?;
        let set_names: Vec<String> = list_or_none(&sets, &all)
            .await?
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect();
        if listed.is_empty() && set_names.is_empty() {
            return Ok(StepOutcome::up_to_date("no Applications"));
        }
        for app in &listed {
            let mut finalizers = app.metadata.finalizers.clone().unwrap_or_default();
            if finalizers.iter().any(|f| f == RESOURCES_FINALIZER)
                || app.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            finalizers.push(RESOURCES_FINALIZER.to_owned());
            let name = app.metadata.name.as_deref().unwrap_or_default();
            let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
            apps.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(K8sError::from)?;
        }
        for name in &set_names {
            delete_ignoring_gone(&sets, name).await?;
        }
        for name in listed.iter().filter_map(|a| a.metadata.name.as_deref()) {
            delete_ignoring_gone(&apps, name).await?;
        }
        r.detail(format!(
            "waiting for Argo CD to delete {} Applications' resources",
            listed.len()
        ));
        let look = || async {
            let left: Vec<String> = list_or_none(&apps, &ListParams::default())
                .await?
                .into_iter()
                .filter_map(|a| a.metadata.name)
                .collect();
            Ok(if left.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending(left.join(", "))
            })
        };
        pipeline::poll(r.deadline(), Duration::from_secs(1), look, |state| {
            TargetError::Kube(K8sError::NotReady {
                what: "Argo CD deleting the Applications (it must still run: `kubectl -n argocd get pods`)".into(),
                secs: r.deadline().secs(),
                state: format!("left: {state}"),
            })
        })
        .await?;
        Ok(StepOutcome::changed(format!(
            "deleted {} Applications and {} ApplicationSets",
            listed.len(),
            set_names.len()
        )))
    }

    async fn argo_cd(&self, r: StepContext<'_>) -> Result<StepOutcome, TargetError> {
        let argo: gitops::Component = crate::bundle::yaml(crate::bundle::ARGO_CD)?;
        let helm = Helm::locate(self.helm).await?;
        let installed = helm
            .list(&self.target.kube)
            .await?
            .into_iter()
            .any(|x| x.name == argo.release && x.namespace == argo.namespace);
        if !installed {
            return Ok(StepOutcome::up_to_date("no Argo CD release"));
        }
        let limit = r.remaining().saturating_sub(Duration::from_secs(10));
        helm.uninstall(&argo.release, &argo.namespace, &self.target.kube, limit)
            .await?;
        Ok(StepOutcome::changed(format!(
            "uninstalled {}",
            argo.release
        )))
    }

    /// Every object labelled as Slipway's, of every kind the cluster serves (namespaces and CRDs
    /// wait for the last step), and the sealing keys.
    async fn owned(&self) -> Result<StepOutcome, TargetError> {
        let discovery = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(K8sError::from)?;
        let owned = ListParams::default().labels(&format!("{MANAGED_BY}=slipway"));
        let mut deleted = Vec::new();
        for group in discovery.groups() {
            for (resource, caps) in group.recommended_resources() {
                let skip = ["Namespace", "CustomResourceDefinition", "Event"]
                    .contains(&resource.kind.as_str());
                if skip
                    || !caps.supports_operation(verbs::LIST)
                    || !caps.supports_operation(verbs::DELETE)
                {
                    continue;
                }
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
                for object in list_or_none(&api, &owned).await? {
                    let name = object.metadata.name.clone().unwrap_or_default();
                    let scoped: Api<DynamicObject> = match (&caps.scope, &object.metadata.namespace)
                    {
                        (Scope::Namespaced, Some(ns)) => {
                            Api::namespaced_with(self.client.clone(), ns, &resource)
                        }
                        _ => Api::all_with(self.client.clone(), &resource),
                    };
                    delete_ignoring_gone(&scoped, &name).await?;
                    deleted.push(format!("{}/{name}", resource.kind));
                }
            }
        }
        let keys: Api<Secret> =
            Api::namespaced(self.client.clone(), crate::sealing::CONTROLLER_NAMESPACE);
        let key_list = keys
            .list(&ListParams::default().labels(crate::sealing::KEY_LABEL))
            .await
            .map_err(K8sError::from)?;
        for key in key_list.items {
            let name = key.metadata.name.unwrap_or_default();
            match keys.delete(&name, &DeleteParams::background()).await {
                Ok(_) => deleted.push(format!("Secret/{name}")),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(K8sError::from(e).into()),
            }
        }
        Ok(if deleted.is_empty() {
            StepOutcome::up_to_date("nothing of Slipway's left")
        } else {
            StepOutcome::changed(format!("deleted {} objects", deleted.len()))
        })
    }

    /// The namespaces the platform made (Argo CD's, each component's, Slipway's own), never a
    /// system one, then the CRDs of the platform's API groups.
    async fn namespaces(&self, r: StepContext<'_>) -> Result<StepOutcome, TargetError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let mut names: Vec<String> = vec![ARGO_NAMESPACE.to_owned()];
        names.extend(gitops::components()?.into_iter().map(|c| c.namespace));
        names.extend(
            api.list(&ListParams::default().labels(&format!("{MANAGED_BY}=slipway")))
                .await
                .map_err(K8sError::from)?
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name),
        );
        names.sort();
        names.dedup();
        names.retain(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()));
        let mut deleted = Vec::new();
        for name in &names {
            match api.delete(name, &DeleteParams::background()).await {
                Ok(_) => deleted.push(name.clone()),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(K8sError::from(e).into()),
            }
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let groups = target::file()?.removal.crd_groups;
        for crd in crds
            .list(&ListParams::default())
            .await
            .map_err(K8sError::from)?
            .items
        {
            if groups.contains(&crd.spec.group) {
                let name = crd.metadata.name.unwrap_or_default();
                match crds.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => deleted.push(name),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(K8sError::from(e).into()),
                }
            }
        }
        r.detail("waiting for the namespaces to go");
        until_gone(r, "the platform's namespaces being deleted", || async {
            let mut left = Vec::new();
            for name in &names {
                if api.get_opt(name).await.map_err(K8sError::from)?.is_some() {
                    left.push(name.clone());
                }
            }
            Ok(left)
        })
        .await?;
        Ok(if deleted.is_empty() {
            StepOutcome::up_to_date("no platform namespace or CRD left")
        } else {
            StepOutcome::changed(format!("deleted {}", deleted.join(", ")))
        })
    }
}
