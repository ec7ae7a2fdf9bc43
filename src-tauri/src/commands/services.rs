//! Service commands: inline checks, creation (resumable), rollback, the deployed list.

use slipway_core::secrets::Keyring;
use slipway_core::service::connect::{self, Target, connect};
use slipway_core::service::create::{self, Created};
use slipway_core::service::list::{self, ServiceEntry};
use slipway_core::service::{FieldProblems, ServiceRequest};
use slipway_core::progress::ProgressEvent;
use tauri::ipc::Channel;

use super::{CommandError, GuiSink, settings};

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
    request.owner.clone_from(&connection.github.owner);
    let created = create::create(&request, &connection.services(), &GuiSink::new(&format!("create {}", request.name), Some(on_event))).await?;
    notify_created(&request.name, &created);
    Ok(created)
}

/// A desktop notification: the window may be hidden or behind others by now.
fn notify_created(name: &str, created: &Created) {
    let body = format!("{} · {}", created.repo_url, created.catalog_entity);
    if let Err(e) = notify_rust::Notification::new().appname("Slipway").summary(&format!("Service {name} created")).body(&body).show() {
        tracing::warn!("no desktop notification: {e}");
    }
}

/// Remove what a failed creation made; the list of what was removed.
#[tauri::command]
pub async fn service_rollback(name: String) -> Result<Vec<String>, CommandError> {
    let (target, _) = target()?;
    let connection = connect(&target, &Keyring::os()).await.map_err(|e| CommandError::new("connect", e))?;
    create::rollback(&connection.github.owner, &name, &connection.services()).await.map_err(|e| CommandError::new("rollback", e))
}

/// The owner's services (repositories with the topic) and their Argo CD state and links.
#[tauri::command]
pub async fn services_list() -> Result<Vec<ServiceEntry>, CommandError> {
    let (target, domain) = target()?;
    let gh = connect::github(&target, &Keyring::os()).await.map_err(|e| CommandError::new("connect", e))?;
    let kube = connect::cluster(&target).await;
    list::list(&gh.github, &gh.owner, gh.org, kube.as_ref(), &domain).await.map_err(|e| CommandError::new("github", e))
}
