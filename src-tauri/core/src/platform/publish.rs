//! Publishing the embedded bundle as the owner's platform repository (what Argo CD reads in
//! GitHub mode): owner, host, API and domain filled in, everything in one commit, and on later
//! runs one commit with only what changed (nothing at all when the repository matches).

use std::collections::BTreeMap;

use crate::bundle;
use crate::github::{DEFAULT_API, GitHub, GitHubError};

/// The platform repository's name under the owner.
pub const PLATFORM_REPO: &str = "slipway-platform";

/// Where the platform repository lives and what the bundle is filled in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub owner: String,
    /// The owner is an organisation (Argo CD's SCM generator lists its repositories), else a
    /// user (the registry ApplicationSet reads `services/*.yaml` instead).
    pub org: bool,
    /// GitHub's web address: `https://github.com`, or a GitHub Enterprise host.
    pub web: String,
    /// GitHub's API, for the SCM generator.
    pub api: String,
    /// Domain of the platform host names.
    pub domain: String,
}

impl Site {
    /// github.com for `owner`, with the default domain.
    pub fn github_com(owner: &str, org: bool) -> Self {
        Self {
            owner: owner.into(),
            org,
            web: "https://github.com".into(),
            api: DEFAULT_API.into(),
            domain: "local".into(),
        }
    }

    /// The platform repository's clone URL, as Argo CD's Applications name it.
    pub fn repo_url(&self) -> String {
        format!("{}/{}/{PLATFORM_REPO}.git", self.web, self.owner)
    }

    /// The prefix Argo CD's repository credentials match: every repository of the owner.
    pub fn owner_url(&self) -> String {
        format!("{}/{}", self.web, self.owner)
    }

    /// GitHub's host name (Backstage's integration and allowed hosts).
    pub fn host(&self) -> &str {
        self.web
            .split_once("://")
            .map_or(self.web.as_str(), |(_, h)| h)
            .trim_end_matches('/')
    }

    /// The workloads ApplicationSet this owner needs; the other is left out of the root's sync.
    fn unused_workloads_appset(&self) -> &'static str {
        if self.org {
            "workloads-registry-appset.yaml"
        } else {
            "workloads-appset.yaml"
        }
    }
}

/// The bundle as the repository holds it for `site` (service templates' skeletons are copied
/// as they are: Backstage renders them).
pub fn files(site: &Site) -> BTreeMap<String, Vec<u8>> {
    let slug = format!("{}/{PLATFORM_REPO}", site.owner);
    bundle::Bundle::iter()
        .filter_map(|path| {
            let data = bundle::Bundle::get(&path)?.data.into_owned();
            let data = match String::from_utf8(data) {
                Ok(text) if !path.contains("/skeleton/") => {
                    // The API first: its URL contains the host.
                    let text = text
                        .replace(DEFAULT_API, &site.api)
                        .replace("https://github.com/", &format!("{}/", site.web))
                        .replace("github.com", site.host())
                        .replace("${SLIPWAY_PLATFORM_REPO}", &slug)
                        .replace("OWNER", &site.owner)
                        .replace("UNUSED_WORKLOADS_APPSET", site.unused_workloads_appset());
                    let text = if path.starts_with("platform/values/") {
                        super::gitops::with_domain(&text, &site.domain)
                    } else {
                        text
                    };
                    text.into_bytes()
                }
                Ok(text) => text.into_bytes(),
                Err(e) => e.into_bytes(),
            };
            Some((path.to_string(), data))
        })
        .collect()
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub repo_url: String,
    pub site: Site,
    /// The repository was created now.
    pub created: bool,
    /// Files written in this run's commit (empty: the repository was current).
    pub changed: Vec<String>,
}

/// Create or update `<owner>/slipway-platform` from the bundle. `org`: the owner is an
/// organisation (else the token's user).
pub async fn publish(
    github: &GitHub,
    owner: &str,
    org: bool,
    domain: &str,
) -> Result<Published, GitHubError> {
    let (repo, created) = match github.repo(owner, PLATFORM_REPO).await? {
        Some(repo) => (repo, false),
        None => (github.create_repo(owner, org, PLATFORM_REPO, "Slipway's platform: Argo CD App-of-Apps, platform components, service templates").await?, true),
    };
    // The web host comes from GitHub itself, so GitHub Enterprise needs no second setting.
    let web = repo
        .html_url
        .strip_suffix(&format!("/{owner}/{PLATFORM_REPO}"))
        .unwrap_or("https://github.com")
        .to_owned();
    let site = Site {
        owner: owner.into(),
        org,
        web,
        api: github.api().trim_end_matches('/').to_owned(),
        domain: domain.into(),
    };
    let current = github
        .read_files(owner, PLATFORM_REPO, &repo.default_branch)
        .await?;
    let changed: BTreeMap<String, Vec<u8>> = files(&site)
        .into_iter()
        .filter(|(path, data)| current.get(path) != Some(data))
        .collect();
    if !changed.is_empty() {
        github
            .commit_files(
                owner,
                PLATFORM_REPO,
                &repo.default_branch,
                &changed,
                "Publish the platform bundle (Slipway)",
            )
            .await?;
    }
    Ok(Published {
        repo_url: repo.html_url,
        site,
        created,
        changed: changed.into_keys().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_and_repository_are_filled_in_except_in_skeletons() {
        let f = files(&Site::github_com("acme", true));
        let root = String::from_utf8_lossy(&f["bootstrap/root-app.yaml"]);
        assert!(
            root.contains("https://github.com/acme/slipway-platform.git")
                && !root.contains("OWNER"),
            "{root}"
        );
        assert!(
            root.contains("{root-app.yaml,workloads-registry-appset.yaml}"),
            "an organisation uses the SCM generator: {root}"
        );
        let backstage = String::from_utf8_lossy(&f["platform/values/backstage.yaml"]);
        assert!(backstage.contains("https://github.com/acme/slipway-platform/blob/main/templates/nodejs-v24/template.yaml"), "{backstage}");
        let skeleton =
            String::from_utf8_lossy(&f["templates/nodejs-v24/skeleton/catalog-info.yaml"]);
        assert!(
            skeleton.contains("${{ values.name }}"),
            "skeletons are Backstage's to render"
        );
        assert!(
            f.keys()
                .all(|p| !f[p].is_empty() || p.ends_with(".gitkeep")),
            "no empty files"
        );
    }

    #[test]
    fn github_enterprise_a_user_and_a_domain_reach_every_file() {
        let site = Site {
            owner: "jo".into(),
            org: false,
            web: "https://ghe.corp".into(),
            api: "https://ghe.corp/api/v3".into(),
            domain: "dev.test".into(),
        };
        let f = files(&site);
        let all: String = f
            .iter()
            .filter(|(p, _)| !p.contains("/skeleton/"))
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
            .collect();
        assert!(
            !all.contains("github.com")
                && !all.contains("OWNER")
                && !all.contains("UNUSED_WORKLOADS_APPSET"),
            "every placeholder filled"
        );
        assert!(
            String::from_utf8_lossy(&f["bootstrap/root-app.yaml"])
                .contains("{root-app.yaml,workloads-appset.yaml}"),
            "a user lists services in the registry"
        );
        assert!(
            String::from_utf8_lossy(&f["bootstrap/workloads-appset.yaml"])
                .contains("api: https://ghe.corp/api/v3")
        );
        let backstage = String::from_utf8_lossy(&f["platform/values/backstage.yaml"]);
        assert!(
            backstage.contains("backstage.dev.test") && !backstage.contains("backstage.local"),
            "{backstage}"
        );
        assert_eq!(site.repo_url(), "https://ghe.corp/jo/slipway-platform.git");
    }
}
