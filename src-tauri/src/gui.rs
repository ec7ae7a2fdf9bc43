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
            crate::tray::install(app.handle());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::platform::platform_status,
            commands::platform::platform_up,
            commands::platform::platform_stop,
            commands::platform::platform_delete,
            commands::platform::platform_preflight,
            commands::platform::platform_expected,
            commands::platform::platform_links,
            commands::platform::helm_check,
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
            commands::services::service_status,
            commands::teams::teams_list,
            commands::github::github_connect,
            commands::github::github_status,
            commands::github::github_disconnect,
            commands::settings::settings_get,
            commands::settings::kube_contexts,
            commands::settings::settings_set,
            commands::trust::trust_status,
            commands::trust::trust_install,
            commands::trust::trust_uninstall,
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

/// The app's log: JSON lines (tracing's JSON formatter) in `<state dir>/logs/gui.log`, at
/// most [`LOG_BYTES`] per file and [`LOG_FILES`] rotated files, readable only by the user. Step
/// events always go there (the Logs view reads them), whatever `SLIPWAY_LOG` sets; `SLIPWAY_LOG`
/// filters the rest (`info` by default) and stderr, for running the app from a terminal.
pub fn log_path() -> std::path::PathBuf {
    slipway_core::config::state_dir()
        .join("logs")
        .join("gui.log")
}

/// The size at which the log rotates.
pub const LOG_BYTES: usize = 5 * 1024 * 1024;
/// Rotated logs kept beside the current one.
pub const LOG_FILES: usize = 3;
/// The target of step events in the log.
pub const PROGRESS_TARGET: &str = "slipway::progress";

fn init_logging() -> std::path::PathBuf {
    use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};
    let path = log_path();
    let file = path
        .parent()
        .and_then(|d| std::fs::create_dir_all(d).ok())
        .map(|()| {
            let mut open = std::fs::OpenOptions::new();
            open.read(true).create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            file_rotate::FileRotate::new(
                &path,
                file_rotate::suffix::AppendCount::new(LOG_FILES),
                file_rotate::ContentLimit::BytesSurpassed(LOG_BYTES),
                file_rotate::compression::Compression::None,
                Some(open),
            )
        });
    // A log written by an older Slipway may be readable by others: it is the user's alone now.
    #[cfg(unix)]
    if path.exists() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    let filter = || EnvFilter::try_from_env("SLIPWAY_LOG").unwrap_or_else(|_| "info".into());
    let progress = filter_fn(|meta| meta.target() == PROGRESS_TARGET);
    let file_layer = file.map(|file| {
        fmt::layer()
            .json()
            .with_writer(std::sync::Mutex::new(file))
            .with_filter(progress.or(filter()))
    });
    let stderr_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_env("SLIPWAY_LOG").unwrap_or_else(|_| "warn".into()));
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    path
}

/// A run starts (`up`, `create shop-api` …): the Logs view groups the events after it.
pub fn log_run_started(kind: &str) {
    tracing::info!(target: PROGRESS_TARGET, run = kind, "run started");
}

/// One step event, as JSON in the `event` field.
pub fn log_progress(event: &slipway_core::pipeline::ProgressEvent) {
    if let Ok(json) = serde_json::to_string(event) {
        tracing::info!(target: PROGRESS_TARGET, event = %json, "step event");
    }
}
