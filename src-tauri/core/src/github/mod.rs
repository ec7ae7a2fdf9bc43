//! GitHub's REST API, as Slipway needs it: who the token belongs to and what it may do, the rate
//! budget, repositories, one-commit file writes through the Git data API, topics. octocrab is
//! the transport (auth, base URI for GitHub Enterprise or a test fake, TLS); status codes and the
//! rate-limit headers are handled here, so every call honours `retry-after` and the primary and
//! secondary limits. The token never appears in an error or a log line.

use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use base64::Engine;
use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;

pub mod account;
pub mod actions;
mod git;
mod repos;

pub use repos::Repo;

/// The public GitHub API.
pub const DEFAULT_API: &str = "https://api.github.com";

/// Classic token scopes Slipway needs: create repositories and write their contents (`repo`),
/// see organisation memberships (`read:org`), write CI workflows (`workflow`), and pull the
/// services' images from ghcr.io into team namespaces (`read:packages`).
pub const NEEDED_SCOPES: &[&str] = &["repo", "read:org", "workflow", "read:packages"];

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
    /// GitHub refused the token itself.
    #[error(
        "GitHub rejected the token (401): it is wrong, expired or revoked; connect again with a new one (`slipway github connect`)"
    )]
    Unauthorized,
    /// No token is kept for this API.
    #[error(
        "GitHub is not connected for {api}: connect it first (Settings in the app, or `slipway github connect`)"
    )]
    NotConnected { api: String },
    /// The primary or secondary rate limit is used up beyond what Slipway waits for.
    #[error(
        "GitHub's rate limit is used up ({resource}); it resets at {reset}. Slipway waits up to {max_wait}s by itself; try again after the reset"
    )]
    RateLimited {
        resource: String,
        reset: String,
        max_wait: u64,
        /// How long GitHub asked to wait.
        wait: Duration,
    },
    /// GitHub answered 5xx, after retries.
    #[error(
        "GitHub answered {status} to {what} ({message}); GitHub may be having trouble (https://www.githubstatus.com): try again in a while"
    )]
    ServerError {
        what: String,
        status: u16,
        message: String,
    },
    /// GitHub refused a request; its message says why.
    #[error("GitHub refused {what} ({status}): {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    /// The API URL is not a URL.
    #[error(
        "{api} is not a usable GitHub API URL ({reason}); for GitHub Enterprise use https://HOST/api/v3"
    )]
    InvalidApi { api: String, reason: String },
    /// Nothing answers at the API, or the connection broke.
    #[error("cannot reach GitHub at {api}: {source}")]
    Unreachable {
        api: String,
        #[source]
        source: octocrab::Error,
    },
    /// A classic token lacks scopes Slipway needs.
    #[error(
        "the token lacks {missing}; create one with {needed} (classic) or the matching fine-grained permissions"
    )]
    MissingScopes { missing: String, needed: String },
    /// A fine-grained token lacks a permission for a call.
    #[error(
        "the fine-grained token may not {what}: GitHub asks for the permission {accepted}; give the token {accepted} (with {all}) and connect again"
    )]
    MissingPermission {
        what: String,
        accepted: String,
        all: String,
    },
    /// The owner is neither the token's user nor one of their organisations.
    #[error(
        "{owner} is neither you ({login}) nor one of your organisations ({}); choose an owner from those (--owner, or Settings)",
        if organisations.is_empty() { "none".to_owned() } else { organisations.join(", ") }
    )]
    ForeignOwner {
        owner: String,
        login: String,
        organisations: Vec<String>,
    },
    /// A file GitHub sent is not the base64 it says it is.
    #[error(
        "GitHub sent {what} with content that is not base64 ({source}); run again, and report it if it stays"
    )]
    Decode {
        what: String,
        #[source]
        source: base64::DecodeError,
    },
    /// A template repository was still empty when the step's time ran out.
    #[error(
        "{owner}/{name} is still empty after {secs} s: GitHub has not finished copying its template; run again to resume"
    )]
    NotPopulated {
        owner: String,
        name: String,
        secs: u64,
    },
}

impl GitHubError {
    /// Worth another attempt later: GitHub or the way to it failed, not the request.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::ServerError { .. } | Self::NotPopulated { .. }
        )
    }
}

impl crate::error::Classified for GitHubError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::NotConnected { .. } => ErrorKind::GitHubNotConnected,
            Self::Unauthorized | Self::MissingScopes { .. } | Self::MissingPermission { .. } => {
                ErrorKind::GitHubAuth
            }
            Self::RateLimited { .. }
            | Self::ServerError { .. }
            | Self::Unreachable { .. }
            | Self::Decode { .. } => ErrorKind::Unavailable,
            Self::InvalidApi { .. } | Self::ForeignOwner { .. } => ErrorKind::Invalid,
            Self::Refused {
                status: 409 | 422, ..
            } => ErrorKind::Conflict,
            Self::Refused { .. } => ErrorKind::Invalid,
            Self::NotPopulated { .. } => ErrorKind::Step,
        }
    }
}

type Result<T> = std::result::Result<T, GitHubError>;

/// The primary budget as the last response reported it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RateBudget {
    #[ts(type = "number")]
    pub limit: u64,
    #[ts(type = "number")]
    pub remaining: u64,
    /// Unix seconds.
    #[ts(type = "number")]
    pub reset: u64,
}

/// Who the token belongs to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
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
            scopes.iter().any(|x| {
                x == s
                    || (s == "read:org" && (x == "admin:org" || x == "write:org"))
                    || (s == "read:packages" && (x == "write:packages" || x == "delete:packages"))
            })
        };
        NEEDED_SCOPES.iter().copied().filter(|s| !has(s)).collect()
    }

    /// The owner services and the platform repository go to: `wanted`, or the token's user.
    /// Refused unless it is the user or one of their organisations.
    pub fn owner(&self, wanted: Option<&str>) -> Result<Owner> {
        let name = wanted.unwrap_or(&self.login);
        if name == self.login {
            return Ok(Owner {
                name: name.to_owned(),
                org: false,
            });
        }
        if self.organisations.iter().any(|o| o == name) {
            return Ok(Owner {
                name: name.to_owned(),
                org: true,
            });
        }
        Err(GitHubError::ForeignOwner {
            owner: name.to_owned(),
            login: self.login.clone(),
            organisations: self.organisations.clone(),
        })
    }
}

/// A GitHub user or organisation that owns repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    /// An organisation (Argo CD's SCM generator can list its repositories), else a user.
    pub org: bool,
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
        let invalid = |reason: String| GitHubError::InvalidApi {
            api: api.clone(),
            reason,
        };
        let octo = Octocrab::builder()
            .base_uri(api.as_str())
            .map_err(|e| invalid(e.to_string()))?
            .personal_token(token.to_owned())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| invalid(e.to_string()))?;
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

    fn unreachable(&self, source: octocrab::Error) -> GitHubError {
        GitHubError::Unreachable {
            api: self.api.clone(),
            source,
        }
    }

    /// One call: JSON in and out. Rate limits are waited out as GitHub's headers ask (up to
    /// `max_wait`), 5xx answers retried with backoff; any other answer is the caller's to read.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, Value)> {
        let what = format!("{method} {path}");
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let once = || {
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.call_once(method.clone(), path, body, &what, attempt)
        };
        let max_wait = self.max_wait;
        once.retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_times(3),
        )
        .when(|e| {
            matches!(
                e,
                GitHubError::RateLimited { .. } | GitHubError::ServerError { .. }
            )
        })
        .adjust(move |e, backoff| match e {
            // GitHub says how long; more than max_wait is an error for the user to see.
            GitHubError::RateLimited { wait, .. } => {
                backoff.and((*wait <= max_wait).then_some(*wait))
            }
            _ => backoff,
        })
        .notify(|e, wait| {
            tracing::info!(what, secs = wait.as_secs(), "GitHub: waiting ({e})");
        })
        .await
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
        attempt: u32,
    ) -> Result<(StatusCode, HeaderMap, Value)> {
        let response = match method {
            Method::POST => self.octo._post(path, body).await,
            Method::PUT => self.octo._put(path, body).await,
            Method::PATCH => self.octo._patch(path, body).await,
            Method::DELETE => self.octo._delete(path, body).await,
            _ => self.octo._get(path).await,
        }
        .map_err(|e| self.unreachable(e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        self.record_budget(&headers);
        let text = self
            .octo
            .body_to_string(response)
            .await
            .map_err(|e| self.unreachable(e))?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        match status.as_u16() {
            401 => Err(GitHubError::Unauthorized),
            403 | 429 if rate_limited(&headers) => {
                let wait = wait_for(&headers, attempt);
                let reset = header_u64(&headers, "x-ratelimit-reset")
                    .and_then(|r| jiff::Timestamp::from_second(i64::try_from(r).ok()?).ok())
                    .map_or_else(|| format!("in {}s", wait.as_secs()), |t| t.to_string());
                Err(GitHubError::RateLimited {
                    resource: header(&headers, "x-ratelimit-resource")
                        .unwrap_or("core")
                        .to_owned(),
                    reset,
                    max_wait: self.max_wait.as_secs(),
                    wait,
                })
            }
            403 if let Some(accepted) = header(&headers, "x-accepted-github-permissions") => {
                Err(GitHubError::MissingPermission {
                    what: what.to_owned(),
                    accepted: accepted.to_owned(),
                    all: NEEDED_PERMISSIONS.join(", "),
                })
            }
            500..=599 => Err(GitHubError::ServerError {
                what: what.to_owned(),
                status: status.as_u16(),
                message: message_of(&value),
            }),
            _ => Ok((status, headers, value)),
        }
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
}

/// A file's content as GitHub sends it: base64, wrapped at 60 columns.
fn decode_base64(what: &str, text: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|source| GitHubError::Decode {
            what: what.to_owned(),
            source,
        })
}

/// GitHub's message in an error body, with the details of `errors[]`.
fn message_of(body: &Value) -> String {
    let mut message = body["message"]
        .as_str()
        .or(body.as_str())
        .unwrap_or("no message")
        .to_owned();
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
    message
}

fn refused(what: &str, status: StatusCode, body: &Value) -> GitHubError {
    GitHubError::Refused {
        what: what.to_owned(),
        status: status.as_u16(),
        message: message_of(body),
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
            ["repo", "read:org", "workflow", "read:packages"]
        );
        assert!(
            id(Some(&["repo", "admin:org", "workflow", "write:packages"]))
                .missing_scopes()
                .is_empty()
        );
        assert_eq!(
            id(Some(&["repo", "read:org", "workflow"])).missing_scopes(),
            ["read:packages"],
            "a token from before the pull Secrets is told what it lacks"
        );
        assert!(id(None).missing_scopes().is_empty());
        let err = GitHub::require_scopes(&id(Some(&["repo"])))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("read:org, workflow, read:packages"), "{err}");
    }
}
