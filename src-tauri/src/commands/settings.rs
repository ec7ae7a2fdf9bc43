//! The settings file, as the Settings view edits it (never secrets). A file that cannot be read
//! still opens the app: Settings shows why and saving fixes it.

use serde::Serialize;
use slipway_core::config::Config;
use slipway_core::error::ErrorReport;

use super::CommandResult;

/// What Settings shows: the settings (the defaults when the file is unusable), where they are
/// kept, and why the file could not be used.
#[derive(Debug, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SettingsView {
    pub config: Config,
    pub path: Option<String>,
    /// A settings file exists: the window shows its first-run guide until one does.
    pub exists: bool,
    pub error: Option<ErrorReport>,
}

/// The kubeconfig contexts Settings offers as an existing cluster (`kubeconfig`, else kubectl's
/// files).
#[tauri::command]
pub fn kube_contexts(kubeconfig: Option<String>) -> Vec<String> {
    slipway_core::platform::target::contexts(kubeconfig.as_deref().map(std::path::Path::new))
}

#[tauri::command]
pub fn settings_get() -> SettingsView {
    let exists = Config::path().is_some_and(|p| p.exists());
    let path = Config::path().map(|p| p.display().to_string());
    match Config::load() {
        Ok(config) => SettingsView {
            config,
            path,
            exists,
            error: None,
        },
        Err(e) => SettingsView {
            config: Config::default(),
            path,
            exists,
            error: Some(e.into()),
        },
    }
}

/// Save the settings; they apply to the next Start or creation. An unusable file is kept
/// beside the new one (`config.yaml.invalid`), so nothing the person wrote is lost.
#[tauri::command]
pub fn settings_set(config: Config) -> CommandResult<String> {
    Ok(config.save()?.display().to_string())
}
