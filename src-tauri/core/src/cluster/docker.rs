//! A thin layer over bollard: connection with clear errors, exec with captured output,
//! files in and out of nodes, log waits, image pulls with retries.

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerSummary, CreateImageInfo};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use backon::{ExponentialBuilder, Retryable};

use super::endpoint::{self, Endpoint, EndpointError};
use crate::pipeline::{Deadline, Poll, StepContext, poll};

/// The oldest Docker API with `cgroupns` support (Docker 20.10).
pub const MIN_API: (u32, u32) = (1, 41);

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The Docker configuration names no usable endpoint.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// Nothing answers at the Docker endpoint.
    #[error(
        "cannot reach the Docker daemon at {endpoint} ({reason}).{hint} Start Docker (Docker Desktop, or \
         `sudo systemctl start docker` on Linux) or select a running daemon with `docker context use NAME` \
         or DOCKER_HOST, then re-run"
    )]
    Unreachable {
        endpoint: String,
        reason: String,
        /// Sockets of other Docker runtimes found on this machine, and how to pick one.
        hint: String,
    },
    /// The Docker socket exists but this user may not use it.
    #[error(
        "permission denied on the Docker socket {endpoint}. Add your user to the docker group \
         (`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker, then re-run"
    )]
    PermissionDenied { endpoint: String },
    /// The daemon speaks an API older than Slipway needs.
    #[error(
        "Docker API {found} is too old: Slipway needs {}.{} (Docker 20.10 or newer) for cgroup namespaces. Upgrade Docker",
        MIN_API.0, MIN_API.1
    )]
    ApiTooOld { found: String },
    /// A Docker API call failed.
    #[error("Docker could not {action}: {source}")]
    Api {
        action: String,
        source: bollard::errors::Error,
    },
    /// A command run in a node exited non-zero.
    #[error("`{command}` failed on node {node} (exit {code}): {output}")]
    Exec {
        node: String,
        command: String,
        code: i64,
        output: String,
    },
    /// Docker never reported how a command in a node ended.
    #[error("Docker did not report how `{command}` on {node} ended; re-run, or restart Docker")]
    NoExitCode { node: String, command: String },
    /// An image could not be pulled, after retries.
    #[error(
        "could not pull {image} after {attempts} attempts ({last}). Check the network or proxy \
         settings, or pass a local image with --node-image"
    )]
    Pull {
        image: String,
        attempts: u32,
        #[source]
        last: PullError,
    },
}

/// Why one pull attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The API call itself failed.
    #[error(transparent)]
    Api(#[from] bollard::errors::Error),
    /// The daemon reported an error in the pull's progress stream (a registry's answer).
    #[error("{0}")]
    Daemon(String),
}

impl crate::error::Classified for DockerError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Unreachable { .. }
            | Self::PermissionDenied { .. }
            | Self::ApiTooOld { .. }
            | Self::Endpoint(_) => ErrorKind::Docker,
            Self::Pull { .. } => ErrorKind::Unavailable,
            _ if self.is_transient() => ErrorKind::Unavailable,
            Self::Api { .. } | Self::Exec { .. } | Self::NoExitCode { .. } => ErrorKind::Step,
        }
    }
}

impl DockerError {
    pub(crate) fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }

    /// Docker answered "no such …".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::Api {
                source: bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                },
                ..
            }
        )
    }

    /// Worth another attempt: the daemon hiccupped rather than refused.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { source, .. } => match source {
                bollard::errors::Error::DockerResponseServerError { status_code, .. } => {
                    *status_code >= 500
                }
                bollard::errors::Error::IOError { .. }
                | bollard::errors::Error::HyperResponseError { .. } => true,
                _ => false,
            },
            _ => false,
        }
    }
}

/// What a command printed inside a node.
#[derive(Debug)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Clone)]
pub struct Docker {
    inner: bollard::Docker,
    endpoint: Endpoint,
    /// kind runs every in-node command privileged; off only with the test-only unprivileged switch.
    privileged_exec: bool,
}

impl Docker {
    /// Connect to the endpoint the docker CLI would use ([`endpoint::resolve`]), negotiate
    /// the API version, and require one new enough.
    pub async fn connect() -> Result<Self, DockerError> {
        Self::connect_to(endpoint::resolve()?).await
    }

    pub async fn connect_to(endpoint: Endpoint) -> Result<Self, DockerError> {
        let shown = endpoint.describe();
        let classify = |e: bollard::errors::Error| classify_connect_error(&shown, &e);
        // bollard's own timeout (per request, not per stream) is its default.
        const TIMEOUT: u64 = 120;
        let version = bollard::API_DEFAULT_VERSION;
        let inner = match (&endpoint.tls, endpoint.unix_path()) {
            (_, Some(path)) => bollard::Docker::connect_with_unix(path, TIMEOUT, version),
            (Some(tls), None) => bollard::Docker::connect_with_ssl(
                &endpoint.host,
                &tls.key,
                &tls.cert,
                &tls.ca,
                TIMEOUT,
                version,
            ),
            #[cfg(windows)]
            (None, None) if endpoint.host.starts_with("npipe://") => {
                bollard::Docker::connect_with_named_pipe(&endpoint.host, TIMEOUT, version)
            }
            (None, None) => bollard::Docker::connect_with_http(&endpoint.host, TIMEOUT, version),
        }
        .map_err(classify)?;
        let inner = inner.negotiate_version().await.map_err(classify)?;
        let version = inner.version().await.map_err(classify)?;
        let api = version.api_version.unwrap_or_default();
        if parse_api(&api).is_none_or(|v| v < MIN_API) {
            return Err(DockerError::ApiTooOld { found: api });
        }
        Ok(Self {
            inner,
            endpoint,
            privileged_exec: true,
        })
    }

    /// Run in-node commands without `--privileged` (only with unprivileged test nodes).
    pub fn with_privileged_exec(mut self, privileged: bool) -> Self {
        self.privileged_exec = privileged;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn api(&self) -> &bollard::Docker {
        &self.inner
    }

    /// Containers (running or not) carrying `label=value`.
    pub async fn containers_with_label(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.inner
            .list_containers(Some(opts))
            .await
            .map_err(DockerError::api("list containers"))
    }

    /// Inspect a container; `None` if it does not exist.
    pub async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, DockerError> {
        match self
            .inner
            .inspect_container(name, None)
            .await
            .map_err(DockerError::api(format!("inspect {name}")))
        {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Run `argv` in `node` (privileged, as kind does), feeding `stdin` if given.
    pub async fn exec(
        &self,
        node: &str,
        argv: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, DockerError> {
        let command = argv.join(" ");
        let err = |what: &str| DockerError::api(format!("run `{command}` in {node} ({what})"));
        let created = self
            .inner
            .create_exec(
                node,
                CreateExecOptions {
                    cmd: Some(argv.iter().map(|s| (*s).to_owned()).collect()),
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    privileged: Some(self.privileged_exec),
                    ..Default::default()
                },
            )
            .await
            .map_err(err("create"))?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = self
            .inner
            .start_exec(&created.id, None)
            .await
            .map_err(err("start"))?
        {
            if let Some(data) = stdin {
                let write = async {
                    input.write_all(data).await?;
                    input.shutdown().await
                };
                write
                    .await
                    .map_err(|e| err("stdin")(bollard::errors::Error::IOError { err: e }))?;
            }
            drop(input);
            while let Some(chunk) = output.next().await {
                match chunk.map_err(err("output"))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    other => stdout.extend_from_slice(&other.into_bytes()),
                }
            }
        }
        // The output stream can end a moment before Docker records the exit code.
        let inspect = || async {
            let state = self
                .inner
                .inspect_exec(&created.id)
                .await
                .map_err(err("inspect"))?;
            Ok(match state.exit_code {
                Some(code) if state.running != Some(true) => Poll::Ready(code),
                _ => Poll::Pending("still running".into()),
            })
        };
        let code = poll(
            Deadline::after(Duration::from_secs(2)),
            Duration::from_millis(10),
            inspect,
            |_| DockerError::NoExitCode {
                node: node.to_owned(),
                command: command.clone(),
            },
        )
        .await?;
        // Output can hold credentials (`cat admin.conf`, kubeadm's token line): the log gets
        // stdout's size and a redacted stderr, at every verbosity.
        tracing::debug!(
            node,
            command,
            code,
            stdout_bytes = stdout.len(),
            stderr = %crate::redact::redact(&String::from_utf8_lossy(&stderr)),
            "exec"
        );
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Like [`exec`](Self::exec), but a non-zero exit is an error carrying the output's tail.
    pub async fn exec_ok(
        &self,
        node: &str,
        argv: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<String, DockerError> {
        let out = self.exec(node, argv, stdin).await?;
        if out.code == 0 {
            Ok(out.stdout)
        } else {
            Err(DockerError::Exec {
                node: node.to_owned(),
                command: argv.join(" "),
                code: out.code,
                output: crate::redact::redact(&tail(&format!("{}{}", out.stdout, out.stderr), 8))
                    .into_owned(),
            })
        }
    }

    /// Read a file from a node; `None` if it does not exist.
    pub async fn read_file(&self, node: &str, path: &str) -> Result<Option<String>, DockerError> {
        let out = self.exec(node, &["cat", path], None).await?;
        Ok((out.code == 0).then_some(out.stdout))
    }

    /// Write a file into a node (a one-entry tar through the archive API; parents are created).
    pub async fn write_file(
        &self,
        node: &str,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), DockerError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_mtime(jiff::Timestamp::now().as_second().max(0).unsigned_abs());
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        let io_err = |e: std::io::Error| {
            DockerError::api(format!("pack {path}"))(bollard::errors::Error::IOError { err: e })
        };
        builder
            .append_data(&mut header, path.trim_start_matches('/'), content)
            .map_err(io_err)?;
        let archive = builder.into_inner().map_err(io_err)?;
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        self.inner
            .upload_to_container(node, Some(opts), bollard::body_full(Bytes::from(archive)))
            .await
            .map_err(DockerError::api(format!("write {path} in {node}")))
    }

    /// The last `lines` lines of a container's log.
    pub async fn log_tail(&self, node: &str, lines: usize) -> String {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.inner.logs(node, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        text
    }

    /// Follow a container's log from `since` (unix seconds) until a line satisfies `matches`.
    /// Returns false if the log ends (container stopped) first. The caller bounds the time.
    pub async fn wait_for_log(
        &self,
        node: &str,
        since: i32,
        matches: impl Fn(&str) -> bool,
    ) -> Result<bool, DockerError> {
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .since(since)
            .build();
        let mut stream = self.inner.logs(node, Some(opts));
        let mut pending = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(DockerError::api(format!("follow the log of {node}")))?;
            pending.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            if pending.lines().any(&matches) {
                return Ok(true);
            }
            // Keep only the unfinished last line.
            if let Some(pos) = pending.rfind('\n') {
                pending.drain(..=pos);
            }
        }
        Ok(false)
    }

    pub async fn image_present(&self, image: &str) -> Result<bool, DockerError> {
        match self
            .inner
            .inspect_image(image)
            .await
            .map_err(DockerError::api(format!("inspect image {image}")))
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Pull `image`, reporting layer progress, retrying failures as kind does (5 tries).
    pub async fn pull(&self, image: &str, report: StepContext<'_>) -> Result<(), DockerError> {
        const ATTEMPTS: u32 = 5;
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_times(ATTEMPTS as usize - 1);
        (|| self.pull_once(image, report))
            .retry(policy)
            .notify(|e, pause| {
                report.detail(format!(
                    "retrying the pull of {image} in {} s: {e}",
                    pause.as_secs()
                ))
            })
            .await
            .map_err(|last| DockerError::Pull {
                image: image.to_owned(),
                attempts: ATTEMPTS,
                last,
            })
    }

    async fn pull_once(&self, image: &str, report: StepContext<'_>) -> Result<(), PullError> {
        let opts = CreateImageOptionsBuilder::default()
            .from_image(image)
            .build();
        let mut stream = self.inner.create_image(Some(opts), None, None);
        let mut layers: HashMap<String, (i64, i64)> = HashMap::new();
        let mut last_shown = -1;
        while let Some(item) = stream.next().await {
            let info: CreateImageInfo = item?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(PullError::Daemon(err));
            }
            if let (Some(id), Some(detail)) = (info.id, info.progress_detail)
                && let (Some(cur), Some(total)) = (detail.current, detail.total)
            {
                layers.insert(id, (cur, total));
            }
            let (cur, total) = layers
                .values()
                .fold((0, 0), |(c, t), (lc, lt)| (c + lc, t + lt));
            if total > 0 {
                let percent = cur * 100 / total;
                if percent / 5 != last_shown / 5 {
                    last_shown = percent;
                    report.detail(format!(
                        "pulling {image}: {percent}% of {} MB",
                        total / 1_000_000
                    ));
                }
            }
        }
        Ok(())
    }
}

fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Turn a connection failure into "not running" or "no permission", by the I/O error underneath.
fn classify_connect_error(endpoint: &str, e: &bollard::errors::Error) -> DockerError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return DockerError::PermissionDenied {
                endpoint: endpoint.to_owned(),
            };
        }
        source = err.source();
    }
    let text = format!("{e}");
    if text.contains("ermission denied") {
        return DockerError::PermissionDenied {
            endpoint: endpoint.to_owned(),
        };
    }
    DockerError::Unreachable {
        endpoint: endpoint.to_owned(),
        reason: text,
        hint: endpoint::other_sockets()
            .iter()
            .map(|(what, path, context)| {
                format!(
                    " {what}'s socket is at {path}: use it with `docker context use {context}` or DOCKER_HOST=unix://{path}."
                )
            })
            .collect(),
    }
}

/// The last `n` non-empty lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_compare_numerically() {
        assert_eq!(parse_api("1.41"), Some((1, 41)));
        assert!(parse_api("1.9").is_some_and(|v| v < MIN_API));
        assert!(parse_api("1.53").is_some_and(|v| v >= MIN_API));
        assert_eq!(parse_api("junk"), None);
    }

    #[test]
    fn permission_errors_are_told_apart_from_a_stopped_daemon() {
        let denied = bollard::errors::Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert!(matches!(
            classify_connect_error("unix:///x", &denied),
            DockerError::PermissionDenied { .. }
        ));
        let missing = bollard::errors::Error::SocketNotFoundError("/x".into());
        let err = classify_connect_error("unix:///x", &missing);
        assert!(matches!(err, DockerError::Unreachable { .. }));
        assert!(err.to_string().contains("Start Docker"), "{err}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 3), "");
    }
}
