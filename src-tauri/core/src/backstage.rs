//! Backstage's catalog API with the static external-access token Slipway owns: register a
//! component's `catalog-info.yaml` (an existing location is refreshed, not an error), look an
//! entity up, remove a location on rollback. The HTTP stack is octocrab's (bearer auth, TLS).

use http::StatusCode;
use octocrab::Octocrab;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum BackstageError {
    /// Backstage refused Slipway's static token.
    #[error(
        "Backstage rejected Slipway's token ({0}); `slipway up` rewrites backstage-secrets from the keyring, then restart Backstage"
    )]
    Unauthorized(u16),
    /// Backstage refused a request; its message says why.
    #[error("Backstage refused {what} ({status}): {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    /// The Backstage URL is not a URL.
    #[error(
        "{url} is not a usable Backstage URL ({reason}); set backstageUrl to http(s)://HOST[:PORT]"
    )]
    InvalidUrl { url: String, reason: String },
    /// Nothing answers at Backstage's URL.
    #[error(
        "cannot reach Backstage at {url}: {source}; is the platform up (`slipway status`) and {url} resolvable (`slipway hosts apply`)?"
    )]
    Unreachable {
        url: String,
        #[source]
        source: octocrab::Error,
    },
    /// The catalog could not process the registered file; its message says why.
    #[error(
        "Backstage registered {target} but could not process it: {message}; fix catalog-info.yaml in the repository, then run again"
    )]
    Processing { target: String, message: String },
    /// The catalog had not processed the registered file when the wait ended.
    #[error(
        "Backstage registered {target} but has not read it after {secs} s (its catalog processes new locations in the background); run again to keep waiting"
    )]
    NotProcessed { target: String, secs: u64 },
    /// No API token for Backstage is kept for this cluster.
    #[error(
        "no Backstage token for cluster {cluster:?} in the keyring; start the platform first (`slipway up`)"
    )]
    NoToken { cluster: String },
}

impl BackstageError {
    /// Worth another attempt: Backstage was not reachable.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

impl crate::error::Classified for BackstageError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Unauthorized(_) | Self::NoToken { .. } => ErrorKind::Cluster,
            Self::Processing { .. } => ErrorKind::Invalid,
            Self::NotProcessed { .. } => ErrorKind::Unavailable,
            Self::Refused { status: 409, .. } => ErrorKind::Conflict,
            Self::Refused { .. } | Self::InvalidUrl { .. } => ErrorKind::Invalid,
            Self::Unreachable { .. } => ErrorKind::Unavailable,
        }
    }
}

type Result<T> = std::result::Result<T, BackstageError>;

/// A registered location and what it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub location_id: String,
    /// The location existed already; it was refreshed.
    pub refreshed: bool,
}

pub struct Backstage {
    url: String,
    http: Octocrab,
}

impl Backstage {
    pub fn new(url: &str, token: &str) -> Result<Self> {
        Self::build(
            url.trim_end_matches('/'),
            url.trim_end_matches('/'),
            None,
            token,
        )
    }

    /// The platform's own Backstage: connect to the ingress at `ingress` and name `host` in the
    /// `Host` header only, so no name lookup decides where the token goes.
    pub fn through_ingress(host: &str, ingress: std::net::SocketAddr, token: &str) -> Result<Self> {
        let shown = crate::platform::ingress_url(host, ingress.port());
        let header = shown.trim_start_matches("http://").to_owned();
        Self::build(&shown, &format!("http://{ingress}"), Some(header), token)
    }

    /// Backstage at `local`, a port-forward's listener, shown as `shown` (where the user's own
    /// `slipway forward backstage` puts it).
    pub fn through_forward(local: std::net::SocketAddr, shown: &str, token: &str) -> Result<Self> {
        Self::build(shown, &format!("http://{local}"), None, token)
    }

    fn build(shown: &str, base: &str, host: Option<String>, token: &str) -> Result<Self> {
        let url = shown.to_owned();
        let invalid = |reason: String| BackstageError::InvalidUrl {
            url: url.clone(),
            reason,
        };
        let mut builder = Octocrab::builder()
            .base_uri(base)
            .map_err(|e| invalid(e.to_string()))?
            .personal_token(token.to_owned());
        if let Some(host) = host {
            builder = builder.add_header(http::header::HOST, host);
        }
        let http = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(Self { url, http })
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let response = match method {
            "GET" => self.http._get(path).await,
            "POST" => self.http._post(path, body).await,
            _ => self.http._delete(path, body).await,
        }
        .map_err(|source| BackstageError::Unreachable {
            url: self.url.clone(),
            source,
        })?;
        let status = response.status();
        let text = self.http.body_to_string(response).await.map_err(|source| {
            BackstageError::Unreachable {
                url: self.url.clone(),
                source,
            }
        })?;
        if matches!(status.as_u16(), 401 | 403) {
            return Err(BackstageError::Unauthorized(status.as_u16()));
        }
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    fn refused(what: &str, status: StatusCode, body: &Value) -> BackstageError {
        let message = body["error"]["message"]
            .as_str()
            .or(body.as_str())
            .unwrap_or("no message")
            .to_owned();
        BackstageError::Refused {
            what: what.to_owned(),
            status: status.as_u16(),
            message,
        }
    }

    /// Register `target` (a `catalog-info.yaml` URL). A location that exists already (409) is
    /// refreshed so the catalog picks up the current file.
    pub async fn register(&self, target: &str, entity_ref: &str) -> Result<Registration> {
        let body = json!({"type": "url", "target": target});
        let (status, v) = self
            .call("POST", "/api/catalog/locations", Some(&body))
            .await?;
        if status.is_success() {
            return Ok(Registration {
                location_id: v["location"]["id"].as_str().unwrap_or_default().to_owned(),
                refreshed: false,
            });
        }
        if status != StatusCode::CONFLICT {
            return Err(Self::refused("registering the location", status, &v));
        }
        let (status, v) = self
            .call(
                "POST",
                "/api/catalog/refresh",
                Some(&json!({"entityRef": entity_ref})),
            )
            .await?;
        if !status.is_success() {
            return Err(Self::refused("refreshing the entity", status, &v));
        }
        Ok(Registration {
            location_id: self.location_id(target).await?.unwrap_or_default(),
            refreshed: true,
        })
    }

    /// Wait until the catalog has read `target` and holds `component:default/<name>`, at the
    /// latest until `deadline`. Backstage answers a registration at once and reads the file in
    /// the background (`POST /locations` returns no entities); a file it cannot read or accept
    /// shows as an error on the location's entity, `location:default/generated-<sha1>`.
    pub async fn wait_for_component(
        &self,
        target: &str,
        name: &str,
        deadline: crate::pipeline::Deadline,
    ) -> Result<Value> {
        let look = || async {
            if let Some(entity) = self.component(name).await? {
                return Ok(crate::pipeline::Poll::Ready(entity));
            }
            if let Some(message) = self.location_error(target).await? {
                return Err(BackstageError::Processing {
                    target: target.to_owned(),
                    message,
                });
            }
            Ok(crate::pipeline::Poll::Pending(String::new()))
        };
        crate::pipeline::poll(
            deadline,
            std::time::Duration::from_millis(500),
            look,
            |_| BackstageError::NotProcessed {
                target: target.to_owned(),
                secs: deadline.secs(),
            },
        )
        .await
    }

    /// The first processing error on the location entity the catalog made for `target`.
    async fn location_error(&self, target: &str) -> Result<Option<String>> {
        let mut sha = sha1_smol::Sha1::new();
        sha.update(format!("url:{target}").as_bytes());
        let (status, v) = self
            .call(
                "GET",
                &format!(
                    "/api/catalog/entities/by-name/location/default/generated-{}",
                    sha.digest()
                ),
                None,
            )
            .await?;
        if !status.is_success() {
            return Ok(None);
        }
        Ok(v["status"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|item| item["error"]["message"].as_str().map(str::to_owned)))
    }

    /// The id of the location registered for `target`, if any.
    pub async fn location_id(&self, target: &str) -> Result<Option<String>> {
        let (status, v) = self.call("GET", "/api/catalog/locations", None).await?;
        if !status.is_success() {
            return Err(Self::refused("listing locations", status, &v));
        }
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                if l.get("data").is_some() {
                    &l["data"]
                } else {
                    l
                }
            })
            .find(|l| l["target"] == target)
            .and_then(|l| l["id"].as_str().map(str::to_owned)))
    }

    /// A component by name (`component:default/<name>`), if the catalog has it.
    pub async fn component(&self, name: &str) -> Result<Option<Value>> {
        let (status, v) = self
            .call(
                "GET",
                &format!("/api/catalog/entities/by-name/component/default/{name}"),
                None,
            )
            .await?;
        match status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(v)),
            _ => Err(Self::refused("reading the component", status, &v)),
        }
    }

    /// Remove a location (and the entities it produced); `false` when it was gone already.
    pub async fn delete_location(&self, id: &str) -> Result<bool> {
        let (status, v) = self
            .call("DELETE", &format!("/api/catalog/locations/{id}"), None)
            .await?;
        match status.as_u16() {
            204 | 200 => Ok(true),
            404 => Ok(false),
            _ => Err(Self::refused("deleting the location", status, &v)),
        }
    }
}
