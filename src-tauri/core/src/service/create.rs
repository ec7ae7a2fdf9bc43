//! Creating a service for real: repository with the rendered template in one commit, topics,
//! catalog registration, Argo CD refresh. Each step checks before it acts and records what it
//! created in a journal, so a failed run resumes with the same command and `--rollback` removes
//! exactly what this operation made: never an orphan repository blocking a retry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ServiceError, ServiceRequest, template};
use crate::backstage::Backstage;
use crate::error::{Classified, ErrorKind};
use crate::github::{GitHub, Owner};
use crate::lock::{LockError, RunLock};
use crate::pipeline::{
    self, Pipeline, PipelineError, ProgressSink, Stage, StepContext, StepDef, StepOutcome,
    StepReport, Timeouts, step,
};
use crate::platform::publish::PLATFORM_REPO;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStep {
    Check,
    Repository,
    Files,
    Topics,
    Registry,
    Catalog,
    Refresh,
    TeamAccess,
}

/// Service creation, as data: what each row says is what applies.
pub const CREATE: Pipeline<CreateStep> = Pipeline {
    steps: CREATE_STEPS,
    resume: "slipway service create",
};

const CREATE_STEPS: &[StepDef<CreateStep>] = &[
    step(
        CreateStep::Check,
        "check",
        "Check the name is free on GitHub and in the catalog",
        60,
        2,
    ),
    step(
        CreateStep::Repository,
        "repository",
        "Create the GitHub repository",
        120,
        1,
    ),
    step(
        CreateStep::Files,
        "files",
        "Commit the rendered template and catalog-info.yaml",
        300,
        1,
    ),
    step(
        CreateStep::Topics,
        "topics",
        "Set the idp-managed and team topics",
        60,
        2,
    ),
    step(
        CreateStep::Registry,
        "registry",
        "Add a new team, and a personal account's service, to the platform repository",
        60,
        1,
    ),
    step(
        CreateStep::Catalog,
        "catalog",
        "Register the component in Backstage",
        120,
        2,
    ),
    step(
        CreateStep::Refresh,
        "refresh",
        "Ask Argo CD to look for the new repository now",
        60,
        2,
    ),
    step(
        CreateStep::TeamAccess,
        "team-access",
        "Give the team's namespace its image pull Secret",
        120,
        1,
    ),
];

/// Why a creation (or rollback) stopped.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Before any step: the request, the connection or an earlier run's journal.
    #[error(transparent)]
    Request(#[from] ServiceError),
    /// A step failed; running the same creation again resumes there.
    #[error(transparent)]
    Step(#[from] PipelineError<ServiceError>),
    /// Another Slipway process is working on the cluster.
    #[error(transparent)]
    Busy(#[from] LockError),
}

impl Classified for CreateError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Request(e) => e.kind(),
            Self::Step(e) => match e.source_error().map(Classified::kind) {
                Some(ErrorKind::Unavailable | ErrorKind::Cluster | ErrorKind::Io) | None => {
                    ErrorKind::Step
                }
                Some(kind) => kind,
            },
            Self::Busy(e) => e.kind(),
        }
    }

    fn step(&self) -> Option<&'static str> {
        match self {
            Self::Step(e) => Some(e.step()),
            _ => None,
        }
    }
}

/// What this operation created, kept on disk between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Journal {
    pub owner: String,
    pub name: String,
    pub created_repo: bool,
    pub repo_url: Option<String>,
    pub commit: Option<String>,
    pub location_id: Option<String>,
    pub created_location: bool,
    /// `services/<name>.yaml` written into the owner's platform repository.
    #[serde(default)]
    pub registry_entry: bool,
    /// `teams/<team>.yaml` written (the team was new). Kept on rollback: a team is harmless
    /// and other services may join it.
    #[serde(default)]
    pub team_file: bool,
}

/// A journal as read from disk.
#[derive(Debug)]
pub enum Loaded {
    /// No unfinished creation.
    None,
    Journal(Journal),
    /// The journal is unreadable; the previous version (one step behind) is what can be proven.
    Corrupt {
        error: ServiceError,
        previous: Option<Journal>,
    },
}

impl Loaded {
    /// The readable journal, if there is one.
    pub fn journal(&self) -> Option<&Journal> {
        match self {
            Self::Journal(journal) => Some(journal),
            _ => None,
        }
    }
}

impl Journal {
    fn path(dir: &Path, owner: &str, name: &str) -> PathBuf {
        dir.join(format!("{owner}--{name}.json"))
    }

    /// The version before the last save: each save keeps it, so a journal damaged on disk
    /// still proves what the steps before the last one made.
    fn previous_path(dir: &Path, owner: &str, name: &str) -> PathBuf {
        dir.join(format!("{owner}--{name}.prev.json"))
    }

    pub fn load(dir: &Path, owner: &str, name: &str) -> Loaded {
        let path = Self::path(dir, owner, name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::None,
            Err(source) => {
                return Loaded::Corrupt {
                    error: ServiceError::Io {
                        action: "read",
                        path,
                        source,
                    },
                    previous: None,
                };
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(journal) => Loaded::Journal(journal),
            Err(source) => Loaded::Corrupt {
                previous: std::fs::read(Self::previous_path(dir, owner, name))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok()),
                error: ServiceError::Journal {
                    owner: owner.to_owned(),
                    name: name.to_owned(),
                    path,
                    source,
                },
            },
        }
    }

    fn save(&self, dir: &Path) -> Result<(), ServiceError> {
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| ServiceError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let path = Self::path(dir, &self.owner, &self.name);
        if path.exists() {
            std::fs::copy(&path, Self::previous_path(dir, &self.owner, &self.name))
                .map_err(io("keep the previous version of", &path))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| ServiceError::Io {
            action: "encode",
            path: path.clone(),
            source: e.into(),
        })?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io("write the journal", &path))
    }

    fn remove(&self, dir: &Path) {
        for path in [
            Self::path(dir, &self.owner, &self.name),
            Self::previous_path(dir, &self.owner, &self.name),
        ] {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("could not remove the journal {}: {e}", path.display());
            }
        }
    }
}

/// Where journals live: `<state dir>/services`.
pub fn journal_dir() -> PathBuf {
    crate::config::state_dir().join("services")
}

/// What a creation needs besides the request.
pub struct Services<'a> {
    pub github: &'a GitHub,
    pub backstage: &'a Backstage,
    /// The platform cluster, for the Argo CD refresh (none: the step says so and moves on).
    pub kube: Option<kube::Client>,
    pub journal_dir: PathBuf,
    /// Where the repository goes (an organisation, or the token's user).
    pub owner: Owner,
    /// The platform cluster: its run lock is held during the creation.
    pub cluster: String,
    /// Where the run locks are (`lock::dir()`).
    pub lock_dir: PathBuf,
    /// Who pulls the team's images (none: the namespace gets no pull Secret from here).
    pub pull: Option<crate::teams::PullCredentials>,
    /// Local mode's team files (a platform without a published repository keeps them here).
    pub local_teams: crate::teams::LocalTeams,
    /// The helm binary, for a new team's baseline in local mode.
    pub helm: Option<PathBuf>,
    /// The host port of the platform's HTTP ingress, for the service's URL.
    /// How a browser here reaches the service (the URL in the summary).
    pub reach: crate::platform::Reach,
    /// The domain is a DNS zone (an existing cluster): no hosts file is involved.
    pub zone: bool,
}

/// The result of a creation, for the summary and the notification.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Created {
    pub repo_url: String,
    pub catalog_entity: String,
    pub service_url: String,
    /// The service's host (`<name>.<domain>`) and whether the hosts file maps it already:
    /// until it does, the URL resolves nowhere (`slipway hosts apply` adds it). Always true in
    /// a DNS zone (an existing cluster's domain).
    pub host: String,
    pub host_listed: bool,
    /// The Argo CD Application's sync and health right after the refresh, if it exists yet.
    pub application: Option<(String, String)>,
    pub steps: Vec<StepReport>,
    /// GitHub's rate budget after the creation.
    pub rate_budget: Option<crate::github::RateBudget>,
}

struct CreateStage<'a> {
    request: &'a ServiceRequest,
    services: &'a Services<'a>,
    journal: Journal,
    files: template::Files,
    /// The service's repository once a step has seen it: later steps need not ask GitHub again.
    repo: Option<crate::github::Repo>,
}

impl CreateStage<'_> {
    async fn repo(&mut self) -> Result<crate::github::Repo, ServiceError> {
        if let Some(repo) = &self.repo {
            return Ok(repo.clone());
        }
        let (owner, name) = (&self.services.owner.name, &self.request.name);
        let repo = self
            .services
            .github
            .repo(owner, name)
            .await?
            .ok_or_else(|| ServiceError::RepoGone {
                owner: owner.clone(),
                name: name.clone(),
            })?;
        self.repo = Some(repo.clone());
        Ok(repo)
    }

    fn save(&self) -> Result<(), ServiceError> {
        self.journal.save(&self.services.journal_dir)
    }

    fn topics(&self) -> Vec<String> {
        vec![
            super::SERVICE_TOPIC.to_owned(),
            format!("team-{}", self.request.team),
        ]
    }

    /// Local mode's new team: its file in the state folder and its baseline applied here.
    async fn local_team(&mut self, r: StepContext<'_>) -> Result<StepOutcome, ServiceError> {
        let team = &self.request.team;
        let local = &self.services.local_teams;
        if local.list()?.iter().any(|t| &t.name == team) {
            return Ok(StepOutcome::up_to_date(format!(
                "local mode: team {team} exists"
            )));
        }
        r.warn(format!(
            "{}/{PLATFORM_REPO} is not published (the platform runs in local mode): team {team} is kept by Slipway, and Argo CD deploys the service once `slipway up` runs in GitHub mode",
            self.services.owner.name
        ));
        let file = crate::teams::TeamFile::new(team);
        local.save(&file)?;
        self.journal.team_file = true;
        self.save()?;
        let Some(client) = &self.services.kube else {
            return Ok(StepOutcome::changed(format!(
                "local mode: team {team} saved; `slipway up` applies it"
            )));
        };
        let helm = crate::helm::Helm::locate(self.services.helm.as_deref())
            .await
            .map_err(crate::teams::TeamError::from)?;
        crate::teams::ops::apply_local(client, &helm, local, &file).await?;
        Ok(StepOutcome::changed(format!(
            "local mode: team {team} and its namespace {} applied",
            file.namespace()
        )))
    }
}

impl Stage for CreateStage<'_> {
    type Id = CreateStep;
    type Error = ServiceError;

    async fn execute(
        &mut self,
        id: CreateStep,
        r: StepContext<'_>,
    ) -> Result<StepOutcome, ServiceError> {
        let (gh, req) = (self.services.github, self.request);
        let (owner, name) = (self.services.owner.name.as_str(), req.name.as_str());
        match id {
            CreateStep::Check => {
                let ours = self.journal.created_repo;
                if !ours && gh.repo(owner, name).await?.is_some() {
                    return Err(ServiceError::RepoExists {
                        owner: owner.to_owned(),
                        name: name.to_owned(),
                    });
                }
                if !ours && self.services.backstage.component(name).await?.is_some() {
                    return Err(ServiceError::CatalogExists(name.to_owned()));
                }
                Ok(StepOutcome::up_to_date(if ours {
                    "resuming this service's creation"
                } else {
                    "the name is free"
                }))
            }
            CreateStep::Repository => {
                if let Some(repo) = gh.repo(owner, name).await? {
                    let outcome = StepOutcome::up_to_date(format!("{} exists", repo.html_url));
                    self.repo = Some(repo);
                    return Ok(outcome);
                }
                let description = req.values(owner).description;
                let repo = match &req.template_repo {
                    Some(template) => gh.generate(template, owner, name, &description).await?,
                    None => {
                        gh.create_repo(owner, self.services.owner.org, name, &description, false)
                            .await?
                    }
                };
                self.journal.created_repo = true;
                self.journal.repo_url = Some(repo.html_url.clone());
                self.save()?;
                let outcome = StepOutcome::changed(match &req.template_repo {
                    Some(t) => format!("generated {} from {t}", repo.html_url),
                    None => format!("created {}", repo.html_url),
                });
                self.repo = Some(repo);
                Ok(outcome)
            }
            CreateStep::Files => {
                let repo = self.repo().await?;
                if req.template_repo.is_some() {
                    // GitHub copies a template asynchronously: writing before it finished fails.
                    r.detail("waiting for GitHub to copy the template repository");
                    gh.wait_populated(owner, name, &repo.default_branch, r.deadline())
                        .await?;
                }
                // Rendered means: catalog-info.yaml is there without placeholders.
                if gh
                    .file(owner, name, "catalog-info.yaml")
                    .await?
                    .is_some_and(|f| !String::from_utf8_lossy(&f).contains("${{"))
                {
                    return Ok(StepOutcome::up_to_date("template committed"));
                }
                let files = match &req.template_repo {
                    None => self.files.clone(),
                    Some(_) => {
                        let current = gh.read_files(owner, name, &repo.default_branch).await?;
                        let rendered =
                            template::render_files(&req.template, &current, &req.values(owner))?;
                        rendered
                            .into_iter()
                            .filter(|(path, data)| current.get(path) != Some(data))
                            .collect()
                    }
                };
                r.detail(format!("{} files in one commit", files.len()));
                let sha = gh
                    .commit_files(
                        owner,
                        name,
                        &repo.default_branch,
                        &files,
                        &format!("Create {name} from the {} template (Slipway)", req.template),
                    )
                    .await?;
                self.journal.commit = Some(sha.clone());
                self.save()?;
                Ok(StepOutcome::changed(format!(
                    "committed {} files ({})",
                    files.len(),
                    &sha[..sha.len().min(7)]
                )))
            }
            CreateStep::Topics => {
                let mut topics = gh.topics(owner, name).await?;
                let wanted = self.topics();
                if wanted.iter().all(|t| topics.contains(t)) {
                    return Ok(StepOutcome::up_to_date(wanted.join(", ")));
                }
                topics.extend(
                    wanted
                        .iter()
                        .filter(|t| !topics.contains(t))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                gh.set_topics(owner, name, &topics).await?;
                Ok(StepOutcome::changed(format!(
                    "topics {}",
                    topics.join(", ")
                )))
            }
            CreateStep::Registry => {
                let platform = match gh.repo(owner, PLATFORM_REPO).await? {
                    Some(platform) => platform,
                    // An organisation's platform not published yet runs in local mode: the
                    // team is Slipway's to keep and apply there. (A personal account's service
                    // needs the repository's registry: say what to do first.)
                    None if self.services.owner.org => return self.local_team(r).await,
                    None => {
                        return Err(ServiceError::NoPlatformRepo {
                            owner: owner.to_owned(),
                            repo: PLATFORM_REPO,
                        });
                    }
                };
                let current = gh
                    .read_files(owner, PLATFORM_REPO, &platform.default_branch)
                    .await?;
                let mut files = std::collections::BTreeMap::new();
                // A new team: its file first (Argo CD's teams ApplicationSet makes its
                // namespace and guard rails), and its Backstage Group.
                let team_path = crate::teams::TeamFile::path(&req.team);
                if !current.contains_key(&team_path) {
                    let team = crate::teams::TeamFile::new(&req.team);
                    let mut teams = crate::teams::from_repository(&current)?;
                    teams.push(team.clone());
                    teams.sort_by(|a, b| a.name.cmp(&b.name));
                    files.insert(team_path.clone(), team.to_yaml()?.into_bytes());
                    files.insert(
                        crate::teams::GROUP_CATALOG.to_owned(),
                        crate::teams::group_catalog(&teams)?.into_bytes(),
                    );
                }
                // Argo CD's SCM generator cannot list a user's repositories: the registry
                // ApplicationSet reads services/*.yaml from the platform repository instead.
                if !self.services.owner.org {
                    let repo = self.repo().await?;
                    let (path, entry) = template::registry_entry(
                        &req.template,
                        name,
                        &format!("{}.git", repo.html_url),
                        &repo.default_branch,
                        &req.team,
                    )?;
                    if current.get(&path) != Some(&entry) {
                        files.insert(path, entry);
                    }
                }
                if files.is_empty() {
                    return Ok(StepOutcome::up_to_date(format!(
                        "team {} and the service listed",
                        req.team
                    )));
                }
                let paths: Vec<String> = files.keys().cloned().collect();
                let new_team = files.contains_key(&team_path);
                let message = match (new_team, self.services.owner.org) {
                    (true, true) => format!("Add team {} (Slipway)", req.team),
                    (true, false) => format!("Add team {} and list {name} (Slipway)", req.team),
                    (false, _) => format!("List {name} (Slipway)"),
                };
                gh.commit_files(
                    owner,
                    PLATFORM_REPO,
                    &platform.default_branch,
                    &files,
                    &message,
                )
                .await?;
                self.journal.registry_entry |= !self.services.owner.org;
                self.journal.team_file |= new_team;
                self.save()?;
                Ok(StepOutcome::changed(format!(
                    "wrote {} in {owner}/{PLATFORM_REPO}",
                    paths.join(", ")
                )))
            }
            CreateStep::Catalog => {
                let backstage = self.services.backstage;
                if backstage.component(name).await?.is_some() {
                    return Ok(StepOutcome::up_to_date(format!(
                        "component:default/{name} in the catalog"
                    )));
                }
                let repo = self.repo().await?;
                let target = super::catalog_location(&repo);
                let registration = backstage
                    .register(&target, &format!("component:default/{name}"))
                    .await?;
                self.journal.location_id = Some(registration.location_id.clone());
                self.journal.created_location = !registration.refreshed;
                self.save()?;
                r.detail("waiting for the catalog to read catalog-info.yaml");
                backstage
                    .wait_for_component(&target, name, r.deadline())
                    .await?;
                Ok(StepOutcome::changed(if registration.refreshed {
                    "refreshed the existing location".to_owned()
                } else {
                    format!("registered location {}", registration.location_id)
                }))
            }
            CreateStep::Refresh => refresh_workloads(self.services.kube.as_ref(), r).await,
            CreateStep::TeamAccess => {
                team_access(
                    self.services.kube.as_ref(),
                    self.services.pull.as_ref(),
                    &req.team,
                    r,
                )
                .await
            }
        }
    }
}

/// Argo CD re-runs an ApplicationSet's generators when it carries this annotation (and removes it).
async fn refresh_workloads(
    kube: Option<&kube::Client>,
    r: StepContext<'_>,
) -> Result<StepOutcome, ServiceError> {
    let Some(client) = kube else {
        return Ok(StepOutcome::up_to_date(
            "no platform cluster: Argo CD will find the repository at its next poll",
        ));
    };
    let ar = crate::k8s::wait::application_set_resource();
    let sets: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        crate::platform::install::ARGO_NAMESPACE,
        &ar,
    );
    let mut refreshed = Vec::new();
    for set in ["teams", "workloads", "workloads-registry"] {
        let patch = json!({"metadata": {"annotations": {"argocd.argoproj.io/application-set-refresh": "true"}}});
        match sets
            .patch(
                set,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => refreshed.push(set),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(crate::k8s::K8sError::from(e).into()),
        }
    }
    if refreshed.is_empty() {
        r.warn("no workloads ApplicationSet on the cluster: the platform runs in local mode, so Argo CD does not deploy services from GitHub yet");
        return Ok(StepOutcome::up_to_date("nothing to refresh"));
    }
    Ok(StepOutcome::changed(format!(
        "refresh requested on {}",
        refreshed.join(", ")
    )))
}

/// The team namespace's image pull Secret, once Argo CD made the namespace. Not there within
/// the step's time: the next `slipway up` adds it (its `teams` step), so this only warns.
async fn team_access(
    kube: Option<&kube::Client>,
    pull: Option<&crate::teams::PullCredentials>,
    team: &str,
    r: StepContext<'_>,
) -> Result<StepOutcome, ServiceError> {
    let (Some(client), Some(pull)) = (kube, pull) else {
        return Ok(StepOutcome::up_to_date(
            "no platform cluster: the next `slipway up` gives the namespace its pull Secret",
        ));
    };
    let namespace = crate::teams::namespace(team);
    r.detail(format!("waiting for Argo CD to make {namespace}"));
    match crate::teams::ops::give_pull_secret(client, pull, team, r.deadline()).await {
        Ok(true) => Ok(StepOutcome::changed(format!(
            "pull Secret {} in {namespace}",
            crate::teams::PULL_SECRET
        ))),
        Ok(false) => Ok(StepOutcome::up_to_date(format!(
            "{namespace} has its pull Secret"
        ))),
        Err(crate::teams::TeamError::NoNamespace { .. }) => {
            r.warn(format!(
                "{namespace} is not there yet (Argo CD makes it from teams/{team}.yaml): the next `slipway up` gives it the image pull Secret"
            ));
            Ok(StepOutcome::up_to_date(format!("{namespace} not made yet")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Create (or resume creating) the service, holding the cluster's run lock. The same call
/// serves the CLI and the GUI.
pub async fn create(
    request: &ServiceRequest,
    services: &Services<'_>,
    sink: &dyn ProgressSink,
) -> Result<Created, CreateError> {
    request.validate()?;
    let owner = &services.owner.name;
    let files = template::render(&request.template, &request.values(owner))?;
    let _lock = RunLock::acquire_in(
        &services.lock_dir,
        &services.cluster,
        &format!("create {}", request.name),
    )?;
    let journal = match Journal::load(&services.journal_dir, owner, &request.name) {
        Loaded::None => Journal {
            owner: owner.clone(),
            name: request.name.clone(),
            ..Journal::default()
        },
        Loaded::Journal(journal) => journal,
        Loaded::Corrupt { error, .. } => return Err(error.into()),
    };
    let mut stage = CreateStage {
        request,
        services,
        journal,
        files,
        repo: None,
    };
    let steps = pipeline::run(&CREATE, &Timeouts::default(), sink, &mut stage).await?;
    stage.journal.remove(&services.journal_dir);
    let repo_url = stage
        .journal
        .repo_url
        .clone()
        .unwrap_or_else(|| format!("https://github.com/{owner}/{}", request.name));
    let application = match &services.kube {
        Some(client) => application_state(client, &request.name).await,
        None => None,
    };
    let host = format!(
        "{}.{}",
        request.name,
        request.domain.trim_start_matches('.')
    );
    Ok(Created {
        repo_url,
        catalog_entity: format!("component:default/{}", request.name),
        service_url: services.reach.url(&host),
        host_listed: services.zone || crate::hosts::listed(&crate::hosts::default_path(), &host),
        host,
        application,
        steps,
        rate_budget: services.github.budget(),
    })
}

/// The whole golden path as a front end starts it: the request checked before any network
/// call, GitHub (the kept token, the owner checked), Backstage and the cluster connected, then
/// [`create`]. The CLI and the GUI both call this.
pub async fn create_service(
    request: &ServiceRequest,
    target: &super::connect::Target,
    keyring: &crate::secrets::Keyring,
    sink: &dyn ProgressSink,
) -> Result<Created, CreateError> {
    request.validate()?;
    let connection = super::connect::connect(target, keyring).await?;
    create(request, &connection.services(), sink).await
}

/// [`rollback`] with the connection made from `target`.
pub async fn rollback_service(
    name: &str,
    target: &super::connect::Target,
    keyring: &crate::secrets::Keyring,
) -> Result<Vec<String>, CreateError> {
    let connection = super::connect::connect(target, keyring).await?;
    rollback(name, &connection.services()).await
}

/// The service's Argo CD Application, as generated by the workloads ApplicationSet: its state
/// once Argo CD has compared it (sync no longer `Unknown`), waiting a few seconds at most, else
/// what it says then (best effort: it may not exist a moment after the refresh).
async fn application_state(client: &kube::Client, name: &str) -> Option<(String, String)> {
    const FIRST_COMPARISON: std::time::Duration = std::time::Duration::from_secs(10);
    let apps: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        crate::platform::install::ARGO_NAMESPACE,
        &crate::k8s::wait::application_resource(),
    );
    let seen = std::sync::Mutex::new(None);
    // Timing out is an answer too: the state last seen.
    let _ = pipeline::poll(
        pipeline::Deadline::after(FIRST_COMPARISON),
        std::time::Duration::from_millis(250),
        || async {
            let state = apps
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .map(|app| crate::k8s::wait::application_state(&app));
            let done = state.as_ref().is_some_and(|(sync, _)| sync != "Unknown");
            if let Ok(mut seen) = seen.lock() {
                seen.clone_from(&state);
            }
            Ok::<_, ()>(if done {
                pipeline::Poll::Ready(())
            } else {
                pipeline::Poll::Pending(String::new())
            })
        },
        |_| (),
    )
    .await;
    seen.into_inner().ok().flatten()
}

fn registry_path(name: &str) -> String {
    format!("services/{name}.yaml")
}

/// Undo what a failed creation made, per its journal: the catalog location, the registry
/// entry, then the repository. A damaged journal's previous version still proves what the
/// steps before the last one made; what cannot be proven is left alone and named.
pub async fn rollback(name: &str, services: &Services<'_>) -> Result<Vec<String>, CreateError> {
    let owner = &services.owner.name;
    let _lock = RunLock::acquire_in(
        &services.lock_dir,
        &services.cluster,
        &format!("roll back {name}"),
    )?;
    let (journal, unproven) = match Journal::load(&services.journal_dir, owner, name) {
        Loaded::None => {
            return Err(ServiceError::NothingToRollBack {
                owner: owner.clone(),
                name: name.to_owned(),
            }
            .into());
        }
        Loaded::Journal(journal) => (journal, None),
        Loaded::Corrupt {
            error,
            previous: Some(previous),
        } => (previous, Some(error)),
        Loaded::Corrupt {
            error,
            previous: None,
        } => return Err(error.into()),
    };
    // GitHub deletes a repository only for a classic token with `delete_repo` (or a
    // fine-grained one with Administration: write), which creating never needed: say so
    // before undoing anything, so the rollback stays whole.
    if journal.created_repo
        && let Some(scopes) = services
            .github
            .identity()
            .await
            .map_err(ServiceError::from)?
            .scopes
        && !scopes.iter().any(|s| s == "delete_repo")
    {
        return Err(ServiceError::CannotDeleteRepo {
            owner: owner.clone(),
            name: name.to_owned(),
        }
        .into());
    }
    let mut undone = Vec::new();
    if journal.created_location
        && let Some(id) = &journal.location_id
        && services
            .backstage
            .delete_location(id)
            .await
            .map_err(ServiceError::from)?
    {
        undone.push(format!("catalog location {id}"));
    }
    let github = services.github;
    if journal.registry_entry
        && let Some(platform) = github
            .repo(owner, PLATFORM_REPO)
            .await
            .map_err(ServiceError::from)?
        && github
            .file(owner, PLATFORM_REPO, &registry_path(name))
            .await
            .map_err(ServiceError::from)?
            .is_some()
    {
        github
            .delete_files(
                owner,
                PLATFORM_REPO,
                &platform.default_branch,
                &[registry_path(name)],
                &format!("Unlist {name} (Slipway rollback)"),
            )
            .await
            .map_err(ServiceError::from)?;
        undone.push(format!(
            "{} in {owner}/{PLATFORM_REPO}",
            registry_path(name)
        ));
    }
    if journal.created_repo
        && github
            .delete_repo(owner, name)
            .await
            .map_err(ServiceError::from)?
    {
        undone.push(format!("repository {owner}/{name}"));
    }
    match unproven {
        // Keep the damaged journal: it names what may still exist.
        Some(error) => {
            undone.push(format!("nothing else: {error}"));
        }
        None => journal.remove(&services.journal_dir),
    }
    Ok(undone)
}
