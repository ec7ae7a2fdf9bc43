//! The desktop app: a Tauri window whose commands call the same core functions as the CLI.

use std::process::ExitCode;

use tauri::Manager;

use crate::commands;

/// The app's builder, shared by the real app and the command tests (mock runtime).
pub fn builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_opener::init())
        .manage(slipway_core::forward::Forwards::default())
        .manage(commands::platform::Clipboard::default())
        .setup(|app| {
            let forwards = app
                .state::<slipway_core::forward::Forwards>()
                .inner()
                .clone();
            commands::helpers::announce_forward_changes(app.handle(), &forwards);
            // A desktop without a status area still gets the window.
            if let Err(e) = crate::tray::install(app.handle()) {
                tracing::warn!("no tray icon: {e}");
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::platform::platform_status,
            commands::platform::platform_up,
            commands::platform::platform_stop,
            commands::platform::platform_delete,
            commands::platform::platform_preflight,
            commands::platform::argocd_password_copy,
            commands::platform::open_link,
            commands::helpers::hosts_show,
            commands::helpers::hosts_apply,
            commands::helpers::forwards_list,
            commands::helpers::forward_start,
            commands::helpers::forward_stop,
            commands::logs::logs_runs,
            commands::logs::diagnostics,
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
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        #[allow(clippy::print_stderr, reason = "no window to show the error in")]
        {
            eprintln!(
                "error: no graphical display (DISPLAY/WAYLAND_DISPLAY unset), so the desktop window cannot open. Use the CLI: `slipway --help`"
            );
        }
        return ExitCode::FAILURE;
    }
    let log = init_logging();
    tracing::info!(log = %log.display(), version = env!("CARGO_PKG_VERSION"), "desktop app starting");
    match builder(tauri::Builder::default()).run(tauri::generate_context!()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("the desktop window could not start: {e}");
            #[allow(clippy::print_stderr, reason = "no window to show the error in")]
            {
                eprintln!(
                    "error: the desktop window could not start ({e}). Use the CLI: `slipway --help`"
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// The app's log file (`<state dir>/logs/gui.log`, appended; `SLIPWAY_LOG` filters, `info` by
/// default): no terminal shows a window's stderr. Step events are logged there too.
fn init_logging() -> std::path::PathBuf {
    let path = slipway_core::config::state_dir()
        .join("logs")
        .join("gui.log");
    let file = path
        .parent()
        .and_then(|d| std::fs::create_dir_all(d).ok())
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ok()
        });
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| "info".into());
    match file {
        Some(file) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
        None => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
        }
    }
    path
}
