//! Publishing the embedded bundle as the owner's platform repository (what Argo CD reads in
//! GitHub mode): `OWNER` and `${SLIPWAY_PLATFORM_REPO}` filled in, everything in one commit, and
//! on later runs one commit with only what changed (nothing at all when the repository matches).

use std::collections::BTreeMap;

use crate::bundle;
use crate::github::{GitHub, GitHubError};

/// The platform repository's name under the owner.
pub const PLATFORM_REPO: &str = "slipway-platform";

/// The bundle as the repository holds it, for `owner` (service templates' skeletons are copied
/// as they are: Backstage renders them).
pub fn files(owner: &str) -> BTreeMap<String, Vec<u8>> {
    let slug = format!("{owner}/{PLATFORM_REPO}");
    bundle::Bundle::iter()
        .filter_map(|path| {
            let data = bundle::Bundle::get(&path)?.data.into_owned();
            let data = match String::from_utf8(data) {
                Ok(text) if !path.contains("/skeleton/") => text.replace("${SLIPWAY_PLATFORM_REPO}", &slug).replace("OWNER", owner).into_bytes(),
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
    /// The repository was created now.
    pub created: bool,
    /// Files written in this run's commit (empty: the repository was current).
    pub changed: Vec<String>,
}

/// Create or update `<owner>/slipway-platform` from the bundle. `org`: the owner is an
/// organisation (else the token's user).
pub async fn publish(github: &GitHub, owner: &str, org: bool) -> Result<Published, GitHubError> {
    let (repo, created) = match github.repo(owner, PLATFORM_REPO).await? {
        Some(repo) => (repo, false),
        None => (github.create_repo(owner, org, PLATFORM_REPO, "Slipway's platform: Argo CD App-of-Apps, platform components, service templates").await?, true),
    };
    let current = github.read_files(owner, PLATFORM_REPO, &repo.default_branch).await?;
    let wanted = files(owner);
    let changed: BTreeMap<String, Vec<u8>> = wanted.into_iter().filter(|(path, data)| current.get(path) != Some(data)).collect();
    if !changed.is_empty() {
        github.commit_files(owner, PLATFORM_REPO, &repo.default_branch, &changed, "Publish the platform bundle (Slipway)").await?;
    }
    Ok(Published { repo_url: repo.html_url, created, changed: changed.into_keys().collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_and_repository_are_filled_in_except_in_skeletons() {
        let f = files("acme");
        let root = String::from_utf8_lossy(&f["bootstrap/root-app.yaml"]);
        assert!(root.contains("https://github.com/acme/slipway-platform.git") && !root.contains("OWNER"), "{root}");
        let backstage = String::from_utf8_lossy(&f["platform/values/backstage.yaml"]);
        assert!(backstage.contains("https://github.com/acme/slipway-platform/blob/main/templates/nodejs-v24/template.yaml"), "{backstage}");
        let skeleton = String::from_utf8_lossy(&f["templates/nodejs-v24/skeleton/catalog-info.yaml"]);
        assert!(skeleton.contains("${{ values.name }}"), "skeletons are Backstage's to render");
        assert!(f.keys().all(|p| !f[p].is_empty() || p.ends_with(".gitkeep")), "no empty files");
    }
}
