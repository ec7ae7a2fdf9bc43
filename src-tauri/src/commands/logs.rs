//! The step log (this run and earlier ones, from the app's log file) and a diagnostics bundle
//! that holds no secrets: versions, preflight, the step log, component states.

use serde::Serialize;
use serde_json::Value;

use super::{CommandError, settings};

/// The app's log file.
pub fn log_path() -> std::path::PathBuf {
    slipway_core::config::state_dir()
        .join("logs")
        .join("gui.log")
}

/// One run of a long operation (`up`, `stop`, `delete`, `create shop-api` …) and its events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub kind: String,
    pub at: String,
    pub events: Vec<Value>,
}

/// The runs in the log, newest last (at most `limit`).
pub fn runs(text: &str, limit: usize) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for line in text.lines() {
        let Some((_, json)) = line.split_once(" slipway::progress: ") else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        if event["type"] == "run" {
            runs.push(Run {
                kind: event["kind"].as_str().unwrap_or_default().to_owned(),
                at: event["at"].as_str().unwrap_or_default().to_owned(),
                events: Vec::new(),
            });
        } else if let Some(run) = runs.last_mut() {
            run.events.push(event);
        }
    }
    let skip = runs.len().saturating_sub(limit);
    runs.split_off(skip)
}

#[tauri::command]
pub fn logs_runs() -> Vec<Run> {
    runs(&std::fs::read_to_string(log_path()).unwrap_or_default(), 20)
}

/// A text to paste into a bug report.
#[tauri::command]
pub async fn diagnostics() -> Result<String, CommandError> {
    let config = settings()?;
    let spec = super::platform::spec()?;
    let preflight = match slipway_core::platform::preflight(spec.clone()).await {
        Ok(w) if w.is_empty() => "passed".to_owned(),
        Ok(w) => w.join("\n  "),
        Err(e) => format!("failed: {e}"),
    };
    let status = match slipway_core::platform::status(spec).await {
        Ok(s) => serde_json::to_string_pretty(&s).unwrap_or_default(),
        Err(e) => format!("unavailable: {e}"),
    };
    let runs = serde_json::to_string_pretty(&runs(
        &std::fs::read_to_string(log_path()).unwrap_or_default(),
        3,
    ))
    .unwrap_or_default();
    let settings_yaml = serde_saphyr::to_string(&config).unwrap_or_default();
    Ok(format!(
        "Slipway {} ({} {})\n\nSettings (no secrets are kept there):\n{settings_yaml}\nPreflight:\n  {preflight}\n\nPlatform status:\n{status}\n\nLast runs:\n{runs}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_cut_at_their_markers_and_foreign_lines_skipped() {
        let log = concat!(
            "2026-11-27T10:00:00Z  INFO slipway::gui: desktop app starting\n",
            "2026-11-27T10:00:01Z  INFO slipway::progress: {\"type\":\"run\",\"kind\":\"up\",\"at\":\"2026-11-27T10:00:01Z\"}\n",
            "2026-11-27T10:00:02Z  INFO slipway::progress: {\"type\":\"stepStarted\",\"id\":\"preflight\"}\n",
            "2026-11-27T10:00:03Z  INFO slipway::progress: {\"type\":\"run\",\"kind\":\"create shop-api\",\"at\":\"2026-11-27T10:00:03Z\"}\n",
            "2026-11-27T10:00:04Z  INFO slipway::progress: {\"type\":\"stepStarted\",\"id\":\"check\"}\n",
            "2026-11-27T10:00:04Z  INFO slipway::progress: {\"type\":\"stepFinished\",\"id\":\"check\"}\n",
        );
        let all = runs(log, 10);
        assert_eq!(
            all.iter()
                .map(|r| (r.kind.as_str(), r.events.len()))
                .collect::<Vec<_>>(),
            [("up", 1), ("create shop-api", 2)]
        );
        assert_eq!(runs(log, 1).len(), 1, "the newest only");
    }
}
