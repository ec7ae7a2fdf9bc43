//! Progress on the terminal: live bars on a TTY, plain timestamped lines otherwise (CI, logs).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_core::pipeline::{ProgressEvent, ProgressSink, StepOutcome};

pub enum Terminal {
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<&'static str, ProgressBar>>,
    },
    Lines,
}

impl Terminal {
    pub fn new() -> Self {
        if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            Terminal::Bars {
                multi: MultiProgress::new(),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Terminal::Lines
        }
    }

    /// Stop any spinner still running (after an error).
    pub fn finish(&self) {
        if let Terminal::Bars { bars, .. } = self
            && let Ok(bars) = bars.lock()
        {
            bars.values()
                .filter(|b| !b.is_finished())
                .for_each(ProgressBar::abandon);
        }
    }
}

fn outcome_text(outcome: &StepOutcome) -> (&'static str, &str) {
    match outcome {
        StepOutcome::Changed { detail } => ("done", detail),
        StepOutcome::UpToDate { detail } => ("up to date", detail),
        StepOutcome::Failed { error } => ("FAILED", error),
    }
}

impl ProgressSink for Terminal {
    #[allow(clippy::print_stderr, reason = "plain progress lines go to stderr")]
    fn emit(&self, event: ProgressEvent) {
        match self {
            Terminal::Lines => match event {
                ProgressEvent::StepStarted {
                    id,
                    title,
                    attempt,
                    at,
                    ..
                } => {
                    let again = if attempt > 1 {
                        format!(" (attempt {attempt})")
                    } else {
                        String::new()
                    };
                    eprintln!("{at:.3} [{id}] {title}{again}");
                }
                ProgressEvent::StepDetail { id, message, at } => {
                    eprintln!("{at:.3} [{id}]   {message}")
                }
                ProgressEvent::StepFinished {
                    id, outcome, at, ..
                } => {
                    let (status, detail) = outcome_text(&outcome);
                    eprintln!("{at:.3} [{id}] {status}: {detail}");
                }
                ProgressEvent::Warning { id, message, at } => {
                    eprintln!("{at:.3} [{id}] warning: {message}")
                }
            },
            Terminal::Bars { multi, bars } => {
                let Ok(mut bars) = bars.lock() else { return };
                match event {
                    ProgressEvent::StepStarted {
                        id, title, attempt, ..
                    } => {
                        let bar = bars.entry(id).or_insert_with(|| {
                            let bar = multi.add(ProgressBar::new_spinner());
                            bar.set_style(
                                ProgressStyle::with_template(
                                    "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:.dim}",
                                )
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                            );
                            bar.enable_steady_tick(Duration::from_millis(100));
                            bar
                        });
                        bar.set_prefix(title);
                        bar.set_message(if attempt > 1 {
                            format!("attempt {attempt}")
                        } else {
                            String::new()
                        });
                    }
                    ProgressEvent::StepDetail { id, message, .. } => {
                        if let Some(bar) = bars.get(id) {
                            bar.set_message(message);
                        }
                    }
                    ProgressEvent::StepFinished { id, outcome, .. } => {
                        if let Some(bar) = bars.get(id) {
                            let (status, detail) = outcome_text(&outcome);
                            let mark = if matches!(outcome, StepOutcome::Failed { .. }) {
                                "✗"
                            } else {
                                "✓"
                            };
                            bar.set_style(
                                ProgressStyle::with_template("{prefix:.bold} {msg}")
                                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                            );
                            bar.set_prefix(format!("{mark} {}", bar.prefix()));
                            bar.finish_with_message(format!("— {status}: {detail}"));
                        }
                    }
                    ProgressEvent::Warning { message, .. } => {
                        let _ = multi.println(format!("warning: {message}"));
                    }
                }
            }
        }
    }
}
