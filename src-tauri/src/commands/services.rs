//! Service commands: inline checks, creation (resumable), rollback, the deployed list.

use slipway_core::secrets::Keyring;
use slipway_core::service::connect::{Target, connect};
use slipway_core::service::create::{self, Created};
use slipway_core::service::list::DeployedService;
use slipway_core::service::{FieldProblems, ServiceRequest};
use slipway_core::progress::ProgressEvent;
use tauri::ipc::Channel;

use super::{ChannelSink, CommandError, settings};

/// The form's inline checks, with core's rules.
#[tauri::command]
pub fn service_check(name: String, team: String) -> FieldProblems {
    FieldProblems::of(&name, &team)
}

fn target() -> Result<(Target, String), CommandError> {
    let c = settings()?;
    let domain = c.domain_or_default();
    Ok((Target { github_api: c.github_api_or_default(), backstage_url: c.backstage_url.clone(), domain: domain.clone(), cluster: c.cluster_or_default(), owner: c.owner.clone() }, domain))
}

/// Create the service (or resume a failed creation of the same name), steps streamed to `on_event`.
#[tauri::command]
pub async fn service_create(name: String, team: String, template: String, on_event: Channel<ProgressEvent>) -> Result<Created, CommandError> {
    let (target, domain) = target()?;
    let template_repo = settings()?.template_repo;
    let mut request = ServiceRequest { name, team, template, description: None, owner: target.owner.clone().unwrap_or_else(|| "pending".into()), domain, template_repo };
    request.validate().map_err(|e| CommandError::new("invalid", e))?;
    let connection = connect(&target, &Keyring::os()).await.map_err(|e| CommandError::new("connect", e))?;
    request.owner.clone_from(&connection.owner);
    Ok(create::create(&request, &connection.services(), &ChannelSink(on_event)).await?)
}

/// Remove what a failed creation made; the list of what was removed.
#[tauri::command]
pub async fn service_rollback(name: String) -> Result<Vec<String>, CommandError> {
    let (target, _) = target()?;
    let connection = connect(&target, &Keyring::os()).await.map_err(|e| CommandError::new("connect", e))?;
    create::rollback(&connection.owner, &name, &connection.services()).await.map_err(|e| CommandError::new("rollback", e))
}

/// The services Argo CD deploys, with their state and links.
#[tauri::command]
pub async fn services_list() -> Result<Vec<DeployedService>, CommandError> {
    let (target, domain) = target()?;
    let client = slipway_core::k8s::KubeTarget::cluster(&target.cluster).client().await.map_err(|e| CommandError::new("cluster", e))?;
    slipway_core::service::list::deployed(&client, &domain).await.map_err(|e| CommandError::new("cluster", e))
}
