//! Platform commands: status, start (`up`), stop, delete.

use slipway_core::cluster::ClusterSpec;
use slipway_core::pipeline::{ProgressEvent, StepOutcome};
use slipway_core::platform::durations::StepDuration;
use slipway_core::platform::install::InstallOptions;
use slipway_core::platform::target::Existing;
use slipway_core::platform::{
    self, PlatformError, PlatformStatus, Preflight, UpOptions, UpReport, UpSettings,
};
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

/// `up`'s options on the existing cluster the settings name (`context`), if they name one:
/// then Start, the status and the links are that cluster's, as for `slipway up --context`.
fn on_existing() -> CommandResult<Option<InstallOptions>> {
    let settings = UpSettings::from_config(&settings()?);
    Ok(match settings.context {
        Some(_) => Some(settings.resolve_existing()?),
        None => None,
    })
}

/// The existing cluster `options` are for.
fn target(options: &InstallOptions) -> CommandResult<&Existing> {
    Ok(options.existing.as_ref().ok_or_else(|| {
        slipway_core::cluster::ClusterError::InvalidSetting("no existing cluster".into())
    })?)
}

/// The platform's status where the settings put it (Slipway's own cluster or an existing
/// one): the outer error is the settings', the inner the read's. The window and the tray both
/// read it here.
pub(crate) async fn read_status() -> CommandResult<Result<PlatformStatus, PlatformError>> {
    Ok(match on_existing()? {
        Some(options) => platform::existing::status(target(&options)?).await,
        None => platform::status(spec()?).await,
    })
}

/// Start where the settings put the platform (`slipway up`, or `up --context`).
pub(crate) async fn start(sink: &GuiSink) -> CommandResult<UpReport> {
    Ok(match on_existing()? {
        Some(options) => {
            let timeouts = UpSettings::from_config(&settings()?).timeouts;
            platform::existing::up(&options, &timeouts, sink).await?
        }
        None => {
            let (spec, options) = up_settings()?;
            platform::up(spec, &options, sink).await?
        }
    })
}

/// Stop Slipway's own cluster (refused on an existing one).
pub(crate) async fn stop(sink: &GuiSink) -> CommandResult<StepOutcome> {
    own_cluster_only()?;
    Ok(platform::stop(spec()?, sink).await?)
}

/// Where the platform's UIs answer with these settings (`None` for a cluster-only setup).
pub(crate) fn links() -> CommandResult<Option<platform::PlatformSummary>> {
    if let Some(mut options) = on_existing()? {
        // Whether Backstage is routed there depends on its GitHub sign-in.
        options.github_sign_in = slipway_core::github::account::OAuthApp::kept(
            &target(&options)?.id(),
            &options.keyring,
        )
        .ok()
        .flatten();
        return Ok(Some(platform::PlatformSummary::new(&options)));
    }
    Ok(up_settings()?
        .1
        .platform
        .as_ref()
        .map(platform::PlatformSummary::new))
}

/// The cluster and each component's sync and health.
#[tauri::command]
pub async fn platform_status() -> CommandResult<PlatformStatus> {
    Ok(read_status().await??)
}

/// `slipway up` with the settings: every step streamed to `on_event`. A re-run resumes.
#[tauri::command]
pub async fn platform_up<R: tauri::Runtime>(
    on_event: Channel<ProgressEvent>,
    app: tauri::AppHandle<R>,
) -> CommandResult<UpReport> {
    let done = start(&GuiSink::new("up", Some(on_event))).await;
    announce(&app);
    done
}

/// Refuse Stop and Delete on an existing cluster (the CLI's `down --context --yes` asks for
/// its own confirmation, and never deletes the cluster).
fn own_cluster_only() -> CommandResult<()> {
    match on_existing()? {
        Some(options) => {
            Err(DesktopError::ExistingCluster(target(&options)?.kube.context.clone()).into())
        }
        None => Ok(()),
    }
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
    let done = stop(&GuiSink::new("stop", Some(on_event))).await;
    announce(&app);
    done
}

/// Delete the cluster (the webview asks for confirmation first).
#[tauri::command]
pub async fn platform_delete<R: tauri::Runtime>(
    on_event: Channel<ProgressEvent>,
    app: tauri::AppHandle<R>,
) -> CommandResult<StepOutcome> {
    own_cluster_only()?;
    let done = platform::down(spec()?, &GuiSink::new("delete", Some(on_event))).await;
    announce(&app);
    Ok(done?)
}

/// The checks Start begins with: Docker, its memory, warnings to show before starting.
#[tauri::command]
pub async fn platform_preflight() -> CommandResult<Preflight> {
    let config = settings()?;
    if let Some(options) = on_existing()? {
        // No Docker and no node of Slipway's: Start's own `cluster-check` checks the cluster.
        let needed = slipway_core::platform::gitops::memory_requests(&config.without)?;
        return Ok(Preflight {
            docker: format!(
                "not used: the platform goes onto the existing cluster {}",
                target(&options)?.kube.context
            ),
            memory_bytes: None,
            needed_bytes: needed,
            recommended_bytes: needed,
            warnings: Vec::new(),
        });
    }
    Ok(platform::preflight(spec()?, &config.without).await?)
}

/// Where the platform's UIs answer with these settings (`null` for a cluster-only setup).
#[tauri::command]
pub fn platform_links() -> CommandResult<Option<platform::PlatformSummary>> {
    links()
}

/// How long each step of `up` took when it last ran here (the progress bar's expectation).
#[tauri::command]
pub fn platform_expected() -> CommandResult<Vec<StepDuration>> {
    if let Some(options) = on_existing()? {
        return Ok(platform::durations::expected(&target(&options)?.id()));
    }
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
