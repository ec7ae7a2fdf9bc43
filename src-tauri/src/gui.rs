//! The desktop app: a Tauri window whose commands call the same core functions as the CLI.

use std::process::ExitCode;

use crate::commands;

/// The app's builder, shared by the real app and the command tests (mock runtime).
pub fn builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![commands::platform::platform_status])
}

pub fn run() -> ExitCode {
    match builder(tauri::Builder::default()).run(tauri::generate_context!()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("the desktop window could not start: {e}");
            #[allow(clippy::print_stderr, reason = "no window to show the error in")]
            {
                eprintln!("error: the desktop window could not start ({e}). Use the CLI: `slipway --help`");
            }
            ExitCode::FAILURE
        }
    }
}
