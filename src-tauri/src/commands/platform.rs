//! Platform commands.

use slipway_core::cluster::ClusterSpec;
use slipway_core::platform::PlatformStatus;

use super::CommandError;

/// The default cluster's status.
#[tauri::command]
pub async fn platform_status() -> Result<PlatformStatus, CommandError> {
    let spec = ClusterSpec::embedded_default().map_err(|e| CommandError { code: "config", message: e.to_string() })?;
    slipway_core::platform::status(spec).await.map_err(|e| CommandError { code: "status", message: e.to_string() })
}
