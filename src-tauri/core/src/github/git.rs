//! One-commit writes through the Git data API (blobs, a tree on top of the branch's, a commit,
//! the ref moved) and whole-branch reads: all or nothing, unlike one contents call per file.

use std::collections::BTreeMap;

use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use super::{GitHub, Result, decode_base64};

impl GitHub {
    /// Every file of `branch` (tree listed recursively, blobs read one by one).
    pub async fn read_files(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>> {
        let base = format!("/repos/{owner}/{name}/git");
        let head = self
            .ok(Method::GET, &format!("{base}/ref/heads/{branch}"), None)
            .await?;
        let commit = self
            .ok(
                Method::GET,
                &format!(
                    "{base}/commits/{}",
                    head["object"]["sha"].as_str().unwrap_or_default()
                ),
                None,
            )
            .await?;
        let tree = self
            .ok(
                Method::GET,
                &format!(
                    "{base}/trees/{}?recursive=1",
                    commit["tree"]["sha"].as_str().unwrap_or_default()
                ),
                None,
            )
            .await?;
        let mut files = BTreeMap::new();
        for entry in tree["tree"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"] == "blob")
        {
            let blob = self
                .ok(
                    Method::GET,
                    &format!("{base}/blobs/{}", entry["sha"].as_str().unwrap_or_default()),
                    None,
                )
                .await?;
            let path = entry["path"].as_str().unwrap_or_default().to_owned();
            let data = decode_base64(
                &format!("{owner}/{name}:{path}"),
                blob["content"].as_str().unwrap_or_default(),
            )?;
            files.insert(path, data);
        }
        Ok(files)
    }

    /// Write every file in one commit on `branch` (blobs, one tree on top of the branch's, one
    /// commit, the ref moved): all or nothing, unlike one contents call per file.
    pub async fn commit_files(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        files: &BTreeMap<String, Vec<u8>>,
        message: &str,
    ) -> Result<String> {
        let base = format!("/repos/{owner}/{name}/git");
        let head = self
            .ok(Method::GET, &format!("{base}/ref/heads/{branch}"), None)
            .await?;
        let parent = head["object"]["sha"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let commit = self
            .ok(Method::GET, &format!("{base}/commits/{parent}"), None)
            .await?;
        let mut tree = Vec::new();
        for (path, data) in files {
            // Text goes inline in the tree; only binary files need a blob call of their own
            // (each write counts against GitHub's content-creation limit).
            match std::str::from_utf8(data) {
                Ok(text) => tree
                    .push(json!({"path": path, "mode": "100644", "type": "blob", "content": text})),
                Err(_) => {
                    let blob = self.ok(Method::POST, &format!("{base}/blobs"), Some(&json!({"content": base64::engine::general_purpose::STANDARD.encode(data), "encoding": "base64"}))).await?;
                    tree.push(
                        json!({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}),
                    );
                }
            }
        }
        self.commit_tree(
            owner,
            name,
            branch,
            &parent,
            &commit["tree"]["sha"],
            tree,
            message,
        )
        .await
    }

    /// Remove `paths` from `branch` in one commit.
    pub async fn delete_files(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        paths: &[String],
        message: &str,
    ) -> Result<String> {
        let base = format!("/repos/{owner}/{name}/git");
        let head = self
            .ok(Method::GET, &format!("{base}/ref/heads/{branch}"), None)
            .await?;
        let parent = head["object"]["sha"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let commit = self
            .ok(Method::GET, &format!("{base}/commits/{parent}"), None)
            .await?;
        // A tree entry with a null sha deletes that path.
        let tree = paths
            .iter()
            .map(|p| json!({"path": p, "mode": "100644", "type": "blob", "sha": null}))
            .collect();
        self.commit_tree(
            owner,
            name,
            branch,
            &parent,
            &commit["tree"]["sha"],
            tree,
            message,
        )
        .await
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the Git data API's own parameters"
    )]
    async fn commit_tree(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        parent: &str,
        base_tree: &Value,
        tree: Vec<Value>,
        message: &str,
    ) -> Result<String> {
        let base = format!("/repos/{owner}/{name}/git");
        let tree = self
            .ok(
                Method::POST,
                &format!("{base}/trees"),
                Some(&json!({"base_tree": base_tree, "tree": tree})),
            )
            .await?;
        let new = self
            .ok(
                Method::POST,
                &format!("{base}/commits"),
                Some(&json!({"message": message, "tree": tree["sha"], "parents": [parent]})),
            )
            .await?;
        let sha = new["sha"].as_str().unwrap_or_default().to_owned();
        self.ok(
            Method::PATCH,
            &format!("{base}/refs/heads/{branch}"),
            Some(&json!({"sha": sha, "force": false})),
        )
        .await?;
        Ok(sha)
    }
}
