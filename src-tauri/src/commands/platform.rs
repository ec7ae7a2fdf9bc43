//! Platform commands: status, start (`up`), stop, delete.

use slipway_core::cluster::{ClusterSpec, Overrides};
use slipway_core::helm::ChartSource;
use slipway_core::platform::install::Source;
use slipway_core::platform::{self, PlatformStatus, UpOptions, UpReport};
use slipway_core::progress::{ProgressEvent, StepOutcome};
use tauri::ipc::Channel;

use super::{ChannelSink, CommandError, settings};

fn spec() -> Result<ClusterSpec, CommandError> {
    let c = settings()?;
    let spec = ClusterSpec::embedded_default().map_err(|e| CommandError::new("config", e))?;
    spec.with_overrides(&Overrides { name: c.cluster, node_image: c.node_image, http_port: c.http_port, https_port: c.https_port, ..Overrides::default() }).map_err(|e| CommandError::new("config", e))
}

/// The cluster and each component's sync and health.
#[tauri::command]
pub async fn platform_status() -> Result<PlatformStatus, CommandError> {
    Ok(platform::status(spec()?).await?)
}

/// `slipway up` with the settings: every step streamed to `on_event`. A re-run resumes.
#[tauri::command]
pub async fn platform_up(on_event: Channel<ProgressEvent>) -> Result<UpReport, CommandError> {
    let config = settings()?;
    let spec = spec()?;
    let mut options = UpOptions::with_platform(&spec);
    if let Some(p) = options.platform.as_mut() {
        p.domain = config.domain_or_default();
        p.charts = config.charts.as_deref().map_or(ChartSource::Upstream, ChartSource::parse);
        p.helm.clone_from(&config.helm);
        p.source = Source::detect(&p.keyring, &config.github_api_or_default(), config.owner.clone());
    }
    Ok(platform::up(spec, &options, &ChannelSink(on_event)).await?)
}

/// Stop the node containers (the next Start resumes them).
#[tauri::command]
pub async fn platform_stop(on_event: Channel<ProgressEvent>) -> Result<StepOutcome, CommandError> {
    Ok(platform::stop(spec()?, &ChannelSink(on_event)).await?)
}

/// Delete the cluster (the webview asks for confirmation first).
#[tauri::command]
pub async fn platform_delete(on_event: Channel<ProgressEvent>) -> Result<StepOutcome, CommandError> {
    Ok(platform::down(spec()?, &ChannelSink(on_event)).await?)
}
