//! Platform commands: status, start (`up`), stop, delete.

use slipway_core::cluster::{ClusterSpec, Overrides};
use slipway_core::helm::ChartSource;
use slipway_core::platform::install::Source;
use slipway_core::platform::{self, PlatformStatus, UpOptions, UpReport};
use slipway_core::progress::{ProgressEvent, StepOutcome};
use tauri::ipc::Channel;

use super::{CommandError, GuiSink, settings};

pub(crate) fn spec() -> Result<ClusterSpec, CommandError> {
    spec_from(&settings()?)
}

/// The cluster the settings describe (name, node image, ports over the embedded kind config).
pub(crate) fn spec_from(c: &slipway_core::config::Config) -> Result<ClusterSpec, CommandError> {
    let spec = ClusterSpec::embedded_default().map_err(|e| CommandError::new("config", e))?;
    spec.with_overrides(&Overrides {
        name: c.cluster.clone(),
        node_image: c.node_image.clone(),
        http_port: c.http_port,
        https_port: c.https_port,
        ..Overrides::default()
    })
    .map_err(|e| CommandError::new("config", e))
}

/// The cluster and each component's sync and health.
#[tauri::command]
pub async fn platform_status() -> Result<PlatformStatus, CommandError> {
    Ok(platform::status(spec()?).await?)
}

/// `up`'s options from the settings (GitHub mode when a token is kept for the configured API).
pub(crate) fn up_options(spec: &ClusterSpec) -> Result<UpOptions, CommandError> {
    let config = settings()?;
    let mut options = UpOptions::with_platform(spec);
    if let Some(p) = options.platform.as_mut() {
        p.domain = config.domain_or_default();
        p.charts = config
            .charts
            .as_deref()
            .map_or(ChartSource::Upstream, ChartSource::parse);
        p.helm.clone_from(&config.helm);
        p.source = Source::detect(
            &p.keyring,
            &config.github_api_or_default(),
            config.owner.clone(),
        );
    }
    Ok(options)
}

/// `slipway up` with the settings: every step streamed to `on_event`. A re-run resumes.
#[tauri::command]
pub async fn platform_up(on_event: Channel<ProgressEvent>) -> Result<UpReport, CommandError> {
    let spec = spec()?;
    let options = up_options(&spec)?;
    Ok(platform::up(spec, &options, &GuiSink::new("up", Some(on_event))).await?)
}

/// Stop the node containers (the next Start resumes them).
#[tauri::command]
pub async fn platform_stop(on_event: Channel<ProgressEvent>) -> Result<StepOutcome, CommandError> {
    Ok(platform::stop(spec()?, &GuiSink::new("stop", Some(on_event))).await?)
}

/// Delete the cluster (the webview asks for confirmation first).
#[tauri::command]
pub async fn platform_delete(
    on_event: Channel<ProgressEvent>,
) -> Result<StepOutcome, CommandError> {
    Ok(platform::down(spec()?, &GuiSink::new("delete", Some(on_event))).await?)
}

/// The checks Start begins with: warnings to show before starting.
#[tauri::command]
pub async fn platform_preflight() -> Result<Vec<String>, CommandError> {
    Ok(platform::preflight(spec()?).await?)
}

/// Open an http(s) link (Argo CD, Backstage, a repository …) in the default browser.
#[tauri::command]
pub fn open_link<R: tauri::Runtime>(
    url: String,
    app: tauri::AppHandle<R>,
) -> Result<(), CommandError> {
    use tauri_plugin_opener::OpenerExt;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CommandError::new(
            "link",
            format!("only http(s) links open from the app, not {url:?}"),
        ));
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(|e| CommandError::new("link", e))
}

/// The system clipboard, kept open for the app's lifetime: on X11 and Wayland the copied text
/// lives as long as its owner does.
#[derive(Default)]
pub struct Clipboard(std::sync::Mutex<Option<arboard::Clipboard>>);

/// Copy Argo CD's initial admin password to the clipboard; it never goes to the webview.
#[tauri::command]
pub async fn argocd_password_copy(
    clipboard: tauri::State<'_, Clipboard>,
) -> Result<(), CommandError> {
    let password = platform::argocd_password(spec()?).await?.ok_or_else(|| {
        CommandError::new(
            "argocd",
            "Argo CD has no initial admin password (it was changed or removed)",
        )
    })?;
    let failed = |e: arboard::Error| {
        CommandError::new("clipboard", format!("cannot use the clipboard: {e}"))
    };
    let mut held = clipboard
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if held.is_none() {
        *held = Some(arboard::Clipboard::new().map_err(failed)?);
    }
    held.as_mut()
        .map_or(Ok(()), |c| c.set_text(password).map_err(failed))
}
