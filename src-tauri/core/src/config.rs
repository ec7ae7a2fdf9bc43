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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error(
        "the settings file {path} is invalid: {reason} (keys: cluster, domain, nodeImage, httpPort, httpsPort, charts, helm, githubApi, owner, backstageUrl, templateRepo)"
    )]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write the settings file {path}: {reason}")]
    Write { path: PathBuf, reason: String },
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
        let path = Self::path().ok_or_else(|| ConfigError::Write {
            path: PathBuf::from("config.yaml"),
            reason: "no home or config folder (set SLIPWAY_CONFIG)".into(),
        })?;
        self.save_to(&path)?;
        Ok(path)
    }

    pub fn save_to(&self, path: &Path) -> Result<(), ConfigError> {
        let failed = |e: &dyn std::fmt::Display| ConfigError::Write {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        }
        let text = serde_saphyr::to_string(self).map_err(|e| failed(&e))?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| failed(&e))
    }

    /// The cluster name, domain and GitHub API with their defaults filled in.
    pub fn cluster_or_default(&self) -> String {
        self.cluster.clone().unwrap_or_else(|| "slipway".into())
    }

    pub fn domain_or_default(&self) -> String {
        self.domain.clone().unwrap_or_else(|| "local".into())
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
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }
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
    }
}
