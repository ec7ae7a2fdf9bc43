//! What `slipway team …` and the window do with teams: list them with their quota use and
//! services, add or change one, remove one. Where the team files are follows `up`'s mode: the
//! platform repository when GitHub is connected (Argo CD applies them), else Slipway's state
//! folder (Slipway applies them). The CLI and the GUI both call these.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use super::{LocalTeams, PullCredentials, TeamError, TeamFile};
use crate::github::GitHub;
use crate::helm::Helm;
use crate::k8s::{K8sError, KubeTarget, wait};
use crate::pipeline::{self, Deadline};
use crate::platform::install::{ARGO_NAMESPACE, FIELD_MANAGER, Source};
use crate::platform::publish::PLATFORM_REPO;
use crate::secrets::{Keyring, accounts};

/// Which platform, and how to reach its team files.
#[derive(Debug, Clone)]
pub struct TeamsTarget {
    pub cluster: String,
    pub github_api: String,
    /// `None`: the token's user.
    pub owner: Option<String>,
    /// Local mode even when GitHub is connected (as `up --local`).
    pub local: bool,
    pub helm: Option<PathBuf>,
    /// Local mode's team files.
    pub local_teams: LocalTeams,
    /// The cluster the teams' namespaces are on (Slipway's own: `kind-<cluster>`).
    pub kube: KubeTarget,
}

impl TeamsTarget {
    /// The settings file's platform.
    pub fn from_config(
        config: &crate::config::Config,
    ) -> Result<Self, crate::cluster::ClusterError> {
        let spec = crate::cluster::ClusterSpec::embedded_default()?
            .with_overrides(&config.cluster_overrides())?;
        // An existing cluster (the settings' `context`) keys its team files as `up --context`.
        let (cluster, kube) = match &config.context {
            Some(context) => {
                crate::platform::target::located(context, config.kubeconfig.as_deref())?
            }
            None => (spec.name.clone(), KubeTarget::cluster(&spec.name)),
        };
        Ok(Self {
            local_teams: LocalTeams::for_cluster(&cluster),
            kube,
            cluster,
            github_api: config.github_api_or_default(),
            owner: config.owner.clone(),
            local: false,
            helm: config.helm.clone(),
        })
    }
}

/// Where a platform's team files live.
enum Files {
    Local(LocalTeams),
    Repository {
        github: Box<GitHub>,
        owner: String,
        pull: PullCredentials,
    },
}

async fn files(target: &TeamsTarget, keyring: &Keyring) -> Result<Files, TeamError> {
    let source = if target.local {
        Source::Local
    } else {
        Source::detect(keyring, &target.github_api, target.owner.clone())
    };
    match source {
        Source::Local => Ok(Files::Local(target.local_teams.clone())),
        Source::GitHub { api, owner } => {
            let token = keyring
                .get(&accounts::github_token(&api))?
                .ok_or_else(|| crate::github::GitHubError::NotConnected { api: api.clone() })?;
            let github = GitHub::new(&api, &token)?;
            let identity = github.identity().await?;
            let owner = identity.owner(owner.as_deref())?;
            Ok(Files::Repository {
                pull: PullCredentials::new(&identity.login, &token),
                github: Box::new(github),
                owner: owner.name,
            })
        }
    }
}

impl Files {
    async fn teams(&self) -> Result<Vec<TeamFile>, TeamError> {
        match self {
            Files::Local(local) => local.list(),
            Files::Repository { github, owner, .. } => {
                let files = github.read_files(owner, PLATFORM_REPO, "main").await?;
                super::from_repository(&files)
            }
        }
    }

    fn source(&self) -> &'static str {
        match self {
            Files::Local(_) => "local",
            Files::Repository { .. } => "repository",
        }
    }
}

/// One resource of a team's ResourceQuota: what is used of what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct QuotaUse {
    pub resource: String,
    pub used: String,
    pub hard: String,
}

/// A team as `team list` and the Services view show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TeamSummary {
    pub name: String,
    pub namespace: String,
    /// `repository` (GitHub mode: the platform repository's teams/) or `local`.
    pub source: String,
    /// The namespace exists on the cluster (the baseline was applied).
    pub applied: bool,
    pub quota: Vec<QuotaUse>,
    /// Services deployed into the namespace (their Argo CD Applications).
    pub services: Vec<String>,
}

async fn client(kube: &KubeTarget) -> Option<kube::Client> {
    kube.client().await.ok()
}

/// Every team, with its namespace's quota use and services when the cluster answers.
pub async fn list(target: &TeamsTarget, keyring: &Keyring) -> Result<Vec<TeamSummary>, TeamError> {
    let files = files(target, keyring).await?;
    let teams = files.teams().await?;
    let client = client(&target.kube).await;
    let apps = match &client {
        Some(c) => Api::<DynamicObject>::namespaced_with(
            c.clone(),
            ARGO_NAMESPACE,
            &wait::application_resource(),
        )
        .list(&ListParams::default().labels("slipway.dev/layer=workloads"))
        .await
        .map(|l| l.items)
        .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for team in teams {
        let namespace = team.namespace();
        let mut services: Vec<String> = apps
            .iter()
            .filter(|a| a.data["spec"]["destination"]["namespace"] == namespace.as_str())
            .filter_map(|a| a.metadata.name.clone())
            .collect();
        services.sort();
        let (applied, quota) = match &client {
            Some(c) => usage(c, &namespace).await?,
            None => (false, Vec::new()),
        };
        out.push(TeamSummary {
            name: team.name,
            namespace,
            source: files.source().to_owned(),
            applied,
            quota,
            services,
        });
    }
    Ok(out)
}

/// Whether the namespace exists, and its quota's used/hard per resource.
async fn usage(client: &kube::Client, namespace: &str) -> Result<(bool, Vec<QuotaUse>), TeamError> {
    use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
    let exists = Api::<Namespace>::all(client.clone())
        .get_opt(namespace)
        .await
        .map_err(K8sError::from)?
        .is_some();
    if !exists {
        return Ok((false, Vec::new()));
    }
    let quota = Api::<ResourceQuota>::namespaced(client.clone(), namespace)
        .get_opt(super::QUOTA)
        .await
        .map_err(K8sError::from)?;
    let status = quota.and_then(|q| q.status).unwrap_or_default();
    let (hard, used) = (
        status.hard.unwrap_or_default(),
        status.used.unwrap_or_default(),
    );
    Ok((
        true,
        hard.iter()
            .map(|(resource, h)| QuotaUse {
                resource: resource.clone(),
                hard: h.0.clone(),
                used: used
                    .get(resource)
                    .map_or_else(|| "0".to_owned(), |u| u.0.clone()),
            })
            .collect(),
    ))
}

/// What `team apply` changes in a team file (the rest of the file is kept).
#[derive(Debug, Clone, Default)]
pub struct TeamChange {
    pub name: String,
    /// Requests and limits of CPU the namespace may use in all.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub pods: Option<u32>,
}

impl TeamChange {
    fn onto(&self, mut team: TeamFile) -> TeamFile {
        if let Some(cpu) = &self.cpu {
            team.quota.requests_cpu = Some(cpu.clone());
            team.quota.limits_cpu = Some(cpu.clone());
        }
        if let Some(memory) = &self.memory {
            team.quota.requests_memory = Some(memory.clone());
            team.quota.limits_memory = Some(memory.clone());
        }
        if self.pods.is_some() {
            team.quota.pods = self.pods;
        }
        team
    }
}

/// Add a team, or change one: the file written where the mode keeps it, then applied (local
/// mode: rendered and applied here; GitHub mode: committed, Argo CD applies it, and the
/// namespace gets its pull Secret once it exists). Returns the file and what happened.
pub async fn apply(
    target: &TeamsTarget,
    keyring: &Keyring,
    change: &TeamChange,
) -> Result<(TeamFile, String), TeamError> {
    if let Some(p) = super::name_problem(&change.name) {
        return Err(TeamError::Invalid(vec![p]));
    }
    let files = files(target, keyring).await?;
    let teams = files.teams().await?;
    let current = teams.iter().find(|t| t.name == change.name).cloned();
    let team = change.onto(
        current
            .clone()
            .unwrap_or_else(|| TeamFile::new(&change.name)),
    );
    team.validate()?;
    let client = client(&target.kube).await;
    match &files {
        Files::Local(local) => {
            local.save(&team)?;
            let Some(client) = client else {
                return Ok((
                    team,
                    format!(
                        "saved; the cluster {:?} does not answer, so `slipway up` applies it",
                        target.cluster
                    ),
                ));
            };
            let helm = Helm::locate(target.helm.as_deref()).await?;
            let report = apply_local(&client, &helm, local, &team).await?;
            Ok((
                team,
                if report.changed.is_empty() {
                    "baseline current".to_owned()
                } else {
                    format!("applied {} objects", report.changed.len())
                },
            ))
        }
        Files::Repository {
            github,
            owner,
            pull,
        } => {
            if current.as_ref() == Some(&team) {
                return Ok((
                    team,
                    format!(
                        "teams/{}.yaml current in {owner}/{PLATFORM_REPO}",
                        change.name
                    ),
                ));
            }
            let mut all: Vec<TeamFile> =
                teams.into_iter().filter(|t| t.name != team.name).collect();
            all.push(team.clone());
            all.sort_by(|a, b| a.name.cmp(&b.name));
            let changes = BTreeMap::from([
                (TeamFile::path(&team.name), team.to_yaml()?.into_bytes()),
                (
                    super::GROUP_CATALOG.to_owned(),
                    super::group_catalog(&all)?.into_bytes(),
                ),
            ]);
            let verb = if current.is_some() { "Change" } else { "Add" };
            github
                .commit_files(
                    owner,
                    PLATFORM_REPO,
                    "main",
                    &changes,
                    &format!("{verb} team {} (Slipway)", team.name),
                )
                .await?;
            let mut outcome = format!(
                "committed teams/{}.yaml to {owner}/{PLATFORM_REPO}",
                team.name
            );
            if let Some(client) = client {
                refresh(&client, "teams").await?;
                let deadline = Deadline::after(Duration::from_secs(60));
                match give_pull_secret(&client, pull, &team.name, deadline).await {
                    Ok(_) => outcome.push_str("; Argo CD applied the baseline"),
                    Err(TeamError::NoNamespace { .. }) => {
                        outcome.push_str("; Argo CD applies it at its next poll, and `slipway up` then adds the pull Secret")
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((team, outcome))
        }
    }
}

/// Local mode: `team`'s baseline rendered and applied, with the Groups Backstage reads.
pub async fn apply_local(
    client: &kube::Client,
    helm: &Helm,
    local: &LocalTeams,
    team: &TeamFile,
) -> Result<crate::k8s::apply::ApplyReport, TeamError> {
    let mut objects = super::render(helm, team).await?;
    objects.push(crate::platform::gitops::local_groups(&local.list()?)?);
    let objects = objects
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<DynamicObject>, _>>()
        .map_err(K8sError::from)?;
    Ok(crate::k8s::apply::apply(
        client,
        &objects,
        FIELD_MANAGER,
        &team.namespace(),
        Duration::from_secs(60),
    )
    .await?)
}

/// Remove a team: its file (GitHub mode: Argo CD then deletes the baseline, namespace
/// included; local mode: Slipway deletes the namespace and the team's objects in argocd).
/// Refused while services run in the namespace, unless `force`.
pub async fn remove(
    target: &TeamsTarget,
    keyring: &Keyring,
    name: &str,
    force: bool,
) -> Result<String, TeamError> {
    let files = files(target, keyring).await?;
    let summary = list(target, keyring).await?;
    let Some(team) = summary.iter().find(|t| t.name == name) else {
        return Err(TeamError::NotFound(name.to_owned()));
    };
    if !team.services.is_empty() && !force {
        return Err(TeamError::HasServices {
            team: name.to_owned(),
            services: team.services.clone(),
        });
    }
    match &files {
        Files::Local(local) => {
            local.remove(name)?;
            if let Some(client) = client(&target.kube).await {
                delete_baseline(&client, name).await?;
                let groups: DynamicObject =
                    serde_json::from_value(crate::platform::gitops::local_groups(&local.list()?)?)
                        .map_err(K8sError::from)?;
                crate::k8s::apply::apply(
                    &client,
                    &[groups],
                    FIELD_MANAGER,
                    "backstage",
                    Duration::from_secs(30),
                )
                .await?;
            }
            Ok(format!("removed team {name} and its namespace team-{name}"))
        }
        Files::Repository { github, owner, .. } => {
            let remaining: Vec<TeamFile> = files
                .teams()
                .await?
                .into_iter()
                .filter(|t| t.name != name)
                .collect();
            github
                .delete_files(
                    owner,
                    PLATFORM_REPO,
                    "main",
                    &[TeamFile::path(name)],
                    &format!("Remove team {name} (Slipway)"),
                )
                .await?;
            github
                .commit_files(
                    owner,
                    PLATFORM_REPO,
                    "main",
                    &BTreeMap::from([(
                        super::GROUP_CATALOG.to_owned(),
                        super::group_catalog(&remaining)?.into_bytes(),
                    )]),
                    &format!("Drop team {name}'s Backstage group (Slipway)"),
                )
                .await?;
            if let Some(client) = client(&target.kube).await {
                refresh(&client, "teams").await?;
            }
            Ok(format!(
                "removed teams/{name}.yaml from {owner}/{PLATFORM_REPO}; Argo CD deletes the baseline"
            ))
        }
    }
}

/// Local mode's removal: the namespace (with everything in it) and the team's objects in argocd.
async fn delete_baseline(client: &kube::Client, team: &str) -> Result<(), TeamError> {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::RoleBinding;
    let gone = |r: Result<_, kube::Error>| match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(TeamError::Kube(K8sError::from(e))),
    };
    let dp = Default::default();
    gone(
        Api::<Namespace>::all(client.clone())
            .delete(&super::namespace(team), &dp)
            .await
            .map(|_| ()),
    )?;
    let selector = ListParams::default().labels(&format!("{}={team}", super::TEAM_LABEL));
    gone(
        Api::<RoleBinding>::namespaced(client.clone(), ARGO_NAMESPACE)
            .delete_collection(&dp, &selector)
            .await
            .map(|_| ()),
    )?;
    let projects = kube::discovery::ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "AppProject".into(),
        plural: "appprojects".into(),
    };
    gone(
        Api::<DynamicObject>::namespaced_with(client.clone(), ARGO_NAMESPACE, &projects)
            .delete(&super::namespace(team), &dp)
            .await
            .map(|_| ()),
    )
}

/// Ask Argo CD's ApplicationSet controller to run `set`'s generators now.
pub async fn refresh(client: &kube::Client, set: &str) -> Result<bool, TeamError> {
    let sets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ARGO_NAMESPACE,
        &wait::application_set_resource(),
    );
    let patch = json!({"metadata": {"annotations": {"argocd.argoproj.io/application-set-refresh": "true"}}});
    match sets
        .patch(set, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(K8sError::from(e).into()),
    }
}

/// The team namespace's image pull Secret, once the namespace exists (before `deadline`):
/// whether it changed.
pub async fn give_pull_secret(
    client: &kube::Client,
    pull: &PullCredentials,
    team: &str,
    deadline: Deadline,
) -> Result<bool, TeamError> {
    use k8s_openapi::api::core::v1::Namespace;
    let namespace = super::namespace(team);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let look = || async {
        Ok::<_, TeamError>(match namespaces.get_opt(&namespace).await {
            Ok(Some(_)) => pipeline::Poll::Ready(()),
            Ok(None) => pipeline::Poll::Pending(String::new()),
            Err(e) => return Err(K8sError::from(e).into()),
        })
    };
    pipeline::poll(deadline, Duration::from_millis(500), look, |_| {
        TeamError::NoNamespace {
            namespace: namespace.clone(),
        }
    })
    .await?;
    let secret: DynamicObject =
        serde_json::from_value(pull.secret(team)).map_err(K8sError::from)?;
    let report = crate::k8s::apply::apply(
        client,
        &[secret],
        FIELD_MANAGER,
        &namespace,
        Duration::from_secs(30),
    )
    .await?;
    Ok(!report.changed.is_empty())
}
