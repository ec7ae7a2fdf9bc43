//! The GitHub connection a person makes once: the token checked and kept in the OS keyring
//! (never in a file, never sent back), its status, and forgetting it. The CLI and the GUI both
//! call these.

use serde::Serialize;

use super::{GitHub, GitHubError, Identity, RateBudget};
use crate::error::{Classified, ErrorKind};
use crate::secrets::{Keyring, SecretsError, accounts};

/// What connecting or reading the connection can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// GitHub refused the token or failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The keyring is missing or failed: Slipway keeps the token nowhere else.
    #[error(transparent)]
    Keyring(#[from] SecretsError),
}

impl Classified for AccountError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::GitHub(e) => e.kind(),
            Self::Keyring(e) => e.kind(),
        }
    }
}

/// Who the kept token is, where it is kept, the owner choices and the rate budget.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct GitHubStatus {
    pub api: String,
    pub identity: Identity,
    pub budget: Option<RateBudget>,
    /// Which keyring holds the token, and for how long.
    pub keyring: String,
    /// Classic scopes the token lacks (empty for fine-grained tokens: GitHub cannot tell).
    pub missing_scopes: Vec<String>,
}

async fn describe(
    api: &str,
    github: &GitHub,
    keyring: &Keyring,
) -> Result<GitHubStatus, GitHubError> {
    let identity = github.identity().await?;
    // The budget is extra information: a refused `/rate_limit` (GitHub Enterprise may turn it
    // off) does not make the connection fail.
    let budget = match github.rate_limit().await {
        Ok(budget) => Some(budget),
        Err(e) => {
            tracing::info!("no rate budget from {api}: {e}");
            github.budget()
        }
    };
    Ok(GitHubStatus {
        api: api.to_owned(),
        missing_scopes: identity
            .missing_scopes()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        identity,
        budget,
        keyring: keyring.describe(),
    })
}

/// Check `token` (who it is, the classic scopes Slipway needs) and keep it in the keyring.
pub async fn connect(
    api: &str,
    token: &str,
    keyring: &Keyring,
) -> Result<GitHubStatus, AccountError> {
    if let Some(reason) = keyring.unavailable_reason() {
        return Err(SecretsError::Unavailable(reason.to_owned()).into());
    }
    let token = token.trim();
    let github = GitHub::new(api, token)?;
    let identity = github.identity().await?;
    GitHub::require_scopes(&identity)?;
    keyring.set(&accounts::github_token(api), token)?;
    Ok(describe(api, &github, keyring).await?)
}

/// The kept connection, or `None` when no token is kept for `api`.
pub async fn status(api: &str, keyring: &Keyring) -> Result<Option<GitHubStatus>, AccountError> {
    let Some(token) = keyring.get(&accounts::github_token(api))? else {
        return Ok(None);
    };
    let github = GitHub::new(api, &token)?;
    Ok(Some(describe(api, &github, keyring).await?))
}

/// Forget the token; `false` when none was kept.
pub fn disconnect(api: &str, keyring: &Keyring) -> Result<bool, SecretsError> {
    keyring.delete(&accounts::github_token(api))
}
