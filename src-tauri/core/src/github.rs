//! GitHub's REST API, as Slipway needs it: who the token belongs to and what it may do, the rate
//! budget, repositories, one-commit file writes through the Git data API, topics. octocrab is
//! the transport (auth, base URI for GitHub Enterprise or a test fake, TLS); status codes and the
//! rate-limit headers are handled here, so every call honours `retry-after` and the primary and
//! secondary limits. The token never appears in an error or a log line.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::Serialize;
use serde_json::{Value, json};

/// The public GitHub API.
pub const DEFAULT_API: &str = "https://api.github.com";

/// Classic token scopes Slipway needs: create repositories and write their contents (`repo`),
/// see organisation memberships (`read:org`), write CI workflows (`workflow`).
pub const NEEDED_SCOPES: &[&str] = &["repo", "read:org", "workflow"];

/// The same needs as fine-grained permissions. GitHub cannot say which permissions a
/// fine-grained token has; a refused call names the one it wanted (`X-Accepted-GitHub-Permissions`).
pub const NEEDED_PERMISSIONS: &[&str] = &[
    "administration=write",
    "contents=write",
    "metadata=read",
    "workflows=write",
    "members=read (organisations)",
];

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error(
        "GitHub rejected the token (401): it is wrong, expired or revoked; connect again with a new one (`slipway github connect`)"
    )]
    Unauthorized,
    #[error(
        "GitHub's rate limit is used up ({resource}); it resets at {reset}. Slipway waits up to {max_wait}s by itself; try again after the reset"
    )]
    RateLimited {
        resource: String,
        reset: String,
        max_wait: u64,
    },
    #[error("GitHub refused {what} ({status}): {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("cannot reach GitHub at {api}: {reason}")]
    Unreachable { api: String, reason: String },
    #[error(
        "the token lacks {missing}; create one with {needed} (classic) or the matching fine-grained permissions"
    )]
    MissingScopes { missing: String, needed: String },
    #[error(
        "the fine-grained token may not {what}: GitHub asks for the permission {accepted}; give the token {accepted} (with {all}) and connect again"
    )]
    MissingPermission {
        what: String,
        accepted: String,
        all: String,
    },
}

type Result<T> = std::result::Result<T, GitHubError>;

/// The primary budget as the last response reported it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RateBudget {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds.
    pub reset: u64,
}

/// Who the token belongs to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub login: String,
    /// Classic scopes (`X-OAuth-Scopes`); `None` for fine-grained tokens, which have none.
    pub scopes: Option<Vec<String>>,
    pub organisations: Vec<String>,
}

impl Identity {
    /// Classic scopes Slipway needs and the token lacks (`repo` implies `public_repo`).
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        let Some(scopes) = &self.scopes else {
            return Vec::new();
        };
        let has = |s: &str| {
            scopes
                .iter()
                .any(|x| x == s || (s == "read:org" && (x == "admin:org" || x == "write:org")))
        };
        NEEDED_SCOPES.iter().copied().filter(|s| !has(s)).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub full_name: String,
    pub html_url: String,
    pub default_branch: String,
}

/// A client for one API base URL and one token.
pub struct GitHub {
    api: String,
    octo: Octocrab,
    budget: Mutex<Option<RateBudget>>,
    /// The longest Slipway waits for a rate limit to reset before giving up.
    pub max_wait: Duration,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl GitHub {
    pub fn new(api: &str, token: &str) -> Result<Self> {
        let api = api.trim_end_matches('/').to_owned();
        let unreachable = |reason: String| GitHubError::Unreachable {
            api: api.clone(),
            reason,
        };
        let octo = Octocrab::builder()
            .base_uri(api.as_str())
            .map_err(|e| unreachable(format!("invalid API URL ({e})")))?
            .personal_token(token.to_owned())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            api,
            octo,
            budget: Mutex::new(None),
            max_wait: Duration::from_secs(90),
        })
    }

    pub fn api(&self) -> &str {
        &self.api
    }

    /// The primary rate budget from the last response.
    pub fn budget(&self) -> Option<RateBudget> {
        self.budget.lock().ok().and_then(|b| b.clone())
    }

    /// One call: JSON in and out, rate limits honoured (waits within `max_wait`, then an error).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, Value)> {
        let what = format!("{method} {path}");
        for attempt in 0_u32.. {
            let response = match method {
                Method::GET => self.octo._get(path).await,
                Method::POST => self.octo._post(path, body).await,
                Method::PUT => self.octo._put(path, body).await,
                Method::PATCH => self.octo._patch(path, body).await,
                Method::DELETE => self.octo._delete(path, body).await,
                _ => unreachable!("Slipway uses GET, POST, PUT, PATCH and DELETE"),
            }
            .map_err(|e| GitHubError::Unreachable {
                api: self.api.clone(),
                reason: e.to_string(),
            })?;
            let (status, headers) = (response.status(), response.headers().clone());
            self.record_budget(&headers);
            let text =
                self.octo
                    .body_to_string(response)
                    .await
                    .map_err(|e| GitHubError::Unreachable {
                        api: self.api.clone(),
                        reason: e.to_string(),
                    })?;
            let value: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            match status.as_u16() {
                401 => return Err(GitHubError::Unauthorized),
                403 | 429 if rate_limited(&headers) => {
                    let wait = wait_for(&headers, attempt);
                    if wait > self.max_wait || attempt >= 3 {
                        let reset = header_u64(&headers, "x-ratelimit-reset")
                            .and_then(|r| jiff::Timestamp::from_second(i64::try_from(r).ok()?).ok())
                            .map_or_else(|| format!("in {}s", wait.as_secs()), |t| t.to_string());
                        return Err(GitHubError::RateLimited {
                            resource: header(&headers, "x-ratelimit-resource")
                                .unwrap_or("core")
                                .to_owned(),
                            reset,
                            max_wait: self.max_wait.as_secs(),
                        });
                    }
                    tracing::info!(what, secs = wait.as_secs(), "GitHub rate limit: waiting");
                    tokio::time::sleep(wait).await;
                }
                403 if let Some(accepted) = header(&headers, "x-accepted-github-permissions") => {
                    return Err(GitHubError::MissingPermission {
                        what,
                        accepted: accepted.to_owned(),
                        all: NEEDED_PERMISSIONS.join(", "),
                    });
                }
                // GitHub's own hiccups: a short retry, then the error.
                500..=599 if attempt < 2 => {
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await
                }
                _ => return Ok((status, headers, value)),
            }
        }
        unreachable!("the loop returns")
    }

    fn record_budget(&self, headers: &HeaderMap) {
        if let (Some(limit), Some(remaining), Some(reset)) = (
            header_u64(headers, "x-ratelimit-limit"),
            header_u64(headers, "x-ratelimit-remaining"),
            header_u64(headers, "x-ratelimit-reset"),
        ) && let Ok(mut b) = self.budget.lock()
        {
            *b = Some(RateBudget {
                limit,
                remaining,
                reset,
            });
        }
    }

    /// A successful call's body, or the refusal with GitHub's message.
    async fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, _, value) = self.call(method.clone(), path, body).await?;
        if status.is_success() {
            return Ok(value);
        }
        Err(refused(&format!("{method} {path}"), status, &value))
    }

    /// The token's owner, its classic scopes and organisations.
    pub async fn identity(&self) -> Result<Identity> {
        let (status, headers, user) = self.call(Method::GET, "/user", None).await?;
        if !status.is_success() {
            return Err(refused("GET /user", status, &user));
        }
        let scopes = header(&headers, "x-oauth-scopes").map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        });
        let orgs = self
            .ok(Method::GET, "/user/orgs?per_page=100", None)
            .await?;
        let organisations = orgs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["login"].as_str().map(str::to_owned))
            .collect();
        Ok(Identity {
            login: user["login"].as_str().unwrap_or_default().to_owned(),
            scopes,
            organisations,
        })
    }

    /// Fails unless the token has every classic scope Slipway needs, naming the missing ones.
    pub fn require_scopes(identity: &Identity) -> Result<()> {
        let missing = identity.missing_scopes();
        if missing.is_empty() {
            return Ok(());
        }
        Err(GitHubError::MissingScopes {
            missing: missing.join(", "),
            needed: NEEDED_SCOPES.join(", "),
        })
    }

    /// The current primary budget (`GET /rate_limit`, which does not count against it).
    pub async fn rate_limit(&self) -> Result<RateBudget> {
        let v = self.ok(Method::GET, "/rate_limit", None).await?;
        let core = &v["resources"]["core"];
        Ok(RateBudget {
            limit: core["limit"].as_u64().unwrap_or(0),
            remaining: core["remaining"].as_u64().unwrap_or(0),
            reset: core["reset"].as_u64().unwrap_or(0),
        })
    }

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

    /// A new public repository with an initial commit (so the Git data API can build on it).
    /// `org`: create under an organisation, else under the token's user.
    pub async fn create_repo(
        &self,
        owner: &str,
        org: bool,
        name: &str,
        description: &str,
    ) -> Result<Repo> {
        let path = if org {
            format!("/orgs/{owner}/repos")
        } else {
            "/user/repos".to_owned()
        };
        let body = json!({"name": name, "description": description, "private": false, "auto_init": true, "has_wiki": false});
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
                v["content"].as_str().unwrap_or_default(),
            ))),
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
    /// answers 409, until GitHub has copied the template), polling with a growing pause.
    pub async fn wait_populated(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(250);
        loop {
            let (status, _, v) = self
                .call(
                    Method::GET,
                    &format!("/repos/{owner}/{name}/git/ref/heads/{branch}"),
                    None,
                )
                .await?;
            match status.as_u16() {
                200 => return Ok(()),
                404 | 409 if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                404 | 409 => {
                    return Err(GitHubError::Refused {
                        what: format!(
                            "waiting for {owner}/{name} to be populated from its template"
                        ),
                        status: status.as_u16(),
                        message: format!(
                            "still empty after {} s; run again to resume",
                            timeout.as_secs()
                        ),
                    });
                }
                _ => return Err(refused(&format!("GET ref heads/{branch}"), status, &v)),
            }
        }
    }

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
            files.insert(
                entry["path"].as_str().unwrap_or_default().to_owned(),
                decode_base64(blob["content"].as_str().unwrap_or_default()),
            );
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

/// GitHub wraps base64 content at 60 columns.
fn decode_base64(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap_or_default()
}

fn repo_from(v: &Value) -> Repo {
    Repo {
        full_name: v["full_name"].as_str().unwrap_or_default().to_owned(),
        html_url: v["html_url"].as_str().unwrap_or_default().to_owned(),
        default_branch: v["default_branch"].as_str().unwrap_or("main").to_owned(),
    }
}

fn refused(what: &str, status: StatusCode, body: &Value) -> GitHubError {
    let mut message = body["message"].as_str().unwrap_or("no message").to_owned();
    if let Some(errors) = body["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                e["message"]
                    .as_str()
                    .or(e["code"].as_str())
                    .map(str::to_owned)
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
    }
    GitHubError::Refused {
        what: what.to_owned(),
        status: status.as_u16(),
        message,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header(headers, name).and_then(|v| v.trim().parse().ok())
}

/// A 403/429 is a rate limit (not a permission problem) when GitHub says so in its headers.
fn rate_limited(headers: &HeaderMap) -> bool {
    header(headers, "retry-after").is_some()
        || header_u64(headers, "x-ratelimit-remaining") == Some(0)
}

/// How long to wait: `retry-after`, else until `x-ratelimit-reset`, else (secondary limits
/// without either) a minute, doubling per attempt, as GitHub's documentation asks.
fn wait_for(headers: &HeaderMap, attempt: u32) -> Duration {
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Duration::from_secs(secs);
    }
    if let (Some(reset), Some(0)) = (
        header_u64(headers, "x-ratelimit-reset"),
        header_u64(headers, "x-ratelimit-remaining"),
    ) {
        let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
        return Duration::from_secs(reset.saturating_sub(now) + 1);
    }
    Duration::from_secs(60 << attempt.min(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().expect("value")))
            .collect()
    }

    #[test]
    fn waits_follow_retry_after_then_the_reset_then_a_backoff() {
        assert_eq!(
            wait_for(&headers(&[("retry-after", "7")]), 0),
            Duration::from_secs(7)
        );
        let soon = (jiff::Timestamp::now().as_second() + 30).to_string();
        let w = wait_for(
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &soon)]),
            0,
        );
        assert!((29..=31).contains(&w.as_secs()), "{w:?}");
        assert_eq!(wait_for(&headers(&[]), 1), Duration::from_secs(120));
        assert!(rate_limited(&headers(&[("x-ratelimit-remaining", "0")])));
        assert!(
            !rate_limited(&headers(&[("x-ratelimit-remaining", "10")])),
            "a plain 403 is a permission problem"
        );
    }

    #[test]
    fn missing_scopes_are_named_and_fine_grained_tokens_pass() {
        let id = |scopes: Option<&[&str]>| Identity {
            login: "u".into(),
            scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
            organisations: vec![],
        };
        assert_eq!(
            id(Some(&["public_repo"])).missing_scopes(),
            ["repo", "read:org", "workflow"]
        );
        assert!(
            id(Some(&["repo", "admin:org", "workflow"]))
                .missing_scopes()
                .is_empty()
        );
        assert!(id(None).missing_scopes().is_empty());
        let err = GitHub::require_scopes(&id(Some(&["repo"])))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("read:org, workflow"), "{err}");
    }
}
