//! What service creation talks to, from the settings and the keyring: GitHub with the kept token
//! (and who it belongs to), Backstage with the cluster's API token, and the cluster for Argo CD.
//! The CLI and the GUI both start here.

use crate::backstage::{Backstage, BackstageError};
use crate::github::{GitHub, GitHubError, Identity, Owner};
use crate::secrets::{Keyring, accounts};

use super::ServiceError;
use super::create::{Services, journal_dir};

/// Where to reach things; every field has the settings file's meaning.
#[derive(Debug, Clone)]
pub struct Target {
    pub github_api: String,
    /// `None`: the platform's own Backstage, `backstage.<domain>` through `http_ingress`.
    pub backstage_url: Option<String>,
    pub domain: String,
    /// Where the platform's HTTP ingress answers on this machine (127.0.0.1:8880).
    pub http_ingress: std::net::SocketAddr,
    /// The host port of the HTTPS ingress (8843): the links are HTTPS once browsers here trust
    /// the local CA.
    pub https_port: Option<u16>,
    pub cluster: String,
    /// `None`: the token's user.
    pub owner: Option<String>,
    /// The helm binary (a new team in local mode is rendered with the team chart).
    pub helm: Option<std::path::PathBuf>,
    /// An existing cluster (`--context`), which `cluster` then names by its id; `None`:
    /// Slipway's own cluster `cluster` (context `kind-<cluster>`).
    pub existing: Option<crate::k8s::KubeTarget>,
}

impl Target {
    /// How a browser here reaches the platform: HTTPS once a store trusts the local CA; an
    /// existing cluster's names are its DNS zone's, on HTTPS's own port.
    pub fn reach(&self, keyring: &Keyring) -> crate::platform::Reach {
        if self.existing.is_some() {
            return crate::platform::Reach::ZONE;
        }
        crate::platform::Reach {
            http_port: self.http_ingress.port(),
            https_port: crate::platform::trusted_https_port(keyring, self.https_port),
        }
    }

    /// The settings file's targets (what the GUI uses; the CLI's flags default to the same).
    pub fn from_config(
        config: &crate::config::Config,
    ) -> Result<Self, crate::cluster::ClusterError> {
        let spec = crate::cluster::ClusterSpec::embedded_default()?
            .with_overrides(&config.cluster_overrides())?;
        let target = Self {
            github_api: config.github_api_or_default(),
            backstage_url: config.backstage_url.clone(),
            domain: config.domain_or_default(),
            http_ingress: spec.http_ingress(),
            https_port: spec.https_port(),
            cluster: spec.name,
            owner: config.owner.clone(),
            helm: config.helm.clone(),
            existing: None,
        };
        match &config.context {
            Some(context) => target.on(context, config.kubeconfig.as_deref()),
            None => Ok(target),
        }
    }

    /// The same, on the existing cluster `context` (in `kubeconfig`, default kubectl's files).
    pub fn on(
        self,
        context: &str,
        kubeconfig: Option<&std::path::Path>,
    ) -> Result<Self, crate::cluster::ClusterError> {
        let (cluster, kube) = crate::platform::target::located(context, kubeconfig)?;
        Ok(Self {
            cluster,
            existing: Some(kube),
            ..self
        })
    }

    fn kube(&self) -> crate::k8s::KubeTarget {
        self.existing
            .clone()
            .unwrap_or_else(|| crate::k8s::KubeTarget::cluster(&self.cluster))
    }
}

/// GitHub as the kept token's user, and the owner services go to.
pub struct GitHubOwner {
    pub github: GitHub,
    pub identity: Identity,
    pub owner: Owner,
    /// The same token, for the team namespaces' image pull Secrets.
    pub pull: crate::teams::PullCredentials,
}

/// Clients for one creation (or rollback).
pub struct Connection {
    pub github: GitHubOwner,
    pub backstage: Backstage,
    pub kube: Option<kube::Client>,
    pub cluster: String,
    pub helm: Option<std::path::PathBuf>,
    pub reach: crate::platform::Reach,
    pub zone: bool,
    /// The port-forward an existing cluster's Backstage is reached through, open while this
    /// connection lives.
    _forward: Option<crate::forward::Forwards>,
}

impl Connection {
    pub fn services(&self) -> Services<'_> {
        Services {
            github: &self.github.github,
            backstage: &self.backstage,
            kube: self.kube.clone(),
            journal_dir: journal_dir(),
            owner: self.github.owner.clone(),
            cluster: self.cluster.clone(),
            lock_dir: crate::lock::dir(),
            pull: Some(self.github.pull.clone()),
            local_teams: crate::teams::LocalTeams::for_cluster(&self.cluster),
            helm: self.helm.clone(),
            reach: self.reach,
            zone: self.zone,
        }
    }
}

/// GitHub with the kept token; the owner checked to be the user or one of their organisations.
pub async fn github(target: &Target, keyring: &Keyring) -> Result<GitHubOwner, ServiceError> {
    let api = &target.github_api;
    let token = keyring
        .get(&accounts::github_token(api))?
        .ok_or_else(|| GitHubError::NotConnected { api: api.clone() })?;
    let github = GitHub::new(api, &token)?;
    let identity = github.identity().await?;
    let owner = identity.owner(target.owner.as_deref())?;
    let pull = crate::teams::PullCredentials::new(&identity.login, &token);
    Ok(GitHubOwner {
        github,
        identity,
        owner,
        pull,
    })
}

/// GitHub, Backstage (with the cluster's API token: the platform must have been started) and
/// the cluster when it answers.
pub async fn connect(target: &Target, keyring: &Keyring) -> Result<Connection, ServiceError> {
    let github = github(target, keyring).await?;
    let backstage_token = keyring
        .get(&accounts::backstage_api_token(&target.cluster))?
        .ok_or_else(|| BackstageError::NoToken {
            cluster: target.cluster.clone(),
        })?;
    let kube = cluster(target).await;
    let mut forward = None;
    // The platform's Backstage is reached at the ingress's address with its name in the Host
    // header, as the routing check does: resolving `backstage.local` could answer from mDNS (or
    // anyone on the network) before the hosts file is applied, and the token would go there.
    // An existing cluster does not route it (its sign-in is guest), so a port-forward does.
    let backstage = match (&target.backstage_url, &target.existing) {
        (Some(url), _) => Backstage::new(url, &backstage_token)?,
        (None, Some(_)) => {
            let client = match &kube {
                Some(c) => c.clone(),
                None => target.kube().client().await?,
            };
            let (forwards, local) = crate::forward::preset_for_calls(client, "backstage").await?;
            forward = Some(forwards);
            let shown = crate::forward::preset_url("backstage").unwrap_or_default();
            Backstage::through_forward(local, &shown, &backstage_token)?
        }
        (None, None) => Backstage::through_ingress(
            &format!("backstage.{}", target.domain.trim_start_matches('.')),
            target.http_ingress,
            &backstage_token,
        )?,
    };
    Ok(Connection {
        github,
        backstage,
        kube,
        cluster: target.cluster.clone(),
        helm: target.helm.clone(),
        reach: target.reach(keyring),
        zone: target.existing.is_some(),
        _forward: forward,
    })
}

/// The platform cluster's client, if its API answers.
pub async fn cluster(target: &Target) -> Option<kube::Client> {
    target.kube().client().await.ok()
}
