//! The services: the owner's repositories with the topic `idp-managed`, each with its Argo CD
//! Application's state when the cluster has one, and the links a developer wants (repository,
//! catalog entity, Argo CD app, service URL).

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::ServiceError;
use crate::github::{GitHub, Owner};
use crate::k8s::wait;
use crate::platform::install::ARGO_NAMESPACE;

use super::SERVICE_TOPIC;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceEntry {
    pub name: String,
    /// From the repository's `team-<name>` topic.
    pub team: Option<String>,
    /// The Application's sync and health; `None` when Argo CD has not made it (yet).
    pub sync: Option<String>,
    pub health: Option<String>,
    pub repo_url: String,
    pub catalog_url: String,
    pub argocd_url: String,
    pub service_url: String,
}

/// Every service of `owner` (`org`: an organisation), sorted by name, with links as a browser
/// here reaches them (`reach`). The cluster is optional: without it the list still shows the
/// repositories.
pub async fn list(
    github: &GitHub,
    owner: &Owner,
    kube: Option<&kube::Client>,
    domain: &str,
    reach: crate::platform::Reach,
) -> Result<Vec<ServiceEntry>, ServiceError> {
    let domain = domain.trim_start_matches('.');
    let apps = match kube {
        Some(client) => workload_states(client).await,
        None => BTreeMap::new(),
    };
    let mut services: Vec<ServiceEntry> = github
        .repos_with_topic(&owner.name, owner.org, SERVICE_TOPIC)
        .await?
        .into_iter()
        .map(|(repo, topics)| {
            let name = repo
                .full_name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let state = apps.get(&name);
            ServiceEntry {
                team: topics
                    .iter()
                    .find_map(|t| t.strip_prefix("team-").map(str::to_owned)),
                sync: state.map(|s| s.0.clone()),
                health: state.map(|s| s.1.clone()),
                repo_url: repo.html_url,
                catalog_url: format!(
                    "{}/catalog/default/component/{name}",
                    reach.url(&format!("backstage.{domain}"))
                ),
                argocd_url: format!(
                    "{}/applications/{ARGO_NAMESPACE}/{name}",
                    reach.url(&format!("argocd.{domain}"))
                ),
                service_url: reach.url(&format!("{name}.{domain}")),
                name,
            }
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(services)
}

/// Workload Applications by name: (sync, health). Best effort: an unreachable cluster is no list.
async fn workload_states(client: &kube::Client) -> BTreeMap<String, (String, String)> {
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ARGO_NAMESPACE,
        &wait::application_resource(),
    );
    let Ok(list) = apps
        .list(&ListParams::default().labels("slipway.dev/layer=workloads"))
        .await
    else {
        return BTreeMap::new();
    };
    list.items
        .iter()
        .filter_map(|app| Some((app.metadata.name.clone()?, wait::application_state(app))))
        .collect()
}
