//! Repositories: look up, create (empty or from a template repository), delete, list by topic,
//! topics, and single files of the default branch.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::{GitHub, GitHubError, Result, decode_base64, refused};
use crate::pipeline::{Deadline, Poll, poll};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub full_name: String,
    pub html_url: String,
    pub default_branch: String,
    pub private: bool,
}

fn repo_from(v: &Value) -> Repo {
    Repo {
        full_name: v["full_name"].as_str().unwrap_or_default().to_owned(),
        html_url: v["html_url"].as_str().unwrap_or_default().to_owned(),
        default_branch: v["default_branch"].as_str().unwrap_or("main").to_owned(),
        private: v["private"].as_bool().unwrap_or(false),
    }
}

impl GitHub {
    pub async fn repo(&self, owner: &str, name: &str) -> Result<Option<Repo>> {
        let (status, _, v) = self
            .call(Method::GET, &format!("/repos/{owner}/{name}"), None)
            .await?;
        match status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(repo_from(&v))),
            _ => Err(refused(&format!("GET /repos/{owner}/{name}"), status, &v)),
        }
    }

    /// A new repository with an initial commit (so the Git data API can build on it).
    /// `org`: create under an organisation, else under the token's user.
    pub async fn create_repo(
        &self,
        owner: &str,
        org: bool,
        name: &str,
        description: &str,
        private: bool,
    ) -> Result<Repo> {
        let path = if org {
            format!("/orgs/{owner}/repos")
        } else {
            "/user/repos".to_owned()
        };
        let body = json!({"name": name, "description": description, "private": private, "auto_init": true, "has_wiki": false});
        Ok(repo_from(&self.ok(Method::POST, &path, Some(&body)).await?))
    }

    /// The owner's repositories carrying `topic`, with all their topics (organisation: every
    /// repository the token sees; user: their public and private ones), page by page.
    pub async fn repos_with_topic(
        &self,
        owner: &str,
        org: bool,
        topic: &str,
    ) -> Result<Vec<(Repo, Vec<String>)>> {
        let base = if org {
            format!("/orgs/{owner}/repos?type=all")
        } else {
            "/user/repos?affiliation=owner".to_owned()
        };
        let mut found = Vec::new();
        for page in 1.. {
            let v = self
                .ok(
                    Method::GET,
                    &format!("{base}&per_page=100&page={page}"),
                    None,
                )
                .await?;
            let items = v.as_array().cloned().unwrap_or_default();
            for r in &items {
                let topics: Vec<String> = r["topics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
                if topics.iter().any(|t| t == topic) {
                    found.push((repo_from(r), topics));
                }
            }
            if items.len() < 100 {
                break;
            }
        }
        Ok(found)
    }

    pub async fn delete_repo(&self, owner: &str, name: &str) -> Result<bool> {
        let (status, _, v) = self
            .call(Method::DELETE, &format!("/repos/{owner}/{name}"), None)
            .await?;
        match status.as_u16() {
            204 => Ok(true),
            404 => Ok(false),
            _ => Err(refused(
                &format!("DELETE /repos/{owner}/{name}"),
                status,
                &v,
            )),
        }
    }

    /// Replace the repository's topics (GitHub's call replaces the whole set).
    pub async fn set_topics(&self, owner: &str, name: &str, topics: &[String]) -> Result<()> {
        self.ok(
            Method::PUT,
            &format!("/repos/{owner}/{name}/topics"),
            Some(&json!({"names": topics})),
        )
        .await
        .map(drop)
    }

    pub async fn topics(&self, owner: &str, name: &str) -> Result<Vec<String>> {
        let v = self
            .ok(Method::GET, &format!("/repos/{owner}/{name}/topics"), None)
            .await?;
        Ok(v["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect())
    }

    /// A file of the default branch; `None` when absent or while the repository is still empty
    /// (409, e.g. a template copy in progress).
    pub async fn file(&self, owner: &str, name: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let (status, _, v) = self
            .call(
                Method::GET,
                &format!("/repos/{owner}/{name}/contents/{path}"),
                None,
            )
            .await?;
        match status.as_u16() {
            200 => Ok(Some(decode_base64(
                &format!("{owner}/{name}:{path}"),
                v["content"].as_str().unwrap_or_default(),
            )?)),
            404 | 409 => Ok(None),
            _ => Err(refused(&format!("GET contents/{path}"), status, &v)),
        }
    }

    /// A new repository generated from the template repository `template` (`owner/repo`, marked
    /// as a template). GitHub copies the files asynchronously: see [`wait_populated`](Self::wait_populated).
    pub async fn generate(
        &self,
        template: &str,
        owner: &str,
        name: &str,
        description: &str,
    ) -> Result<Repo> {
        let body = json!({"owner": owner, "name": name, "description": description, "private": false, "include_all_branches": false});
        Ok(repo_from(
            &self
                .ok(
                    Method::POST,
                    &format!("/repos/{template}/generate"),
                    Some(&body),
                )
                .await?,
        ))
    }

    /// Wait until the repository's default branch exists (a generated repository is empty, and
    /// answers 409, until GitHub has copied the template), at the latest until `deadline`.
    pub async fn wait_populated(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        deadline: Deadline,
    ) -> Result<()> {
        let path = format!("/repos/{owner}/{name}/git/ref/heads/{branch}");
        let look = || async {
            let (status, _, v) = self.call(Method::GET, &path, None).await?;
            match status.as_u16() {
                200 => Ok(Poll::Ready(())),
                404 | 409 => Ok(Poll::Pending(format!("{status}"))),
                _ => Err(refused(&format!("GET ref heads/{branch}"), status, &v)),
            }
        };
        poll(deadline, Duration::from_millis(500), look, |_| {
            GitHubError::NotPopulated {
                owner: owner.to_owned(),
                name: name.to_owned(),
                secs: deadline.secs(),
            }
        })
        .await
    }
}
