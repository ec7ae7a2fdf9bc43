//! The settings file, as the Settings view edits it (never secrets).

use slipway_core::config::Config;

use super::{CommandError, settings};

#[tauri::command]
pub fn settings_get() -> Result<Config, CommandError> {
    settings()
}

/// Save the settings; they apply to the next Start or creation.
#[tauri::command]
pub fn settings_set(config: Config) -> Result<String, CommandError> {
    config
        .save()
        .map(|p| p.display().to_string())
        .map_err(|e| CommandError::new("settings", e))
}
