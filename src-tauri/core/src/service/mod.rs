//! The golden path: a new service from a template. This module validates the request and renders
//! the service; the same function serves the CLI (`slipway service create`) and the GUI form.

pub mod connect;
pub mod create;
pub mod list;
pub mod status;
pub mod template;

use std::path::{Path, PathBuf};

use crate::bundle::BundleError;
use crate::error::{Classified, ErrorKind};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request breaks the naming rules; every problem is listed.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The embedded bundle (the templates) is broken.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// GitHub refused or failed.
    #[error(transparent)]
    GitHub(#[from] crate::github::GitHubError),
    /// Backstage refused or failed.
    #[error(transparent)]
    Backstage(#[from] crate::backstage::BackstageError),
    /// The cluster refused or failed (the Argo CD refresh).
    #[error(transparent)]
    Kube(#[from] crate::k8s::K8sError),
    /// An existing cluster's Backstage could not be reached through a port-forward.
    #[error("cannot reach the cluster's Backstage through a port-forward: {0}")]
    Forward(#[from] crate::forward::ForwardError),
    /// The keyring failed.
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    /// A repository of that name exists and Slipway did not make it.
    #[error(
        "{owner}/{name} already exists on GitHub; choose another name (Slipway did not create it, so it will not touch it)"
    )]
    RepoExists { owner: String, name: String },
    /// The catalog has a component of that name.
    #[error("the catalog already has a component {0:?}; choose another name")]
    CatalogExists(String),
    /// The repository this creation made is gone.
    #[error("{owner}/{name} disappeared; run again to re-create it")]
    RepoGone { owner: String, name: String },
    /// A personal account's services are listed in the platform repository, which is missing.
    #[error(
        "{owner}/{repo} does not exist: publish the platform first (`slipway up`, or `slipway github publish`)"
    )]
    NoPlatformRepo { owner: String, repo: &'static str },
    /// A template uses a placeholder Slipway does not fill.
    #[error("template file {file} uses ${{{{ values.{key} }}}}, which Slipway does not provide")]
    Placeholder { file: String, key: String },
    /// A template file's path leaves the output folder.
    #[error("template path {0:?} leaves the output folder")]
    PathEscapes(String),
    /// The `--dry-run --out` folder has files in it.
    #[error("{} is not empty; choose a new folder", .0.display())]
    NotEmpty(PathBuf),
    /// A local file (rendered output, journal) could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The journal of an earlier creation cannot be read, so what it made is unknown.
    #[error(
        "the journal of an earlier creation of {owner}/{name}, {}, is unreadable ({source}). Slipway does not know what that run made: check the repository, the catalog and the platform repository, then delete the journal to start afresh",
        path.display()
    )]
    Journal {
        owner: String,
        name: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A team file in the platform repository is broken, or a team could not be written.
    #[error(transparent)]
    Team(#[from] crate::teams::TeamError),
    /// The token may not delete the repository a rollback has to remove.
    #[error(
        "rolling back removes {owner}/{name}, and GitHub deletes repositories only for a token with the delete_repo scope \
         (classic) or Administration: write (fine-grained), which creating a service does not need. Nothing was removed. \
         Add it to the token (https://github.com/settings/tokens), run `slipway github connect`, then roll back again; \
         or delete the repository yourself and roll back again to remove the rest"
    )]
    CannotDeleteRepo { owner: String, name: String },
    /// There is no unfinished creation to roll back.
    #[error(
        "no unfinished creation of {owner}/{name} to roll back (Slipway only removes what it created)"
    )]
    NothingToRollBack { owner: String, name: String },
}

/// The topic that makes a repository a Slipway service (Argo CD's SCM generator filters on it).
pub const SERVICE_TOPIC: &str = "idp-managed";

/// The catalog location of a service: its `catalog-info.yaml` on the default branch.
pub fn catalog_location(repo: &crate::github::Repo) -> String {
    format!(
        "{}/blob/{}/catalog-info.yaml",
        repo.html_url, repo.default_branch
    )
}

impl crate::pipeline::StepFailure for ServiceError {
    fn is_transient(&self) -> bool {
        match self {
            Self::GitHub(e) => e.is_transient(),
            Self::Backstage(e) => e.is_transient(),
            Self::Kube(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl Classified for ServiceError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) | Self::Placeholder { .. } | Self::PathEscapes(_) => {
                ErrorKind::Invalid
            }
            Self::Bundle(e) => e.kind(),
            Self::GitHub(e) => e.kind(),
            Self::Backstage(e) => e.kind(),
            Self::Kube(e) => e.kind(),
            Self::Forward(e) => e.kind(),
            Self::Secrets(e) => e.kind(),
            Self::Team(e) => e.kind(),
            Self::RepoExists { .. } | Self::CatalogExists(_) | Self::NotEmpty(_) => {
                ErrorKind::Conflict
            }
            Self::RepoGone { .. } | Self::NoPlatformRepo { .. } => ErrorKind::Step,
            Self::Io { .. } | Self::Journal { .. } => ErrorKind::Io,
            Self::NothingToRollBack { .. } => ErrorKind::Invalid,
            Self::CannotDeleteRepo { .. } => ErrorKind::GitHubAuth,
        }
    }
}

/// What the form (or the CLI) asks for. The owner is not part of it: it comes from the GitHub
/// connection (the configured owner, checked, or the token's user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// Repository, Kubernetes object and host name: a DNS-1123 label.
    pub name: String,
    /// Owning team; the service runs in namespace `team-<team>`.
    pub team: String,
    pub template: String,
    pub description: Option<String>,
    /// Platform domain (`local`).
    pub domain: String,
    /// A GitHub template repository (`owner/repo`) holding the skeleton, instead of the
    /// embedded one: GitHub generates the repository, Slipway renders it in place.
    pub template_repo: Option<String>,
}

/// The longest service name: a DNS label, and room in `<name>.<domain>` host names.
pub const MAX_NAME: usize = 40;
/// The longest team name (its topic `team-<team>` is at most 50 characters, GitHub's limit).
pub const MAX_TEAM: usize = crate::teams::MAX_TEAM;

/// Names the platform's own Applications and hosts use: a service of that name would take
/// over their Argo CD Application (the workloads ApplicationSet names each one after its
/// service, and Argo CD overwrites an Application of the same name) or their host name.
pub const RESERVED_NAMES: &[&str] = &[
    "root",
    "argocd",
    "argo-cd",
    "backstage",
    "traefik",
    "sealed-secrets",
    "cert-manager",
    "otel-collector",
    "prometheus",
    "tempo",
    "loki",
    "grafana",
    "teams",
    "workloads",
    "platform",
];

/// Why `value` is not a DNS-1123 label of at most `max` characters, if it is not.
pub(crate) fn label_problem(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        return Some("is empty".into());
    }
    if value.len() > max {
        return Some(format!(
            "is {} characters long (at most {max})",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "contains {c:?}: use lower-case letters, digits and '-'"
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a letter".into());
    }
    if value.ends_with('-') {
        return Some("must not end with '-'".into());
    }
    None
}

/// The form's inline checks, per field (`None`: fine), with the same rules as [`ServiceRequest::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FieldProblems {
    pub name: Option<String>,
    pub team: Option<String>,
}

impl FieldProblems {
    pub fn of(name: &str, team: &str) -> Self {
        Self {
            name: label_problem(name, MAX_NAME).map(|p| format!("service name {p}")),
            team: label_problem(team, MAX_TEAM).map(|p| format!("team {p}")),
        }
    }
}

/// Why `owner` cannot be a GitHub user or organisation name, if it cannot (GitHub: letters,
/// digits and single hyphens, not at either end, at most 39 characters).
pub fn owner_problem(owner: &str) -> Option<String> {
    let valid = !owner.is_empty()
        && owner.len() <= 39
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--");
    (!valid).then(|| format!("GitHub owner {owner:?} is not a GitHub user or organisation name"))
}

impl ServiceRequest {
    /// Every rule the form shows inline; checked before any call to GitHub or the cluster.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let mut problems = Vec::new();
        if let Some(p) = label_problem(&self.name, MAX_NAME) {
            problems.push(format!("service name {:?} {p}", self.name));
        } else if RESERVED_NAMES.contains(&self.name.as_str()) {
            problems.push(format!(
                "service name {:?} is the platform's own (reserved: {})",
                self.name,
                RESERVED_NAMES.join(", ")
            ));
        }
        if let Some(p) = label_problem(&self.team, MAX_TEAM) {
            problems.push(format!("team {:?} {p}", self.team));
        }
        if let Some(repo) = &self.template_repo
            && !repo
                .split_once('/')
                .is_some_and(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
        {
            problems.push(format!("template repository {repo:?} is not OWNER/REPO"));
        }
        if !template::TEMPLATES
            .iter()
            .any(|(id, _)| *id == self.template)
        {
            let known: Vec<&str> = template::TEMPLATES.iter().map(|(id, _)| *id).collect();
            problems.push(format!(
                "unknown template {:?} (available: {})",
                self.template,
                known.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(problems))
        }
    }

    /// What the template is rendered with, for the repository `owner/<name>`.
    pub fn values(&self, owner: &str) -> template::Values {
        template::Values {
            name: self.name.clone(),
            team: self.team.clone(),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| format!("The {} service", self.name)),
            domain: self.domain.trim_start_matches('.').to_owned(),
            repo_slug: format!("{owner}/{}", self.name),
        }
    }
}

/// `--dry-run --out DIR`: the service's files, as the repository `owner/<name>` would hold
/// them, in `dir`. Touches neither GitHub nor the cluster.
pub fn render_to(
    request: &ServiceRequest,
    owner: &str,
    dir: &Path,
) -> Result<template::Files, ServiceError> {
    request.validate()?;
    if let Some(problem) = owner_problem(owner) {
        return Err(ServiceError::Invalid(vec![problem]));
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|source| ServiceError::Io {
                action: "read",
                path: dir.to_owned(),
                source,
            })?
            .next()
            .is_some()
    {
        return Err(ServiceError::NotEmpty(dir.to_owned()));
    }
    let files = template::render(&request.template, &request.values(owner))?;
    template::write(&files, dir)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service named like a platform component would take over its Application, a service
    /// named like a platform host its host name.
    #[test]
    fn every_platform_component_and_host_name_is_reserved() {
        let components = crate::platform::gitops::components().expect("components");
        let hosts = crate::hosts::platform_hosts("local");
        let names = components.iter().map(|c| c.name.clone()).chain(
            hosts
                .iter()
                .map(|h| h.trim_end_matches(".local").to_owned()),
        );
        for name in names {
            assert!(
                RESERVED_NAMES.contains(&name.as_str()),
                "{name} is not reserved"
            );
        }
    }

    fn request(name: &str, team: &str) -> ServiceRequest {
        ServiceRequest {
            name: name.into(),
            team: team.into(),
            template: "nodejs-v24".into(),
            description: None,
            domain: "local".into(),
            template_repo: None,
        }
    }

    #[test]
    fn names_and_teams_follow_dns_rules_with_the_reason() {
        assert!(request("shop-api", "payments").validate().is_ok());
        for (name, why) in [
            ("Shop", "'S'"),
            ("1shop", "start with a letter"),
            ("shop-", "end with '-'"),
            ("", "empty"),
            ("shop_api", "'_'"),
            (&"a".repeat(41), "at most 40"),
        ] {
            let err = request(name, "payments")
                .validate()
                .expect_err(name)
                .to_string();
            assert!(err.contains(why), "{name}: {err}");
        }
        let err = request("Bad", "Team X")
            .validate()
            .expect_err("both")
            .to_string();
        assert!(
            err.contains("service name") && err.contains("team"),
            "every problem at once: {err}"
        );
        assert!(owner_problem("-bad").is_some() && owner_problem("a--b").is_some());
        assert_eq!(owner_problem("Acme-Corp"), None);
    }

    #[test]
    fn dry_run_refuses_a_non_empty_folder() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("x"), "keep").expect("file");
        assert!(
            render_to(&request("shop", "team"), "acme", dir.path())
                .expect_err("not empty")
                .to_string()
                .contains("not empty")
        );
        let out = dir.path().join("new");
        let files = render_to(&request("shop", "team"), "acme", &out).expect("render");
        assert!(
            out.join("deploy/kustomization.yaml").exists() && files.contains_key("src/server.js")
        );
    }
}
