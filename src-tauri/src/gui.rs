//! The desktop app: a Tauri window whose commands call the same core functions as the CLI.

use std::process::ExitCode;

use crate::commands;

/// The app's builder, shared by the real app and the command tests (mock runtime).
pub fn builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::platform::platform_status,
        commands::platform::platform_up,
        commands::platform::platform_stop,
        commands::platform::platform_delete,
        commands::services::service_check,
        commands::services::service_create,
        commands::services::service_rollback,
        commands::services::services_list,
        commands::github::github_connect,
        commands::github::github_status,
        commands::github::github_disconnect,
        commands::settings::settings_get,
        commands::settings::settings_set,
    ])
}

pub fn run() -> ExitCode {
    // GTK aborts without a display; say what to do instead.
    if cfg!(target_os = "linux") && std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        #[allow(clippy::print_stderr, reason = "no window to show the error in")]
        {
            eprintln!("error: no graphical display (DISPLAY/WAYLAND_DISPLAY unset), so the desktop window cannot open. Use the CLI: `slipway --help`");
        }
        return ExitCode::FAILURE;
    }
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
