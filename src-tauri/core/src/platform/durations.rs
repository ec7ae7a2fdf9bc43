//! How long each step of `up` took when it last ran, kept in the state folder per cluster: the
//! window's progress bar tells a person how long the run they started should take.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::pipeline::StepReport;

/// One step's last wall time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StepDuration {
    pub id: String,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

fn file(state: &Path, cluster: &str) -> PathBuf {
    state.join("durations").join(format!("up-{cluster}.json"))
}

/// The last known time of each step, in the order they were recorded; empty before any `up`
/// finished (or when the file cannot be read: it is a hint, never a reason to fail).
pub fn expected(cluster: &str) -> Vec<StepDuration> {
    expected_in(&crate::config::state_dir(), cluster)
}

/// Keep `steps`' times over the earlier ones (a cluster-only run keeps the install's times).
pub fn record(cluster: &str, steps: &[StepReport]) {
    record_in(&crate::config::state_dir(), cluster, steps);
}

fn expected_in(state: &Path, cluster: &str) -> Vec<StepDuration> {
    std::fs::read(file(state, cluster))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn record_in(state: &Path, cluster: &str, steps: &[StepReport]) {
    let mut known = expected_in(state, cluster);
    let index: BTreeMap<String, usize> = known
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    for s in steps {
        match index.get(s.id) {
            Some(&i) => known[i].elapsed_ms = s.elapsed_ms,
            None => known.push(StepDuration {
                id: s.id.to_owned(),
                elapsed_ms: s.elapsed_ms,
            }),
        }
    }
    let path = file(state, cluster);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let tmp = path.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&known).unwrap_or_default())?;
            std::fs::rename(&tmp, &path)
        });
    if let Err(e) = written {
        tracing::debug!("step durations not kept at {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StepOutcome;

    fn report(id: &'static str, ms: u64) -> StepReport {
        StepReport {
            id,
            outcome: StepOutcome::up_to_date("ok"),
            attempts: 1,
            elapsed_ms: ms,
        }
    }

    #[test]
    fn a_later_run_updates_its_steps_and_keeps_the_others() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path();
        assert!(
            expected_in(state, "c").is_empty(),
            "nothing before the first run"
        );
        record_in(
            state,
            "c",
            &[report("nodes", 20_000), report("argocd", 60_000)],
        );
        record_in(state, "c", &[report("nodes", 3_000)]);
        let step = |id: &str, elapsed_ms| StepDuration {
            id: id.into(),
            elapsed_ms,
        };
        assert_eq!(
            expected_in(state, "c"),
            vec![step("nodes", 3_000), step("argocd", 60_000)]
        );
        assert!(expected_in(state, "other").is_empty(), "kept per cluster");
    }
}
