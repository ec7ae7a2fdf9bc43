//! The user's settings file: defaults for what the CLI flags (and the GUI's settings) choose.
//! `$SLIPWAY_CONFIG`, else `$XDG_CONFIG_HOME/slipway/config.yaml` (`~/.config/…`; `%APPDATA%` on
//! Windows). Flags and environment variables win over it; it never holds secrets (those are in
//! the keyring), and an unknown key is an error naming the known ones, so typos do not pass silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Slipway's state folder: `$XDG_STATE_HOME/slipway` (`~/.local/state/slipway`; `%LOCALAPPDATA%`
/// on Windows): creation journals, the desktop app's log.
pub fn state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LOCALAPPDATA").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("slipway")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct Config {
    /// Cluster name (`slipway` by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Platform domain (`local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The node image (a mirror of the pinned kindest/node, for example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_image: Option<String>,
    /// Host port of the platform's HTTP ingress (8880).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// Host port of the platform's HTTPS ingress (8843).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    /// Chart source: a folder, an `oci://` registry or a Helm repository URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charts: Option<String>,
    /// The helm binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<String>")]
    pub helm: Option<PathBuf>,
    /// GitHub's API (GitHub Enterprise: `https://HOST/api/v3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_api: Option<String>,
    /// The GitHub user or organisation services go to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Backstage's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backstage_url: Option<String>,
    /// A GitHub template repository (`OWNER/REPO`) for new services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_repo: Option<String>,
    /// Optional parts of the platform left out (`[observability]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<crate::platform::gitops::Part>>")]
    pub without: Vec<crate::platform::gitops::Part>,
    /// An existing cluster's kubeconfig context the platform goes onto (`up --context`) and
    /// every command acts on, instead of Slipway's own cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The kubeconfig file holding `context` (default: kubectl's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<String>")]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read the settings file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML of the settings' shape (or has an unknown key).
    #[error(
        "the settings file {path} is invalid: {source} (keys: cluster, domain, nodeImage, httpPort, httpsPort, charts, helm, githubApi, owner, backstageUrl, templateRepo, without, context, kubeconfig)"
    )]
    Invalid {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// The file's values break Slipway's rules; each problem says which and how.
    #[error("the settings file {path} is invalid: {}", .problems.join("; "))]
    Rules {
        path: PathBuf,
        problems: Vec<String>,
    },
    /// Settings to be saved break Slipway's rules (nothing was written).
    #[error("not saved: {}", .0.join("; "))]
    Refused(Vec<String>),
    /// There is no place for the file.
    #[error("no home or config folder for the settings file; set SLIPWAY_CONFIG to a file path")]
    NoPath,
    /// Writing the file failed.
    #[error("cannot write the settings file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The settings cannot be written as YAML.
    #[error("cannot write the settings file {path}: {source}")]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_saphyr::SerializeError,
    },
}

impl crate::error::Classified for ConfigError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Invalid { .. } | Self::Rules { .. } => crate::error::ErrorKind::Settings,
            Self::Refused(_) => crate::error::ErrorKind::Invalid,
            _ => crate::error::ErrorKind::Io,
        }
    }
}

impl Config {
    /// Where the settings file is looked for.
    pub fn path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("SLIPWAY_CONFIG") {
            return Some(PathBuf::from(p));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("APPDATA").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("slipway").join("config.yaml"))
    }

    /// The settings, or the defaults when there is no file.
    pub fn load() -> Result<Self, ConfigError> {
        match Self::path() {
            Some(path) => Self::load_from(&path),
            None => Ok(Self::default()),
        }
    }

    /// Write the settings (GUI's Settings view) atomically; returns where.
    pub fn save(&self) -> Result<PathBuf, ConfigError> {
        let path = Self::path().ok_or(ConfigError::NoPath)?;
        self.save_to(&path)?;
        Ok(path)
    }

    /// Write the settings to `path` atomically. A file there that is not valid settings (a
    /// hand edit gone wrong) is kept beside it as `<file>.invalid`, so nothing written is lost.
    pub fn save_to(&self, path: &Path) -> Result<(), ConfigError> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Refused(problems));
        }
        let failed = |source| ConfigError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        if let Err(ConfigError::Invalid { .. } | ConfigError::Rules { .. }) = Self::load_from(path)
        {
            std::fs::copy(path, invalid_copy(path)).map_err(failed)?;
        }
        let text = serde_saphyr::to_string(self).map_err(|source| ConfigError::Encode {
            path: path.to_owned(),
            source,
        })?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(failed)
    }

    /// The cluster name, domain and GitHub API with their defaults filled in.
    pub fn cluster_or_default(&self) -> String {
        self.cluster.clone().unwrap_or_else(|| "slipway".into())
    }

    pub fn domain_or_default(&self) -> String {
        self.domain.clone().unwrap_or_else(|| "local".into())
    }

    /// The cluster's settings as overrides of the embedded kind config.
    pub fn cluster_overrides(&self) -> crate::cluster::Overrides {
        crate::cluster::Overrides {
            name: self.cluster.clone(),
            node_image: self.node_image.clone(),
            http_port: self.http_port,
            https_port: self.https_port,
            ..crate::cluster::Overrides::default()
        }
    }

    pub fn github_api_or_default(&self) -> String {
        self.github_api
            .clone()
            .unwrap_or_else(|| crate::github::DEFAULT_API.into())
    }

    pub fn load_from(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let config: Self =
            serde_saphyr::from_str(&text).map_err(|source| ConfigError::Invalid {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Rules {
                path: path.to_owned(),
                problems,
            });
        }
        Ok(config)
    }
}

/// `name` is at most `max` bytes of RFC 1123 labels (lower-case letters, digits, inner '-',
/// 1–63 bytes each) between dots.
pub fn is_dns_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Why `charts` cannot be where the platform's charts come from, if it cannot: a plain http://
/// repository can be altered on the way, and the charts run as cluster-admin.
pub fn charts_problem(charts: &str) -> Option<String> {
    charts.starts_with("http://").then(|| {
        format!(
            "charts {charts:?}: a plain http:// chart repository can be tampered with on the way; use https://, oci:// or a local folder"
        )
    })
}

/// Why `domain` cannot be the platform's domain, if it cannot: DNS labels (lower-case letters,
/// digits, '-') between dots, room left for `<service>.<domain>`. It reaches the hosts file, the
/// Ingresses and the admission policies, so nothing else is let through.
pub fn domain_problem(domain: &str) -> Option<String> {
    (!is_dns_name(domain, 200)).then(|| {
        format!(
            "domain {domain:?} is not a DNS domain: use lower-case letters, digits and '-' between dots (like local or dev.test)"
        )
    })
}

/// Why `url` cannot be where Slipway sends a token (GitHub's API, Backstage), if it cannot:
/// https, or http to this machine only.
pub fn url_problem(what: &str, url: &str) -> Option<String> {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let ok = url.starts_with("https://") || loopback;
    (!ok).then(|| format!("{what} {url:?} must be an https:// URL (http only to this machine)"))
}

impl Config {
    /// Every rule a settings file must follow (the CLI's flags follow the same), all problems
    /// at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(p) = self.domain.as_deref().and_then(domain_problem) {
            problems.push(p);
        }
        if let Some(p) = self
            .github_api
            .as_deref()
            .and_then(|u| url_problem("githubApi", u))
        {
            problems.push(p);
        }
        if let Some(url) = &self.backstage_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!("backstageUrl {url:?} must be an http(s):// URL"));
        }
        if let Some(problem) = self.charts.as_deref().and_then(charts_problem) {
            problems.push(problem);
        }
        if let Some(helm) = &self.helm
            && !helm.is_absolute()
        {
            problems.push(format!(
                "helm {:?} must be an absolute path",
                helm.display()
            ));
        }
        if let Some(owner) = self
            .owner
            .as_deref()
            .and_then(crate::service::owner_problem)
        {
            problems.push(owner);
        }
        if let Some(repo) = &self.template_repo
            && !repo.split_once('/').is_some_and(|(o, r)| {
                crate::service::owner_problem(o).is_none() && !r.is_empty() && !r.contains('/')
            })
        {
            problems.push(format!("templateRepo {repo:?} is not OWNER/REPO"));
        }
        for (key, port) in [("httpPort", self.http_port), ("httpsPort", self.https_port)] {
            if port == Some(0) {
                problems.push(format!("{key} must be a port number (1-65535)"));
            }
        }
        problems
    }
}

/// Where an unusable settings file is kept when the settings are saved over it.
pub fn invalid_copy(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".invalid");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_keys_and_names_the_known_ones_on_a_typo() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.yaml");
        assert_eq!(
            Config::load_from(&path).expect("missing file"),
            Config::default()
        );
        std::fs::write(
            &path,
            "domain: dev.test\ncharts: /srv/charts\ngithubApi: https://ghe.example/api/v3\n",
        )
        .expect("write");
        let c = Config::load_from(&path).expect("config");
        assert_eq!(
            (
                c.domain.as_deref(),
                c.charts.as_deref(),
                c.github_api.as_deref()
            ),
            (
                Some("dev.test"),
                Some("/srv/charts"),
                Some("https://ghe.example/api/v3")
            )
        );
        std::fs::write(&path, "domian: dev.test\n").expect("write");
        let err = Config::load_from(&path).expect_err("typo").to_string();
        assert!(
            err.contains("domian") && err.contains("keys: cluster, domain"),
            "{err}"
        );
        c.save_to(&path).expect("save");
        assert_eq!(
            Config::load_from(&path).expect("saved"),
            c,
            "what is saved reads back the same"
        );
        assert_eq!(
            std::fs::read_to_string(invalid_copy(&path)).expect("kept"),
            "domian: dev.test\n",
            "the unusable file it replaced is kept"
        );
    }

    #[test]
    fn values_follow_the_rules_in_the_file_and_when_saved() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.yaml");
        // The domain that once wrote `6.6.6.6 github.com` into the hosts file.
        std::fs::write(
            &path,
            "domain: \"local\\n6.6.6.6 github.com #\"\ncharts: http://charts.example\nhelm: bin/helm\ngithubApi: http://ghe.corp/api/v3\n",
        )
        .expect("write");
        let err = Config::load_from(&path).expect_err("refused").to_string();
        for part in [
            "is not a DNS domain",
            "plain http:// chart repository",
            "absolute path",
            "must be an https:// URL",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let bad = Config {
            domain: Some("Dev.Test".into()),
            ..Config::default()
        };
        let refused = bad.save_to(&path).expect_err("refused");
        assert!(matches!(refused, ConfigError::Refused(_)), "{refused}");
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .contains("charts: http"),
            "nothing written"
        );
        for ok in ["local", "dev.test", "a-b.c1"] {
            assert!(domain_problem(ok).is_none(), "{ok}");
        }
        for bad in [
            "",
            ".local",
            "local.",
            "LOCAL",
            "lo cal",
            "local\n6.6.6.6 x",
            "-x.local",
            "a..b",
        ] {
            assert!(domain_problem(bad).is_some(), "{bad:?}");
        }
        assert!(url_problem("githubApi", "http://127.0.0.1:8080").is_none());
        assert!(url_problem("githubApi", "http://localhost.evil.com").is_some());
    }
}
