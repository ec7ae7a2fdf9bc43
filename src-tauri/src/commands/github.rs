//! GitHub connection: the token goes from the form straight into the keyring and never comes back.

use slipway_core::github::account::{self, GitHubStatus};
use slipway_core::secrets::Keyring;

use super::{CommandResult, settings};

/// Check the token and keep it in the OS keyring (never in a file, never sent back).
#[tauri::command]
pub async fn github_connect(token: String) -> CommandResult<GitHubStatus> {
    let api = settings()?.github_api_or_default();
    Ok(account::connect(&api, &token, &Keyring::os()).await?)
}

/// The kept connection, or `None` when GitHub is not connected.
#[tauri::command]
pub async fn github_status() -> CommandResult<Option<GitHubStatus>> {
    let api = settings()?.github_api_or_default();
    Ok(account::status(&api, &Keyring::os()).await?)
}

/// Forget the token.
#[tauri::command]
pub fn github_disconnect() -> CommandResult<bool> {
    let api = settings()?.github_api_or_default();
    Ok(account::disconnect(&api, &Keyring::os())?)
}
