//! The user's settings file: defaults for what the CLI flags (and the GUI's settings) choose.
//! `$SLIPWAY_CONFIG`, else `$XDG_CONFIG_HOME/slipway/config.yaml` (`~/.config/…`; `%APPDATA%` on
//! Windows). Flags and environment variables win over it; it never holds secrets (those are in
//! the keyring), and an unknown key is an error naming the known ones, so typos do not pass silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Cluster name (`slipway` by default).
    pub cluster: Option<String>,
    /// Platform domain (`local`).
    pub domain: Option<String>,
    /// Chart source: a folder, an `oci://` registry or a Helm repository URL.
    pub charts: Option<String>,
    /// The helm binary.
    pub helm: Option<PathBuf>,
    /// GitHub's API (GitHub Enterprise: `https://HOST/api/v3`).
    pub github_api: Option<String>,
    /// The GitHub user or organisation services go to.
    pub owner: Option<String>,
    /// Backstage's URL.
    pub backstage_url: Option<String>,
    /// A GitHub template repository (`OWNER/REPO`) for new services.
    pub template_repo: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the settings file {path} is invalid: {reason} (keys: cluster, domain, charts, helm, githubApi, owner, backstageUrl, templateRepo)")]
    Invalid { path: PathBuf, reason: String },
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

    pub fn load_from(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(ConfigError::Read { path: path.to_owned(), reason: e.to_string() }),
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Invalid { path: path.to_owned(), reason: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_known_keys_and_names_the_known_ones_on_a_typo() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.yaml");
        assert_eq!(Config::load_from(&path).expect("missing file"), Config::default());
        std::fs::write(&path, "domain: dev.test\ncharts: /srv/charts\ngithubApi: https://ghe.example/api/v3\n").expect("write");
        let c = Config::load_from(&path).expect("config");
        assert_eq!((c.domain.as_deref(), c.charts.as_deref(), c.github_api.as_deref()), (Some("dev.test"), Some("/srv/charts"), Some("https://ghe.example/api/v3")));
        std::fs::write(&path, "domian: dev.test\n").expect("write");
        let err = Config::load_from(&path).expect_err("typo").to_string();
        assert!(err.contains("domian") && err.contains("keys: cluster, domain"), "{err}");
    }
}
