//! What CI made of a repository: its workflow runs (GitHub Actions) and the container images it
//! pushed (GitHub Packages, ghcr.io).

use http::Method;
use serde_json::Value;

use super::{GitHub, Result, refused};

/// A workflow run (docs.github.com/en/rest/actions/workflow-runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed` (and `waiting`, `pending`, `requested`).
    pub status: String,
    /// Once completed: `success`, `failure`, `cancelled`, `timed_out`, …
    pub conclusion: Option<String>,
    pub html_url: String,
}

impl GitHub {
    /// The newest run started by a push to `branch` (CI's own commits, made with
    /// GITHUB_TOKEN, start none), or `None` when there is none yet.
    pub async fn latest_push_run(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
    ) -> Result<Option<WorkflowRun>> {
        let path =
            format!("/repos/{owner}/{name}/actions/runs?branch={branch}&event=push&per_page=1");
        let v = self.ok(Method::GET, &path, None).await?;
        Ok(v["workflow_runs"]
            .as_array()
            .and_then(|r| r.first())
            .map(|r| {
                let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                WorkflowRun {
                    id: r["id"].as_u64().unwrap_or_default(),
                    head_sha: text("head_sha"),
                    status: text("status"),
                    conclusion: r["conclusion"].as_str().map(str::to_owned),
                    html_url: text("html_url"),
                }
            }))
    }

    /// Every tag of the container package `package` of `owner` (`org`: an organisation), newest
    /// version first; `None` when GitHub has no such package (nothing pushed yet). Needs the
    /// `read:packages` scope.
    pub async fn container_tags(
        &self,
        owner: &str,
        org: bool,
        package: &str,
    ) -> Result<Option<Vec<String>>> {
        let kind = if org { "orgs" } else { "users" };
        let path = format!("/{kind}/{owner}/packages/container/{package}/versions?per_page=100");
        let (status, _, v) = self.call(Method::GET, &path, None).await?;
        match status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|version| {
                        version["metadata"]["container"]["tags"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                    })
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
            )),
            _ => Err(refused(&format!("GET {path}"), status, &v)),
        }
    }
}

/// The image a service's `deploy/kustomization.yaml` runs: the `images` entry for `app`
/// (`newName`, `newTag`), as the template writes it and its CI updates it.
pub fn deployed_image(kustomization: &[u8]) -> Option<(String, String)> {
    let doc: Value = serde_saphyr::from_str(&String::from_utf8_lossy(kustomization)).ok()?;
    let entry = doc["images"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == "app")?;
    let name = entry["newName"].as_str()?.to_owned();
    let tag = match &entry["newTag"] {
        Value::String(s) => s.clone(),
        Value::Null => "latest".to_owned(),
        other => other.to_string(),
    };
    Some((name, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_image_is_read_from_the_kustomization() {
        let k = b"images:\n  - name: app\n    newName: ghcr.io/octo/shop\n    newTag: 0123abc\n";
        assert_eq!(
            deployed_image(k),
            Some(("ghcr.io/octo/shop".into(), "0123abc".into()))
        );
        assert_eq!(deployed_image(b"resources: []\n"), None);
    }
}
