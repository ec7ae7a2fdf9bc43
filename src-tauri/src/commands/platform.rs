//! Platform commands: status, start (`up`), stop, delete.

use slipway_core::cluster::ClusterSpec;
use slipway_core::pipeline::{ProgressEvent, StepOutcome};
use slipway_core::platform::{self, PlatformStatus, UpOptions, UpReport, UpSettings};
use tauri::ipc::Channel;

use super::{CommandResult, DesktopError, GuiSink, settings};

/// The cluster the settings describe (name, node image, ports over the embedded kind config).
pub(crate) fn spec() -> CommandResult<ClusterSpec> {
    Ok(up_settings()?.0)
}

/// The cluster and `up`'s options, from the settings file.
pub(crate) fn up_settings() -> CommandResult<(ClusterSpec, UpOptions)> {
    Ok(UpSettings::from_config(&settings()?).resolve()?)
}

/// The cluster and each component's sync and health.
#[tauri::command]
pub async fn platform_status() -> CommandResult<PlatformStatus> {
    Ok(platform::status(spec()?).await?)
}

/// `slipway up` with the settings: every step streamed to `on_event`. A re-run resumes.
#[tauri::command]
pub async fn platform_up(on_event: Channel<ProgressEvent>) -> CommandResult<UpReport> {
    let (spec, options) = up_settings()?;
    Ok(platform::up(spec, &options, &GuiSink::new("up", Some(on_event))).await?)
}

/// Stop the node containers (the next Start resumes them).
#[tauri::command]
pub async fn platform_stop(on_event: Channel<ProgressEvent>) -> CommandResult<StepOutcome> {
    Ok(platform::stop(spec()?, &GuiSink::new("stop", Some(on_event))).await?)
}

/// Delete the cluster (the webview asks for confirmation first).
#[tauri::command]
pub async fn platform_delete(on_event: Channel<ProgressEvent>) -> CommandResult<StepOutcome> {
    Ok(platform::down(spec()?, &GuiSink::new("delete", Some(on_event))).await?)
}

/// The checks Start begins with: warnings to show before starting.
#[tauri::command]
pub async fn platform_preflight() -> CommandResult<Vec<String>> {
    Ok(platform::preflight(spec()?).await?)
}

/// Open an http(s) link (Argo CD, Backstage, a repository …) in the default browser.
#[tauri::command]
pub fn open_link<R: tauri::Runtime>(url: String, app: tauri::AppHandle<R>) -> CommandResult<()> {
    use tauri_plugin_opener::OpenerExt;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(DesktopError::NotALink(url).into());
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(DesktopError::from)?;
    Ok(())
}

/// The system clipboard, kept open for the app's lifetime: on X11 and Wayland the copied text
/// lives as long as its owner does.
#[derive(Default)]
pub struct Clipboard(std::sync::Mutex<Option<arboard::Clipboard>>);

/// Copy Argo CD's initial admin password to the clipboard; it never goes to the webview.
#[tauri::command]
pub async fn argocd_password_copy(clipboard: tauri::State<'_, Clipboard>) -> CommandResult<()> {
    let password = platform::argocd_password(spec()?)
        .await?
        .ok_or(DesktopError::NoPassword)?;
    let mut held = clipboard
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let clipboard = match held.take() {
        Some(c) => c,
        None => arboard::Clipboard::new().map_err(DesktopError::from)?,
    };
    let clipboard = held.insert(clipboard);
    clipboard.set_text(password).map_err(DesktopError::from)?;
    Ok(())
}
