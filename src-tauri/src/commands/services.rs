//! Service commands: inline checks, creation (resumable), rollback, the deployed list.

use slipway_core::progress::ProgressEvent;
use slipway_core::secrets::Keyring;
use slipway_core::service::connect::{self, Target, connect};
use slipway_core::service::create::{self, Created};
use slipway_core::service::list::{self, ServiceEntry};
use slipway_core::service::{FieldProblems, ServiceRequest};
use tauri::ipc::Channel;

use super::{CommandError, GuiSink, settings};

/// The form's inline checks, with core's rules.
#[tauri::command]
pub fn service_check(name: String, team: String) -> FieldProblems {
    FieldProblems::of(&name, &team)
}

/// Where to reach things, from the settings (read once per command), and the template repository.
fn target() -> Result<(Target, Option<String>), CommandError> {
    let c = settings()?;
    let http_port = super::platform::spec_from(&c)?.http_ingress().port();
    let target = Target {
        github_api: c.github_api_or_default(),
        domain: c.domain_or_default(),
        cluster: c.cluster_or_default(),
        backstage_url: c.backstage_url,
        owner: c.owner,
        http_port,
    };
    Ok((target, c.template_repo))
}

/// Create the service (or resume a failed creation of the same name), steps streamed to `on_event`.
#[tauri::command]
pub async fn service_create(
    name: String,
    team: String,
    template: String,
    on_event: Channel<ProgressEvent>,
) -> Result<Created, CommandError> {
    let (target, template_repo) = target()?;
    let mut request = ServiceRequest {
        name,
        team,
        template,
        description: None,
        owner: target.owner.clone().unwrap_or_else(|| "pending".into()),
        domain: target.domain.clone(),
        template_repo,
    };
    request
        .validate()
        .map_err(|e| CommandError::new("invalid", e))?;
    let connection = connect(&target, &Keyring::os())
        .await
        .map_err(|e| CommandError::new("connect", e))?;
    request.owner.clone_from(&connection.github.owner);
    let created = create::create(
        &request,
        &connection.services(),
        &GuiSink::new(&format!("create {}", request.name), Some(on_event)),
    )
    .await?;
    notify_created(&request.name, &created);
    Ok(created)
}

/// A desktop notification: the window may be hidden or behind others by now.
fn notify_created(name: &str, created: &Created) {
    let body = format!("{} · {}", created.repo_url, created.catalog_entity);
    if let Err(e) = notify_rust::Notification::new()
        .appname("Slipway")
        .summary(&format!("Service {name} created"))
        .body(&body)
        .show()
    {
        tracing::warn!("no desktop notification: {e}");
    }
}

/// Remove what a failed creation made; the list of what was removed.
#[tauri::command]
pub async fn service_rollback(name: String) -> Result<Vec<String>, CommandError> {
    let (target, _) = target()?;
    let connection = connect(&target, &Keyring::os())
        .await
        .map_err(|e| CommandError::new("connect", e))?;
    create::rollback(&connection.github.owner, &name, &connection.services())
        .await
        .map_err(|e| CommandError::new("rollback", e))
}

/// The owner's services (repositories with the topic) and their Argo CD state and links.
#[tauri::command]
pub async fn services_list() -> Result<Vec<ServiceEntry>, CommandError> {
    let (target, _) = target()?;
    let gh = connect::github(&target, &Keyring::os())
        .await
        .map_err(|e| CommandError::new("connect", e))?;
    let kube = connect::cluster(&target).await;
    list::list(
        &gh.github,
        &gh.owner,
        gh.org,
        kube.as_ref(),
        &target.domain,
        target.http_port,
    )
    .await
    .map_err(|e| CommandError::new("github", e))
}
