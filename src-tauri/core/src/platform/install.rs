//! The platform on a running cluster: Argo CD by helm, the Secrets Slipway owns (from the
//! keyring), the GitOps source, every platform Application Synced and Healthy, then routing
//! checked by HTTP. Each step checks first, so a healthy platform sees no writes.
//!
//! The GitOps source is the embedded bundle in one of two modes. *GitHub mode* (a token is
//! connected): the bundle is published as `<owner>/slipway-platform` and Argo CD's root
//! Application syncs its `bootstrap/` folder, with repository credentials from the keyring.
//! *Local mode*: Slipway applies the AppProjects and a list-generator platform ApplicationSet with
//! the values inline, since Argo CD has no repository to read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use serde_json::json;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};

use super::publish::{self, Site};
use super::{
    PlatformError, Stage, StepDef, StepError, StepReport, gitops, routing, run_steps, step,
};
use crate::github::GitHub;
use crate::helm::{ChartSource, Helm, KubeContext};
use crate::k8s::{self, K8sError, apply, wait};
use crate::progress::{ProgressSink, StepOutcome, StepReporter};
use crate::sealing::{self, SealingKey};
use crate::secrets::{Keyring, accounts};
use crate::service::ServiceError;

/// Field manager of everything Slipway applies.
pub const FIELD_MANAGER: &str = "slipway";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallStep {
    ArgoCd,
    ArgoCdReady,
    Secrets,
    Publish,
    GitopsSource,
    PlatformApps,
    SealingKey,
    Routing,
}

pub const INSTALL_STEPS: &[StepDef<InstallStep>] = &[
    step(
        InstallStep::ArgoCd,
        "argocd",
        "Install Argo CD (helm)",
        900,
        1,
    ),
    step(
        InstallStep::ArgoCdReady,
        "argocd-ready",
        "Wait for Argo CD",
        600,
        0,
    ),
    step(
        InstallStep::Secrets,
        "secrets",
        "Create the Secrets Slipway owns, from the keyring",
        60,
        2,
    ),
    step(
        InstallStep::Publish,
        "publish",
        "Publish the platform repository on GitHub (GitHub mode)",
        300,
        2,
    ),
    step(
        InstallStep::GitopsSource,
        "gitops-source",
        "Apply the AppProjects, ApplicationSets and Ingresses",
        120,
        3,
    ),
    step(
        InstallStep::PlatformApps,
        "platform-apps",
        "Wait until Traefik, Sealed Secrets and Backstage are Synced and Healthy",
        1800,
        0,
    ),
    step(
        InstallStep::SealingKey,
        "sealing-key",
        "Keep Sealed Secrets' key in the keyring",
        300,
        1,
    ),
    step(
        InstallStep::Routing,
        "routing",
        "Check Argo CD and Backstage through the ingress port",
        300,
        0,
    ),
];

/// Where Argo CD reads the platform from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    /// No GitHub: Slipway applies the platform from the embedded bundle.
    #[default]
    Local,
    /// The bundle published on GitHub (`api`), as `<owner>/slipway-platform`; `None`: the
    /// token's user.
    GitHub { api: String, owner: Option<String> },
}

impl Source {
    /// GitHub mode when a token for `api` is kept in `keyring`, else local mode.
    pub fn detect(keyring: &Keyring, api: &str, owner: Option<String>) -> Self {
        let connected = keyring.unavailable_reason().is_none()
            && keyring
                .get(&accounts::github_token(api))
                .ok()
                .flatten()
                .is_some();
        if connected {
            Source::GitHub {
                api: api.to_owned(),
                owner,
            }
        } else {
            Source::Local
        }
    }
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The cluster's name: keyring entries are kept per cluster.
    pub cluster: String,
    /// Domain of the platform host names (`local` → `argocd.local`, `backstage.local`).
    pub domain: String,
    /// Where the platform node's HTTP ingress port is published (`127.0.0.1:8880`).
    pub ingress: SocketAddr,
    /// Where Slipway's tokens and the escrowed sealing key live (tests pass a mock store).
    pub keyring: Keyring,
    pub source: Source,
    pub charts: ChartSource,
    /// A helm binary to use instead of the one on PATH.
    pub helm: Option<std::path::PathBuf>,
    pub helm_timeout: Duration,
    /// How long each platform Application may take to become Synced and Healthy.
    pub app_timeout: Duration,
    /// How long each UI may take to answer through the ingress port.
    pub routing_timeout: Duration,
}

impl InstallOptions {
    /// The defaults for a cluster whose HTTP ingress is published at `ingress`.
    pub fn new(cluster: &str, ingress: SocketAddr) -> Self {
        Self {
            cluster: cluster.to_owned(),
            domain: "local".into(),
            ingress,
            keyring: Keyring::os(),
            source: Source::Local,
            charts: ChartSource::Upstream,
            helm: None,
            helm_timeout: Duration::from_secs(600),
            app_timeout: Duration::from_secs(900),
            routing_timeout: Duration::from_secs(120),
        }
    }
}

struct InstallStage<'a> {
    kube: &'a KubeContext,
    client: kube::Client,
    helm: Option<Helm>,
    options: &'a InstallOptions,
    /// GitHub mode, once the `publish` step ran: where the platform repository is, and the
    /// token and login for Argo CD's repository credentials.
    published: Option<(Site, String, String)>,
}

/// Where Argo CD and its Applications live.
pub const ARGO_NAMESPACE: &str = "argocd";

/// The App-of-Apps of GitHub mode.
pub const ROOT_APP: &str = "root";

impl Stage for InstallStage<'_> {
    type Id = InstallStep;

    async fn execute(
        &mut self,
        id: InstallStep,
        r: StepReporter<'_>,
    ) -> Result<StepOutcome, StepError> {
        match id {
            InstallStep::ArgoCd => self.argo_cd(r).await,
            InstallStep::ArgoCdReady => self.argo_cd_ready(r).await,
            InstallStep::Secrets => self.owned_secrets(r).await,
            InstallStep::Publish => self.publish(r).await,
            InstallStep::GitopsSource => self.gitops_source().await,
            InstallStep::PlatformApps => self.platform_apps(r).await,
            InstallStep::SealingKey => self.sealing_key(r).await,
            InstallStep::Routing => self.routing(r).await,
        }
    }

    fn timeout(&self, def: &StepDef<InstallStep>) -> Duration {
        match def.id {
            InstallStep::ArgoCd => def
                .timeout
                .max(self.options.helm_timeout + Duration::from_secs(60)),
            InstallStep::ArgoCdReady => def
                .timeout
                .max(self.options.app_timeout * 3 + Duration::from_secs(30)),
            InstallStep::PlatformApps => def
                .timeout
                .max(self.options.app_timeout * 3 + Duration::from_secs(30)),
            InstallStep::Routing => def
                .timeout
                .max(self.options.routing_timeout * 2 + Duration::from_secs(10)),
            InstallStep::SealingKey => def
                .timeout
                .max(self.options.app_timeout + Duration::from_secs(30)),
            _ => def.timeout,
        }
    }
}

impl InstallStage<'_> {
    async fn helm(&mut self) -> Result<&Helm, StepError> {
        if self.helm.is_none() {
            self.helm = Some(Helm::locate(self.options.helm.as_deref()).await?);
        }
        self.helm
            .as_ref()
            .ok_or_else(|| StepError::Helm(crate::helm::HelmError::NotFound("not located".into())))
    }

    /// Installed already at the pinned chart version and deployed: nothing to do.
    async fn argo_cd(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let release = gitops::argo_cd_release(&self.options.domain)?;
        let wanted = format!("{}-{}", release.chart.name, release.chart.version);
        let (kube, options) = (self.kube, self.options);
        let helm = self.helm().await?;
        let current = helm
            .list(kube)
            .await?
            .into_iter()
            .find(|x| x.name == release.name && x.namespace == release.namespace);
        if current
            .as_ref()
            .is_some_and(|c| c.chart == wanted && c.status == "deployed")
        {
            return Ok(StepOutcome::up_to_date(format!("{wanted} deployed")));
        }
        r.detail(format!(
            "helm upgrade --install {} ({wanted})",
            release.name
        ));
        helm.upgrade_install(&release, &options.charts, kube, options.helm_timeout)
            .await?;
        Ok(StepOutcome::changed(match current {
            Some(c) => format!("{} → {wanted}", c.chart),
            None => format!("installed {wanted}"),
        }))
    }

    async fn argo_cd_ready(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), ARGO_NAMESPACE);
        let names: Vec<String> = deployments
            .list(&ListParams::default())
            .await
            .map_err(K8sError::from)?
            .items
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect();
        if names.is_empty() {
            return Err(K8sError::NotReady {
                what: "Argo CD's Deployments".into(),
                secs: 0,
                state: "the chart created none; check the chart source".into(),
            }
            .into());
        }
        for name in &names {
            r.detail(format!("waiting for {name}"));
            wait::deployment_available(
                &self.client,
                ARGO_NAMESPACE,
                name,
                self.options.app_timeout,
            )
            .await?;
        }
        Ok(StepOutcome::up_to_date(format!(
            "{} Deployments available",
            names.len()
        )))
    }

    /// Backstage's `backstage-secrets` (its API token for Slipway, and the GitHub token once
    /// connected), Argo CD's SCM token Secret, and Sealed Secrets' escrowed keys, restored before
    /// the controller is deployed so it adopts them: all applied only if different.
    async fn owned_secrets(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let keyring = &self.options.keyring;
        let api_token = match keyring.unavailable_reason() {
            None => {
                let (token, created) =
                    keyring.get_or_create(&accounts::backstage_api_token(&self.options.cluster))?;
                if created {
                    r.detail("made Backstage's API token and kept it in the keyring");
                }
                token
            }
            Some(reason) => {
                r.warn(format!("no OS keyring ({reason}): Backstage's API token is kept only in the cluster, and GitHub cannot be connected"));
                match k8s::secret_value(
                    &self.client,
                    "backstage",
                    "backstage-secrets",
                    "SLIPWAY_API_TOKEN",
                )
                .await?
                {
                    Some(token) => token,
                    None => crate::secrets::random_token()?,
                }
            }
        };
        let github = keyring
            .get(&accounts::github_token(self.github_api()))
            .ok()
            .flatten();
        let mut backstage = BTreeMap::from([("SLIPWAY_API_TOKEN", api_token)]);
        if let Some(token) = &github {
            backstage.insert("GITHUB_TOKEN", token.clone());
        }
        let mut objects = vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "backstage"}}),
            owned_secret("backstage", "backstage-secrets", &backstage, &[]),
        ];
        match github {
            Some(token) => objects.push(owned_secret(
                ARGO_NAMESPACE,
                "slipway-scm-token",
                &BTreeMap::from([("token", token)]),
                &[("argocd.argoproj.io/secret-type", "scm-creds")],
            )),
            None => {
                r.detail("GitHub not connected: no SCM token for the workloads ApplicationSet yet")
            }
        }
        let escrowed = self.escrowed_keys()?;
        if !escrowed.is_empty() {
            r.detail(format!(
                "restoring {} escrowed Sealed Secrets key(s)",
                escrowed.len()
            ));
        }
        objects.extend(escrowed.iter().map(sealing::key_secret));
        self.apply(objects).await
    }

    fn escrowed_keys(&self) -> Result<Vec<SealingKey>, StepError> {
        let keyring = &self.options.keyring;
        if keyring.unavailable_reason().is_some() {
            return Ok(Vec::new());
        }
        let account = accounts::sealing_keys(&self.options.cluster);
        Ok(keyring
            .get(&account)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    /// Once the controller made (or adopted) its key, keep every active key in the keyring, so a
    /// re-created cluster decrypts the SealedSecrets already committed to Git.
    async fn sealing_key(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let deadline = tokio::time::Instant::now() + self.options.app_timeout;
        let keys = loop {
            let keys = sealing::active_keys(&self.client)
                .await
                .map_err(|e| K8sError::Manifest(e.to_string()))?;
            if !keys.is_empty() {
                break keys;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(K8sError::NotReady {
                    what: "Sealed Secrets' sealing key".into(),
                    secs: self.options.app_timeout.as_secs(),
                    state: format!(
                        "no Secret labelled {}=active in {}",
                        sealing::KEY_LABEL,
                        sealing::CONTROLLER_NAMESPACE
                    ),
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let names = names.join(", ");
        if let Some(reason) = self.options.keyring.unavailable_reason() {
            r.warn(format!("no OS keyring ({reason}): Sealed Secrets' key will not survive a re-created cluster; keep a copy with `slipway seal --backup-key FILE`"));
            return Ok(StepOutcome::up_to_date(format!(
                "{names} not escrowed (no keyring)"
            )));
        }
        if !self.options.keyring.persists() {
            r.warn(format!(
                "the escrowed key is in the {}; keep a copy with `slipway seal --backup-key FILE`",
                self.options.keyring.describe()
            ));
        }
        if self.escrowed_keys()? == keys {
            return Ok(StepOutcome::up_to_date(format!(
                "{names} kept in the keyring"
            )));
        }
        let json = serde_json::to_string(&keys).map_err(|e| K8sError::Manifest(e.to_string()))?;
        self.options
            .keyring
            .set(&accounts::sealing_keys(&self.options.cluster), &json)?;
        Ok(StepOutcome::changed(format!("kept {names} in the keyring")))
    }

    fn github_api(&self) -> &str {
        match &self.options.source {
            Source::GitHub { api, .. } => api,
            Source::Local => crate::github::DEFAULT_API,
        }
    }

    /// GitHub mode: the bundle as `<owner>/slipway-platform`, one commit with what changed.
    async fn publish(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let Source::GitHub { api, owner } = &self.options.source else {
            return Ok(StepOutcome::up_to_date(
                "local mode (GitHub not connected): Argo CD runs the embedded bundle",
            ));
        };
        let connect = || {
            ServiceError::Invalid(format!(
                "GitHub mode needs a token for {api}: run `slipway github connect`, or `slipway up --local`"
            ))
        };
        let token = self
            .options
            .keyring
            .get(&accounts::github_token(api))?
            .ok_or_else(connect)?;
        let github = GitHub::new(api, &token)?;
        let identity = github.identity().await?;
        let owner = owner.clone().unwrap_or_else(|| identity.login.clone());
        let org = owner != identity.login;
        if org && !identity.organisations.contains(&owner) {
            return Err(ServiceError::Invalid(format!(
                "{owner} is neither {} nor one of their organisations ({}); set --owner",
                identity.login,
                identity.organisations.join(", ")
            ))
            .into());
        }
        r.detail(format!("{owner}/{}", publish::PLATFORM_REPO));
        let published = publish::publish(&github, &owner, org, &self.options.domain).await?;
        let outcome = match (published.created, published.changed.len()) {
            (true, n) => {
                StepOutcome::changed(format!("created {} with {n} files", published.repo_url))
            }
            (false, 0) => StepOutcome::up_to_date(format!("{} current", published.repo_url)),
            (false, n) => StepOutcome::changed(format!(
                "{n} changed files in one commit to {}",
                published.repo_url
            )),
        };
        self.published = Some((published.site, token, identity.login));
        Ok(outcome)
    }

    /// The AppProjects and the Ingresses of the UIs whose charts do not make their own, then
    /// per mode: GitHub — Argo CD's credentials for the owner's repositories, the platform
    /// ApplicationSet as published and the root Application on the platform repository (Slipway
    /// applies the platform set too, so a switch from local mode replaces its fields at once);
    /// local — the platform ApplicationSet with inline values.
    async fn gitops_source(&mut self) -> Result<StepOutcome, StepError> {
        let mut objects: Vec<serde_json::Value> = Vec::new();
        match &self.published {
            Some((site, token, login)) => {
                let files = publish::files(site);
                let published = |path: &str| -> Result<Vec<serde_json::Value>, StepError> {
                    let text = files
                        .get(path)
                        .map(|d| String::from_utf8_lossy(d).into_owned())
                        .ok_or_else(|| crate::bundle::BundleError::Missing(path.into()))?;
                    serde_saphyr::from_multiple(&text).map_err(|e| {
                        crate::bundle::BundleError::Invalid {
                            path: path.into(),
                            reason: e.to_string(),
                        }
                        .into()
                    })
                };
                let creds = BTreeMap::from([
                    ("type", "git".to_owned()),
                    ("url", site.owner_url()),
                    ("username", login.clone()),
                    ("password", token.clone()),
                ]);
                objects.push(owned_secret(
                    ARGO_NAMESPACE,
                    "slipway-repo-creds",
                    &creds,
                    &[("argocd.argoproj.io/secret-type", "repo-creds")],
                ));
                objects.extend(published("bootstrap/projects.yaml")?);
                objects.extend(published("bootstrap/platform-appset.yaml")?);
                objects.extend(published("bootstrap/root-app.yaml")?);
            }
            None => {
                objects.extend(crate::bundle::yaml_documents("bootstrap/projects.yaml")?);
                objects.push(gitops::local_platform_appset(&self.options.domain)?);
            }
        }
        objects.extend(routing::ingresses(&self.options.domain)?);
        self.apply(objects).await
    }

    async fn apply(&self, objects: Vec<serde_json::Value>) -> Result<StepOutcome, StepError> {
        let objects = objects
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| K8sError::Manifest(e.to_string()))?;
        let report = apply::apply(
            &self.client,
            &objects,
            FIELD_MANAGER,
            ARGO_NAMESPACE,
            Duration::from_secs(60),
        )
        .await?;
        Ok(if report.changed.is_empty() {
            StepOutcome::up_to_date(format!("{} objects current", report.unchanged.len()))
        } else {
            StepOutcome::changed(format!("applied {}", report.changed.join(", ")))
        })
    }

    async fn platform_apps(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let components = gitops::components()?;
        if self.published.is_some() {
            r.detail("waiting for the root Application");
            wait::application_healthy(
                &self.client,
                ARGO_NAMESPACE,
                ROOT_APP,
                self.options.app_timeout,
            )
            .await?;
        }
        for c in &components {
            r.detail(format!("waiting for {}", c.name));
            wait::application_healthy(
                &self.client,
                ARGO_NAMESPACE,
                &c.name,
                self.options.app_timeout,
            )
            .await?;
        }
        let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
        Ok(StepOutcome::up_to_date(format!(
            "{} Synced and Healthy",
            names.join(", ")
        )))
    }

    async fn routing(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let mut answers = Vec::new();
        for host in crate::hosts::platform_hosts(&self.options.domain) {
            r.detail(format!(
                "GET http://{host}/ through {}",
                self.options.ingress
            ));
            let status =
                routing::wait_routed(self.options.ingress, &host, self.options.routing_timeout)
                    .await?;
            answers.push(format!("{host} → {status}"));
        }
        Ok(StepOutcome::up_to_date(answers.join(", ")))
    }
}

/// A Secret Slipway owns; the values never leave this object (no logs, no outcome text).
fn owned_secret(
    namespace: &str,
    name: &str,
    data: &BTreeMap<&str, String>,
    labels: &[(&str, &str)],
) -> serde_json::Value {
    let b64 = |v: &String| base64::engine::general_purpose::STANDARD.encode(v);
    let mut all_labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    all_labels.insert("app.kubernetes.io/managed-by", "slipway");
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "data": data.iter().map(|(k, v)| ((*k).to_owned(), b64(v))).collect::<BTreeMap<_, _>>(),
    })
}

/// Install or repair the platform on the cluster `kube` points at.
pub async fn install(
    kube: &KubeContext,
    options: &InstallOptions,
    sink: &dyn ProgressSink,
) -> Result<Vec<StepReport>, PlatformError> {
    let target = k8s::KubeTarget {
        kubeconfig: Some(kube.kubeconfig.clone()),
        context: Some(kube.context.clone()),
    };
    let client = target.client().await.map_err(|e| PlatformError::Step {
        step: "connect",
        source: e.into(),
    })?;
    let mut stage = InstallStage {
        kube,
        client,
        helm: None,
        options,
        published: None,
    };
    run_steps(INSTALL_STEPS, sink, &mut stage).await
}
