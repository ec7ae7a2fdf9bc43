//! Kubeconfig export and removal, compatible with kind and kubectl.
//!
//! Entries are named `kind-<cluster>`. The target file follows kubectl's rules (`$KUBECONFIG`,
//! else `~/.kube/config`); `<file>.lock` is taken with O_EXCL as kind and kubectl do; only our
//! entries change; the file is written atomically with mode 0600; a malformed file is never
//! overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::{BlockingRetryable, ExponentialBuilder};

use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// Another program holds the kubeconfig's lock file.
    #[error(
        "{lock} exists, so another kubectl, kind or Slipway is writing this kubeconfig. \
         Wait for it to finish; if none is running, delete {lock} and re-run"
    )]
    Locked { lock: PathBuf },
    /// The file is YAML but not a kubeconfig's shape.
    #[error(
        "{path} is not a valid kubeconfig ({reason}); Slipway left it untouched. Fix or move it, then re-run"
    )]
    Malformed { path: PathBuf, reason: String },
    /// The file is not YAML.
    #[error(
        "{path} is not a valid kubeconfig ({source}); Slipway left it untouched. Fix or move it, then re-run"
    )]
    Unparsable {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// Reading, writing or locking the file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The node's admin.conf lacks what a kubeconfig entry needs.
    #[error(
        "the control-plane's admin.conf is unusable ({reason}); re-create the cluster with `slipway up --recreate`"
    )]
    AdminConf { reason: String },
    /// The YAML of an entry could not be written.
    #[error("cannot write the kubeconfig entry: {0}")]
    Render(#[from] serde_saphyr::SerializeError),
    /// No home directory and no KUBECONFIG.
    #[error("no home directory to put .kube/config in; set KUBECONFIG to a file path")]
    NoHome,
}

type Result<T> = std::result::Result<T, KubeconfigError>;

/// How long to wait for another writer's lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Every kubeconfig file kubectl would read: the `$KUBECONFIG` list, else `~/.kube/config`.
pub fn paths() -> Result<Vec<PathBuf>> {
    match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => Ok(std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect()),
        None => Ok(vec![home_config()?]),
    }
}

/// The file kubectl merges into: the first existing `$KUBECONFIG` entry, else the last one.
pub fn merge_target() -> Result<PathBuf> {
    let all = paths()?;
    let existing = all.iter().find(|p| p.exists()).cloned();
    existing
        .or_else(|| all.last().cloned())
        .map_or_else(home_config, Ok)
}

fn home_config() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .ok_or(KubeconfigError::NoHome)?;
    Ok(PathBuf::from(home).join(".kube").join("config"))
}

/// Turn the node's admin.conf into the `kind-<cluster>` entry, pointing at `server`.
pub fn entry_from_admin_conf(admin_conf: &str, context: &str, server: &str) -> Result<Value> {
    let bad = |why: &str| KubeconfigError::AdminConf {
        reason: why.to_owned(),
    };
    let doc: Value = serde_saphyr::from_str(admin_conf).map_err(|e| bad(&e.to_string()))?;
    let one = |key: &str, field: &str| -> Result<Value> {
        match doc.get(key).and_then(Value::as_array).map(Vec::as_slice) {
            Some([entry]) => entry
                .get(field)
                .cloned()
                .ok_or_else(|| bad(&format!("{key}[0] has no {field}"))),
            _ => Err(bad(&format!("expected exactly one entry in {key}"))),
        }
    };
    let mut cluster = one("clusters", "cluster")?;
    cluster["server"] = json!(server);
    let user = one("users", "user")?;
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }))
}

/// Merge `entry` (from [`entry_from_admin_conf`]) into `path`. Returns whether the file changed.
pub fn merge(path: &Path, entry: &Value) -> Result<bool> {
    let _lock = Lock::acquire(path)?;
    let before = read(path)?;
    let mut config = before
        .clone()
        .unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Config", "preferences": {}}));
    let Some(obj) = config.as_object_mut() else {
        return Err(malformed(path, "top level is not a mapping"));
    };
    for key in ["clusters", "users", "contexts"] {
        let list =
            list_mut(obj, key).ok_or_else(|| malformed(path, &format!("{key} is not a list")))?;
        for new in entry[key].as_array().into_iter().flatten() {
            match list.iter_mut().find(|e| e.get("name") == new.get("name")) {
                Some(existing) => *existing = new.clone(),
                None => list.push(new.clone()),
            }
        }
    }
    obj.insert("current-context".into(), entry["current-context"].clone());
    if before.as_ref() == Some(&config) {
        return Ok(false);
    }
    write(path, &config)?;
    Ok(true)
}

/// Remove the entries named `name` from `path` (absent file or entries: no change).
pub fn remove(path: &Path, name: &str) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let _lock = Lock::acquire(path)?;
    let Some(mut config) = read(path)? else {
        return Ok(false);
    };
    let Some(obj) = config.as_object_mut() else {
        return Err(malformed(path, "top level is not a mapping"));
    };
    let mut changed = false;
    for key in ["clusters", "users", "contexts"] {
        if let Some(Value::Array(list)) = obj.get_mut(key) {
            let len = list.len();
            list.retain(|e| e.get("name").and_then(Value::as_str) != Some(name));
            changed |= list.len() != len;
        }
    }
    if obj.get("current-context").and_then(Value::as_str) == Some(name) {
        obj.insert("current-context".into(), json!(""));
        changed = true;
    }
    if changed {
        write(path, &config)?;
    }
    Ok(changed)
}

/// The `kind-<cluster>` entry in `path`, if there is one: (server, has credentials).
pub fn server_of(path: &Path, name: &str) -> Result<Option<String>> {
    let Some(config) = read(path)? else {
        return Ok(None);
    };
    let server = config
        .get("clusters")
        .and_then(Value::as_array)
        .and_then(|l| {
            l.iter()
                .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        })
        .and_then(|e| e.pointer("/cluster/server"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(server)
}

fn list_mut<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let slot = obj.entry(key).or_insert_with(|| json!([]));
    if slot.is_null() {
        *slot = json!([]);
    }
    slot.as_array_mut()
}

fn malformed(path: &Path, reason: &str) -> KubeconfigError {
    KubeconfigError::Malformed {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Read a kubeconfig; `None` when missing or empty.
fn read(path: &Path) -> Result<Option<Value>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KubeconfigError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value =
        serde_saphyr::from_str(&text).map_err(|source| KubeconfigError::Unparsable {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    if !value.is_object() {
        return Err(malformed(path, "top level is not a mapping"));
    }
    Ok(Some(value))
}

/// Atomic write: a private temp file in the same directory, renamed over the target. A symlinked
/// kubeconfig (dotfiles managers, a shared config) is written where the link points, and stays
/// a link, as kubectl and kind (which write through it) leave it.
fn write(path: &Path, config: &Value) -> Result<()> {
    let path = &through_links(path);
    let io = |action, source| KubeconfigError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    let yaml = serde_saphyr::to_string(config)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".slipway-kubeconfig")
        .tempfile_in(dir)
        .map_err(|e| io("write", e))?;
    tmp.write_all(yaml.as_bytes()).map_err(|e| io("write", e))?;
    set_private(tmp.path()).map_err(|e| io("set permissions on", e))?;
    tmp.persist(path).map_err(|e| io("replace", e.error))?;
    Ok(())
}

/// Where `path` leads through symlinks (relative links from their own folder); `path` itself
/// when it is no link. Bounded, as the OS bounds link chains.
fn through_links(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&current) {
            Ok(target) if target.is_absolute() => current = target,
            Ok(target) => {
                current = current
                    .parent()
                    .map_or_else(|| target.clone(), |dir| dir.join(&target));
            }
            Err(_) => break,
        }
    }
    current
}

#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// `<file>.lock`, created exclusively and removed on drop.
struct Lock(PathBuf);

impl Lock {
    fn acquire(path: &Path) -> Result<Self> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| KubeconfigError::Io {
                action: "create",
                path: dir.to_owned(),
                source,
            })?;
        }
        // Another writer holds it only for a moment: wait a little, as kubectl does.
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(1))
            .with_max_delay(Duration::from_millis(200))
            .with_total_delay(Some(LOCK_WAIT))
            .without_max_times();
        let create = || {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
        };
        match create
            .retry(policy)
            .sleep(std::thread::sleep)
            .when(|e| e.kind() == std::io::ErrorKind::AlreadyExists)
            .call()
        {
            Ok(_) => Ok(Self(lock)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(KubeconfigError::Locked { lock })
            }
            Err(source) => Err(KubeconfigError::Io {
                action: "create",
                path: lock,
                source,
            }),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN_CONF: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: slipway\n  cluster:\n    certificate-authority-data: Q0E=\n    server: https://slipway-control-plane:6443\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\ncontexts:\n- name: kubernetes-admin@slipway\n  context: {cluster: slipway, user: kubernetes-admin}\ncurrent-context: kubernetes-admin@slipway\n";

    const OTHER: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: 'https://prod.example:6443'}\nusers:\n- name: prod\n  user: {token: abc}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod, namespace: team}\ncurrent-context: prod\npreferences: {colors: true}\n";

    fn entry() -> Value {
        entry_from_admin_conf(ADMIN_CONF, "kind-slipway", "https://127.0.0.1:40123").expect("entry")
    }

    #[test]
    fn admin_conf_is_renamed_and_pointed_at_the_published_port() {
        let e = entry();
        assert_eq!(e["clusters"][0]["name"], "kind-slipway");
        assert_eq!(
            e["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:40123"
        );
        assert_eq!(
            e["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0E="
        );
        assert_eq!(e["users"][0]["user"]["client-key-data"], "S0VZ");
        assert_eq!(
            e["contexts"][0]["context"],
            json!({"cluster": "kind-slipway", "user": "kind-slipway"})
        );
        assert!(entry_from_admin_conf("clusters: []", "kind-x", "s").is_err());
        assert!(entry_from_admin_conf(": : :", "kind-x", "s").is_err());
    }

    #[test]
    fn merge_keeps_other_entries_and_writes_0600() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config");
        fs::write(&path, OTHER).expect("seed");
        assert!(merge(&path, &entry()).expect("merge"));
        let merged: Value =
            serde_saphyr::from_str(&fs::read_to_string(&path).expect("read")).expect("yaml");
        assert_eq!(merged["current-context"], "kind-slipway");
        assert_eq!(merged["preferences"], json!({"colors": true}));
        let names = |key: &str| {
            merged[key]
                .as_array()
                .expect("list")
                .iter()
                .map(|e| e["name"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("clusters"), ["prod", "kind-slipway"]);
        assert_eq!(names("contexts"), ["prod", "kind-slipway"]);
        assert_eq!(merged["contexts"][0]["context"]["namespace"], "team");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
        // Same entry again: nothing to write.
        assert!(!merge(&path, &entry()).expect("merge again"));
        assert_eq!(
            server_of(&path, "kind-slipway").expect("read"),
            Some("https://127.0.0.1:40123".into())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_kubeconfig_is_written_through_the_link() {
        let dir = tempfile::tempdir().expect("tmp");
        let real = dir.path().join("dotfiles").join("kubeconfig");
        fs::create_dir_all(real.parent().expect("dir")).expect("mkdir");
        fs::write(&real, "apiVersion: v1\nkind: Config\nclusters: []\n").expect("seed");
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("dotfiles/kubeconfig", &link).expect("link");
        assert!(merge(&link, &entry()).expect("merge"));
        assert!(
            fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink(),
            "still a link"
        );
        assert!(
            fs::read_to_string(&real)
                .expect("read")
                .contains("kind-slipway")
        );
    }

    #[test]
    fn merge_replaces_a_stale_entry_in_place() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("nested/dir/config");
        assert!(merge(&path, &entry()).expect("create"));
        let moved = entry_from_admin_conf(ADMIN_CONF, "kind-slipway", "https://127.0.0.1:40999")
            .expect("entry");
        assert!(merge(&path, &moved).expect("update"));
        let merged: Value =
            serde_saphyr::from_str(&fs::read_to_string(&path).expect("read")).expect("yaml");
        assert_eq!(merged["clusters"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            merged["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:40999"
        );
    }

    #[test]
    fn remove_takes_only_our_entries() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config");
        fs::write(&path, OTHER).expect("seed");
        merge(&path, &entry()).expect("merge");
        assert!(remove(&path, "kind-slipway").expect("remove"));
        let left: Value =
            serde_saphyr::from_str(&fs::read_to_string(&path).expect("read")).expect("yaml");
        let original: Value = serde_saphyr::from_str(OTHER).expect("yaml");
        for key in ["clusters", "users", "contexts", "preferences"] {
            assert_eq!(left[key], original[key], "{key}");
        }
        assert_eq!(left["current-context"], "");
        assert!(!remove(&path, "kind-slipway").expect("second remove"));
        assert!(!remove(&dir.path().join("absent"), "kind-slipway").expect("absent file"));
    }

    #[test]
    fn malformed_files_are_reported_and_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        for junk in [
            "clusters: {not: a list}\n",
            "- just\n- a list\n",
            "key: [unclosed\n",
        ] {
            let path = dir.path().join("config");
            fs::write(&path, junk).expect("seed");
            let err = merge(&path, &entry()).expect_err(junk);
            assert!(
                matches!(
                    err,
                    KubeconfigError::Malformed { .. } | KubeconfigError::Unparsable { .. }
                ),
                "{junk}: {err}"
            );
            assert!(err.to_string().contains("left it untouched"));
            assert_eq!(
                fs::read_to_string(&path).expect("read"),
                junk,
                "file must be unchanged"
            );
            assert!(!dir.path().join("config.lock").exists(), "lock released");
        }
    }

    #[test]
    fn a_held_lock_is_waited_for_then_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config");
        let lock = dir.path().join("config.lock");

        // Contention that clears: the merge waits and then succeeds.
        fs::write(&lock, "").expect("lock");
        let releaser = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                fs::remove_file(lock).expect("release");
            })
        };
        assert!(merge(&path, &entry()).expect("merge after release"));
        releaser.join().expect("thread");

        // A lock that never clears: a clear error naming the lock file; the file is untouched.
        fs::write(&lock, "").expect("lock");
        let before = fs::read_to_string(&path).expect("read");
        let err = remove(&path, "kind-slipway").expect_err("locked");
        assert!(matches!(err, KubeconfigError::Locked { .. }));
        assert!(err.to_string().contains("config.lock"), "{err}");
        assert_eq!(fs::read_to_string(&path).expect("read"), before);
        assert!(lock.exists(), "someone else's lock is not ours to delete");
    }
}
