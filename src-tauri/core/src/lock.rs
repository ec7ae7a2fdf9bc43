//! One operation at a time per cluster: `up`, `down`, `stop` and service creation hold a lock
//! file in the state directory, so the tray, the window and the CLI never interleave writes to
//! the same cluster. The lock is the OS's advisory file lock: it goes with the process that held
//! it, so a lock left by a process that died is simply taken over. The file records who holds
//! it, for the refusal's message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Another run holds the lock, or the lock file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another Slipway process is running an operation on this cluster.
    #[error(
        "`{operation}` is already running on cluster {cluster:?} (process {pid}, since {since}); wait for it to finish, or stop that process, then try again"
    )]
    Held {
        cluster: String,
        operation: String,
        pid: u32,
        since: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Classified for LockError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Held { .. } => crate::error::ErrorKind::Busy,
            Self::Io { .. } => crate::error::ErrorKind::Io,
        }
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Holder {
    operation: String,
    pid: u32,
    since: String,
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Where the lock files are: `<state dir>/locks`.
pub fn dir() -> PathBuf {
    crate::config::state_dir().join("locks")
}

impl RunLock {
    /// Take `cluster`'s lock for `operation` (`up`, `create shop-api` …), or say who holds it.
    pub fn acquire(cluster: &str, operation: &str) -> Result<Self, LockError> {
        Self::acquire_in(&dir(), cluster, operation)
    }

    pub fn acquire_in(dir: &Path, cluster: &str, operation: &str) -> Result<Self, LockError> {
        let path = dir.join(format!("{cluster}.lock"));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // Not truncated on open: until the lock is ours, the holder's record is theirs.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                // The holder writes its record just after taking the lock: a record naming a
                // process that is gone is the previous holder's, read in that moment. Look
                // again for a little while before naming anyone.
                let mut holder = read_holder(&mut file);
                for _ in 0..20 {
                    if holder.as_ref().is_some_and(|h| alive(h.pid)) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                    holder = read_holder(&mut file);
                }
                let holder = holder.filter(|h| alive(h.pid)).unwrap_or(Holder {
                    operation: "another operation".into(),
                    pid: 0,
                    since: "a moment ago".into(),
                });
                return Err(LockError::Held {
                    cluster: cluster.to_owned(),
                    operation: holder.operation,
                    pid: holder.pid,
                    since: holder.since,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = Holder {
            operation: operation.to_owned(),
            pid: std::process::id(),
            since: jiff::Timestamp::now().to_string(),
        };
        let record = serde_json::to_vec(&holder).map_err(|e| io(e.into()))?;
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&record))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(Self { _file: file })
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether process `pid` still runs (signal 0; a process of another user answers EPERM).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(not(unix))]
fn alive(pid: u32) -> bool {
    pid != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name_and_may_take_over_after() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = RunLock::acquire_in(dir.path(), "c", "up").expect("first");
        let err = RunLock::acquire_in(dir.path(), "c", "down").expect_err("held");
        let text = err.to_string();
        assert!(
            text.contains("`up` is already running on cluster \"c\"")
                && text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        assert!(
            RunLock::acquire_in(dir.path(), "other", "up").is_ok(),
            "another cluster is free"
        );
        drop(first);
        RunLock::acquire_in(dir.path(), "c", "down").expect("free again");
    }

    #[test]
    fn a_record_left_by_a_process_that_is_gone_is_not_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let held = RunLock::acquire_in(dir.path(), "c", "up").expect("held");
        // What the lock file says in the moment between another holder's lock and its record:
        // the previous holder's, a process that has exited.
        std::fs::write(
            dir.path().join("c.lock"),
            r#"{"operation":"stop","pid":999999999,"since":"earlier"}"#,
        )
        .expect("stale record");
        let err = RunLock::acquire_in(dir.path(), "c", "up").expect_err("held");
        assert!(
            err.to_string()
                .contains("`another operation` is already running"),
            "{err}"
        );
        drop(held);
    }
}
