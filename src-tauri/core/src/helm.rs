//! The `helm` subprocess: located once, version-checked, always given an explicit kubeconfig
//! and context, values through a private temp file, argv only.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// How a user tells Slipway where helm is (every front end reads the same three).
const HOW_TO_POINT: &str = "pass --helm PATH, set SLIPWAY_HELM, or set `helm: PATH` in the settings file (Settings in the app)";

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// The configured helm path does not exist.
    #[error("helm was not found at {0}; fix the path: {HOW_TO_POINT}")]
    Missing(PathBuf),
    /// No helm on PATH.
    #[error(
        "helm was not found on PATH ({0}). Install helm 3 or 4 (https://helm.sh/docs/intro/install/), or {HOW_TO_POINT}"
    )]
    NotOnPath(#[source] which::Error),
    /// The binary is not helm 3 or 4.
    #[error(
        "{bin} reports version {found:?}; Slipway needs helm 3 or 4. Install a current helm, or {HOW_TO_POINT}"
    )]
    Version { bin: PathBuf, found: String },
    /// helm ran and failed; its last lines of stderr say why.
    #[error("helm {action} of {release} failed: {stderr_tail}")]
    Failed {
        action: &'static str,
        release: String,
        stderr_tail: String,
    },
    /// helm ran past the step's deadline and was stopped.
    #[error("helm {action} did not finish within {secs} s")]
    Timeout { action: &'static str, secs: u64 },
    /// helm printed something that is not the JSON it should print.
    #[error("helm {action} printed unreadable JSON: {source}")]
    Output {
        action: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// helm could not be started, or its values file written.
    #[error("cannot run helm: {0}")]
    Io(#[from] std::io::Error),
}

impl crate::error::Classified for HelmError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Missing(_) | Self::NotOnPath(_) | Self::Version { .. } => ErrorKind::Settings,
            Self::Failed { .. } | Self::Timeout { .. } => ErrorKind::Step,
            Self::Output { .. } | Self::Io(_) => ErrorKind::Internal,
        }
    }
}

type Result<T> = std::result::Result<T, HelmError>;

/// Which cluster helm talks to: always passed explicitly, never helm's own defaults.
#[derive(Debug, Clone)]
pub struct KubeContext {
    pub kubeconfig: PathBuf,
    pub context: String,
}

/// Where charts come from (`slipway up --charts DIR|URL`, or the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// Each chart's own upstream repository (the default).
    Upstream,
    /// An OCI registry holding every chart: `oci://host/path`.
    Oci(String),
    /// A Helm repository URL holding every chart.
    Repo(String),
    /// A local folder with `<chart>/` directories or `<chart>-<version>.tgz` archives.
    Local(PathBuf),
}

impl ChartSource {
    /// `oci://…`, `http(s)://…`, else a local folder.
    pub fn parse(value: &str) -> Self {
        if value.starts_with("oci://") {
            ChartSource::Oci(value.trim_end_matches('/').to_owned())
        } else if value.starts_with("http://") || value.starts_with("https://") {
            ChartSource::Repo(value.trim_end_matches('/').to_owned())
        } else {
            ChartSource::Local(PathBuf::from(value))
        }
    }
}

/// A pinned chart: name, version and its upstream repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Chart {
    pub name: String,
    pub version: String,
    pub repo: String,
}

/// One release to install or upgrade.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub chart: Chart,
    pub values: serde_json::Value,
}

/// A located, version-checked helm binary.
#[derive(Debug, Clone)]
pub struct Helm {
    pub bin: PathBuf,
    pub version: String,
}

/// A release as `helm list -o json` reports it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ReleaseInfo {
    pub name: String,
    pub namespace: String,
    pub revision: String,
    pub status: String,
    pub chart: String,
}

impl Helm {
    /// `configured` (from --helm, SLIPWAY_HELM or the settings), else `helm` on PATH;
    /// requires major version 3 or 4.
    pub async fn locate(configured: Option<&Path>) -> Result<Self> {
        let bin = match configured {
            Some(p) if p.is_file() => p.to_path_buf(),
            Some(p) => return Err(HelmError::Missing(p.to_path_buf())),
            None => which::which("helm").map_err(HelmError::NotOnPath)?,
        };
        let out = tokio::process::Command::new(&bin)
            .args(["version", "--short"])
            .output()
            .await?;
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let major = found
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if !out.status.success() || !matches!(major, Some(3 | 4)) {
            return Err(HelmError::Version {
                bin,
                found: if found.is_empty() {
                    String::from_utf8_lossy(&out.stderr).trim().to_owned()
                } else {
                    found
                },
            });
        }
        Ok(Self {
            bin,
            version: found,
        })
    }

    /// The chart argument and `--repo`/`--version` flags for `release` from `source`.
    fn chart_args(release: &Release, source: &ChartSource) -> Vec<OsString> {
        let c = &release.chart;
        let version: [OsString; 2] = ["--version".into(), c.version.clone().into()];
        match source {
            ChartSource::Upstream if c.repo.starts_with("oci://") => {
                let mut a = vec![format!("{}/{}", c.repo.trim_end_matches('/'), c.name).into()];
                a.extend(version);
                a
            }
            ChartSource::Upstream => {
                let mut a: Vec<OsString> = vec![
                    c.name.clone().into(),
                    "--repo".into(),
                    c.repo.clone().into(),
                ];
                a.extend(version);
                a
            }
            ChartSource::Oci(base) => {
                let mut a = vec![format!("{base}/{}", c.name).into()];
                a.extend(version);
                a
            }
            ChartSource::Repo(url) => {
                let mut a: Vec<OsString> =
                    vec![c.name.clone().into(), "--repo".into(), url.clone().into()];
                a.extend(version);
                a
            }
            ChartSource::Local(dir) => {
                let archive = dir.join(format!("{}-{}.tgz", c.name, c.version));
                vec![
                    if archive.is_file() {
                        archive
                    } else {
                        dir.join(&c.name)
                    }
                    .into(),
                ]
            }
        }
    }

    /// `helm upgrade --install`, values through a 0600 temp file, bounded by `timeout`.
    pub async fn upgrade_install(
        &self,
        release: &Release,
        source: &ChartSource,
        kube: &KubeContext,
        timeout: Duration,
    ) -> Result<()> {
        let mut values = tempfile::Builder::new()
            .prefix("slipway-values")
            .suffix(".yaml")
            .tempfile()?;
        // JSON is YAML: helm reads it as a values file.
        values.write_all(release.values.to_string().as_bytes())?;
        let mut args: Vec<OsString> = vec![
            "upgrade".into(),
            "--install".into(),
            release.name.clone().into(),
        ];
        args.extend(Self::chart_args(release, source));
        args.extend([
            "--namespace".into(),
            release.namespace.clone().into(),
            "--create-namespace".into(),
        ]);
        args.extend(["--values".into(), values.path().into()]);
        args.extend(["--timeout".into(), format!("{}s", timeout.as_secs()).into()]);
        self.run(
            "upgrade --install",
            &release.name,
            args,
            Some(kube),
            timeout + Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }

    /// `helm uninstall --wait`: the release's objects deleted (those its chart keeps stay).
    pub async fn uninstall(
        &self,
        name: &str,
        namespace: &str,
        kube: &KubeContext,
        timeout: Duration,
    ) -> Result<()> {
        let args: Vec<OsString> = vec![
            "uninstall".into(),
            name.into(),
            "--namespace".into(),
            namespace.into(),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", timeout.as_secs()).into(),
        ];
        self.run(
            "uninstall",
            name,
            args,
            Some(kube),
            timeout + Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }

    /// Every release in the cluster.
    pub async fn list(&self, kube: &KubeContext) -> Result<Vec<ReleaseInfo>> {
        let out = self
            .run(
                "list",
                "all releases",
                vec![
                    "list".into(),
                    "--all-namespaces".into(),
                    "--output".into(),
                    "json".into(),
                ],
                Some(kube),
                Duration::from_secs(60),
            )
            .await?;
        serde_json::from_str(&out).map_err(|source| HelmError::Output {
            action: "list",
            source,
        })
    }

    /// `helm template`: the objects a local chart makes with `values` (a values file's text),
    /// rendered offline (no cluster is asked).
    pub async fn template(
        &self,
        release: &str,
        chart: &Path,
        namespace: &str,
        values: &str,
    ) -> Result<String> {
        let mut file = tempfile::Builder::new()
            .prefix("slipway-values")
            .suffix(".yaml")
            .tempfile()?;
        file.write_all(values.as_bytes())?;
        let args: Vec<OsString> = vec![
            "template".into(),
            release.into(),
            chart.into(),
            "--namespace".into(),
            namespace.into(),
            "--values".into(),
            file.path().into(),
        ];
        self.run("template", release, args, None, Duration::from_secs(60))
            .await
    }

    async fn run(
        &self,
        action: &'static str,
        release: &str,
        mut args: Vec<OsString>,
        kube: Option<&KubeContext>,
        limit: Duration,
    ) -> Result<String> {
        if let Some(kube) = kube {
            args.extend([
                "--kubeconfig".into(),
                kube.kubeconfig.clone().into(),
                "--kube-context".into(),
                kube.context.clone().into(),
            ]);
        }
        let child = tokio::process::Command::new(&self.bin)
            .args(&args)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(limit, child)
            .await
            .map_err(|_| HelmError::Timeout {
                action,
                secs: limit.as_secs(),
            })??;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(HelmError::Failed {
            action,
            release: release.to_owned(),
            stderr_tail: crate::redact::redact(&crate::cluster::docker::tail(&stderr, 6))
                .into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release {
            name: "argocd".into(),
            namespace: "argocd".into(),
            chart: Chart {
                name: "argo-cd".into(),
                version: "10.1.1".into(),
                repo: "https://argoproj.github.io/argo-helm".into(),
            },
            values: serde_json::json!({}),
        }
    }

    #[test]
    fn chart_sources_become_the_right_arguments() {
        let args = |s: &ChartSource| {
            Helm::chart_args(&release(), s)
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            args(&ChartSource::Upstream),
            [
                "argo-cd",
                "--repo",
                "https://argoproj.github.io/argo-helm",
                "--version",
                "10.1.1"
            ]
        );
        assert_eq!(
            args(&ChartSource::parse("oci://mirror.local/charts/")),
            ["oci://mirror.local/charts/argo-cd", "--version", "10.1.1"]
        );
        assert_eq!(
            args(&ChartSource::parse("https://charts.example/")),
            [
                "argo-cd",
                "--repo",
                "https://charts.example",
                "--version",
                "10.1.1"
            ]
        );
        assert_eq!(
            args(&ChartSource::parse("/opt/charts")),
            ["/opt/charts/argo-cd"]
        );
    }
}
