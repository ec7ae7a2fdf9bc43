//! What a running pipeline tells its front end: events with stable step ids, start/end
//! timestamps and attempt counts. The CLI renders them as progress bars or timestamped lines;
//! the GUI forwards them over a Tauri channel and writes them to its log.

use jiff::Timestamp;
use serde::Serialize;

/// One thing that happened during a long operation.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[serde(tag = "type", rename_all = "camelCase")]
#[ts(export)]
pub enum ProgressEvent {
    /// A step begins (again, when `attempt > 1`).
    #[serde(rename_all = "camelCase")]
    StepStarted {
        id: &'static str,
        title: &'static str,
        attempt: u32,
        /// The step's time limit, as its table (or an override) sets it.
        #[ts(type = "number")]
        timeout_secs: u64,
        at: Timestamp,
    },
    /// A step made progress worth showing (pull percentage, the node being waited on …).
    StepDetail {
        id: &'static str,
        message: String,
        at: Timestamp,
    },
    /// A step ended.
    StepFinished {
        id: &'static str,
        outcome: StepOutcome,
        attempt: u32,
        at: Timestamp,
    },
    /// Something the user should know that does not stop the operation.
    Warning {
        id: &'static str,
        message: String,
        at: Timestamp,
    },
}

impl ProgressEvent {
    /// The step the event belongs to.
    pub fn step(&self) -> &'static str {
        match self {
            Self::StepStarted { id, .. }
            | Self::StepDetail { id, .. }
            | Self::StepFinished { id, .. }
            | Self::Warning { id, .. } => id,
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
#[serde(tag = "status", rename_all = "camelCase")]
#[ts(export)]
pub enum StepOutcome {
    /// The step changed something; `detail` says what.
    Changed { detail: String },
    /// The desired state was already there: nothing was written.
    UpToDate { detail: String },
    /// The step failed; `error` is the user-facing message including the fix.
    Failed { error: String },
}

impl StepOutcome {
    pub fn changed(detail: impl Into<String>) -> Self {
        Self::Changed {
            detail: detail.into(),
        }
    }
    pub fn up_to_date(detail: impl Into<String>) -> Self {
        Self::UpToDate {
            detail: detail.into(),
        }
    }
    pub fn is_change(&self) -> bool {
        matches!(self, Self::Changed { .. })
    }
}

/// Receives progress events. Implementations must be cheap and must not block.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);
}

/// A sink that drops everything (for callers that only want the result).
pub struct Discard;

impl ProgressSink for Discard {
    fn emit(&self, _: ProgressEvent) {}
}

/// A sink that keeps every event, for tests and for read-only runs whose warnings are the result.
#[derive(Default)]
pub struct Recorder(std::sync::Mutex<Vec<ProgressEvent>>);

impl Recorder {
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The warnings recorded, in order.
    pub fn warnings(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ProgressEvent::Warning { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }
}

impl ProgressSink for Recorder {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}
