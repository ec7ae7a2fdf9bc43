//! The golden path: a new service from a template. This module validates the request and renders
//! the service; the same function serves the CLI (`slipway service create`) and the GUI form.

pub mod connect;
pub mod create;
pub mod list;
pub mod template;

use std::path::Path;

use crate::bundle::BundleError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    GitHub(#[from] crate::github::GitHubError),
    #[error(transparent)]
    Backstage(#[from] crate::backstage::BackstageError),
}

/// What the form (or the CLI) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// Repository, Kubernetes object and host name: a DNS-1123 label.
    pub name: String,
    /// Owning team; the service runs in namespace `team-<team>`.
    pub team: String,
    pub template: String,
    pub description: Option<String>,
    /// GitHub user or organisation the repository goes to.
    pub owner: String,
    /// Platform domain (`local`).
    pub domain: String,
    /// A GitHub template repository (`owner/repo`) holding the skeleton, instead of the
    /// embedded one: GitHub generates the repository, Slipway renders it in place.
    pub template_repo: Option<String>,
}

/// The longest service name: a DNS label, and room in `<name>.<domain>` host names.
pub const MAX_NAME: usize = 40;
/// `team-<team>` must be a namespace name (63 characters).
pub const MAX_TEAM: usize = 58;

/// Why `value` is not a DNS-1123 label of at most `max` characters, if it is not.
fn label_problem(value: &str, max: usize) -> Option<String> {
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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

impl ServiceRequest {
    /// Every rule the form shows inline; checked before any call to GitHub or the cluster.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let mut problems = Vec::new();
        if let Some(p) = label_problem(&self.name, MAX_NAME) {
            problems.push(format!("service name {:?} {p}", self.name));
        }
        if let Some(p) = label_problem(&self.team, MAX_TEAM) {
            problems.push(format!("team {:?} {p}", self.team));
        }
        if self.owner.is_empty()
            || !self
                .owner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            || self.owner.starts_with('-')
            || self.owner.len() > 39
        {
            problems.push(format!(
                "GitHub owner {:?} is not a GitHub user or organisation name",
                self.owner
            ));
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
            Err(ServiceError::Invalid(problems.join("; ")))
        }
    }

    pub fn values(&self) -> template::Values {
        template::Values {
            name: self.name.clone(),
            team: self.team.clone(),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| format!("The {} service", self.name)),
            domain: self.domain.trim_start_matches('.').to_owned(),
            repo_slug: format!("{}/{}", self.owner, self.name),
        }
    }
}

/// `--dry-run --out DIR`: the service's files, as the repository would hold them, in `dir`.
/// Touches neither GitHub nor the cluster.
pub fn render_to(request: &ServiceRequest, dir: &Path) -> Result<template::Files, ServiceError> {
    request.validate()?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| ServiceError::Io(format!("cannot read {}: {e}", dir.display())))?
            .next()
            .is_some()
    {
        return Err(ServiceError::Invalid(format!(
            "{} is not empty; choose a new folder",
            dir.display()
        )));
    }
    let files = template::render(&request.template, &request.values())?;
    template::write(&files, dir)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, team: &str) -> ServiceRequest {
        ServiceRequest {
            name: name.into(),
            team: team.into(),
            template: "nodejs-v24".into(),
            description: None,
            owner: "acme".into(),
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
        let mut r = request("ok", "ok");
        r.owner = "-bad".into();
        assert!(r.validate().is_err());
    }

    #[test]
    fn dry_run_refuses_a_non_empty_folder() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("x"), "keep").expect("file");
        assert!(
            render_to(&request("shop", "team"), dir.path())
                .expect_err("not empty")
                .to_string()
                .contains("not empty")
        );
        let out = dir.path().join("new");
        let files = render_to(&request("shop", "team"), &out).expect("render");
        assert!(
            out.join("deploy/kustomization.yaml").exists() && files.contains_key("src/server.js")
        );
    }
}
