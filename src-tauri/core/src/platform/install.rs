//! The platform on a running cluster: Argo CD by helm, then the GitOps source (local mode: the
//! AppProjects and the platform ApplicationSet applied directly), then every platform
//! Application Synced and Healthy. Each step checks first, so a healthy platform sees no writes.
//!
//! Not yet part of `up`: the simulated node image does not serve a real API yet (see the
//! README); the stage runs against any cluster reachable through a kubeconfig.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};

use super::gitops;
use super::{PlatformError, Stage, StepDef, StepError, StepReport, run_steps, step};
use crate::helm::{ChartSource, Helm, KubeContext};
use crate::k8s::{self, K8sError, apply, wait};
use crate::progress::{ProgressSink, StepOutcome, StepReporter};

/// Field manager of everything Slipway applies.
pub const FIELD_MANAGER: &str = "slipway";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallStep {
    ArgoCd,
    ArgoCdReady,
    GitopsSource,
    PlatformApps,
}

pub const INSTALL_STEPS: &[StepDef<InstallStep>] = &[
    step(InstallStep::ArgoCd, "argocd", "Install Argo CD (helm)", 900, 1),
    step(InstallStep::ArgoCdReady, "argocd-ready", "Wait for Argo CD", 600, 0),
    step(InstallStep::GitopsSource, "gitops-source", "Apply the AppProjects and ApplicationSets", 120, 3),
    step(InstallStep::PlatformApps, "platform-apps", "Wait until Traefik, Sealed Secrets and Backstage are Synced and Healthy", 1800, 0),
];

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Domain of the platform host names (`local` → `argocd.local`, `backstage.local`).
    pub domain: String,
    pub charts: ChartSource,
    /// A helm binary to use instead of the one on PATH.
    pub helm: Option<std::path::PathBuf>,
    pub helm_timeout: Duration,
    /// How long each platform Application may take to become Synced and Healthy.
    pub app_timeout: Duration,
}

impl Default for InstallOptions {
    fn default() -> Self {
        Self { domain: "local".into(), charts: ChartSource::Upstream, helm: None, helm_timeout: Duration::from_secs(600), app_timeout: Duration::from_secs(900) }
    }
}

struct InstallStage<'a> {
    kube: &'a KubeContext,
    client: kube::Client,
    helm: Option<Helm>,
    options: &'a InstallOptions,
}

const ARGO_NAMESPACE: &str = "argocd";

impl Stage for InstallStage<'_> {
    type Id = InstallStep;

    async fn execute(&mut self, id: InstallStep, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        match id {
            InstallStep::ArgoCd => self.argo_cd(r).await,
            InstallStep::ArgoCdReady => self.argo_cd_ready(r).await,
            InstallStep::GitopsSource => self.gitops_source().await,
            InstallStep::PlatformApps => self.platform_apps(r).await,
        }
    }

    fn timeout(&self, def: &StepDef<InstallStep>) -> Duration {
        match def.id {
            InstallStep::ArgoCd => def.timeout.max(self.options.helm_timeout + Duration::from_secs(60)),
            InstallStep::PlatformApps => def.timeout.max(self.options.app_timeout * 3 + Duration::from_secs(30)),
            _ => def.timeout,
        }
    }
}

impl InstallStage<'_> {
    async fn helm(&mut self) -> Result<&Helm, StepError> {
        if self.helm.is_none() {
            self.helm = Some(Helm::locate(self.options.helm.as_deref()).await?);
        }
        self.helm.as_ref().ok_or_else(|| StepError::Helm(crate::helm::HelmError::NotFound("not located".into())))
    }

    /// Installed already at the pinned chart version and deployed: nothing to do.
    async fn argo_cd(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let release = gitops::argo_cd_release(&self.options.domain)?;
        let wanted = format!("{}-{}", release.chart.name, release.chart.version);
        let (kube, options) = (self.kube, self.options);
        let helm = self.helm().await?;
        let current = helm.list(kube).await?.into_iter().find(|x| x.name == release.name && x.namespace == release.namespace);
        if current.as_ref().is_some_and(|c| c.chart == wanted && c.status == "deployed") {
            return Ok(StepOutcome::up_to_date(format!("{wanted} deployed")));
        }
        r.detail(format!("helm upgrade --install {} ({wanted})", release.name));
        helm.upgrade_install(&release, &options.charts, kube, options.helm_timeout).await?;
        Ok(StepOutcome::changed(match current {
            Some(c) => format!("{} → {wanted}", c.chart),
            None => format!("installed {wanted}"),
        }))
    }

    async fn argo_cd_ready(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), ARGO_NAMESPACE);
        let names: Vec<String> = deployments.list(&ListParams::default()).await.map_err(K8sError::from)?.items.into_iter().filter_map(|d| d.metadata.name).collect();
        if names.is_empty() {
            return Err(K8sError::NotReady { what: "Argo CD's Deployments".into(), secs: 0, state: "the chart created none; check the chart source".into() }.into());
        }
        for name in &names {
            r.detail(format!("waiting for {name}"));
            wait::deployment_available(&self.client, ARGO_NAMESPACE, name, Duration::from_secs(300)).await?;
        }
        Ok(StepOutcome::up_to_date(format!("{} Deployments available", names.len())))
    }

    /// Local mode: the AppProjects and the platform ApplicationSet with inline values.
    async fn gitops_source(&mut self) -> Result<StepOutcome, StepError> {
        let mut objects = apply::parse(&crate::bundle::text("bootstrap/projects.yaml").unwrap_or_default())?;
        let set = gitops::local_platform_appset(&self.options.domain)?;
        objects.extend(apply::parse(&serde_json::to_string(&set).unwrap_or_default())?);
        let report = apply::apply(&self.client, &objects, FIELD_MANAGER, ARGO_NAMESPACE, Duration::from_secs(60)).await?;
        Ok(if report.changed.is_empty() {
            StepOutcome::up_to_date(format!("{} objects current", report.unchanged.len()))
        } else {
            StepOutcome::changed(format!("applied {}", report.changed.join(", ")))
        })
    }

    async fn platform_apps(&mut self, r: StepReporter<'_>) -> Result<StepOutcome, StepError> {
        let components = gitops::components()?;
        for c in &components {
            r.detail(format!("waiting for {}", c.name));
            wait::application_healthy(&self.client, ARGO_NAMESPACE, &c.name, self.options.app_timeout).await?;
        }
        let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
        Ok(StepOutcome::up_to_date(format!("{} Synced and Healthy", names.join(", "))))
    }
}

/// Install or repair the platform on the cluster `kube` points at.
pub async fn install(kube: &KubeContext, options: &InstallOptions, sink: &dyn ProgressSink) -> Result<Vec<StepReport>, PlatformError> {
    let target = k8s::KubeTarget { kubeconfig: Some(kube.kubeconfig.clone()), context: Some(kube.context.clone()) };
    let client = target.client().await.map_err(|e| PlatformError::Step { step: "connect", source: e.into() })?;
    let mut stage = InstallStage { kube, client, helm: None, options };
    run_steps(INSTALL_STEPS, sink, &mut stage).await
}
