//! The tray icon: the platform's state at a glance (the window's title carries the same line), Start / Stop / Open Backstage / Show, Quit.
//! Tray actions run the same core calls as the window's commands and then announce
//! `platform-changed` (the Platform view re-fetches).

use std::time::Duration;

use slipway_core::platform::{PlatformError, PlatformStatus};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Listener, Manager, Runtime};

use crate::commands::GuiSink;
use crate::commands::platform::{self as commands, links, read_status};

/// The tray icon (when the desktop has a status area) and the state line it shares with the
/// window's title, kept current.
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    let tray = match build(app) {
        Ok(tray) => Some(tray),
        Err(e) => {
            // A desktop without a status area still gets the window, and its title.
            tracing::warn!("no tray icon: {e}");
            None
        }
    };
    // A start, stop or delete (window or tray) announces itself: the line follows at once.
    let changed = std::sync::Arc::new(tokio::sync::Notify::new());
    let wake = changed.clone();
    app.listen_any("platform-changed", move |_| wake.notify_one());
    let app = app.clone();
    // Keep the state line current; a failed status read says so instead of going stale. The
    // read is the window's too (`platform-status`: its sidebar dot), so the status is read in
    // one place. The first read waits until the window has shown its first view (which reads
    // the status itself): on two cores, reading it twice at once slowed the start by a sixth.
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        loop {
            let status = read_status().await.map_err(|e| e.message);
            if let Ok(Ok(s)) = &status {
                let _ = app.emit("platform-status", s);
            }
            let line = state_line(&status);
            if let Some((tray, state)) = &tray {
                let _ = state.set_text(&line);
                let _ = tray.set_tooltip(Some(format!("Slipway — {line}")));
            }
            // The task bar and window switchers show the title.
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.set_title(&format!("Slipway — {line}"));
            }
            let _ = tokio::time::timeout(Duration::from_secs(15), changed.notified()).await;
        }
    });
}

/// The status read (or why the settings stopped it) in one line.
fn state_line(status: &Result<Result<PlatformStatus, PlatformError>, String>) -> String {
    match status {
        Ok(Ok(s)) if !s.cluster.exists => "Platform: not created".to_owned(),
        Ok(Ok(s)) if s.cluster.healthy => format!(
            "Platform: running ({} components)",
            s.components
                .iter()
                .filter(|c| c.health == "Healthy")
                .count()
        ),
        Ok(Ok(_)) => "Platform: stopped or unhealthy".to_owned(),
        Ok(Err(_)) => "Platform: unreachable (Docker or the cluster's API)".to_owned(),
        Err(message) => format!("Settings: {message}"),
    }
}

/// The tray icon and its state line (the menu's first, disabled item).
fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<(TrayIcon<R>, MenuItem<R>)> {
    let state = MenuItem::with_id(app, "state", "Platform: checking…", false, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &state,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "start", "Start platform", true, None::<&str>)?,
            &MenuItem::with_id(app, "stop", "Stop platform", true, None::<&str>)?,
            &MenuItem::with_id(app, "backstage", "Open Backstage", true, None::<&str>)?,
            &MenuItem::with_id(app, "show", "Show Slipway", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &PredefinedMenuItem::quit(app, Some("Quit Slipway"))?,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("slipway")
        .tooltip("Slipway")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    Ok((tray.build(app)?, state))
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let app = app.clone();
    match id {
        "show" => {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.show();
                let _ = w.set_focus();
            }
        }
        "backstage" => {
            let url = links().ok().flatten().map(|p| p.backstage_url);
            if let Some(url) = url {
                use tauri_plugin_opener::OpenerExt;
                let _ = app.opener().open_url(url, None::<&str>);
            }
        }
        "start" | "stop" => {
            let start = id == "start";
            tauri::async_runtime::spawn(async move {
                let result = async {
                    if start {
                        commands::start(&GuiSink::new("up (tray)", None)).await?;
                    } else {
                        commands::stop(&GuiSink::new("stop (tray)", None)).await?;
                    }
                    Ok::<(), slipway_core::error::ErrorReport>(())
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(
                        "tray {}: {}",
                        if start { "start" } else { "stop" },
                        e.message
                    );
                }
                let _ = app.emit("platform-changed", ());
            });
        }
        _ => {}
    }
}
