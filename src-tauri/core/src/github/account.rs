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
    /// A token offered as read-only carries classic scopes that write.
    #[error(
        "this token can write ({0}), so it is not kept as the read-only token the cluster gets; \
         make a fine-grained token for the owner's repositories with only Contents: read-only and Metadata: read-only, \
         or a classic token with no scope (public repositories only)"
    )]
    Writes(String),
    /// A client ID or secret that is not one word.
    #[error(
        "that is not a GitHub OAuth app's client ID and secret (each one word, as the app's page at https://github.com/settings/developers shows them)"
    )]
    OAuthApp,
}

impl Classified for AccountError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::GitHub(e) => e.kind(),
            Self::Keyring(e) => e.kind(),
            Self::Writes(_) => ErrorKind::GitHubAuth,
            Self::OAuthApp => ErrorKind::Invalid,
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
    /// A read-only token is kept too: the cluster (Backstage, Argo CD) reads with it.
    pub read_only_token: bool,
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
        read_only_token: keyring
            .get(&accounts::github_read_token(api))
            .ok()
            .flatten()
            .is_some(),
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

/// Classic scopes that let a token write somewhere (GitHub's scope list:
/// docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps).
fn writing_scopes(scopes: &[String]) -> Vec<&str> {
    scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !(s.starts_with("read:") || *s == "user:email" || s.is_empty()))
        .collect()
}

/// Check `token` and keep it as the read-only token the cluster reads repositories with
/// (Backstage's GitHub integration, Argo CD's repository and SCM credentials). A classic token
/// with a writing scope is refused; a fine-grained token's permissions cannot be read from
/// GitHub, so the person's word is taken for it.
pub async fn connect_read_only(
    api: &str,
    token: &str,
    keyring: &Keyring,
) -> Result<String, AccountError> {
    if let Some(reason) = keyring.unavailable_reason() {
        return Err(SecretsError::Unavailable(reason.to_owned()).into());
    }
    let token = token.trim();
    let identity = GitHub::new(api, token)?.identity().await?;
    if let Some(scopes) = &identity.scopes {
        let writes = writing_scopes(scopes);
        if !writes.is_empty() {
            return Err(AccountError::Writes(writes.join(", ")));
        }
    }
    keyring.set(&accounts::github_read_token(api), token)?;
    Ok(identity.login)
}

/// Forget the read-only token; `false` when none was kept.
pub fn disconnect_read_only(api: &str, keyring: &Keyring) -> Result<bool, SecretsError> {
    keyring.delete(&accounts::github_read_token(api))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_reading_scopes_make_a_read_only_token() {
        let scopes = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(
            super::writing_scopes(&scopes(&["read:org", "read:packages", "user:email"])).is_empty()
        );
        assert_eq!(
            super::writing_scopes(&scopes(&["repo", "read:org", "public_repo", "workflow"])),
            ["repo", "public_repo", "workflow"]
        );
    }
}

/// A GitHub OAuth app Backstage signs people in with on one cluster (an app has one callback
/// URL, and so serves one platform): kept in the keyring, never in settings or argv.
#[derive(Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl OAuthApp {
    /// Check and keep `self` as the sign-in of `cluster`'s Backstage.
    pub fn keep(&self, cluster: &str, keyring: &Keyring) -> Result<(), AccountError> {
        // GitHub's client IDs are `Iv1.`/`Ov23` plus hex or base62; secrets 40 hex digits.
        // Checked loosely: a pasted line with spaces or a URL is the mistake to catch.
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !word(&self.client_id) || !word(&self.client_secret) {
            return Err(AccountError::OAuthApp);
        }
        let text = serde_json::to_string(self).map_err(|_| AccountError::OAuthApp)?;
        keyring.set(&accounts::github_oauth_app(cluster), &text)?;
        Ok(())
    }

    /// The app kept for `cluster`, if any.
    pub fn kept(cluster: &str, keyring: &Keyring) -> Result<Option<Self>, SecretsError> {
        Ok(keyring
            .get(&accounts::github_oauth_app(cluster))?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Forget `cluster`'s app; whether there was one.
    pub fn forget(cluster: &str, keyring: &Keyring) -> Result<bool, SecretsError> {
        keyring.delete(&accounts::github_oauth_app(cluster))
    }
}
