//! Creating a service for real: repository with the rendered template in one commit, topics,
//! catalog registration, Argo CD refresh. Each step checks before it acts and records what it
//! created in a journal, so a failed run resumes with the same command and `--rollback` removes
//! exactly what this operation made: never an orphan repository blocking a retry.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ServiceError, ServiceRequest, template};
use crate::backstage::Backstage;
use crate::github::GitHub;
use crate::platform::publish::PLATFORM_REPO;
use crate::platform::{PlatformError, Stage, StepDef, StepError, StepReport, run_steps, step};
use crate::progress::{ProgressSink, StepOutcome, StepReporter};

/// The topic the workloads ApplicationSet selects repositories by.
pub const MANAGED_TOPIC: &str = "idp-managed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStep {
    Check,
    Repository,
    Files,
    Topics,
    Registry,
    Catalog,
    Refresh,
}

pub const CREATE_STEPS: &[StepDef<CreateStep>] = &[
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
        "List a personal account's service in the platform repository",
        60,
        1,
    ),
    step(
        CreateStep::Catalog,
        "catalog",
        "Register the component in Backstage",
        60,
        2,
    ),
    step(
        CreateStep::Refresh,
        "refresh",
        "Ask Argo CD to look for the new repository now",
        60,
        2,
    ),
];

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
}

impl Journal {
    fn path(dir: &Path, owner: &str, name: &str) -> PathBuf {
        dir.join(format!("{owner}--{name}.json"))
    }

    pub fn load(dir: &Path, owner: &str, name: &str) -> Option<Self> {
        std::fs::read(Self::path(dir, owner, name))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    fn save(&self, dir: &Path) -> Result<(), ServiceError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServiceError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let path = Self::path(dir, &self.owner, &self.name);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).unwrap_or_default())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                ServiceError::Io(format!("cannot write the journal {}: {e}", path.display()))
            })
    }

    fn remove(&self, dir: &Path) {
        let _ = std::fs::remove_file(Self::path(dir, &self.owner, &self.name));
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
    /// The owner is an organisation (else the token's user).
    pub owner_is_org: bool,
}

/// The result of a creation, for the summary and the notification.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub repo_url: String,
    pub catalog_entity: String,
    pub service_url: String,
    /// The Argo CD Application's sync and health right after the refresh, if it exists yet.
    pub application: Option<(String, String)>,
    pub steps: Vec<StepReport>,
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
    async fn repo(&mut self) -> Result<crate::github::Repo, StepError> {
        if let Some(repo) = &self.repo {
            return Ok(repo.clone());
        }
        let (owner, name) = (&self.request.owner, &self.request.name);
        let repo = self
            .services
            .github
            .repo(owner, name)
            .await?
            .ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "{owner}/{name} disappeared; run again to re-create it"
                ))
            })?;
        self.repo = Some(repo.clone());
        Ok(repo)
    }

    fn save(&self) -> Result<(), StepError> {
        self.journal
            .save(&self.services.journal_dir)
            .map_err(StepError::from)
    }

    fn topics(&self) -> Vec<String> {
        vec![
            MANAGED_TOPIC.to_owned(),
            format!("team-{}", self.request.team),
        ]
    }

    fn catalog_url(&self, repo: &crate::github::Repo) -> String {
        format!(
            "{}/blob/{}/catalog-info.yaml",
            repo.html_url, repo.default_branch
        )
    }
}

impl Stage for CreateStage<'_> {
    type Id = CreateStep;

    async fn execute(
        &mut self,
        id: CreateStep,
        r: StepReporter<'_>,
    ) -> Result<StepOutcome, StepError> {
        let (gh, req) = (self.services.github, self.request);
        let (owner, name) = (req.owner.as_str(), req.name.as_str());
        match id {
            CreateStep::Check => {
                let ours = self.journal.created_repo;
                if !ours && gh.repo(owner, name).await?.is_some() {
                    return Err(ServiceError::Invalid(format!("{owner}/{name} already exists on GitHub; choose another name (Slipway did not create it, so it will not touch it)")).into());
                }
                if !ours && self.services.backstage.component(name).await?.is_some() {
                    return Err(ServiceError::Invalid(format!(
                        "the catalog already has a component {name:?}; choose another name"
                    ))
                    .into());
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
                let description = req.values().description;
                let repo = match &req.template_repo {
                    Some(template) => gh.generate(template, owner, name, &description).await?,
                    None => {
                        gh.create_repo(owner, self.services.owner_is_org, name, &description)
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
                    gh.wait_populated(owner, name, &repo.default_branch, Duration::from_secs(90))
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
                            template::render_files(&req.template, &current, &req.values())?;
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
                if self.services.owner_is_org {
                    return Ok(StepOutcome::up_to_date(
                        "organisation: Argo CD finds the repository by its topic",
                    ));
                }
                // Argo CD's SCM generator cannot list a user's repositories: the registry
                // ApplicationSet reads services/*.yaml from the platform repository instead.
                let platform = gh.repo(owner, PLATFORM_REPO).await?.ok_or_else(|| ServiceError::Invalid(format!("{owner}/{PLATFORM_REPO} does not exist: publish the platform first (`slipway github publish`)")))?;
                let repo = self.repo().await?;
                let path = registry_path(name);
                let entry = format!("# Created by Slipway: Argo CD deploys {name}'s deploy/ folder.\nname: {name}\nrepo: {}.git\nteam: {}\n", repo.html_url, req.team).into_bytes();
                if gh.file(owner, PLATFORM_REPO, &path).await?.as_deref() == Some(&entry[..]) {
                    return Ok(StepOutcome::up_to_date(format!("{path} listed")));
                }
                gh.commit_files(
                    owner,
                    PLATFORM_REPO,
                    &platform.default_branch,
                    &std::collections::BTreeMap::from([(path.clone(), entry)]),
                    &format!("List {name} (Slipway)"),
                )
                .await?;
                self.journal.registry_entry = true;
                self.save()?;
                Ok(StepOutcome::changed(format!(
                    "wrote {path} in {owner}/{PLATFORM_REPO}"
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
                let registration = backstage
                    .register(
                        &self.catalog_url(&repo),
                        &format!("component:default/{name}"),
                    )
                    .await?;
                self.journal.location_id = Some(registration.location_id.clone());
                self.journal.created_location = !registration.refreshed;
                self.save()?;
                Ok(StepOutcome::changed(if registration.refreshed {
                    "refreshed the existing location".to_owned()
                } else {
                    format!("registered location {}", registration.location_id)
                }))
            }
            CreateStep::Refresh => refresh_workloads(self.services.kube.as_ref(), r).await,
        }
    }
}

/// Argo CD re-runs an ApplicationSet's generators when it carries this annotation (and removes it).
async fn refresh_workloads(
    kube: Option<&kube::Client>,
    r: StepReporter<'_>,
) -> Result<StepOutcome, StepError> {
    let Some(client) = kube else {
        return Ok(StepOutcome::up_to_date(
            "no platform cluster: Argo CD will find the repository at its next poll",
        ));
    };
    let ar = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("argoproj.io", "v1alpha1", "ApplicationSet"),
        "applicationsets",
    );
    let sets: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        crate::platform::install::ARGO_NAMESPACE,
        &ar,
    );
    let mut refreshed = Vec::new();
    for set in ["workloads", "workloads-registry"] {
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

/// Create (or resume creating) the service. The same call serves the CLI and the GUI.
pub async fn create(
    request: &ServiceRequest,
    services: &Services<'_>,
    sink: &dyn ProgressSink,
) -> Result<Created, PlatformError> {
    let invalid = |e: ServiceError| PlatformError::Step {
        step: "validate",
        source: e.into(),
    };
    request.validate().map_err(invalid)?;
    let files = template::render(&request.template, &request.values()).map_err(invalid)?;
    let journal = Journal::load(&services.journal_dir, &request.owner, &request.name)
        .unwrap_or_else(|| Journal {
            owner: request.owner.clone(),
            name: request.name.clone(),
            ..Journal::default()
        });
    let mut stage = CreateStage {
        request,
        services,
        journal,
        files,
        repo: None,
    };
    let steps = run_steps(CREATE_STEPS, sink, &mut stage).await?;
    stage.journal.remove(&services.journal_dir);
    let repo_url = stage
        .journal
        .repo_url
        .clone()
        .unwrap_or_else(|| format!("https://github.com/{}/{}", request.owner, request.name));
    let application = match &services.kube {
        Some(client) => application_state(client, &request.name).await,
        None => None,
    };
    Ok(Created {
        repo_url,
        catalog_entity: format!("component:default/{}", request.name),
        service_url: format!(
            "http://{}.{}:8880",
            request.name,
            request.domain.trim_start_matches('.')
        ),
        application,
        steps,
    })
}

/// The service's Argo CD Application, as generated by the workloads ApplicationSet (best effort:
/// it may not exist a moment after the refresh).
async fn application_state(client: &kube::Client, name: &str) -> Option<(String, String)> {
    let apps: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client.clone(),
        crate::platform::install::ARGO_NAMESPACE,
        &crate::k8s::wait::application_resource(),
    );
    let app = apps.get_opt(name).await.ok()??;
    Some(crate::k8s::wait::application_state(&app))
}

fn registry_path(name: &str) -> String {
    format!("services/{name}.yaml")
}

/// Undo what a failed creation made (per its journal): the catalog location, then the repository.
pub async fn rollback(
    owner: &str,
    name: &str,
    services: &Services<'_>,
) -> Result<Vec<String>, ServiceError> {
    let Some(journal) = Journal::load(&services.journal_dir, owner, name) else {
        return Err(ServiceError::Invalid(format!(
            "no unfinished creation of {owner}/{name} to roll back (Slipway only removes what it created)"
        )));
    };
    let mut undone = Vec::new();
    if journal.created_location
        && let Some(id) = &journal.location_id
        && services
            .backstage
            .delete_location(id)
            .await
            .map_err(|e| ServiceError::Io(e.to_string()))?
    {
        undone.push(format!("catalog location {id}"));
    }
    if journal.registry_entry
        && let Some(platform) = services.github.repo(owner, PLATFORM_REPO).await?
        && services
            .github
            .file(owner, PLATFORM_REPO, &registry_path(name))
            .await?
            .is_some()
    {
        services
            .github
            .delete_files(
                owner,
                PLATFORM_REPO,
                &platform.default_branch,
                &[registry_path(name)],
                &format!("Unlist {name} (Slipway rollback)"),
            )
            .await?;
        undone.push(format!(
            "{} in {owner}/{PLATFORM_REPO}",
            registry_path(name)
        ));
    }
    if journal.created_repo
        && services
            .github
            .delete_repo(owner, name)
            .await
            .map_err(|e| ServiceError::Io(e.to_string()))?
    {
        undone.push(format!("repository {owner}/{name}"));
    }
    journal.remove(&services.journal_dir);
    Ok(undone)
}
