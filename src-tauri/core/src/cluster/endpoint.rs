//! Which Docker daemon Slipway talks to, resolved as the docker CLI resolves it (kind runs the
//! CLI, so this is the daemon kind would use; docker/cli `cli/command/cli.go`):
//!
//! 1. `DOCKER_HOST`, any scheme (it wins over `DOCKER_CONTEXT`, whatever the docs say);
//! 2. `DOCKER_CONTEXT`;
//! 3. `currentContext` in `$DOCKER_CONFIG/config.json` (default `~/.docker`);
//! 4. the platform's default socket.
//!
//! A context's endpoint is `Endpoints.docker.Host` in `contexts/meta/<sha256(name)>/meta.json`,
//! its TLS files `contexts/tls/<same>/docker/{ca,cert,key}.pem`; `DOCKER_HOST` takes TLS from
//! `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`. Docker Desktop, Colima, OrbStack, Rancher Desktop
//! and rootless Docker all select their socket through a context.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the endpoint came from (for preflight and `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    DockerHost,
    DockerContext,
    CurrentContext,
    Default,
}

/// Client certificate and CA for a TLS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A resolved Docker endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///…`, `tcp://host:port`, `npipe:////./pipe/…`.
    pub host: String,
    /// The context it came from, if any.
    pub context: Option<String>,
    pub source: Source,
    pub tls: Option<Tls>,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The named context does not exist in the context store.
    #[error(
        "Docker context {name:?} ({from}) does not exist under {store}; list them with `docker context ls` and pick one with `docker context use NAME`"
    )]
    NoSuchContext {
        name: String,
        from: &'static str,
        store: String,
    },
    /// A file of the Docker configuration could not be read.
    #[error("cannot read {path}: {reason}; fix or remove it, or set DOCKER_HOST")]
    Unreadable { path: String, reason: String },
    /// `ssh://` endpoints need the docker CLI as a helper, which Slipway does not run.
    #[error(
        "Docker endpoint {host} uses ssh://, which Slipway does not speak. Forward the remote socket instead: \
         `ssh -nNT -L /tmp/docker-remote.sock:/var/run/docker.sock {target}` and set \
         DOCKER_HOST=unix:///tmp/docker-remote.sock (the cluster's ports then open on that host, not this one)"
    )]
    Ssh { host: String, target: String },
    /// A scheme Docker itself does not accept.
    #[error(
        "Docker endpoint {0:?} is not unix://, tcp://, npipe:// or ssh://; fix DOCKER_HOST or the context"
    )]
    Scheme(String),
    /// The context asks for TLS without verification, which Slipway will not do.
    #[error(
        "Docker context {0:?} skips TLS verification; Slipway verifies the daemon's certificate. Give the context its CA (`docker context update {0} --docker \"host=…,ca=…,cert=…,key=…\"`)"
    )]
    SkipTlsVerify(String),
}

/// The platform's default daemon socket, as the docker CLI has it.
pub fn default_host() -> &'static str {
    if cfg!(windows) {
        "npipe:////./pipe/docker_engine"
    } else {
        "unix:///var/run/docker.sock"
    }
}

/// Resolve the endpoint from the process environment.
pub fn resolve() -> Result<Endpoint, EndpointError> {
    resolve_with(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// Resolve with `env` standing in for the environment (tests).
pub fn resolve_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, EndpointError> {
    let config_dir = config_dir(env);
    if let Some(host) = env("DOCKER_HOST") {
        let host = normalise(&host)?;
        let tls = if host.starts_with("tcp://") && env("DOCKER_TLS_VERIFY").is_some() {
            let dir = env("DOCKER_CERT_PATH").map_or_else(|| config_dir.clone(), PathBuf::from);
            Some(tls_files(&dir))
        } else {
            None
        };
        return Ok(Endpoint {
            host,
            context: None,
            source: Source::DockerHost,
            tls,
        });
    }
    let (name, source, from) = match env("DOCKER_CONTEXT") {
        Some(name) => (name, Source::DockerContext, "DOCKER_CONTEXT"),
        None => match current_context(&config_dir)? {
            Some(name) => (name, Source::CurrentContext, "the current context"),
            None => {
                return Ok(Endpoint {
                    host: default_host().to_owned(),
                    context: None,
                    source: Source::Default,
                    tls: None,
                });
            }
        },
    };
    if name == "default" {
        return Ok(Endpoint {
            host: default_host().to_owned(),
            context: Some(name),
            source,
            tls: None,
        });
    }
    let store = config_dir.join("contexts");
    let (dir, meta) = find_context(&store, &name)?.ok_or_else(|| EndpointError::NoSuchContext {
        name: name.clone(),
        from,
        store: store.display().to_string(),
    })?;
    let docker = meta.endpoints.docker.unwrap_or_default();
    let host = normalise(docker.host.as_deref().unwrap_or(default_host()))?;
    let tls_dir = store.join("tls").join(&dir).join("docker");
    let tls = if host.starts_with("tcp://") && tls_dir.join("ca.pem").exists() {
        if docker.skip_tls_verify {
            return Err(EndpointError::SkipTlsVerify(name));
        }
        Some(tls_files(&tls_dir))
    } else {
        None
    };
    Ok(Endpoint {
        host,
        context: Some(name),
        source,
        tls,
    })
}

impl Endpoint {
    /// `unix:///run/user/1000/docker.sock (context rootless)`, for preflight and `status`.
    pub fn describe(&self) -> String {
        let how = match (&self.context, self.source) {
            (Some(name), Source::DockerContext) => format!(" (context {name} from DOCKER_CONTEXT)"),
            (Some(name), _) => format!(" (context {name})"),
            (None, Source::DockerHost) => " (DOCKER_HOST)".to_owned(),
            (None, _) => " (default)".to_owned(),
        };
        let tls = if self.tls.is_some() { ", TLS" } else { "" };
        format!("{}{how}{tls}", self.host)
    }

    /// The socket path of a `unix://` endpoint.
    pub fn unix_path(&self) -> Option<&str> {
        self.host.strip_prefix("unix://")
    }

    /// The daemon runs on another machine: published ports open there, not here.
    pub fn remote_host(&self) -> Option<&str> {
        let rest = self.host.strip_prefix("tcp://")?;
        let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let local = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        (!local).then_some(host)
    }
}

/// Sockets of the common Docker runtimes that exist on this machine: (runtime, path, the context
/// it installs). Named when the selected endpoint does not answer, so the fix is one command.
pub fn other_sockets() -> Vec<(&'static str, String, &'static str)> {
    let home = std::env::var("HOME").unwrap_or_default();
    let runtime = std::env::var("XDG_RUNTIME_DIR").unwrap_or_default();
    let candidates = [
        (
            "Docker Desktop",
            format!("{home}/.docker/desktop/docker.sock"),
            "desktop-linux",
        ),
        (
            "Docker Desktop",
            format!("{home}/.docker/run/docker.sock"),
            "desktop-linux",
        ),
        (
            "Colima",
            format!("{home}/.colima/default/docker.sock"),
            "colima",
        ),
        (
            "OrbStack",
            format!("{home}/.orbstack/run/docker.sock"),
            "orbstack",
        ),
        (
            "Rancher Desktop",
            format!("{home}/.rd/docker.sock"),
            "rancher-desktop",
        ),
        (
            "Rootless Docker",
            format!("{runtime}/docker.sock"),
            "rootless",
        ),
    ];
    candidates
        .into_iter()
        .filter(|(_, path, _)| !home.is_empty() && Path::new(path).exists())
        .collect()
}

/// `tcp://host` gets Docker's port 2375 (`opts/hosts.go` adds it whatever TLS says); `http://`
/// and `https://` are the same daemon as `tcp://`; ssh is refused with the way around it.
fn normalise(host: &str) -> Result<String, EndpointError> {
    let host = host.trim();
    if let Some(target) = host.strip_prefix("ssh://") {
        return Err(EndpointError::Ssh {
            host: host.to_owned(),
            target: target.split('/').next().unwrap_or(target).to_owned(),
        });
    }
    if host.starts_with("unix://") || host.starts_with("npipe://") {
        return Ok(host.to_owned());
    }
    let Some(rest) = ["tcp://", "http://", "https://"]
        .iter()
        .find_map(|scheme| host.strip_prefix(scheme))
    else {
        return Err(EndpointError::Scheme(host.to_owned()));
    };
    let rest = rest.trim_end_matches('/');
    let has_port = rest
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()));
    Ok(if has_port {
        format!("tcp://{rest}")
    } else {
        format!("tcp://{rest}:2375")
    })
}

fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("DOCKER_CONFIG").map_or_else(
        || {
            let home = env("HOME")
                .or_else(|| env("USERPROFILE"))
                .unwrap_or_default();
            Path::new(&home).join(".docker")
        },
        PathBuf::from,
    )
}

fn tls_files(dir: &Path) -> Tls {
    Tls {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: Option<String>,
}

fn current_context(dir: &Path) -> Result<Option<String>, EndpointError> {
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(&path, &e)),
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| unreadable(&path, &e))?;
    Ok(config.current_context.filter(|c| !c.is_empty()))
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Endpoints", default)]
    endpoints: MetaEndpoints,
}

#[derive(Deserialize, Default)]
struct MetaEndpoints {
    docker: Option<DockerEndpoint>,
}

#[derive(Deserialize, Default)]
struct DockerEndpoint {
    #[serde(rename = "Host")]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The context named `name`: its store folder (sha256 of the name) and metadata. The folder is
/// found by the `Name` inside, as the CLI's reader also does, so no hash is needed here.
fn find_context(store: &Path, name: &str) -> Result<Option<(String, Meta)>, EndpointError> {
    let meta_dir = store.join("meta");
    let entries = match std::fs::read_dir(&meta_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(&meta_dir, &e)),
    };
    for entry in entries.flatten() {
        let path = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let meta: Meta = serde_json::from_str(&text).map_err(|e| unreadable(&path, &e))?;
        if meta.name == name {
            return Ok(Some((
                entry.file_name().to_string_lossy().into_owned(),
                meta,
            )));
        }
    }
    Ok(None)
}

fn unreadable(path: &Path, e: &dyn std::fmt::Display) -> EndpointError {
    EndpointError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    /// A config folder as the docker CLI writes it: `config.json` and one context per entry
    /// (its folder is the sha256 of the name; any name works for the reader).
    fn config(current: Option<&str>, contexts: &[(&str, &str, bool)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        if let Some(current) = current {
            std::fs::write(
                dir.path().join("config.json"),
                format!(r#"{{"auths": {{}}, "currentContext": "{current}"}}"#),
            )
            .expect("config.json");
        }
        for (i, (name, host, tls)) in contexts.iter().enumerate() {
            let id = format!("{i:064x}");
            let meta = dir.path().join("contexts/meta").join(&id);
            std::fs::create_dir_all(&meta).expect("meta dir");
            std::fs::write(
                meta.join("meta.json"),
                format!(
                    r#"{{"Name":"{name}","Metadata":{{"Description":"test"}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
                ),
            )
            .expect("meta.json");
            if *tls {
                let tls = dir.path().join("contexts/tls").join(&id).join("docker");
                std::fs::create_dir_all(&tls).expect("tls dir");
                for f in ["ca.pem", "cert.pem", "key.pem"] {
                    std::fs::write(tls.join(f), "pem").expect("pem");
                }
            }
        }
        dir
    }

    #[test]
    fn docker_host_wins_over_every_context_and_takes_any_scheme() {
        let cfg = config(Some("colima"), &[("colima", "unix:///c.sock", false)]);
        let dir = cfg.path().to_str().expect("utf-8");
        let e = resolve_with(&env(&[
            ("DOCKER_CONFIG", dir),
            ("DOCKER_CONTEXT", "colima"),
            ("DOCKER_HOST", "tcp://10.0.0.5"),
        ]))
        .expect("resolve");
        assert_eq!(
            (e.host.as_str(), e.source, e.context.as_deref()),
            ("tcp://10.0.0.5:2375", Source::DockerHost, None)
        );
        assert_eq!(e.remote_host(), Some("10.0.0.5"));
        let tls = resolve_with(&env(&[
            ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
        ]))
        .expect("tls");
        assert_eq!(
            tls.tls.as_ref().expect("tls").ca,
            PathBuf::from("/certs/ca.pem")
        );
        assert_eq!(tls.remote_host(), None, "loopback is this machine");
        let err = resolve_with(&env(&[("DOCKER_HOST", "ssh://me@build-box")])).expect_err("ssh");
        assert!(
            err.to_string().contains("ssh -nNT -L") && err.to_string().contains("me@build-box"),
            "{err}"
        );
        assert!(resolve_with(&env(&[("DOCKER_HOST", "ftp://x")])).is_err());
    }

    #[test]
    fn contexts_come_from_docker_context_then_the_current_context() {
        let cfg = config(
            Some("desktop-linux"),
            &[
                (
                    "desktop-linux",
                    "unix:///home/u/.docker/desktop/docker.sock",
                    false,
                ),
                ("remote", "tcp://build.example:2376", true),
            ],
        );
        let dir = cfg.path().to_str().expect("utf-8");
        let current = resolve_with(&env(&[("DOCKER_CONFIG", dir)])).expect("current");
        assert_eq!(current.host, "unix:///home/u/.docker/desktop/docker.sock");
        assert_eq!(current.source, Source::CurrentContext);
        assert_eq!(
            current.describe(),
            "unix:///home/u/.docker/desktop/docker.sock (context desktop-linux)"
        );
        let remote = resolve_with(&env(&[
            ("DOCKER_CONFIG", dir),
            ("DOCKER_CONTEXT", "remote"),
        ]))
        .expect("remote");
        assert_eq!(remote.source, Source::DockerContext);
        let tls = remote.tls.expect("the context's TLS files");
        assert!(tls.ca.ends_with("docker/ca.pem") && tls.key.exists());
        let missing = resolve_with(&env(&[("DOCKER_CONFIG", dir), ("DOCKER_CONTEXT", "nope")]))
            .expect_err("missing");
        assert!(
            missing.to_string().contains("docker context ls"),
            "{missing}"
        );
        // `default` is the platform socket; HOME/.docker is the folder without DOCKER_CONFIG.
        let home = tempfile::tempdir().expect("home");
        std::fs::create_dir_all(home.path().join(".docker")).expect("dir");
        std::fs::write(
            home.path().join(".docker/config.json"),
            r#"{"currentContext":"default"}"#,
        )
        .expect("config");
        let default =
            resolve_with(&env(&[("HOME", home.path().to_str().expect("utf-8"))])).expect("default");
        assert_eq!(default.host, default_host());
        let none = resolve_with(&env(&[])).expect("nothing set");
        assert_eq!(
            (none.host.as_str(), none.source),
            (default_host(), Source::Default)
        );
    }
}
