//! Platform commands: status, start (`up`), stop, delete.

use slipway_core::cluster::ClusterSpec;
use slipway_core::pipeline::{ProgressEvent, StepOutcome};
use slipway_core::platform::durations::StepDuration;
use slipway_core::platform::{self, PlatformStatus, Preflight, UpOptions, UpReport, UpSettings};
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
pub async fn platform_up<R: tauri::Runtime>(
    on_event: Channel<ProgressEvent>,
    app: tauri::AppHandle<R>,
) -> CommandResult<UpReport> {
    let (spec, options) = up_settings()?;
    let done = platform::up(spec, &options, &GuiSink::new("up", Some(on_event))).await;
    announce(&app);
    Ok(done?)
}

/// The platform changed (or may have, after a failure): the tray and the title follow.
fn announce<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    use tauri::Emitter;
    let _ = app.emit("platform-changed", ());
}

/// Stop the node containers (the next Start resumes them).
#[tauri::command]
pub async fn platform_stop<R: tauri::Runtime>(
    on_event: Channel<ProgressEvent>,
    app: tauri::AppHandle<R>,
) -> CommandResult<StepOutcome> {
    let done = platform::stop(spec()?, &GuiSink::new("stop", Some(on_event))).await;
    announce(&app);
    Ok(done?)
}

/// Delete the cluster (the webview asks for confirmation first).
#[tauri::command]
pub async fn platform_delete<R: tauri::Runtime>(
    on_event: Channel<ProgressEvent>,
    app: tauri::AppHandle<R>,
) -> CommandResult<StepOutcome> {
    let done = platform::down(spec()?, &GuiSink::new("delete", Some(on_event))).await;
    announce(&app);
    Ok(done?)
}

/// The checks Start begins with: Docker, its memory, warnings to show before starting.
#[tauri::command]
pub async fn platform_preflight() -> CommandResult<Preflight> {
    let config = settings()?;
    Ok(platform::preflight(spec()?, &config.without).await?)
}

/// Where the platform's UIs answer with these settings (`null` for a cluster-only setup).
#[tauri::command]
pub fn platform_links() -> CommandResult<Option<platform::PlatformSummary>> {
    Ok(up_settings()?
        .1
        .platform
        .as_ref()
        .map(platform::PlatformSummary::new))
}

/// How long each step of `up` took when it last ran here (the progress bar's expectation).
#[tauri::command]
pub fn platform_expected() -> CommandResult<Vec<StepDuration>> {
    Ok(platform::durations::expected(&spec()?.name))
}

/// The helm `up` would run (the settings' `helm`, else `helm` on PATH) and its version.
#[tauri::command]
pub async fn helm_check() -> CommandResult<HelmFound> {
    let (_, options) = up_settings()?;
    let configured = options.platform.as_ref().and_then(|p| p.helm.as_deref());
    let helm = slipway_core::helm::Helm::locate(configured).await?;
    Ok(HelmFound {
        path: helm.bin.display().to_string(),
        version: helm.version,
    })
}

/// The helm binary found.
#[derive(Debug, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HelmFound {
    pub path: String,
    pub version: String,
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
