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
    /// `None`: `http://backstage.<domain>:<http_port>`.
    pub backstage_url: Option<String>,
    pub domain: String,
    /// The host port of the platform's HTTP ingress (8880).
    pub http_port: u16,
    pub cluster: String,
    /// `None`: the token's user.
    pub owner: Option<String>,
}

/// GitHub as the kept token's user, and the owner services go to.
pub struct GitHubOwner {
    pub github: GitHub,
    pub identity: Identity,
    pub owner: String,
    /// The owner is an organisation (else the token's user).
    pub org: bool,
}

/// Clients for one creation (or rollback).
pub struct Connection {
    pub github: GitHubOwner,
    pub backstage: Backstage,
    pub kube: Option<kube::Client>,
}

impl Connection {
    pub fn services(&self) -> Services<'_> {
        Services {
            github: &self.github.github,
            backstage: &self.backstage,
            kube: self.kube.clone(),
            journal_dir: journal_dir(),
            owner_is_org: self.github.org,
        }
    }
}

/// GitHub with the kept token; the owner checked to be the user or one of their organisations.
pub async fn github(target: &Target, keyring: &Keyring) -> Result<GitHubOwner, ServiceError> {
    let token = keyring
        .get(&accounts::github_token(&target.github_api))
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let token = token.ok_or_else(|| {
        ServiceError::Invalid(
            "GitHub is not connected: connect it first (Settings, or `slipway github connect`)"
                .into(),
        )
    })?;
    let github = GitHub::new(&target.github_api, &token)?;
    let identity = github.identity().await?;
    let owner = target
        .owner
        .clone()
        .unwrap_or_else(|| identity.login.clone());
    let org = owner != identity.login;
    if org && !identity.organisations.contains(&owner) {
        return Err(ServiceError::Invalid(format!(
            "{owner} is neither you ({}) nor one of your organisations ({})",
            identity.login,
            identity.organisations.join(", ")
        )));
    }
    Ok(GitHubOwner {
        github,
        identity,
        owner,
        org,
    })
}

/// GitHub, Backstage (with the cluster's API token: the platform must have been started) and
/// the cluster when it answers.
pub async fn connect(target: &Target, keyring: &Keyring) -> Result<Connection, ServiceError> {
    let github = github(target, keyring).await?;
    let backstage_token = keyring
        .get(&accounts::backstage_api_token(&target.cluster))
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let backstage_token = backstage_token.ok_or_else(|| ServiceError::Invalid(format!("no Backstage token for cluster {:?} in the keyring; start the platform first (`slipway up`)", target.cluster)))?;
    let url = target.backstage_url.clone().unwrap_or_else(|| {
        crate::platform::ingress_url(
            &format!("backstage.{}", target.domain.trim_start_matches('.')),
            target.http_port,
        )
    });
    let backstage = Backstage::new(&url, &backstage_token)?;
    Ok(Connection {
        github,
        backstage,
        kube: cluster(target).await,
    })
}

/// The platform cluster's client, if its API answers.
pub async fn cluster(target: &Target) -> Option<kube::Client> {
    crate::k8s::KubeTarget::cluster(&target.cluster)
        .client()
        .await
        .ok()
}
