//! Tauri commands, one file per area: parse, call one core function, map the error. Long
//! operations stream their steps over a `Channel`; secrets only ever travel into the backend.
//! Every failure reaches the webview as core's [`ErrorReport`] (kind, message, step): the UI
//! acts on the kind.

pub mod github;
pub mod helpers;
pub mod logs;
pub mod platform;
pub mod services;
pub mod settings;
pub mod teams;
pub mod trust;

use slipway_core::config::Config;
use slipway_core::error::{Classified, ErrorKind, ErrorReport};
use slipway_core::pipeline::{ProgressEvent, ProgressSink};
use tauri::ipc::Channel;

/// What a command returns on failure.
pub type CommandResult<T> = Result<T, ErrorReport>;

/// Failures of the commands' own (the desktop's clipboard, links, background tasks).
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// Only web links open from the app.
    #[error("only http(s) links open from the app, not {0:?}")]
    NotALink(String),
    /// The browser could not be opened.
    #[error("cannot open the link: {0}")]
    Opener(#[from] tauri_plugin_opener::Error),
    /// The system clipboard is not available.
    #[error("cannot use the clipboard: {0}")]
    Clipboard(#[from] arboard::Error),
    /// Argo CD has no initial admin password.
    #[error(
        "Argo CD has no initial admin password (argocd/argocd-initial-admin-secret): it was changed or removed, or Argo CD is not installed yet (Start)"
    )]
    NoPassword,
    /// A background task of the app failed (a bug).
    #[error("a background task failed: {0}; please report this")]
    Task(#[from] tauri::Error),
    /// The app's own path is unknown.
    #[error("cannot locate the slipway binary for the elevated write: {0}")]
    Exe(#[from] std::io::Error),
    /// Stop and Delete act on Slipway's own cluster; the settings name an existing one.
    #[error(
        "the platform runs on the existing cluster {0:?}, which is not Slipway's to stop or delete; `slipway down --context {0} --yes` removes the platform from it (never the cluster), or clear Settings → Existing cluster to use Slipway's own"
    )]
    ExistingCluster(String),
}

impl Classified for DesktopError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotALink(_) | Self::ExistingCluster(_) => ErrorKind::Invalid,
            Self::NoPassword => ErrorKind::Cluster,
            Self::Opener(_) | Self::Clipboard(_) => ErrorKind::Unavailable,
            Self::Task(_) | Self::Exe(_) => ErrorKind::Internal,
        }
    }
}

/// The settings file, or an error the UI answers by opening Settings.
fn settings() -> CommandResult<Config> {
    Ok(Config::load()?)
}

/// Where a run's progress goes: the app's log (after a run marker, for the Logs view) and, when
/// the webview started it, its `Channel` in order.
pub(crate) struct GuiSink(Option<Channel<ProgressEvent>>);

impl GuiSink {
    pub(crate) fn new(kind: &str, channel: Option<Channel<ProgressEvent>>) -> Self {
        crate::gui::log_run_started(kind);
        Self(channel)
    }
}

impl ProgressSink for GuiSink {
    fn emit(&self, event: ProgressEvent) {
        crate::gui::log_progress(&event);
        if let Some(channel) = &self.0 {
            // A closed window drops the channel; the operation itself carries on.
            let _ = channel.send(event);
        }
    }
}
