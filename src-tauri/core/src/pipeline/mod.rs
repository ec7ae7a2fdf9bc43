//! Long operations as data: a table of steps (id, title, time limit, retries) and one runner
//! that runs them in order, reports each start and end, retries transient failures and stops at
//! the first real one. `up`, `down`, `stop` and service creation are such tables; this module
//! names none of them.
//!
//! What a table says is what applies: a step's `timeout` bounds the whole step, retries
//! included, and the waits inside a step end at its deadline ([`StepContext::deadline`]), so
//! they fail with their own explanation before the runner's limit does. A front end may
//! override a step's limit by key ([`Timeouts`]); the step's start event carries the limit
//! that applies.

mod events;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ConstantBuilder, ExponentialBuilder, Retryable, RetryableWithContext};
use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

pub use events::{Discard, ProgressEvent, ProgressSink, Recorder, StepOutcome};

/// How long past its deadline a step may take to report its own timeout before the runner
/// stops it.
const GRACE: Duration = Duration::from_secs(5);

/// One step's static description.
#[derive(Debug)]
pub struct StepDef<Id: 'static> {
    pub id: Id,
    /// Stable id front ends and logs key on (kebab-case).
    pub key: &'static str,
    pub title: &'static str,
    /// The whole step's time limit, retries included.
    pub timeout: Duration,
    /// Extra attempts after a transient failure (a daemon or API hiccup).
    pub retries: u32,
}

/// A table row: `step(Id::X, "x", "Do x", 60, 2)`.
pub const fn step<Id>(
    id: Id,
    key: &'static str,
    title: &'static str,
    timeout_secs: u64,
    retries: u32,
) -> StepDef<Id> {
    StepDef {
        id,
        key,
        title,
        timeout: Duration::from_secs(timeout_secs),
        retries,
    }
}

/// A pipeline: its steps, and what a person runs to resume it after a stop.
#[derive(Debug)]
pub struct Pipeline<Id: 'static> {
    pub steps: &'static [StepDef<Id>],
    /// The command that resumes it (`slipway up`).
    pub resume: &'static str,
}

/// Per-step time limits that replace the table's, by step key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts(BTreeMap<&'static str, Duration>);

impl Timeouts {
    /// Set the limit of every step in `keys`.
    pub fn set(&mut self, keys: &[&'static str], limit: Duration) {
        for key in keys {
            self.0.insert(key, limit);
        }
    }

    /// The limit that applies to `def`.
    pub fn of<Id>(&self, def: &StepDef<Id>) -> Duration {
        self.0.get(def.key).copied().unwrap_or(def.timeout)
    }
}

/// An error a step can fail with. Transient ones are retried as the step's table row allows.
pub trait StepFailure: std::error::Error + Send + Sync + 'static {
    fn is_transient(&self) -> bool {
        false
    }
}

/// What each step id of a pipeline does (core's own pipelines implement it; front ends run
/// them through the functions that own them).
pub(crate) trait Stage {
    type Id: Copy;
    type Error: StepFailure;
    async fn execute(
        &mut self,
        id: Self::Id,
        step: StepContext<'_>,
    ) -> Result<StepOutcome, Self::Error>;
}

/// When a wait must end, and the limit it comes from (for the message when it does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Instant,
    pub limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub fn after(limit: Duration) -> Self {
        Self {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// The time left.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The limit in whole seconds, as messages say it.
    pub fn secs(&self) -> u64 {
        self.limit.as_secs()
    }

    /// This deadline less `margin` (at least now), keeping the limit it comes from: for the
    /// part of a step that must leave it time to explain or clean up.
    pub fn less(&self, margin: Duration) -> Self {
        Self {
            at: self
                .at
                .checked_sub(margin)
                .unwrap_or(self.at)
                .max(Instant::now()),
            limit: self.limit,
        }
    }
}

/// A running step: where its details and warnings go, and when it must be done.
#[derive(Clone, Copy)]
pub struct StepContext<'a> {
    id: &'static str,
    sink: &'a dyn ProgressSink,
    deadline: Deadline,
}

impl<'a> StepContext<'a> {
    /// A context for work outside a table (read-only checks, tests), ending after `limit`.
    pub fn new(id: &'static str, sink: &'a dyn ProgressSink, limit: Duration) -> Self {
        Self {
            id,
            sink,
            deadline: Deadline::after(limit),
        }
    }

    pub fn id(&self) -> &'static str {
        self.id
    }

    /// When the step's time is up; waits inside the step end here.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The time left before [`deadline`](Self::deadline).
    pub fn remaining(&self) -> Duration {
        self.deadline.remaining()
    }

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

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError<E: StepFailure> {
    /// A step failed; its error says what happened and what to do.
    #[error("step `{step}` failed: {source}")]
    Failed {
        step: &'static str,
        #[source]
        source: E,
    },
    /// A step ran past its time limit without reporting why.
    #[error("step `{step}` did not finish within {secs} s; re-run `{resume}` to resume it")]
    TimedOut {
        step: &'static str,
        secs: u64,
        resume: &'static str,
    },
}

impl<E: StepFailure> PipelineError<E> {
    /// The key of the step that stopped the pipeline.
    pub fn step(&self) -> &'static str {
        match self {
            Self::Failed { step, .. } | Self::TimedOut { step, .. } => step,
        }
    }

    /// The step's own error, when it failed rather than timed out.
    pub fn source_error(&self) -> Option<&E> {
        match self {
            Self::Failed { source, .. } => Some(source),
            Self::TimedOut { .. } => None,
        }
    }
}

/// How one step of a finished pipeline ended.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepReport {
    pub id: &'static str,
    pub outcome: StepOutcome,
    pub attempts: u32,
    /// Wall time of the step, attempts included.
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// Run `pipeline` in order with `stage`, stopping at the first failure.
pub(crate) async fn run<S: Stage>(
    pipeline: &Pipeline<S::Id>,
    timeouts: &Timeouts,
    sink: &dyn ProgressSink,
    stage: &mut S,
) -> Result<Vec<StepReport>, PipelineError<S::Error>> {
    let mut reports = Vec::with_capacity(pipeline.steps.len());
    for def in pipeline.steps {
        reports.push(run_step(def, timeouts.of(def), pipeline.resume, sink, stage).await?);
    }
    Ok(reports)
}

/// One step: its time limit over every attempt, the table's retries for transient failures
/// (exponential pauses from half a second), a start and an end event per attempt.
async fn run_step<'s, S: Stage>(
    def: &StepDef<S::Id>,
    limit: Duration,
    resume: &'static str,
    sink: &dyn ProgressSink,
    stage: &'s mut S,
) -> Result<StepReport, PipelineError<S::Error>> {
    let started = Instant::now();
    let context = StepContext {
        id: def.key,
        sink,
        deadline: Deadline::after(limit),
    };
    let attempts = AtomicU32::new(0);
    let attempt = |stage: &'s mut S| {
        let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        sink.emit(ProgressEvent::StepStarted {
            id: def.key,
            title: def.title,
            attempt: n,
            timeout_secs: limit.as_secs(),
            at: Timestamp::now(),
        });
        async move {
            let result = stage.execute(def.id, context).await;
            (stage, result)
        }
    };
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_times(def.retries as usize);
    let retried = attempt
        .retry(policy)
        .context(stage)
        .when(StepFailure::is_transient)
        .notify(|e: &S::Error, pause: Duration| {
            let n = attempts.load(Ordering::SeqCst);
            context.warn(format!(
                "attempt {n} failed, retrying in {} ms: {e}",
                pause.as_millis()
            ));
            finish(
                sink,
                def.key,
                n,
                StepOutcome::Failed {
                    error: e.to_string(),
                },
            );
        });
    let result = tokio::time::timeout_at(context.deadline.at + GRACE, retried).await;
    let attempts = attempts.load(Ordering::SeqCst);
    let error = match result {
        Ok((_, Ok(outcome))) => {
            finish(sink, def.key, attempts, outcome.clone());
            return Ok(StepReport {
                id: def.key,
                outcome,
                attempts,
                elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok((_, Err(source))) => PipelineError::Failed {
            step: def.key,
            source,
        },
        Err(_) => PipelineError::TimedOut {
            step: def.key,
            secs: limit.as_secs(),
            resume,
        },
    };
    finish(
        sink,
        def.key,
        attempts,
        StepOutcome::Failed {
            error: error.to_string(),
        },
    );
    Err(error)
}

fn finish(sink: &dyn ProgressSink, id: &'static str, attempt: u32, outcome: StepOutcome) {
    sink.emit(ProgressEvent::StepFinished {
        id,
        outcome,
        attempt,
        at: Timestamp::now(),
    });
}

/// Poll `check` every `every` until it yields a value or `deadline` passes; then `timed_out`
/// with the last "not yet" reason. For waits on state that no watch can express (a TCP port, a
/// node's log, a command's answer): the same backon policy as the runner's retries, instead
/// of a hand-written loop per wait.
pub async fn poll<T, E, F, Fut>(
    deadline: Deadline,
    every: Duration,
    mut check: F,
    timed_out: impl FnOnce(String) -> E,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    enum Look<E> {
        NotYet(String),
        Failed(E),
    }
    // One look always happens, however little time is left: a deadline already past still
    // gets its answer (or its reason) from the state itself.
    let first = match check().await? {
        Poll::Ready(value) => return Ok(value),
        Poll::Pending(reason) => reason,
    };
    if Instant::now() >= deadline.at {
        return Err(timed_out(first));
    }
    let last = std::sync::Mutex::new(first);
    let look = || {
        let checked = check();
        async move {
            match checked.await {
                Ok(Poll::Ready(value)) => Ok(value),
                Ok(Poll::Pending(reason)) => Err(Look::NotYet(reason)),
                Err(e) => Err(Look::Failed(e)),
            }
        }
    };
    let looking = look
        .retry(ConstantBuilder::new().with_delay(every).without_max_times())
        .when(|e| matches!(e, Look::NotYet(_)))
        .notify(|e, _| {
            if let Look::NotYet(reason) = e
                && let Ok(mut last) = last.lock()
            {
                last.clone_from(reason);
            }
        });
    match tokio::time::timeout_at(deadline.at, looking).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Look::Failed(e))) => Err(e),
        Ok(Err(Look::NotYet(reason))) => Err(timed_out(reason)),
        Err(_) => Err(timed_out(
            last.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )),
    }
}

/// One look of a [`poll`]: done, or not yet and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    Ready(T),
    Pending(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Fault {
        #[error("hiccup")]
        Hiccup,
        #[error("broken")]
        Broken,
    }

    impl StepFailure for Fault {
        fn is_transient(&self) -> bool {
            matches!(self, Fault::Hiccup)
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Id {
        A,
        B,
    }

    /// Fails with the listed faults first, then succeeds; B never runs if A fails for good.
    struct Scripted {
        faults: Vec<Fault>,
        ran_b: bool,
        slow: bool,
    }

    impl Stage for Scripted {
        type Id = Id;
        type Error = Fault;
        async fn execute(&mut self, id: Id, step: StepContext<'_>) -> Result<StepOutcome, Fault> {
            match id {
                Id::A => {
                    if self.slow {
                        tokio::time::sleep_until(step.deadline().at + GRACE * 2).await;
                    }
                    match self.faults.pop() {
                        Some(f) => Err(f),
                        None => Ok(StepOutcome::changed("a")),
                    }
                }
                Id::B => {
                    self.ran_b = true;
                    Ok(StepOutcome::up_to_date("b"))
                }
            }
        }
    }

    static STEPS: &[StepDef<Id>] = &[
        step(Id::A, "a", "Step A", 10, 2),
        step(Id::B, "b", "Step B", 10, 0),
    ];
    const PIPELINE: Pipeline<Id> = Pipeline {
        steps: STEPS,
        resume: "slipway test",
    };

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_as_the_table_says() {
        let recorder = Recorder::default();
        let mut stage = Scripted {
            faults: vec![Fault::Hiccup, Fault::Hiccup],
            ran_b: false,
            slow: false,
        };
        let reports = run(&PIPELINE, &Timeouts::default(), &recorder, &mut stage)
            .await
            .expect("third attempt succeeds");
        assert_eq!(reports[0].attempts, 3);
        assert!(stage.ran_b);
        let starts = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, ProgressEvent::StepStarted { id: "a", .. }))
            .count();
        assert_eq!(starts, 3, "one start event per attempt");
        assert_eq!(recorder.warnings().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_real_failure_stops_at_once_and_later_steps_do_not_run() {
        let mut stage = Scripted {
            faults: vec![Fault::Broken],
            ran_b: false,
            slow: false,
        };
        let err = run(&PIPELINE, &Timeouts::default(), &Discard, &mut stage)
            .await
            .expect_err("broken");
        assert_eq!(err.step(), "a");
        assert!(matches!(err.source_error(), Some(Fault::Broken)));
        assert!(!stage.ran_b);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_end_with_the_table_and_overrides_set_the_limit() {
        let mut stage = Scripted {
            faults: vec![Fault::Hiccup, Fault::Hiccup, Fault::Hiccup],
            ran_b: false,
            slow: false,
        };
        let err = run(&PIPELINE, &Timeouts::default(), &Discard, &mut stage)
            .await
            .expect_err("out of retries");
        assert!(matches!(err.source_error(), Some(Fault::Hiccup)));

        let recorder = Recorder::default();
        let mut timeouts = Timeouts::default();
        timeouts.set(&["a"], Duration::from_secs(3));
        let mut stage = Scripted {
            faults: vec![],
            ran_b: false,
            slow: true,
        };
        let err = run(&PIPELINE, &timeouts, &recorder, &mut stage)
            .await
            .expect_err("too slow");
        assert!(
            err.to_string()
                .contains("within 3 s; re-run `slipway test` to resume it"),
            "{err}"
        );
        assert!(recorder.events().iter().any(|e| matches!(
            e,
            ProgressEvent::StepStarted {
                timeout_secs: 3,
                ..
            }
        )));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_returns_the_value_or_the_last_reason() {
        let mut n = 0;
        let value = poll(
            Deadline::after(Duration::from_secs(5)),
            Duration::from_millis(100),
            || {
                n += 1;
                let v = n;
                async move {
                    Ok::<_, String>(if v >= 3 {
                        Poll::Ready(v)
                    } else {
                        Poll::Pending(format!("only {v}"))
                    })
                }
            },
            |last| last,
        )
        .await;
        assert_eq!(value, Ok(3));
        let timed_out = poll(
            Deadline::after(Duration::from_secs(1)),
            Duration::from_millis(300),
            || async { Ok::<Poll<()>, String>(Poll::Pending("never".into())) },
            |last| format!("gave up: {last}"),
        )
        .await;
        assert_eq!(timed_out, Err("gave up: never".into()));
    }
}
