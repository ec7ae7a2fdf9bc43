//! The platform on a running cluster: Argo CD by helm, the Secrets Slipway owns (from the
//! keyring), the GitOps source, every platform Application Synced and Healthy, then routing
//! checked by HTTP. Each step checks first, so a healthy platform sees no writes.
//!
//! The GitOps source is the embedded bundle in one of two modes. *GitHub mode* (a token is
//! connected): the bundle is published as `<owner>/slipway-platform` and Argo CD's root
//! Application syncs its `bootstrap/` folder, with repository credentials from the keyring.
//! *Local mode*: Slipway applies the AppProjects and a list-generator platform ApplicationSet with
//! the values inline, since Argo CD has no repository to read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use serde_json::json;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};

use super::publish::{self, Site};
use super::{gitops, routing};
use crate::bundle::BundleError;
use crate::error::{Classified, ErrorKind};
use crate::github::{GitHub, GitHubError};
use crate::helm::{ChartSource, Helm, HelmError, KubeContext};
use crate::k8s::{self, K8sError, apply, wait};
use crate::pipeline::{
    self, Pipeline, PipelineError, ProgressSink, Stage, StepContext, StepDef, StepFailure,
    StepOutcome, StepReport, Timeouts, step,
};
use crate::sealing::{self, SealingError, SealingKey};
use crate::secrets::{Keyring, SecretsError, accounts};
use crate::trust::{CaCert, LocalCa, TrustError};

/// Field manager of everything Slipway applies.
pub const FIELD_MANAGER: &str = "slipway";

/// The label on everything Slipway applies itself (value `slipway`).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// What a platform step can fail with.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A Kubernetes call or wait failed.
    #[error(transparent)]
    Kube(#[from] K8sError),
    /// An existing cluster's Backstage could not be reached through a port-forward.
    #[error("cannot reach the cluster's Backstage through a port-forward: {0}")]
    Forward(#[from] crate::forward::ForwardError),
    /// helm could not be found or failed.
    #[error(transparent)]
    Helm(#[from] HelmError),
    /// The embedded bundle is broken.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The local CA could not be read or made.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// GitHub refused or failed (GitHub mode).
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The catalog refused or failed (registering the services again).
    #[error(transparent)]
    Backstage(#[from] crate::backstage::BackstageError),
    /// The platform repository cannot be published without undoing someone's work.
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    /// Reading Sealed Secrets' keys failed.
    #[error(transparent)]
    Sealing(#[from] SealingError),
    /// The existing cluster cannot take the platform, or gives Traefik no address.
    #[error(transparent)]
    Target(#[from] super::target::TargetError),
    /// Backstage's guest sign-in would face an address beyond this machine.
    #[error(transparent)]
    Exposed(#[from] routing::GuestExposed),
    /// A UI did not answer through the ingress port.
    #[error(transparent)]
    Routing(#[from] routing::NotRouted),
    /// Argo CD's chart made no Deployments.
    #[error(
        "the Argo CD chart created no Deployments in {ARGO_NAMESPACE}; check the chart source (--charts)"
    )]
    NoArgoCd,
    /// The sealing keys kept in the keyring cannot be read: nothing is written over them.
    #[error(
        "the Sealed Secrets keys kept in the keyring ({account}) are unreadable ({source}); Slipway left the entry as it is. \
         Restore a saved copy into the keyring's entry, or keep a copy of the cluster's current key with \
         `slipway seal --backup-key FILE` and put yours back with `slipway seal --restore-key FILE`; \
         removing the entry lets `up` start a new escrow, but SealedSecrets made with the lost keys must then be sealed again"
    )]
    Escrow {
        account: String,
        #[source]
        source: serde_json::Error,
    },
    /// A team file is broken, or its baseline could not be rendered.
    #[error(transparent)]
    Team(#[from] crate::teams::TeamError),
    /// The sealing controller made no key before the step's deadline.
    #[error(
        "Sealed Secrets made no sealing key within {secs} s (no Secret labelled {}=active in {}); `slipway status` shows whether it runs",
        sealing::KEY_LABEL,
        sealing::CONTROLLER_NAMESPACE
    )]
    NoSealingKey { secs: u64 },
}

impl StepFailure for InstallError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Kube(e) => e.is_transient(),
            Self::GitHub(e) => e.is_transient(),
            Self::Backstage(e) => e.is_transient(),
            Self::Publish(e) => e.is_transient(),
            Self::Sealing(SealingError::Api(e)) => k8s::transient_api_error(e),
            Self::Target(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl Classified for InstallError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Kube(e) => e.kind(),
            Self::Forward(e) => e.kind(),
            Self::Helm(e) => e.kind(),
            Self::Bundle(e) => e.kind(),
            Self::Secrets(e) => e.kind(),
            Self::Trust(e) => e.kind(),
            Self::GitHub(e) => e.kind(),
            Self::Backstage(e) => e.kind(),
            Self::Publish(e) => e.kind(),
            Self::Sealing(e) => e.kind(),
            Self::Team(e) => e.kind(),
            Self::Target(e) => e.kind(),
            Self::Exposed(_) => ErrorKind::Settings,
            Self::Escrow { .. } => ErrorKind::Keyring,
            Self::Routing(_) | Self::NoArgoCd | Self::NoSealingKey { .. } => ErrorKind::Step,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallStep {
    ArgoCd,
    ArgoCdReady,
    Secrets,
    Publish,
    GitopsSource,
    PlatformApps,
    Certificates,
    Teams,
    SealingKey,
    Routing,
    Catalog,
}

/// The platform part of `slipway up`, as data: what each row says is what applies.
pub const INSTALL: Pipeline<InstallStep> = Pipeline {
    steps: INSTALL_STEPS,
    resume: "slipway up",
};

const INSTALL_STEPS: &[StepDef<InstallStep>] = &[
    step(
        InstallStep::ArgoCd,
        "argocd",
        "Install Argo CD (helm)",
        900,
        1,
    ),
    step(
        InstallStep::ArgoCdReady,
        "argocd-ready",
        "Wait for Argo CD",
        600,
        0,
    ),
    step(
        InstallStep::Secrets,
        "secrets",
        "Create the Secrets Slipway owns, from the keyring",
        60,
        2,
    ),
    step(
        InstallStep::Publish,
        "publish",
        "Publish the platform repository on GitHub (GitHub mode)",
        300,
        2,
    ),
    step(
        InstallStep::GitopsSource,
        "gitops-source",
        "Apply the AppProjects, ApplicationSets and Ingresses",
        120,
        3,
    ),
    step(
        InstallStep::PlatformApps,
        "platform-apps",
        "Wait until Traefik, Sealed Secrets and Backstage are Synced and Healthy",
        1800,
        0,
    ),
    step(
        InstallStep::Certificates,
        "certificates",
        "Issue the platform's HTTPS certificates from the local CA",
        300,
        1,
    ),
    step(
        InstallStep::Teams,
        "teams",
        "Give every team its namespace, guard rails and image pull Secret",
        600,
        1,
    ),
    step(
        InstallStep::SealingKey,
        "sealing-key",
        "Keep Sealed Secrets' keys in the keyring",
        300,
        1,
    ),
    step(
        InstallStep::Routing,
        "routing",
        "Check Argo CD and Backstage through the ingress port",
        300,
        0,
    ),
    step(
        InstallStep::Catalog,
        "catalog",
        "Register every service in Backstage's catalog again (it keeps none across restarts)",
        180,
        2,
    ),
];

/// Where Argo CD reads the platform from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    /// No GitHub: Slipway applies the platform from the embedded bundle.
    #[default]
    Local,
    /// The bundle published on GitHub (`api`), as `<owner>/slipway-platform`; `None`: the
    /// token's user.
    GitHub { api: String, owner: Option<String> },
}

impl Source {
    /// GitHub mode when a token for `api` is kept in `keyring`, else local mode.
    pub fn detect(keyring: &Keyring, api: &str, owner: Option<String>) -> Self {
        let connected = keyring.unavailable_reason().is_none()
            && keyring
                .get(&accounts::github_token(api))
                .ok()
                .flatten()
                .is_some();
        if connected {
            Source::GitHub {
                api: api.to_owned(),
                owner,
            }
        } else {
            Source::Local
        }
    }
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The cluster's name: keyring entries are kept per cluster.
    pub cluster: String,
    /// Domain of the platform host names (`local` → `argocd.local`, `backstage.local`).
    pub domain: String,
    /// Where the platform node's HTTP ingress port is published (`127.0.0.1:8880`).
    pub ingress: SocketAddr,
    /// Where Slipway's tokens and the escrowed sealing key live (tests pass a mock store).
    pub keyring: Keyring,
    pub source: Source,
    pub charts: ChartSource,
    /// A helm binary to use instead of the one on PATH.
    pub helm: Option<std::path::PathBuf>,
    /// Local mode's team files (`<state>/teams/<cluster>`; tests pass a folder of their own).
    pub teams: crate::teams::LocalTeams,
    /// The ingress listens beyond this machine (`--expose-to-network`): Backstage's guest
    /// sign-in stays off.
    pub exposed: bool,
    /// The host port of the HTTPS ingress, when browsers on this machine trust what it serves
    /// (then the UIs' URLs are the HTTPS ones).
    pub https_port: Option<u16>,
    /// Where the platform node's HTTPS ingress is published (`127.0.0.1:8843`): `routing` checks
    /// the UIs' certificates there.
    pub tls_ingress: Option<SocketAddr>,
    /// The optional parts left out (`--without`).
    pub without: Vec<gitops::Part>,
    /// An existing cluster (`up --context`) rather than Slipway's own: `ingress` and
    /// `tls_ingress` are unused there (the address is Traefik's Service's), the UIs answer
    /// over HTTPS only, and Backstage is not routed (port-forward only) until it has a
    /// sign-in other than guest.
    pub existing: Option<super::target::Existing>,
    /// The GitHub OAuth app Backstage signs people in with (`slipway github oauth set`): on an
    /// existing cluster Backstage is routed only with it.
    pub github_sign_in: Option<crate::github::account::OAuthApp>,
}

impl InstallOptions {
    /// How people sign in to Backstage: guest while only this machine reaches it, GitHub when
    /// an OAuth app is kept, else not at all (port-forward only).
    pub fn sign_in(&self) -> gitops::SignIn<'_> {
        match (&self.github_sign_in, self.exposed) {
            (Some(app), _) => gitops::SignIn::GitHub {
                client_id: &app.client_id,
            },
            (None, false) => gitops::SignIn::Guest,
            (None, true) => gitops::SignIn::Closed,
        }
    }

    /// How a browser reaches the UIs: on an existing cluster, HTTPS on 443 of its address.
    pub fn reach(&self) -> super::Reach {
        match self.existing {
            Some(_) => super::Reach::ZONE,
            None => super::Reach {
                http_port: self.ingress.port(),
                https_port: self.https_port,
            },
        }
    }

    /// The UI Ingresses this install applies: the bundle's for the domain and the parts
    /// installed, on an existing cluster HTTPS-only and without Backstage's until it has GitHub
    /// sign-in (guest must not face a reachable address).
    pub fn ui_ingresses(&self) -> Result<Vec<serde_json::Value>, BundleError> {
        let mut ingresses = routing::ingresses(&self.domain, &self.without)?;
        if let Some(target) = &self.existing {
            if self.sign_in() == gitops::SignIn::Closed {
                ingresses.retain(|i| i["metadata"]["name"] != "backstage");
            }
            for ingress in &mut ingresses {
                target.ingress(ingress)?;
            }
        }
        Ok(ingresses)
    }

    /// The defaults for a cluster whose HTTP ingress is published at `ingress`.
    pub fn new(cluster: &str, ingress: SocketAddr) -> Self {
        Self {
            cluster: cluster.to_owned(),
            domain: "local".into(),
            ingress,
            keyring: Keyring::os(),
            source: Source::Local,
            charts: ChartSource::Upstream,
            helm: None,
            teams: crate::teams::LocalTeams::for_cluster(cluster),
            exposed: false,
            https_port: None,
            tls_ingress: None,
            without: Vec::new(),
            existing: None,
            github_sign_in: None,
        }
    }
}

struct InstallStage<'a> {
    kube: &'a KubeContext,
    client: kube::Client,
    helm: Option<Helm>,
    options: &'a InstallOptions,
    /// GitHub mode, once the `publish` step ran: where the platform repository is, and the
    /// token and login for Argo CD's repository credentials.
    published: Option<(Site, String, String)>,
    /// The machine's local CA, read from the keyring once per run (`None` inside: no keyring).
    ca: Option<Option<LocalCa>>,
}

/// Where Argo CD and its Applications live.
pub const ARGO_NAMESPACE: &str = "argocd";

/// The App-of-Apps of GitHub mode.
pub const ROOT_APP: &str = "root";

impl Stage for InstallStage<'_> {
    type Id = InstallStep;
    type Error = InstallError;

    async fn execute(
        &mut self,
        id: InstallStep,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, InstallError> {
        match id {
            InstallStep::ArgoCd => self.argo_cd(r).await,
            InstallStep::ArgoCdReady => self.argo_cd_ready(r).await,
            InstallStep::Secrets => self.owned_secrets(r).await,
            InstallStep::Publish => self.publish(r).await,
            InstallStep::GitopsSource => self.gitops_source().await,
            InstallStep::PlatformApps => self.platform_apps(r).await,
            InstallStep::Certificates => self.certificates(r).await,
            InstallStep::Teams => self.teams(r).await,
            InstallStep::SealingKey => self.sealing_key(r).await,
            InstallStep::Routing => self.routing(r).await,
            InstallStep::Catalog => self.catalog(r).await,
        }
    }
}

impl InstallStage<'_> {
    async fn helm(&mut self) -> Result<&Helm, InstallError> {
        let helm = match self.helm.take() {
            Some(helm) => helm,
            None => Helm::locate(self.options.helm.as_deref()).await?,
        };
        Ok(self.helm.insert(helm))
    }

    /// Installed already at the pinned chart version and deployed: nothing to do.
    async fn argo_cd(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let release = gitops::argo_cd_release(
            &self.options.domain,
            self.options.reach(),
            self.options.existing.as_ref(),
        )?;
        let wanted = format!("{}-{}", release.chart.name, release.chart.version);
        let (kube, options) = (self.kube, self.options);
        let helm = self.helm().await?;
        let current = helm
            .list(kube)
            .await?
            .into_iter()
            .find(|x| x.name == release.name && x.namespace == release.namespace);
        if current
            .as_ref()
            .is_some_and(|c| c.chart == wanted && c.status == "deployed")
        {
            return Ok(StepOutcome::up_to_date(format!("{wanted} deployed")));
        }
        r.detail(format!(
            "helm upgrade --install {} ({wanted})",
            release.name
        ));
        // helm waits itself; it gets the step's time less a moment to report.
        let limit = r.remaining().saturating_sub(Duration::from_secs(10));
        helm.upgrade_install(&release, &options.charts, kube, limit)
            .await?;
        Ok(StepOutcome::changed(match current {
            Some(c) => format!("{} → {wanted}", c.chart),
            None => format!("installed {wanted}"),
        }))
    }

    async fn argo_cd_ready(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), ARGO_NAMESPACE);
        let names: Vec<String> = deployments
            .list(&ListParams::default())
            .await
            .map_err(K8sError::from)?
            .items
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect();
        if names.is_empty() {
            return Err(InstallError::NoArgoCd);
        }
        for name in &names {
            r.detail(format!("waiting for {name}"));
            wait::deployment_available(&self.client, ARGO_NAMESPACE, name, r.deadline()).await?;
        }
        Ok(StepOutcome::up_to_date(format!(
            "{} Deployments available",
            names.len()
        )))
    }

    /// Backstage's `backstage-secrets` (its API token for Slipway, and the GitHub token once
    /// connected), Argo CD's SCM token Secret, and Sealed Secrets' escrowed keys, restored before
    /// the controller is deployed so it adopts them: all applied only if different.
    async fn owned_secrets(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let keyring = &self.options.keyring;
        let account = accounts::backstage_api_token(&self.options.cluster);
        // On a shared cluster the platform's token is the cluster's, whoever made it: a second
        // person keeps it (and now holds it too) rather than replacing everyone's.
        let adopted = match (&self.options.existing, keyring.unavailable_reason()) {
            (Some(_), None) => {
                k8s::secret_value(
                    &self.client,
                    "backstage",
                    "backstage-secrets",
                    "SLIPWAY_API_TOKEN",
                )
                .await?
            }
            _ => None,
        };
        let api_token = match keyring.unavailable_reason() {
            None if adopted.is_some() => {
                let token = adopted.unwrap_or_default();
                if keyring.get(&account)?.as_deref() != Some(token.as_str()) {
                    keyring.set(&account, &token)?;
                    r.detail("kept the cluster's Backstage API token in the keyring");
                }
                token
            }
            None => {
                let (token, created) = keyring.get_or_create(&account)?;
                if created {
                    r.detail("made Backstage's API token and kept it in the keyring");
                }
                token
            }
            Some(reason) => {
                r.warn(format!("no OS keyring ({reason}): Backstage's API token is kept only in the cluster, and GitHub cannot be connected"));
                match k8s::secret_value(
                    &self.client,
                    "backstage",
                    "backstage-secrets",
                    "SLIPWAY_API_TOKEN",
                )
                .await?
                {
                    Some(token) => token,
                    None => crate::secrets::random_token()?,
                }
            }
        };
        let (github, read_only) = match keyring.unavailable_reason() {
            None => (
                keyring.get(&accounts::github_token(self.github_api()))?,
                keyring.get(&accounts::github_read_token(self.github_api()))?,
            ),
            Some(_) => (None, None),
        };
        // Backstage is what people and processes reach (its UI and API), so it never holds the
        // user's writing token: nothing in local mode, only the read-only token in GitHub mode.
        let mut backstage = BTreeMap::from([("SLIPWAY_API_TOKEN", api_token)]);
        if let Some(app) = &self.options.github_sign_in {
            backstage.insert(gitops::GITHUB_CLIENT_SECRET_ENV, app.client_secret.clone());
        }
        if matches!(self.options.source, Source::GitHub { .. }) {
            match &read_only {
                Some(token) => {
                    backstage.insert("GITHUB_TOKEN", token.clone());
                }
                None => r.warn(
                    "Backstage has no GitHub token, so it cannot read the private platform repository's templates or private services; \
                     keep a fine-grained read-only token (Contents, Metadata: read) with `slipway github connect --read-only`",
                ),
            }
        }
        let mut objects = vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "backstage"}}),
            owned_secret("backstage", "backstage-secrets", &backstage, &[]),
        ];
        // Argo CD only reads; with no read-only token it reads with the user's token, which
        // stays in `argocd`, whose Secrets and Services no team namespace can reach.
        match read_only.or(github) {
            Some(token) => objects.push(owned_secret(
                ARGO_NAMESPACE,
                "slipway-scm-token",
                &BTreeMap::from([("token", token)]),
                &[("argocd.argoproj.io/secret-type", "scm-creds")],
            )),
            None => {
                r.detail("GitHub not connected: no SCM token for the workloads ApplicationSet yet")
            }
        }
        match self.local_ca(&r).await? {
            Some(ca) => {
                objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CERT_MANAGER_NAMESPACE}}));
                objects.push(ca_secret(&ca));
            }
            None => r.warn("no OS keyring: the local CA has nowhere to keep its key, so the platform serves no trusted HTTPS"),
        }
        let escrowed = self.escrowed_keys()?;
        if !escrowed.is_empty() {
            r.detail(format!(
                "restoring {} escrowed Sealed Secrets key(s)",
                escrowed.len()
            ));
        }
        objects.extend(escrowed.iter().map(sealing::key_secret));
        self.apply(objects).await
    }

    /// The machine's local CA (made and kept in the keyring on the first `up`); none without a
    /// keyring. Read once per run, so what it says about the CA is said once.
    async fn local_ca(&mut self, r: &StepContext<'_>) -> Result<Option<LocalCa>, InstallError> {
        if let Some(ca) = &self.ca {
            return Ok(ca.clone());
        }
        let ca = match self.cluster_ca().await? {
            Some(ca) => Some(ca),
            None => self.read_local_ca(r)?,
        };
        self.ca = Some(ca.clone());
        Ok(ca)
    }

    /// An existing cluster's CA, when Slipway gave it one before (from this machine or
    /// another): on a shared cluster the issuer is the platform's, so a second person's `up`
    /// keeps it, rather than replacing it with their machine's and re-issuing every
    /// certificate. `None` on Slipway's own cluster, whose CA is always this machine's.
    async fn cluster_ca(&self) -> Result<Option<LocalCa>, InstallError> {
        if self.options.existing.is_none() {
            return Ok(None);
        }
        let read = |key| k8s::secret_value(&self.client, CERT_MANAGER_NAMESPACE, "slipway-ca", key);
        let (Some(cert), Some(key)) = (read("tls.crt").await?, read("tls.key").await?) else {
            return Ok(None);
        };
        // One that cannot be read is replaced, as a missing one is made.
        Ok(LocalCa::from_pem(&format!("{cert}\n{key}")).ok())
    }

    fn read_local_ca(&self, r: &StepContext<'_>) -> Result<Option<LocalCa>, InstallError> {
        let keyring = &self.options.keyring;
        if keyring.unavailable_reason().is_some() {
            return Ok(None);
        }
        let (ca, made) =
            LocalCa::load_or_create(keyring, &crate::trust::ca::owner(), &self.options.domain)?;
        if made {
            r.detail(format!(
                "made the local CA \"{}\" and kept it in the keyring (`slipway trust install` makes browsers trust it)",
                ca.cert().name()
            ));
        }
        if !ca.cert().covers(&self.options.domain) {
            r.warn(format!(
                "the local CA certifies only {}: browsers will refuse certificates for *.{}; `slipway trust remove-ca`, then `slipway up` makes a CA for it",
                ca.cert().permitted().join(", "),
                self.options.domain
            ));
        }
        Ok(Some(ca))
    }

    /// The keys kept in the keyring for this cluster (none without a keyring or an entry). An
    /// entry that cannot be read is an error: writing over it would lose the keys for good.
    fn escrowed_keys(&self) -> Result<Vec<SealingKey>, InstallError> {
        let keyring = &self.options.keyring;
        if keyring.unavailable_reason().is_some() {
            return Ok(Vec::new());
        }
        let account = accounts::sealing_keys(&self.options.cluster);
        match keyring.get(&account)? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|source| InstallError::Escrow { account, source }),
        }
    }

    /// Once the controller made (or adopted) its key, add every active key to the keyring's
    /// escrow, so a re-created cluster decrypts the SealedSecrets already committed to Git. The
    /// escrow only grows: a key once kept is never dropped, even when the controller stopped
    /// using it (SealedSecrets sealed with it may still be in Git).
    async fn sealing_key(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let client = &self.client;
        let look = || async {
            let keys = sealing::active_keys(client).await?;
            Ok(if keys.is_empty() {
                pipeline::Poll::Pending(String::new())
            } else {
                pipeline::Poll::Ready(keys)
            })
        };
        let keys = pipeline::poll(r.deadline(), Duration::from_millis(500), look, |_| {
            InstallError::NoSealingKey {
                secs: r.deadline().secs(),
            }
        })
        .await?;
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        let names = names.join(", ");
        if let Some(reason) = self.options.keyring.unavailable_reason() {
            r.warn(format!("no OS keyring ({reason}): Sealed Secrets' key will not survive a re-created cluster; keep a copy with `slipway seal --backup-key FILE`"));
            return Ok(StepOutcome::up_to_date(format!(
                "{names} not escrowed (no keyring)"
            )));
        }
        if !self.options.keyring.persists() {
            r.warn(format!(
                "the escrowed key is in the {}; keep a copy with `slipway seal --backup-key FILE`",
                self.options.keyring.describe()
            ));
        }
        let escrowed = self.escrowed_keys()?;
        let merged = merge_escrow(&escrowed, &keys);
        if merged.len() == escrowed.len() {
            return Ok(StepOutcome::up_to_date(format!(
                "{names} kept in the keyring"
            )));
        }
        let json = serde_json::to_string(&merged).map_err(K8sError::from)?;
        self.options
            .keyring
            .set(&accounts::sealing_keys(&self.options.cluster), &json)?;
        Ok(StepOutcome::changed(format!(
            "kept {} new key(s) in the keyring ({} in all)",
            merged.len() - escrowed.len(),
            merged.len()
        )))
    }

    fn github_api(&self) -> &str {
        match &self.options.source {
            Source::GitHub { api, .. } => api,
            Source::Local => crate::github::DEFAULT_API,
        }
    }

    /// GitHub with the kept token, and the owner the platform is for (checked to be the user
    /// or one of their organisations).
    async fn github_owner(
        &self,
        api: &str,
        owner: Option<&str>,
    ) -> Result<Connected, InstallError> {
        let token = self
            .options
            .keyring
            .get(&accounts::github_token(api))?
            .ok_or_else(|| GitHubError::NotConnected {
                api: api.to_owned(),
            })?;
        let github = GitHub::new(api, &token)?;
        let identity = github.identity().await?;
        let owner = identity.owner(owner)?;
        Ok(Connected {
            github,
            owner,
            login: identity.login,
            token,
        })
    }

    /// GitHub mode: the bundle as `<owner>/slipway-platform`, one commit with what changed.
    async fn publish(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let Source::GitHub { api, owner } = &self.options.source else {
            return Ok(StepOutcome::up_to_date(
                "local mode (GitHub not connected): Argo CD runs the embedded bundle",
            ));
        };
        let Connected {
            github,
            owner,
            login,
            token,
        } = self.github_owner(api, owner.as_deref()).await?;
        r.detail(format!("{}/{}", owner.name, publish::PLATFORM_REPO));
        let shape = self
            .options
            .existing
            .as_ref()
            .map(super::target::Existing::shape);
        let published = publish::publish(
            &github,
            &owner.name,
            owner.org,
            &self.options.without,
            shape.as_ref(),
            false,
        )
        .await?;
        let url = &published.repo_url;
        let outcome = if let Some(newer) = &published.newer {
            r.warn(format!("{url} was published by Slipway {newer}, newer than this one: left as it is; upgrade Slipway to run the same bundle"));
            StepOutcome::up_to_date(format!("{url} from Slipway {newer}"))
        } else if published.created {
            StepOutcome::changed(format!(
                "created {url} (private) with {} files",
                published.changed.len()
            ))
        } else if !published.changed.is_empty() {
            if !published.removed.is_empty() {
                r.detail(format!(
                    "removed what the bundle no longer has: {}",
                    published.removed.join(", ")
                ));
            }
            StepOutcome::changed(format!(
                "{} changed files in one commit to {url}",
                published.changed.len()
            ))
        } else {
            if !published.kept.is_empty() {
                r.detail(format!(
                    "kept the repository's own changes to {}",
                    published.kept.join(", ")
                ));
            }
            StepOutcome::up_to_date(format!("{url} current"))
        };
        self.published = Some((published.site, token, login));
        Ok(outcome)
    }

    /// The AppProjects and the Ingresses of the UIs whose charts do not make their own, then
    /// per mode: GitHub — Argo CD's credentials for the owner's repositories, the platform
    /// ApplicationSet as published and the root Application on the platform repository (Slipway
    /// applies the platform set too, so a switch from local mode replaces its fields at once);
    /// local — the platform ApplicationSet with inline values.
    async fn gitops_source(&mut self) -> Result<StepOutcome, InstallError> {
        let mut objects: Vec<serde_json::Value> = Vec::new();
        match &self.published {
            Some((site, token, login)) => {
                let files = publish::files(site);
                let published = |path: &str| -> Result<Vec<serde_json::Value>, BundleError> {
                    let data = files
                        .get(path)
                        .ok_or_else(|| BundleError::Missing(path.into()))?;
                    let text =
                        std::str::from_utf8(data).map_err(|_| BundleError::NotText(path.into()))?;
                    crate::bundle::parse_documents(path, text)
                };
                let read_only = self
                    .options
                    .keyring
                    .get(&accounts::github_read_token(&site.api))?;
                let creds = BTreeMap::from([
                    ("type", "git".to_owned()),
                    ("url", site.owner_url()),
                    ("username", login.clone()),
                    ("password", read_only.unwrap_or_else(|| token.clone())),
                ]);
                objects.push(owned_secret(
                    ARGO_NAMESPACE,
                    "slipway-repo-creds",
                    &creds,
                    &[("argocd.argoproj.io/secret-type", "repo-creds")],
                ));
                objects.extend(published("bootstrap/projects.yaml")?);
                objects.extend(published("bootstrap/platform-appset.yaml")?);
                objects.extend(published("bootstrap/root-app.yaml")?);
            }
            None => {
                objects.extend(crate::bundle::yaml_documents("bootstrap/projects.yaml")?);
                objects.push(gitops::local_platform_appset(
                    &self.options.domain,
                    &self.options.without,
                    self.options.existing.as_ref(),
                )?);
            }
        }
        let ingresses = self.options.ui_ingresses()?;
        let guest = self.options.sign_in() == gitops::SignIn::Guest;
        routing::refuse_exposed_guest(&ingresses, guest, self.loopback())?;
        objects.extend(ingresses);
        objects.extend(gitops::policies(&self.options.without)?);
        let shape = self
            .options
            .existing
            .as_ref()
            .map(super::target::Existing::shape);
        objects.push(gitops::site_config(&self.options.domain, shape.as_ref()));
        objects.push(gitops::backstage_config(
            &self.options.domain,
            self.options.reach(),
            self.options.sign_in(),
        ));
        if !self.options.without.contains(&gitops::Part::Observability) {
            objects.extend(gitops::grafana_config(
                &self.options.domain,
                self.options.reach(),
                guest,
            ));
        }
        self.apply(objects).await
    }

    /// Local mode: each team file of this cluster rendered with the team chart and applied.
    /// GitHub mode: Argo CD renders the platform repository's team files; Slipway waits for
    /// each team's Application and gives its namespace the image pull Secret.
    async fn teams(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let Some((site, token, login)) = self.published.clone() else {
            let teams = self.options.teams.list()?;
            if teams.is_empty() {
                return Ok(StepOutcome::up_to_date(
                    "no teams yet (`slipway team apply NAME`)",
                ));
            }
            let mut objects = vec![gitops::local_groups(&teams)?];
            for team in &teams {
                r.detail(format!("rendering {}'s baseline", team.name));
                let helm = self.helm().await?;
                objects.extend(crate::teams::render(helm, team).await?);
            }
            return self.apply(objects).await;
        };
        let github = GitHub::new(&site.api, &token)?;
        let files = github
            .read_files(&site.owner, publish::PLATFORM_REPO, "main")
            .await?;
        let teams = crate::teams::from_repository(&files)?;
        if teams.is_empty() {
            return Ok(StepOutcome::up_to_date(
                "no teams in the platform repository yet",
            ));
        }
        for team in &teams {
            r.detail(format!("waiting for {}", app_name(&team.name)));
            wait::application_healthy(
                &self.client,
                ARGO_NAMESPACE,
                &app_name(&team.name),
                r.deadline(),
            )
            .await?;
        }
        let pull = crate::teams::PullCredentials::new(&login, &token);
        let secrets: Vec<serde_json::Value> = teams.iter().map(|t| pull.secret(&t.name)).collect();
        let applied = self.apply(secrets).await?;
        let names: Vec<&str> = teams.iter().map(|t| t.name.as_str()).collect();
        Ok(match applied {
            StepOutcome::Changed { .. } => StepOutcome::changed(format!(
                "{}: baselines Healthy, image pull Secrets updated",
                names.join(", ")
            )),
            _ => StepOutcome::up_to_date(format!("{}: baselines Healthy", names.join(", "))),
        })
    }

    /// Server-side apply, every object labelled as Slipway's (what `down --context` removes)
    /// but Sealed Secrets' keys: those are the controller's, found by its own label, and a
    /// restored one must match the live one or every run would write it again.
    async fn apply(&self, objects: Vec<serde_json::Value>) -> Result<StepOutcome, InstallError> {
        let objects = objects
            .into_iter()
            .map(|mut o| {
                let labels = &mut o["metadata"]["labels"];
                if labels.get(MANAGED_BY).is_none() && labels.get(sealing::KEY_LABEL).is_none() {
                    labels[MANAGED_BY] = json!("slipway");
                }
                serde_json::from_value(o)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(K8sError::from)?;
        let report = apply::apply(
            &self.client,
            &objects,
            FIELD_MANAGER,
            ARGO_NAMESPACE,
            Duration::from_secs(60),
        )
        .await?;
        Ok(if report.changed.is_empty() {
            StepOutcome::up_to_date(format!("{} objects current", report.unchanged.len()))
        } else {
            StepOutcome::changed(format!("applied {}", report.changed.join(", ")))
        })
    }

    async fn platform_apps(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let components = gitops::components_without(&self.options.without)?;
        if self.published.is_some() {
            r.detail("waiting for the root Application");
            wait::application_healthy(&self.client, ARGO_NAMESPACE, ROOT_APP, r.deadline()).await?;
        }
        for c in &components {
            r.detail(format!("waiting for {}", c.name));
            wait::application_healthy(&self.client, ARGO_NAMESPACE, &c.name, r.deadline()).await?;
        }
        let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
        let summary = format!("{} Synced and Healthy", names.join(", "));
        let rolled = self.restart_on_new_config().await?;
        if !rolled.is_empty() {
            r.detail(format!(
                "restarted {}: the per-cluster config changed",
                rolled.join(", ")
            ));
            return Ok(StepOutcome::changed(summary));
        }
        Ok(StepOutcome::up_to_date(summary))
    }

    /// The CA ClusterIssuer over the Secret the `secrets` step applied, then the platform UIs'
    /// certificates issued from it. A certificate signed by another CA (the machine's CA was
    /// made anew) is deleted, so cert-manager issues it again: cert-manager itself re-issues only
    /// on a change of names or issuer.
    async fn certificates(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let Some(ca) = self.local_ca(&r).await? else {
            return Ok(StepOutcome::up_to_date(
                "no local CA (no keyring): HTTP only",
            ));
        };
        let mut outcome = self
            .apply(crate::bundle::yaml_documents(CLUSTER_ISSUER)?)
            .await?;
        r.detail("waiting for ClusterIssuer slipway-ca");
        wait::cluster_object_ready(
            &self.client,
            &wait::cluster_issuer_resource(),
            "slipway-ca",
            r.deadline(),
        )
        .await?;
        let mut issued = Vec::new();
        for (ns, name) in platform_certificates(self.options)? {
            let (ns, name) = (ns.as_str(), name.as_str());
            r.detail(format!("waiting for {ns}/{name}"));
            let secret = wait::secret_with(&self.client, ns, name, "tls.crt", r.deadline()).await?;
            let ca_crt = secret
                .data
                .as_ref()
                .and_then(|d| d.get("ca.crt"))
                .map(|b| String::from_utf8_lossy(&b.0).into_owned());
            if ca_crt.is_some_and(|pem| {
                CaCert::from_pem(&pem).is_ok_and(|c| c.sha256() != ca.cert().sha256())
            }) {
                kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
                    self.client.clone(),
                    ns,
                )
                .delete(name, &Default::default())
                .await
                .map_err(|e| InstallError::Kube(K8sError::Api(e)))?;
                r.detail(format!(
                    "{ns}/{name} was signed by another CA: issuing it again"
                ));
                wait::secret_with(&self.client, ns, name, "tls.crt", r.deadline()).await?;
                outcome = StepOutcome::changed("certificates issued again from the local CA");
            }
            issued.push(format!("{ns}/{name}"));
        }
        Ok(if outcome.is_change() {
            outcome
        } else {
            StepOutcome::up_to_date(format!("{} issued by slipway-ca", issued.join(", ")))
        })
    }

    /// Backstage and Grafana read their per-cluster config at start only: when it is not what
    /// the running pods started with, roll them. Whether any was rolled.
    async fn restart_on_new_config(&self) -> Result<Vec<&'static str>, InstallError> {
        let mut configured = vec![("backstage", gitops::BACKSTAGE_CONFIG, "backstage")];
        if !self.options.without.contains(&gitops::Part::Observability) {
            configured.push((
                gitops::OBSERVABILITY_NAMESPACE,
                gitops::GRAFANA_CONFIG,
                "grafana",
            ));
        }
        let mut rolled = Vec::new();
        for (namespace, config, name) in configured {
            if self.restart_on_new(namespace, config, name).await? {
                rolled.push(name);
            }
        }
        Ok(rolled)
    }

    /// When ConfigMap `config` is not what Deployment `name`'s pods started with (the digest on
    /// the pod template), roll them, as `kubectl rollout restart` does. Argo CD leaves an
    /// annotation it does not manage alone.
    async fn restart_on_new(
        &self,
        namespace: &str,
        config: &str,
        name: &str,
    ) -> Result<bool, InstallError> {
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::{Api, Patch, PatchParams};
        const ANNOTATION: &str = "slipway.dev/app-config-digest";
        let kube = |e: kube::Error| InstallError::Kube(K8sError::Api(e));
        let config = Api::<ConfigMap>::namespaced(self.client.clone(), namespace)
            .get_opt(config)
            .await
            .map_err(kube)?;
        let deployments = Api::<Deployment>::namespaced(self.client.clone(), namespace);
        let (Some(config), Some(deployment)) =
            (config, deployments.get_opt(name).await.map_err(kube)?)
        else {
            return Ok(false);
        };
        let digest = sha1_smol::Sha1::from(serde_json::to_vec(&config.data).unwrap_or_default())
            .digest()
            .to_string();
        // When the config was last written (managedFields' times; creation without them).
        let written = config
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|f| f.time.as_ref())
            .map(|t| t.0)
            .max()
            .or(config.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let created = deployment.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let annotations = deployment
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .unwrap_or_default();
        match annotations.get(ANNOTATION) {
            Some(seen) if *seen == digest => return Ok(false),
            // Never rolled by Slipway, and made after the config: its pods started with it.
            None if created.zip(written).is_some_and(|(c, w)| c >= w) => return Ok(false),
            _ => {}
        }
        let patch =
            json!({"spec": {"template": {"metadata": {"annotations": {ANNOTATION: digest}}}}});
        deployments
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(kube)?;
        Ok(true)
    }

    /// Each UI through the HTTP ingress port, then through the HTTPS one as a browser trusting
    /// only the local CA would reach it (the certificate cert-manager issued, served by SNI).
    async fn routing(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let ca = match (self.options.tls_ingress, &self.options.existing) {
            (None, None) => None,
            _ => self.local_ca(&r).await?.map(|ca| ca.cert().der().to_vec()),
        };
        if self.options.existing.is_some() {
            return self.routing_existing(ca.as_deref(), r).await;
        }
        let mut answers = Vec::new();
        for host in routed_hosts(self.options)? {
            r.detail(format!(
                "GET http://{host}/ through {}",
                self.options.ingress
            ));
            let status =
                routing::wait_routed(self.options.ingress, &host, None, r.deadline()).await?;
            answers.push(format!("{host} → {status}"));
            if let (Some(tls), Some(ca)) = (self.options.tls_ingress, &ca) {
                r.detail(format!("GET https://{host}/ through {tls}"));
                let status = routing::wait_routed(tls, &host, Some(ca), r.deadline()).await?;
                answers.push(format!("https://{host} → {status}"));
            }
        }
        Ok(StepOutcome::up_to_date(answers.join(", ")))
    }
}

impl InstallStage<'_> {
    /// The ingress listens on this machine only (Slipway's own cluster on 127.0.0.1).
    fn loopback(&self) -> bool {
        self.options.existing.is_none() && self.options.ingress.ip().is_loopback()
    }

    /// An existing cluster: each UI over HTTPS through Traefik's Service, as a browser trusting
    /// only the local CA would reach it once DNS points its name there.
    async fn routing_existing(
        &self,
        ca: Option<&[u8]>,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, InstallError> {
        let address = super::target::traefik_address(&self.client, r.deadline()).await?;
        let Some(ca) = ca else {
            r.warn("no local CA (no keyring): the UIs' HTTPS is not checked");
            return Ok(StepOutcome::up_to_date(format!("Traefik at {address}")));
        };
        let tls = address.resolve().await?;
        let mut answers = Vec::new();
        for host in routed_hosts(self.options)? {
            r.detail(format!("GET https://{host}/ through {tls}"));
            let status = routing::wait_routed(tls, &host, Some(ca), r.deadline()).await?;
            answers.push(format!("https://{host} → {status}"));
        }
        Ok(StepOutcome::up_to_date(format!(
            "Traefik at {address}: {}",
            answers.join(", ")
        )))
    }

    /// GitHub mode: every `idp-managed` repository of the owner registered in the catalog.
    /// Backstage's catalog is in-memory SQLite (a throwaway catalog on a laptop, no database to
    /// keep), so a restarted pod has forgotten every service; GitHub's topics are the record
    /// that survives restarts and re-created clusters alike, so the catalog is rebuilt from them.
    async fn catalog(&mut self, r: StepContext<'_>) -> Result<StepOutcome, InstallError> {
        let Source::GitHub { api, owner } = &self.options.source else {
            return Ok(StepOutcome::up_to_date(
                "local mode: services are registered when they are created",
            ));
        };
        let Connected { github, owner, .. } = self.github_owner(api, owner.as_deref()).await?;
        let services = github
            .repos_with_topic(&owner.name, owner.org, crate::service::SERVICE_TOPIC)
            .await?;
        if services.is_empty() {
            return Ok(StepOutcome::up_to_date("no services yet"));
        }
        let backstage_token = self
            .options
            .keyring
            .get(&accounts::backstage_api_token(&self.options.cluster))?
            .ok_or_else(|| crate::backstage::BackstageError::NoToken {
                cluster: self.options.cluster.clone(),
            })?;
        // An existing cluster's Backstage is reached through the API server (routed or not, its
        // address may not be in DNS yet); Slipway's own through its ingress.
        let (_forward, backstage) = match &self.options.existing {
            Some(_) => {
                let (forwards, local) =
                    crate::forward::preset_for_calls(self.client.clone(), "backstage").await?;
                let shown = crate::forward::preset_url("backstage").unwrap_or_default();
                let backstage =
                    crate::backstage::Backstage::through_forward(local, &shown, &backstage_token)?;
                (Some(forwards), backstage)
            }
            None => (
                None,
                crate::backstage::Backstage::through_ingress(
                    &format!("backstage.{}", self.options.domain.trim_start_matches('.')),
                    self.options.ingress,
                    &backstage_token,
                )?,
            ),
        };
        let mut registered = Vec::new();
        for (repo, _) in &services {
            let target = crate::service::catalog_location(repo);
            if backstage.location_id(&target).await?.is_some() {
                continue;
            }
            r.detail(format!("registering {target}"));
            let name = repo.full_name.rsplit('/').next().unwrap_or_default();
            backstage
                .register(&target, &format!("component:default/{name}"))
                .await?;
            registered.push(name.to_owned());
        }
        Ok(if registered.is_empty() {
            StepOutcome::up_to_date(format!("{} service(s) in the catalog", services.len()))
        } else {
            StepOutcome::changed(format!(
                "registered again (the catalog had lost them): {}",
                registered.join(", ")
            ))
        })
    }
}

/// GitHub through the kept token: the client, the platform's owner, the token's user and the
/// token (for the Secrets that carry it).
struct Connected {
    github: GitHub,
    owner: crate::github::Owner,
    login: String,
    token: String,
}

/// The Argo CD Application of team `team`'s baseline (a dot: no service name has one).
pub fn app_name(team: &str) -> String {
    format!("{team}.team")
}

/// The escrow after adding `active`: every key kept before, in its order, then the new ones.
/// Keys are the same key when their private key material is.
pub fn merge_escrow(escrowed: &[SealingKey], active: &[SealingKey]) -> Vec<SealingKey> {
    let mut merged = escrowed.to_vec();
    for key in active {
        if !merged.iter().any(|k| k.key == key.key) {
            merged.push(key.clone());
        }
    }
    merged
}

/// Where cert-manager runs, and where its ClusterIssuer reads the CA Secret from.
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";
const CLUSTER_ISSUER: &str = "tls/cluster-issuer.yaml";

/// The certificate Secrets of the platform's own Ingresses (the names in their `spec.tls`):
/// Argo CD's (from its chart) and those of the bundle's `ingress/` installed.
fn platform_certificates(options: &InstallOptions) -> Result<Vec<(String, String)>, BundleError> {
    let mut out = vec![(ARGO_NAMESPACE.to_owned(), "argocd-ingress-tls".to_owned())];
    for ingress in options.ui_ingresses()? {
        if let (Some(ns), Some(secret)) = (
            ingress["metadata"]["namespace"].as_str(),
            ingress
                .pointer("/spec/tls/0/secretName")
                .and_then(|s| s.as_str()),
        ) {
            out.push((ns.to_owned(), secret.to_owned()));
        }
    }
    Ok(out)
}

/// The UI hosts `routing` checks: Argo CD's, then each installed Ingress's.
fn routed_hosts(options: &InstallOptions) -> Result<Vec<String>, BundleError> {
    let mut hosts = vec![format!("argocd.{}", options.domain.trim_start_matches('.'))];
    for ingress in options.ui_ingresses()? {
        hosts.extend(
            ingress
                .pointer("/spec/rules/0/host")
                .and_then(|h| h.as_str())
                .map(str::to_owned),
        );
    }
    Ok(hosts)
}

/// The CA ClusterIssuer's Secret: the local CA's certificate and key, from the keyring only.
fn ca_secret(ca: &LocalCa) -> serde_json::Value {
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "slipway-ca", "namespace": CERT_MANAGER_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {"tls.crt": b64(ca.cert_pem()), "tls.key": b64(ca.key_pem())},
    })
}

/// A Secret Slipway owns; the values never leave this object (no logs, no outcome text).
fn owned_secret(
    namespace: &str,
    name: &str,
    data: &BTreeMap<&str, String>,
    labels: &[(&str, &str)],
) -> serde_json::Value {
    let b64 = |v: &String| base64::engine::general_purpose::STANDARD.encode(v);
    let mut all_labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    all_labels.insert("app.kubernetes.io/managed-by", "slipway");
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
        "data": data.iter().map(|(k, v)| ((*k).to_owned(), b64(v))).collect::<BTreeMap<_, _>>(),
    })
}

/// Install or repair the platform on the cluster `kube` points at.
pub async fn install(
    kube: &KubeContext,
    options: &InstallOptions,
    timeouts: &Timeouts,
    sink: &dyn ProgressSink,
) -> Result<Vec<StepReport>, PipelineError<InstallError>> {
    let target = k8s::KubeTarget {
        kubeconfig: Some(kube.kubeconfig.clone()),
        context: Some(kube.context.clone()),
    };
    let client = target.client().await.map_err(|e| PipelineError::Failed {
        step: INSTALL_STEPS[0].key,
        source: e.into(),
    })?;
    let mut stage = InstallStage {
        kube,
        client,
        helm: None,
        options,
        published: None,
        ca: None,
    };
    pipeline::run(&INSTALL, timeouts, sink, &mut stage).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, material: &str) -> SealingKey {
        SealingKey {
            name: name.into(),
            cert: format!("cert of {material}"),
            key: material.into(),
        }
    }

    #[test]
    fn the_escrow_only_grows() {
        let old = [key("k1", "a"), key("k2", "b")];
        // The controller now uses only a new key: the old ones stay escrowed.
        let merged = merge_escrow(&old, &[key("k3", "c")]);
        assert_eq!(
            merged.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["k1", "k2", "k3"]
        );
        // The same key under another Secret name (restored after a re-create) is not added twice.
        assert_eq!(merge_escrow(&merged, &[key("renamed", "a")]).len(), 3);
        assert_eq!(merge_escrow(&[], &old).len(), 2);
    }
}
