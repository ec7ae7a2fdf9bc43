//! What service creation talks to, from the settings and the keyring: GitHub with the kept token
//! (and who it belongs to), Backstage with the cluster's API token, and the cluster for Argo CD.
//! The CLI and the GUI both start here.

use crate::backstage::Backstage;
use crate::github::{GitHub, Identity};
use crate::secrets::{Keyring, accounts};

use super::ServiceError;
use super::create::{Services, journal_dir};

/// Where to reach things; every field has the settings file's meaning.
#[derive(Debug, Clone)]
pub struct Target {
    pub github_api: String,
    /// `None`: `http://backstage.<domain>:8880`.
    pub backstage_url: Option<String>,
    pub domain: String,
    pub cluster: String,
    /// `None`: the token's user.
    pub owner: Option<String>,
}

/// Clients for one creation (or rollback).
pub struct Connection {
    pub github: GitHub,
    pub backstage: Backstage,
    pub kube: Option<kube::Client>,
    pub identity: Identity,
    pub owner: String,
    pub owner_is_org: bool,
}

impl Connection {
    pub fn services(&self) -> Services<'_> {
        Services { github: &self.github, backstage: &self.backstage, kube: self.kube.clone(), journal_dir: journal_dir(), owner_is_org: self.owner_is_org }
    }
}

/// Connect, checking that GitHub is connected, the owner is the user or one of their
/// organisations, and the platform (its Backstage token) exists.
pub async fn connect(target: &Target, keyring: &Keyring) -> Result<Connection, ServiceError> {
    let token = keyring.get(&accounts::github_token(&target.github_api)).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let token = token.ok_or_else(|| ServiceError::Invalid("GitHub is not connected: connect it first (Settings, or `slipway github connect`)".into()))?;
    let github = GitHub::new(&target.github_api, &token)?;
    let identity = github.identity().await?;
    let owner = target.owner.clone().unwrap_or_else(|| identity.login.clone());
    let owner_is_org = owner != identity.login;
    if owner_is_org && !identity.organisations.contains(&owner) {
        return Err(ServiceError::Invalid(format!("{owner} is neither you ({}) nor one of your organisations ({})", identity.login, identity.organisations.join(", "))));
    }
    let backstage_token = keyring.get(&accounts::backstage_api_token(&target.cluster)).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let backstage_token = backstage_token.ok_or_else(|| ServiceError::Invalid(format!("no Backstage token for cluster {:?} in the keyring; start the platform first (`slipway up`)", target.cluster)))?;
    let url = target.backstage_url.clone().unwrap_or_else(|| format!("http://backstage.{}:8880", target.domain.trim_start_matches('.')));
    let backstage = Backstage::new(&url, &backstage_token)?;
    let kube = crate::k8s::KubeTarget::cluster(&target.cluster).client().await.ok();
    Ok(Connection { github, backstage, kube, identity, owner, owner_is_org })
}
