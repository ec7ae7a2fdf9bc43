//! Tauri commands, one file per area: parse, call one core function, map the error. Long
//! operations stream their steps over a `Channel`; secrets only ever travel into the backend.

pub mod github;
pub mod helpers;
pub mod logs;
pub mod platform;
pub mod services;
pub mod settings;

use slipway_core::config::Config;
use slipway_core::platform::PlatformError;
use slipway_core::progress::{ProgressEvent, ProgressSink};
use tauri::ipc::Channel;

/// What the webview receives on failure: a stable code, the user-facing message (which says what
/// to do), and the failed step when a pipeline stopped.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
    pub step: Option<&'static str>,
}

impl CommandError {
    pub fn new(code: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            code,
            message: error.to_string(),
            step: None,
        }
    }
}

impl From<PlatformError> for CommandError {
    fn from(e: PlatformError) -> Self {
        Self {
            code: "step",
            step: e.step(),
            message: e.to_string(),
        }
    }
}

/// The settings file, or an error naming it.
fn settings() -> Result<Config, CommandError> {
    Config::load().map_err(|e| CommandError::new("settings", e))
}

/// Where a run's progress goes: the app's log (after a run marker, for the Logs view) and, when
/// the webview started it, its `Channel` in order.
pub(crate) struct GuiSink(Option<Channel<ProgressEvent>>);

impl GuiSink {
    pub(crate) fn new(kind: &str, channel: Option<Channel<ProgressEvent>>) -> Self {
        let marker = serde_json::json!({"type": "run", "kind": kind, "at": jiff::Timestamp::now().to_string()});
        tracing::info!(target: "slipway::progress", "{marker}");
        Self(channel)
    }
}

impl ProgressSink for GuiSink {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(json) = serde_json::to_string(&event) {
            tracing::info!(target: "slipway::progress", "{json}");
        }
        if let Some(channel) = &self.0 {
            // A closed window drops the channel; the operation itself carries on.
            let _ = channel.send(event);
        }
    }
}
