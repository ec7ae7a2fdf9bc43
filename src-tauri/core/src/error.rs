//! What front ends need to act on a failure: its kind. Every module's error enum says what
//! happened and what to do in its message, and which [`ErrorKind`] it is, so the GUI can offer
//! the matching action (connect GitHub, open Settings, start Docker, retry) and the CLI can
//! choose its exit code, without parsing messages.

use serde::Serialize;

/// The kind of a failure, as front ends act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ErrorKind {
    /// The request is wrong (a name, a flag, a file's content); the message names the fix.
    Invalid,
    /// The settings file cannot be read or is invalid; Settings can fix it.
    Settings,
    /// Docker is not running, not reachable or refuses what Slipway needs.
    Docker,
    /// The cluster is missing, stopped or does not answer.
    Cluster,
    /// GitHub is not connected: no token is kept for the configured API.
    GitHubNotConnected,
    /// GitHub refused the token, or it lacks a scope or permission.
    GitHubAuth,
    /// A service (GitHub, Backstage, the Kubernetes API) is unreachable, failing or rate
    /// limited; trying again later can help.
    Unavailable,
    /// The OS keyring is missing or failed.
    Keyring,
    /// Another Slipway process is running an operation on the same cluster.
    Busy,
    /// A local file (hosts file, journal, state) could not be read or written.
    Io,
    /// Something that exists already, or was changed by someone else, is in the way.
    Conflict,
    /// A person has to act first (an administrator prompt was refused).
    NeedsPerson,
    /// A step of a long operation failed; running it again resumes there.
    Step,
    /// A broken build or an unexpected state: worth a bug report.
    Internal,
}

/// An error that knows its [`ErrorKind`].
pub trait Classified {
    fn kind(&self) -> ErrorKind;

    /// The key of the pipeline step that failed, for errors of a pipeline.
    fn step(&self) -> Option<&'static str> {
        None
    }
}

/// What a front end shows of a failure: its kind (what the GUI acts on), the message (what
/// happened and what to do) and the step that stopped, if a pipeline stopped.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ErrorReport {
    pub kind: ErrorKind,
    pub message: String,
    pub step: Option<String>,
}

impl<E: Classified + std::fmt::Display> From<E> for ErrorReport {
    fn from(e: E) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
            step: e.step().map(str::to_owned),
        }
    }
}
