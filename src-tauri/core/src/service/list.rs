//! The services Argo CD deploys (Applications labelled `slipway.dev/layer=workloads`), with their
//! state and the links a developer wants: repository, catalog entity, Argo CD app, service URL.

use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use crate::k8s::{K8sError, wait};
use crate::platform::install::ARGO_NAMESPACE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedService {
    pub name: String,
    pub namespace: String,
    pub sync: String,
    pub health: String,
    pub repo_url: String,
    pub catalog_url: String,
    pub argocd_url: String,
    pub service_url: String,
}

/// Every workload Application on the cluster, by name.
pub async fn deployed(client: &kube::Client, domain: &str) -> Result<Vec<DeployedService>, K8sError> {
    let domain = domain.trim_start_matches('.');
    let apps: Api<DynamicObject> = Api::namespaced_with(client.clone(), ARGO_NAMESPACE, &wait::application_resource());
    let list = apps.list(&ListParams::default().labels("slipway.dev/layer=workloads")).await?;
    let mut services: Vec<DeployedService> = list
        .items
        .iter()
        .filter_map(|app| {
            let name = app.metadata.name.clone()?;
            let spec = app.data.get("spec")?;
            let (sync, health) = wait::application_state(app);
            let repo = spec.pointer("/source/repoURL").and_then(|v| v.as_str()).unwrap_or_default();
            Some(DeployedService {
                namespace: spec.pointer("/destination/namespace").and_then(|v| v.as_str()).unwrap_or_default().to_owned(),
                sync,
                health,
                repo_url: repo.trim_end_matches(".git").to_owned(),
                catalog_url: format!("http://backstage.{domain}:8880/catalog/default/component/{name}"),
                argocd_url: format!("http://argocd.{domain}:8880/applications/{ARGO_NAMESPACE}/{name}"),
                service_url: format!("http://{name}.{domain}:8880"),
                name,
            })
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(services)
}
