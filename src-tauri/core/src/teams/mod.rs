//! Teams, the platform's tenants. A team is a small file, `teams/<team>.yaml` (its name, members,
//! and any quota, limits or egress overrides), which is exactly a values file of the team chart
//! in the bundle (`teams/chart`): the chart renders the team's baseline (namespace `team-<team>`
//! with Pod Security `restricted`, ResourceQuota, LimitRange, NetworkPolicies, the developer Role
//! and its bindings, the team's Argo CD project). In GitHub mode the files live in the platform
//! repository and Argo CD's `teams` ApplicationSet renders them; in local mode they live in
//! Slipway's state folder and Slipway renders the same chart with helm and applies it.
//!
//! The image pull Secret of each team namespace (`ghcr-pull`, from the keyring's GitHub token)
//! never goes to Git: Slipway applies it like its other owned Secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bundle::{self, BundleError};
use crate::error::{Classified, ErrorKind};
use crate::helm::{Helm, HelmError};
use crate::k8s::K8sError;

pub mod ops;

/// Where team files live in the platform repository (and the bundle's chart next to them).
pub const TEAMS_DIR: &str = "teams";
/// The team chart inside the bundle and the platform repository.
pub const CHART_DIR: &str = "teams/chart";
/// The label every baseline object carries, with the team's name.
pub const TEAM_LABEL: &str = "slipway.dev/team";
/// The longest team name: GitHub topics (`team-<team>`) are at most 50 characters.
pub const MAX_TEAM: usize = 45;
/// The image pull Secret of every team namespace (its default ServiceAccount names it).
pub const PULL_SECRET: &str = "ghcr-pull";
/// The registry the pull Secret is for.
pub const REGISTRY: &str = "ghcr.io";
/// The team namespace's ResourceQuota (teams/chart/templates/quota.yaml).
pub const QUOTA: &str = "team-quota";
/// The platform repository's Backstage Group entities, one per team file.
pub const GROUP_CATALOG: &str = "catalog/teams.yaml";

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The team file or the request breaks a rule; each problem says which.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A team file is not YAML of the team file's shape.
    #[error("team file {path} is invalid: {source}; fix or remove it")]
    Parse {
        path: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// No such team.
    #[error("there is no team {0:?}; `slipway team list` shows the teams")]
    NotFound(String),
    /// The team still has services: removing its baseline would delete them.
    #[error(
        "team {team:?} still runs {}: remove them first, or pass --force to delete the team's namespace with them",
        .services.join(", ")
    )]
    HasServices { team: String, services: Vec<String> },
    #[error("the team chart rendered what is not YAML: {0}")]
    Render(String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Argo CD has not made the team's namespace (yet).
    #[error("{namespace} does not exist yet")]
    NoNamespace { namespace: String },
    #[error(transparent)]
    GitHub(#[from] crate::github::GitHubError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Helm(#[from] HelmError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Kube(#[from] K8sError),
}

impl Classified for TeamError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) | Self::Parse { .. } | Self::NotFound(_) => ErrorKind::Invalid,
            Self::HasServices { .. } => ErrorKind::Conflict,
            Self::Render(_) => ErrorKind::Internal,
            Self::NoNamespace { .. } => ErrorKind::Step,
            Self::GitHub(e) => e.kind(),
            Self::Secrets(e) => e.kind(),
            Self::Io { .. } => ErrorKind::Io,
            Self::Helm(e) => e.kind(),
            Self::Bundle(e) => e.kind(),
            Self::Kube(e) => e.kind(),
        }
    }
}

/// What a namespace may use in all (the chart's `quota`); unset keys keep the chart's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export)]
pub struct QuotaOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistentvolumeclaims: Option<u32>,
}

/// What a container gets when it asks for nothing (the chart's `limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_request_cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_request_memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_memory: Option<String>,
}

impl QuotaOverrides {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl LimitOverrides {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether a team's pods may reach beyond their namespace (the platform's namespaces never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Egress {
    /// Anything but the platform's namespaces.
    Open,
    /// DNS and the team's own namespace only.
    Closed,
}

/// One team file (`teams/<team>.yaml`): a values file of the team chart. Only these keys are
/// accepted, so a team file cannot move the platform's own settings (`platform:` in the chart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export)]
pub struct TeamFile {
    pub name: String,
    /// GitHub logins bound to the team's developer Role (besides the group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// A GitHub team (`org/team-slug`) whose members are the team: bound as the group
    /// `org:team-slug`, as Argo CD's GitHub login names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_team: Option<String>,
    #[serde(default, skip_serializing_if = "QuotaOverrides::is_empty")]
    pub quota: QuotaOverrides,
    #[serde(default, skip_serializing_if = "LimitOverrides::is_empty")]
    pub limits: LimitOverrides,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// Members may read the namespace's Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_read: Option<bool>,
    /// The repositories that may deploy into the namespace (globs; all of the owner's when
    /// unset). In an organisation any repository can carry the team's topic: this pins them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repos: Option<Vec<String>>,
}

/// Why `value` is not a Kubernetes quantity (`500m`, `2`, `4Gi`), if it is not.
fn quantity_problem(value: &str) -> Option<String> {
    crate::k8s::quantity::parse(value)
        .is_none()
        .then(|| format!("{value:?} is not a Kubernetes quantity (like 500m, 2, 512Mi or 4Gi)"))
}

impl TeamFile {
    /// A team with the chart's defaults.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            members: Vec::new(),
            github_team: None,
            quota: QuotaOverrides::default(),
            limits: LimitOverrides::default(),
            egress: None,
            secrets_read: None,
            source_repos: None,
        }
    }

    /// Where the file lives in the platform repository.
    pub fn path(name: &str) -> String {
        format!("{TEAMS_DIR}/{name}.yaml")
    }

    pub fn namespace(&self) -> String {
        namespace(&self.name)
    }

    /// Every rule a team file must follow, all problems at once.
    pub fn validate(&self) -> Result<(), TeamError> {
        let mut problems = Vec::new();
        if let Some(p) = name_problem(&self.name) {
            problems.push(p);
        }
        for member in &self.members {
            if let Some(p) = crate::service::owner_problem(member) {
                problems.push(format!("member: {p}"));
            }
        }
        if let Some(t) = &self.github_team {
            let ok = t.split_once('/').is_some_and(|(org, slug)| {
                crate::service::owner_problem(org).is_none()
                    && !slug.is_empty()
                    && slug
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            if !ok {
                problems.push(format!("githubTeam {t:?} is not ORG/team-slug"));
            }
        }
        let q = &self.quota;
        let l = &self.limits;
        for (key, v) in [
            ("quota.requestsCpu", &q.requests_cpu),
            ("quota.requestsMemory", &q.requests_memory),
            ("quota.limitsCpu", &q.limits_cpu),
            ("quota.limitsMemory", &q.limits_memory),
            ("limits.defaultRequestCpu", &l.default_request_cpu),
            ("limits.defaultRequestMemory", &l.default_request_memory),
            ("limits.defaultCpu", &l.default_cpu),
            ("limits.defaultMemory", &l.default_memory),
        ] {
            if let Some(p) = v.as_deref().and_then(quantity_problem) {
                problems.push(format!("{key}: {p}"));
            }
        }
        for (key, v) in [
            ("quota.pods", q.pods),
            ("quota.services", q.services),
            ("quota.persistentvolumeclaims", q.persistentvolumeclaims),
        ] {
            if v == Some(0) {
                problems.push(format!("{key} must be at least 1"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TeamError::Invalid(problems))
        }
    }

    /// Read and check a team file; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Self, TeamError> {
        let team: Self = serde_saphyr::from_str(text).map_err(|source| TeamError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        team.validate()?;
        if !path.ends_with(&format!("/{}.yaml", team.name)) && path.contains('/') {
            return Err(TeamError::Invalid(vec![format!(
                "{path} names team {:?}: a team file is named after its team ({})",
                team.name,
                Self::path(&team.name)
            )]));
        }
        Ok(team)
    }

    /// The file's text, with a header saying what it is.
    pub fn to_yaml(&self) -> Result<String, TeamError> {
        let body = serde_saphyr::to_string(self).map_err(|e| TeamError::Render(e.to_string()))?;
        Ok(format!(
            "# Team {name}: its namespace team-{name} and guard rails come from teams/chart with\n\
             # these values (keys: see teams/chart/values.yaml). Written by Slipway; edit freely.\n{body}",
            name = self.name
        ))
    }
}

/// The namespace of team `name`.
pub fn namespace(name: &str) -> String {
    format!("team-{name}")
}

/// Why `name` cannot be a team's name, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    crate::service::label_problem(name, MAX_TEAM).map(|p| format!("team {name:?} {p}"))
}

/// The team chart's files, as the bundle holds them (path relative to the chart).
pub fn chart_files() -> BTreeMap<String, Vec<u8>> {
    let prefix = format!("{CHART_DIR}/");
    bundle::Bundle::iter()
        .filter_map(|p| {
            let relative = p.strip_prefix(&prefix)?.to_owned();
            Some((relative, bundle::Bundle::get(&p)?.data.into_owned()))
        })
        .collect()
}

/// The team's baseline objects: the bundle's chart rendered by `helm template` with the file.
pub async fn render(helm: &Helm, team: &TeamFile) -> Result<Vec<Value>, TeamError> {
    team.validate()?;
    let dir = tempfile::tempdir().map_err(|source| TeamError::Io {
        action: "make a folder for",
        path: std::env::temp_dir(),
        source,
    })?;
    for (path, data) in chart_files() {
        let target = dir.path().join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| TeamError::Io {
                action: "create",
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&target, data).map_err(|source| TeamError::Io {
            action: "write",
            path: target.clone(),
            source,
        })?;
    }
    let values = team.to_yaml()?;
    let out = helm
        .template(&team.namespace(), dir.path(), &team.namespace(), &values)
        .await?;
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&out).map_err(|e| TeamError::Render(e.to_string()))?;
    Ok(docs.into_iter().filter(Value::is_object).collect())
}

/// Who pulls from ghcr.io for the team namespaces: the connected GitHub user and token (which
/// has `read:packages`). The token is never printed.
#[derive(Clone)]
pub struct PullCredentials {
    pub login: String,
    token: String,
}

impl std::fmt::Debug for PullCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullCredentials")
            .field("login", &self.login)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl PullCredentials {
    pub fn new(login: &str, token: &str) -> Self {
        Self {
            login: login.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Team `team`'s pull Secret.
    pub fn secret(&self, team: &str) -> Value {
        pull_secret(team, &self.login, &self.token)
    }
}

/// The namespace's `kubernetes.io/dockerconfigjson` Secret for ghcr.io, from `login` and
/// `token` (the keyring's GitHub token, with `read:packages`). Its values never leave it.
pub fn pull_secret(team: &str, login: &str, token: &str) -> Value {
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let config = json!({"auths": {REGISTRY: {"username": login, "password": token, "auth": b64(&format!("{login}:{token}"))}}});
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": PULL_SECRET, "namespace": namespace(team),
            "labels": {"app.kubernetes.io/managed-by": "slipway", TEAM_LABEL: team}},
        "data": {".dockerconfigjson": b64(&config.to_string())},
    })
}

/// The team as a Backstage `Group` entity (services are owned by `group:<team>`).
pub fn group_entity(team: &TeamFile) -> Value {
    let mut entity = json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
        "metadata": {"name": team.name, "description": format!("Team {} (namespace {})", team.name, team.namespace()),
            "annotations": {"slipway.dev/namespace": team.namespace()}},
        "spec": {"type": "team", "children": []},
    });
    if let Some(t) = &team.github_team {
        entity["metadata"]["annotations"]["github.com/team-slug"] = json!(t);
    }
    if !team.members.is_empty() {
        entity["spec"]["members"] = json!(team.members);
    }
    entity
}

/// The teams' members as Backstage `User` entities named by their GitHub login, each a member
/// of its teams: the catalog users GitHub sign-in admits (`usernameMatchingUserEntityName`).
pub fn user_entities(teams: &[TeamFile]) -> Vec<Value> {
    let mut teams_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for team in teams {
        for member in &team.members {
            teams_of.entry(member).or_default().push(&team.name);
        }
    }
    teams_of
        .into_iter()
        .map(|(login, teams)| {
            json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "User",
                "metadata": {"name": login, "annotations": {"github.com/user-login": login}},
                "spec": {"profile": {"displayName": login}, "memberOf": teams},
            })
        })
        .collect()
}

/// Every team's Group entity and its members' User entities, one YAML stream (the platform
/// repository's `catalog/teams.yaml` in GitHub mode, the ConfigMap Backstage reads in local
/// mode).
pub fn group_catalog(teams: &[TeamFile]) -> Result<String, TeamError> {
    let mut out = String::from(
        "# Backstage Group entities of the platform's teams and User entities of their members, written by Slipway from teams/*.yaml.\n",
    );
    for entity in teams.iter().map(group_entity).chain(user_entities(teams)) {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&entity).map_err(|e| TeamError::Render(e.to_string()))?,
        );
    }
    Ok(out)
}

/// The team files among a repository's files (`teams/<team>.yaml`), checked.
pub fn from_repository(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<TeamFile>, TeamError> {
    files
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix(&format!("{TEAMS_DIR}/"))
                .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".yaml"))
        })
        .map(|(p, data)| TeamFile::parse(p, &String::from_utf8_lossy(data)))
        .collect()
}

/// Local mode's team files: `<state>/teams/<cluster>/<team>.yaml`.
#[derive(Debug, Clone)]
pub struct LocalTeams {
    dir: PathBuf,
}

impl LocalTeams {
    pub fn for_cluster(cluster: &str) -> Self {
        Self::in_dir(&crate::config::state_dir().join(TEAMS_DIR).join(cluster))
    }

    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    pub fn list(&self) -> Result<Vec<TeamFile>, TeamError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(TeamError::Io {
                    action: "read",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut teams = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| TeamError::Io {
                action: "read",
                path: path.clone(),
                source,
            })?;
            teams.push(TeamFile::parse(&path.to_string_lossy(), &text)?);
        }
        teams.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(teams)
    }

    pub fn save(&self, team: &TeamFile) -> Result<(), TeamError> {
        team.validate()?;
        std::fs::create_dir_all(&self.dir).map_err(|source| TeamError::Io {
            action: "create",
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join(format!("{}.yaml", team.name));
        std::fs::write(&path, team.to_yaml()?).map_err(|source| TeamError::Io {
            action: "write",
            path,
            source,
        })
    }

    pub fn remove(&self, name: &str) -> Result<(), TeamError> {
        let path = self.dir.join(format!("{name}.yaml"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(TeamError::NotFound(name.to_owned()))
            }
            Err(source) => Err(TeamError::Io {
                action: "remove",
                path,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_every_member_once_as_a_user_of_its_teams() {
        let mut payments = TeamFile::new("payments");
        payments.members = vec!["octo".into(), "mona".into()];
        let mut web = TeamFile::new("web");
        web.members = vec!["octo".into()];
        let teams = [payments, web];
        let text = group_catalog(&teams).expect("catalog");
        let entities: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML");
        let kinds: Vec<(&str, &str)> = entities
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or_default(),
                    e["metadata"]["name"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("Group", "payments"),
                ("Group", "web"),
                ("User", "mona"),
                ("User", "octo")
            ]
        );
        assert_eq!(entities[3]["spec"]["memberOf"], json!(["payments", "web"]));
    }

    #[test]
    fn team_files_are_checked_whole_and_name_their_problems() {
        let team = TeamFile::parse(
            "teams/payments.yaml",
            "name: payments\nmembers: [octo]\nquota: {limitsCpu: '8', pods: 30}\negress: closed\n",
        )
        .expect("valid");
        assert_eq!(team.quota.pods, Some(30));
        assert_eq!(team.egress, Some(Egress::Closed));
        let err = TeamFile::parse(
            "teams/x.yaml",
            "name: x\nquota: {requestsCpu: lots, pods: 0}\nmembers: ['-bad']\n",
        )
        .expect_err("invalid")
        .to_string();
        for part in [
            "requestsCpu",
            "not a Kubernetes quantity",
            "pods must be at least 1",
            "member",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let platform = TeamFile::parse("teams/x.yaml", "name: x\nplatform: {namespaces: []}\n")
            .expect_err("a team file cannot change the platform's settings");
        assert!(platform.to_string().contains("platform"), "{platform}");
        let long = "a".repeat(MAX_TEAM + 1);
        assert!(name_problem(&long).is_some_and(|p| p.contains("at most 45")));
        let misnamed = TeamFile::parse("teams/b.yaml", "name: a\n").expect_err("misnamed");
        assert!(misnamed.to_string().contains("teams/a.yaml"), "{misnamed}");
    }

    #[test]
    fn a_team_file_round_trips_and_keeps_only_what_is_set() {
        let mut team = TeamFile::new("web");
        team.quota.pods = Some(5);
        let text = team.to_yaml().expect("yaml");
        assert!(text.starts_with("# Team web"), "{text}");
        assert!(!text.contains("limits"), "unset keys stay out: {text}");
        assert_eq!(
            TeamFile::parse("teams/web.yaml", &text).expect("parse"),
            team
        );
    }

    #[test]
    fn quantities() {
        for ok in ["500m", "2", "0.5", "512Mi", "4Gi", "1k"] {
            assert!(quantity_problem(ok).is_none(), "{ok}");
        }
        for bad in ["", "lots", "2 Gi", "1..2", "4gb", "-1"] {
            assert!(quantity_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_pull_secret_is_a_docker_config_for_ghcr() {
        let s = pull_secret("payments", "octo", "ghp_x");
        assert_eq!(s["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(s["metadata"]["namespace"], "team-payments");
        let data = base64::engine::general_purpose::STANDARD
            .decode(s["data"][".dockerconfigjson"].as_str().expect("data"))
            .expect("base64");
        let config: Value = serde_json::from_slice(&data).expect("json");
        assert_eq!(config["auths"]["ghcr.io"]["username"], "octo");
        assert_eq!(
            config["auths"]["ghcr.io"]["auth"],
            base64::engine::general_purpose::STANDARD.encode("octo:ghp_x")
        );
    }

    #[test]
    fn the_chart_is_in_the_bundle() {
        let files = chart_files();
        for f in [
            "Chart.yaml",
            "values.yaml",
            "templates/namespace.yaml",
            "templates/access.yaml",
        ] {
            assert!(files.contains_key(f), "{f}: {:?}", files.keys());
        }
    }
}
