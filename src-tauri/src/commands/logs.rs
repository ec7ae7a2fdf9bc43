//! The step log (this run and earlier ones, from the app's JSON log files) and a diagnostics
//! text that holds no secrets: versions, preflight, the step log, component states.

use serde::Serialize;
use serde_json::Value;

use super::{CommandResult, settings};
use crate::gui::{LOG_FILES, PROGRESS_TARGET, log_path};

/// One run of a long operation (`up`, `stop`, `delete`, `create shop-api` …) and its events.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Run {
    pub kind: String,
    pub at: String,
    #[ts(as = "Vec<slipway_core::pipeline::ProgressEvent>")]
    pub events: Vec<Value>,
}

/// The runs in JSON log lines, newest last (at most `limit`). Lines of other targets, and
/// lines that are not JSON (an older Slipway's text log), are not step events.
pub fn runs(text: &str, limit: usize) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry["target"] != PROGRESS_TARGET {
            continue;
        }
        let fields = &entry["fields"];
        if let Some(kind) = fields["run"].as_str() {
            runs.push(Run {
                kind: kind.to_owned(),
                at: entry["timestamp"].as_str().unwrap_or_default().to_owned(),
                events: Vec::new(),
            });
        } else if let Some(event) = fields["event"]
            .as_str()
            .and_then(|e| serde_json::from_str::<Value>(e).ok())
            && let Some(run) = runs.last_mut()
        {
            run.events.push(event);
        }
    }
    let skip = runs.len().saturating_sub(limit);
    runs.split_off(skip)
}

/// The log's text, oldest rotated file first.
fn log_text() -> String {
    let path = log_path();
    let mut text = String::new();
    for n in (1..=LOG_FILES).rev() {
        let mut rotated = path.clone().into_os_string();
        rotated.push(format!(".{n}"));
        text.push_str(&std::fs::read_to_string(rotated).unwrap_or_default());
    }
    text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
    text
}

#[tauri::command]
pub fn logs_runs() -> Vec<Run> {
    runs(&log_text(), 20)
}

/// A text to paste into a bug report.
#[tauri::command]
pub async fn diagnostics() -> CommandResult<String> {
    let config = settings()?;
    let spec = super::platform::spec()?;
    let preflight = match slipway_core::platform::preflight(spec.clone(), &config.without).await {
        Ok(p) if p.warnings.is_empty() => format!("passed (Docker at {})", p.docker),
        Ok(p) => format!("Docker at {}\n  {}", p.docker, p.warnings.join("\n  ")),
        Err(e) => format!("failed: {e}"),
    };
    let status = match slipway_core::platform::status(spec).await {
        Ok(s) => serde_json::to_string_pretty(&s).unwrap_or_default(),
        Err(e) => format!("unavailable: {e}"),
    };
    let runs = serde_json::to_string_pretty(&runs(&log_text(), 3)).unwrap_or_default();
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
        let line = |fields: Value, target: &str| {
            serde_json::json!({"timestamp": "2026-11-27T10:00:00Z", "level": "INFO", "fields": fields, "target": target}).to_string()
        };
        let event = |id: &str| serde_json::json!({"message": "step event", "event": serde_json::json!({"type": "stepStarted", "id": id}).to_string()});
        let log = [
            line(serde_json::json!({"message": "desktop app starting"}), "slipway::gui"),
            line(serde_json::json!({"message": "run started", "run": "up"}), PROGRESS_TARGET),
            line(event("preflight"), PROGRESS_TARGET),
            "2026-11-27T10:00:02Z  INFO slipway::progress: {\"type\":\"stepStarted\"} (an old text line)".to_owned(),
            line(serde_json::json!({"message": "run started", "run": "create shop-api"}), PROGRESS_TARGET),
            line(event("check"), PROGRESS_TARGET),
            line(event("repository"), PROGRESS_TARGET),
        ]
        .join("\n");
        let all = runs(&log, 10);
        assert_eq!(
            all.iter()
                .map(|r| (r.kind.as_str(), r.events.len()))
                .collect::<Vec<_>>(),
            [("up", 1), ("create shop-api", 2)]
        );
        assert_eq!(all[1].events[0]["id"], "check");
        assert_eq!(runs(&log, 1).len(), 1, "the newest only");
    }
}
