//! Service commands: inline checks, creation (resumable), rollback, the deployed list, and
//! where one service stands (its chain from commit to traffic).

use slipway_core::pipeline::ProgressEvent;
use slipway_core::secrets::Keyring;
use slipway_core::service::connect::{self, Target};
use slipway_core::service::create::{self, Created};
use slipway_core::service::list::{self, ServiceEntry};
use slipway_core::service::status::{self, ServiceStatus};
use slipway_core::service::{FieldProblems, ServiceRequest};
use tauri::ipc::Channel;

use super::{CommandResult, GuiSink, settings};

/// The form's inline checks, with core's rules.
#[tauri::command]
pub fn service_check(name: String, team: String) -> FieldProblems {
    FieldProblems::of(&name, &team)
}

/// Where to reach things, from the settings (read once per command), and the template repository.
fn target() -> CommandResult<(Target, Option<String>)> {
    let c = settings()?;
    Ok((Target::from_config(&c)?, c.template_repo))
}

/// Create the service (or resume a failed creation of the same name), steps streamed to `on_event`.
#[tauri::command]
pub async fn service_create(
    name: String,
    team: String,
    template: String,
    on_event: Channel<ProgressEvent>,
) -> CommandResult<Created> {
    let (target, template_repo) = target()?;
    let request = ServiceRequest {
        name,
        team,
        template,
        description: None,
        domain: target.domain.clone(),
        template_repo,
    };
    let sink = GuiSink::new(&format!("create {}", request.name), Some(on_event));
    let created = create::create_service(&request, &target, &Keyring::os(), &sink).await?;
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
pub async fn service_rollback(name: String) -> CommandResult<Vec<String>> {
    let (target, _) = target()?;
    Ok(create::rollback_service(&name, &target, &Keyring::os()).await?)
}

/// The owner's services (repositories with the topic) and their Argo CD state and links.
#[tauri::command]
pub async fn services_list() -> CommandResult<Vec<ServiceEntry>> {
    let (target, _) = target()?;
    let keyring = Keyring::os();
    let gh = connect::github(&target, &keyring).await?;
    let kube = connect::cluster(&target).await;
    Ok(list::list(
        &gh.github,
        &gh.owner,
        kube.as_ref(),
        &target.domain,
        target.reach(&keyring),
    )
    .await?)
}

/// Where `name` stands: repository, CI, image, Argo CD, pods, URL, and the first broken link.
#[tauri::command]
pub async fn service_status(name: String) -> CommandResult<ServiceStatus> {
    let (target, _) = target()?;
    Ok(status::service_status(&name, &target, &Keyring::os()).await?)
}
