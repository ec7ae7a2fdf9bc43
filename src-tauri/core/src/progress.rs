//! Progress events for long operations.
//!
//! Steps have stable ids (front ends key on them), start/end timestamps and attempt counts.
//! The CLI renders them as progress bars or timestamped lines; the GUI forwards them over a
//! Tauri channel.

use jiff::Timestamp;
use serde::Serialize;

/// One thing that happened during a long operation.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ProgressEvent {
    /// A step begins (again, when `attempt > 1`).
    StepStarted {
        id: &'static str,
        title: &'static str,
        attempt: u32,
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

/// How a step ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "camelCase")]
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

/// A sink that keeps every event, for tests and for the diagnostics log.
#[derive(Default)]
pub struct Recorder(std::sync::Mutex<Vec<ProgressEvent>>);

impl Recorder {
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl ProgressSink for Recorder {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}

/// Helper a step uses to report details and warnings under its own id.
#[derive(Clone, Copy)]
pub struct StepReporter<'a> {
    pub id: &'static str,
    pub sink: &'a dyn ProgressSink,
}

impl StepReporter<'_> {
    pub fn detail(&self, message: impl Into<String>) {
        self.sink.emit(ProgressEvent::StepDetail {
            id: self.id,
            message: message.into(),
            at: Timestamp::now(),
        });
    }
    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(step = self.id, "{message}");
        self.sink.emit(ProgressEvent::Warning {
            id: self.id,
            message,
            at: Timestamp::now(),
        });
    }
}
