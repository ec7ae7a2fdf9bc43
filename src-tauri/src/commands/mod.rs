//! Tauri commands, one file per area: parse, call one core function, map the error.

pub mod platform;

/// What the webview receives on failure: a stable code and the user-facing message.
#[derive(Debug, serde::Serialize)]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}
