//! GitHub connection: the token goes from the form straight into the keyring and never comes back.

use slipway_core::github::{GitHub, Identity, RateBudget};
use slipway_core::secrets::{Keyring, accounts};

use super::{CommandError, settings};

/// What Settings shows: who, where the token is kept, the owner choices and the rate budget.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitHubStatus {
    pub api: String,
    pub identity: Identity,
    pub budget: Option<RateBudget>,
    pub keyring: String,
    /// Classic scopes the token lacks (empty for fine-grained tokens: GitHub cannot tell).
    pub missing_scopes: Vec<&'static str>,
}

async fn describe(
    api: String,
    github: &GitHub,
    keyring: &Keyring,
) -> Result<GitHubStatus, CommandError> {
    let identity = github
        .identity()
        .await
        .map_err(|e| CommandError::new("github", e))?;
    let budget = github.rate_limit().await.ok();
    Ok(GitHubStatus {
        api,
        missing_scopes: identity.missing_scopes(),
        identity,
        budget,
        keyring: keyring.describe(),
    })
}

/// Check the token and keep it in the OS keyring (never in a file, never sent back).
#[tauri::command]
pub async fn github_connect(token: String) -> Result<GitHubStatus, CommandError> {
    let api = settings()?.github_api_or_default();
    let keyring = Keyring::os();
    if let Some(reason) = keyring.unavailable_reason() {
        return Err(CommandError::new(
            "keyring",
            format!(
                "no OS keyring ({reason}); Slipway keeps the GitHub token only there. Start a Secret Service (GNOME Keyring, KWallet) and try again"
            ),
        ));
    }
    let github = GitHub::new(&api, token.trim()).map_err(|e| CommandError::new("github", e))?;
    let identity = github
        .identity()
        .await
        .map_err(|e| CommandError::new("github", e))?;
    GitHub::require_scopes(&identity).map_err(|e| CommandError::new("scopes", e))?;
    keyring
        .set(&accounts::github_token(&api), token.trim())
        .map_err(|e| CommandError::new("keyring", e))?;
    describe(api, &github, &keyring).await
}

/// The kept connection, or `None` when GitHub is not connected.
#[tauri::command]
pub async fn github_status() -> Result<Option<GitHubStatus>, CommandError> {
    let api = settings()?.github_api_or_default();
    let keyring = Keyring::os();
    let Some(token) = keyring
        .get(&accounts::github_token(&api))
        .map_err(|e| CommandError::new("keyring", e))?
    else {
        return Ok(None);
    };
    let github = GitHub::new(&api, &token).map_err(|e| CommandError::new("github", e))?;
    describe(api, &github, &keyring).await.map(Some)
}

/// Forget the token.
#[tauri::command]
pub fn github_disconnect() -> Result<bool, CommandError> {
    let api = settings()?.github_api_or_default();
    Keyring::os()
        .delete(&accounts::github_token(&api))
        .map_err(|e| CommandError::new("keyring", e))
}
