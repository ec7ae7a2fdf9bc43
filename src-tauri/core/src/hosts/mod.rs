//! The hosts-file helper: Slipway's names (`argocd.local`, `backstage.local`, every Ingress host)
//! in one tagged block, never touching another byte.
//!
//! The file is edited as bytes (what is not Slipway's comes back exactly, UTF-8 or not); only
//! RFC 1123 names under the platform's domain go into the block. Writes are atomic (temp file +
//! rename; in place where the file cannot be replaced, e.g. a bind-mounted /etc/hosts), keep the
//! original file's backup (the version before Slipway's first write, never overwritten) and the
//! previous version, preserve mode and owner, and refuse a file that changed since it was read.
//! A file the user cannot write goes through the OS's elevation prompt, with the new content
//! passed by file, and is read back to check the write happened.

mod block;
pub mod elevate;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use block::{BEGIN, END, HostEntry, HostsText, MarkerProblem};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    /// The hosts file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Slipway's markers do not pair up: where its block ends cannot be known.
    #[error(
        "{path}: {problem}. Slipway only writes between one matching `# BEGIN slipway` and `# END slipway`, so it changed nothing: remove the stray marker line (or the extra block) by hand, then re-run"
    )]
    Markers {
        path: PathBuf,
        problem: MarkerProblem,
    },
    /// A name for the block is not one Slipway may write.
    #[error("{0}")]
    BadName(String),
    /// Someone changed the file between Slipway's read and its write.
    #[error(
        "{path} changed while Slipway was updating it; nothing was written. Re-run the command"
    )]
    Changed { path: PathBuf },
    /// The file needs administrator rights and no prompt is possible here.
    #[error("cannot write {path} ({source}); add these lines yourself, as administrator:\n{block}")]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
        block: String,
    },
    /// Writing the file (or its backup) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The elevation helper could not be started.
    #[error("could not start {program}: {source}; add these lines to {path} yourself:\n{block}")]
    ElevationUnavailable {
        program: String,
        path: PathBuf,
        block: String,
        #[source]
        source: std::io::Error,
    },
    /// The administrator prompt was refused or the elevated write failed.
    #[error(
        "the elevated write did not complete ({status}); nothing else was changed. Add these lines to {path} yourself:\n{block}"
    )]
    ElevationFailed {
        status: String,
        path: PathBuf,
        block: String,
    },
}

impl crate::error::Classified for HostsError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            Self::Changed { .. } => ErrorKind::Conflict,
            Self::BadName(_) => ErrorKind::Invalid,
            Self::NotWritable { .. } | Self::ElevationFailed { .. } | Self::Markers { .. } => {
                ErrorKind::NeedsPerson
            }
            _ => ErrorKind::Io,
        }
    }
}

type Result<T> = std::result::Result<T, HostsError>;

/// The system hosts file.
pub fn default_path() -> PathBuf {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        PathBuf::from(root)
            .join("System32")
            .join("drivers")
            .join("etc")
            .join("hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

/// Whether the hosts file at `path` maps `name` (anywhere, in Slipway's block or not). A file
/// that cannot be read maps nothing.
pub fn listed(path: &Path, name: &str) -> bool {
    std::fs::read(path).is_ok_and(|bytes| {
        String::from_utf8_lossy(&bytes).lines().any(|line| {
            let line = line.split('#').next().unwrap_or_default();
            line.split_whitespace()
                .skip(1)
                .any(|n| n.eq_ignore_ascii_case(name))
        })
    })
}

/// The platform's own names under `domain` (`argocd.local`, `backstage.local`,
/// `grafana.local`; a name whose part is left out resolves to a 404 from Traefik, harmless).
pub fn platform_hosts(domain: &str) -> Vec<String> {
    ["argocd", "backstage", "grafana"]
        .iter()
        .map(|h| format!("{h}.{}", domain.trim_start_matches('.')))
        .collect()
}

/// Why `name` may not go into the block, if it may not: only RFC 1123 host names under
/// `.<domain>` (an Ingress for `github.com` would otherwise send the browser to the cluster).
pub fn name_problem(name: &str, domain: &str) -> Option<String> {
    let domain = domain.trim_start_matches('.');
    if !crate::config::is_dns_name(name, 253) {
        return Some(format!(
            "{name:?} is not a host name (lower-case letters, digits and '-' between dots)"
        ));
    }
    if !name.ends_with(&format!(".{domain}")) {
        return Some(format!(
            "{name:?} is not under .{domain}: Slipway maps only the platform's own names to 127.0.0.1"
        ));
    }
    None
}

/// The names the block should hold: the platform's, plus the cluster's Ingress hosts that are
/// names under the domain.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Desired {
    pub names: Vec<String>,
    /// Ingress hosts left out, each with why.
    pub skipped: Vec<String>,
    /// Why the cluster's Ingress hosts are not included, when they are not.
    pub cluster_skipped: Option<String>,
}

pub async fn desired(domain: &str, cluster: &crate::k8s::KubeTarget) -> Desired {
    let mut names = platform_hosts(domain);
    let mut skipped = Vec::new();
    let from_cluster = async { crate::k8s::ingress_hosts(&cluster.client().await?).await };
    let cluster_skipped = match from_cluster.await {
        Ok(hosts) => {
            for host in hosts {
                match name_problem(&host, domain) {
                    None => names.push(host),
                    Some(why) => skipped.push(why),
                }
            }
            None
        }
        Err(e) => Some(e.to_string()),
    };
    Desired {
        names,
        skipped,
        cluster_skipped,
    }
}

/// `entries` checked for a write: every name under `domain` (what a front end sends back).
pub fn checked(entries: Vec<HostEntry>, domain: &str) -> Result<Vec<HostEntry>> {
    let problems: Vec<String> = entries
        .iter()
        .flat_map(|e| e.names.iter())
        .filter_map(|n| name_problem(n, domain))
        .collect();
    let addresses_ok = entries
        .iter()
        .all(|e| e.address == "127.0.0.1" || e.address == "::1");
    if !addresses_ok {
        return Err(HostsError::BadName(
            "the block maps names to 127.0.0.1 and ::1 only".into(),
        ));
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(HostsError::BadName(problems.join("; ")))
    }
}

/// The block's entries for `names`: 127.0.0.1, plus ::1 where a missing IPv6 answer stalls
/// lookups (macOS resolves `.local` through mDNS and waits for the AAAA query otherwise).
pub fn entries_for(names: &[String], ipv6: bool) -> Vec<HostEntry> {
    let mut names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Vec::new();
    }
    let mut entries = vec![HostEntry {
        address: "127.0.0.1".into(),
        names: names.clone(),
    }];
    if ipv6 {
        entries.push(HostEntry {
            address: "::1".into(),
            names,
        });
    }
    entries
}

/// Whether to write `::1` entries by default on this OS.
pub const DEFAULT_IPV6: bool = cfg!(target_os = "macos");

/// What `apply` or `remove` would do to the file, computed from one read of it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Plan {
    #[ts(as = "String")]
    pub path: PathBuf,
    pub current: Vec<HostEntry>,
    pub desired: Vec<HostEntry>,
    /// `+`/`-` lines of the block's change (empty when nothing changes).
    pub diff: Vec<String>,
    /// The fingerprint of the file this plan was computed from: a front end that showed the
    /// plan sends it back with the entries, so exactly what it showed is written.
    pub fingerprint: String,
    #[serde(skip)]
    original: Vec<u8>,
    #[serde(skip)]
    new_text: Vec<u8>,
}

impl Plan {
    pub fn changes(&self) -> bool {
        self.original != self.new_text
    }

    /// The block as a user would add it by hand.
    pub fn block(&self) -> String {
        HostsText::parse(&self.new_text)
            .map(|d| String::from_utf8_lossy(&d.block).into_owned())
            .unwrap_or_default()
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(HostsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Plan setting the block to `desired` (an empty list removes the block).
pub fn plan(path: &Path, desired: Vec<HostEntry>) -> Result<Plan> {
    let original = read(path)?;
    let doc = HostsText::parse(&original).map_err(|problem| HostsError::Markers {
        path: path.to_owned(),
        problem,
    })?;
    let current = doc.entries();
    let new_text = doc.with_entries(&desired);
    let line = |e: &HostEntry| format!("{} {}", e.address, e.names.join(" "));
    let mut diff: Vec<String> = current
        .iter()
        .filter(|e| !desired.contains(e))
        .map(|e| format!("- {}", line(e)))
        .collect();
    diff.extend(
        desired
            .iter()
            .filter(|e| !current.contains(e))
            .map(|e| format!("+ {}", line(e))),
    );
    Ok(Plan {
        path: path.to_owned(),
        current,
        desired,
        diff,
        fingerprint: digest(&original),
        original,
        new_text,
    })
}

/// The plan a front end showed (`desired`, computed from the file with `fingerprint`), again:
/// refused when the file changed since, so what is written is what was shown.
pub fn shown_plan(path: &Path, desired: Vec<HostEntry>, fingerprint: &str) -> Result<Plan> {
    let plan = plan(path, desired)?;
    if plan.fingerprint != fingerprint {
        return Err(HostsError::Changed {
            path: path.to_owned(),
        });
    }
    Ok(plan)
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum WriteOutcome {
    Unchanged,
    Written { backup: PathBuf },
}

/// Where the original file is kept: the version before Slipway's first write, never overwritten.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".slipway-backup");
    PathBuf::from(p)
}

/// Where the version before the latest write is kept.
pub fn previous_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".slipway-previous");
    PathBuf::from(p)
}

fn digest(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

impl Plan {
    /// Fingerprint of the content this plan was computed from (for the elevated writer).
    pub fn expected(&self) -> String {
        self.fingerprint.clone()
    }

    pub fn new_text(&self) -> &[u8] {
        &self.new_text
    }
}

/// Write the plan. Permission problems come back as [`HostsError::NotWritable`] so the caller
/// can elevate ([`elevate::write_elevated`]) or show the block to add by hand.
pub fn write(plan: &Plan) -> Result<WriteOutcome> {
    if !plan.changes() {
        return Ok(WriteOutcome::Unchanged);
    }
    write_checked(&plan.path, &plan.new_text, &plan.expected()).map_err(|e| match e {
        HostsError::Write { path, source }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            HostsError::NotWritable {
                path,
                source,
                block: plan.block(),
            }
        }
        other => other,
    })
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "result", rename_all = "camelCase")]
#[ts(export)]
pub enum Applied {
    Unchanged,
    Written {
        #[ts(as = "String")]
        backup: PathBuf,
    },
    /// Written by `exe` under the system's administrator prompt.
    Elevated,
}

/// Write the plan, asking the system for administrator rights (only for the write, through
/// `exe hosts write-file`) when the file is not writable and a prompt is possible here;
/// `interactive_terminal`: sudo on the terminal is possible. Otherwise the error carries the block
/// to add by hand.
pub fn apply(plan: &Plan, interactive_terminal: bool, exe: &Path) -> Result<Applied> {
    match write(plan) {
        Ok(WriteOutcome::Unchanged) => Ok(Applied::Unchanged),
        Ok(WriteOutcome::Written { backup }) => Ok(Applied::Written { backup }),
        Err(HostsError::NotWritable {
            path,
            source,
            block,
        }) => match elevate::choose(interactive_terminal) {
            Some(elevator) => {
                elevate::write_elevated(plan, &elevator, exe).map(|()| Applied::Elevated)
            }
            None => Err(HostsError::NotWritable {
                path,
                source,
                block,
            }),
        },
        Err(e) => Err(e),
    }
}

/// Replace `path` with `content` if it still has the fingerprint `expected`; keep a backup and
/// the file's mode and owner. Also what the elevated `slipway hosts write-file` runs.
pub fn write_checked(path: &Path, content: &[u8], expected: &str) -> Result<WriteOutcome> {
    let werr = |source| HostsError::Write {
        path: path.to_owned(),
        source,
    };
    let current = read(path)?;
    if digest(&current) != expected {
        return Err(HostsError::Changed {
            path: path.to_owned(),
        });
    }
    if current == content {
        return Ok(WriteOutcome::Unchanged);
    }
    let meta = fs::metadata(path).ok();
    let backup = backup_path(path);
    if let Some(m) = &meta {
        let mut kept = vec![previous_path(path)];
        if !backup.exists() {
            kept.push(backup.clone());
        }
        for copy in kept {
            fs::write(&copy, &current).map_err(werr)?;
            copy_ownership(m, &copy);
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    /// Why the swap did not happen.
    enum Swap {
        Changed,
        Io(std::io::Error),
    }
    let replaced = (|| -> std::result::Result<(), Swap> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".slipway-hosts")
            .tempfile_in(dir)
            .map_err(Swap::Io)?;
        tmp.write_all(content).map_err(Swap::Io)?;
        tmp.as_file().sync_all().map_err(Swap::Io)?;
        if let Some(m) = &meta {
            fs::set_permissions(tmp.path(), m.permissions()).map_err(Swap::Io)?;
            copy_ownership(m, tmp.path());
        }
        // Last look before the swap: refuse if someone wrote meanwhile.
        let now = fs::read(path).unwrap_or_default();
        if digest(&now) != expected {
            return Err(Swap::Changed);
        }
        tmp.persist(path).map_err(|e| Swap::Io(e.error))?;
        Ok(())
    })();
    match replaced {
        Ok(()) => {}
        Err(Swap::Changed) => {
            return Err(HostsError::Changed {
                path: path.to_owned(),
            });
        }
        // A bind-mounted or locked file cannot be replaced: write it in place instead.
        Err(Swap::Io(e))
            if matches!(e.raw_os_error(), Some(16 | 18))
                || e.kind() == std::io::ErrorKind::ResourceBusy =>
        {
            fs::write(path, content).map_err(werr)?;
        }
        Err(Swap::Io(e)) => return Err(werr(e)),
    }
    Ok(WriteOutcome::Written { backup })
}

#[cfg(unix)]
fn copy_ownership(meta: &fs::Metadata, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    // Only root can give a file away; for anyone else the owner is already right.
    let _ = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()));
}

#[cfg(not(unix))]
fn copy_ownership(_: &fs::Metadata, _: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        let mut n = platform_hosts("local");
        n.push("shop.local".into());
        n
    }

    #[test]
    fn a_name_is_listed_only_when_a_line_maps_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts");
        std::fs::write(
            &path,
            b"127.0.0.1 localhost\n# 127.0.0.1 shop.local\n127.0.0.1 argocd.local Backstage.local # x\n\xe9\n",
        )
        .expect("write");
        assert!(listed(&path, "argocd.local") && listed(&path, "backstage.local"));
        assert!(!listed(&path, "shop.local"), "a comment maps nothing");
        assert!(!listed(&path, "127.0.0.1"), "the address is no name");
        assert!(!listed(&dir.path().join("missing"), "argocd.local"));
    }

    #[test]
    fn apply_twice_changes_nothing_and_the_backup_restores_the_original() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts");
        let original = "127.0.0.1 localhost\n# keep me\n";
        fs::write(&path, original).expect("seed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let p = plan(&path, entries_for(&names(), true)).expect("plan");
        assert_eq!(p.diff.len(), 2, "{:?}", p.diff);
        assert!(matches!(
            write(&p).expect("write"),
            WriteOutcome::Written { .. }
        ));
        let written = fs::read_to_string(&path).expect("read");
        assert!(written.starts_with(original));
        assert!(
            written.contains("127.0.0.1 argocd.local backstage.local grafana.local shop.local")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
                0o644,
                "mode kept"
            );
        }
        let again = plan(&path, entries_for(&names(), true)).expect("plan");
        assert!(!again.changes() && again.diff.is_empty());
        assert_eq!(write(&again).expect("write"), WriteOutcome::Unchanged);
        assert_eq!(
            fs::read_to_string(backup_path(&path)).expect("backup"),
            original,
            "backup holds the original"
        );

        let removed = plan(&path, Vec::new()).expect("plan remove");
        write(&removed).expect("remove");
        assert_eq!(fs::read_to_string(&path).expect("read"), original);
    }

    #[test]
    fn a_file_changed_after_reading_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts");
        fs::write(&path, "127.0.0.1 localhost\n").expect("seed");
        let p = plan(&path, entries_for(&names(), false)).expect("plan");
        fs::write(
            &path,
            "127.0.0.1 localhost\n10.1.1.1 added.by.someone.else\n",
        )
        .expect("concurrent edit");
        let err = write(&p).expect_err("must refuse");
        assert!(matches!(err, HostsError::Changed { .. }), "{err}");
        assert!(
            fs::read_to_string(&path)
                .expect("read")
                .contains("added.by.someone.else")
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_file_reports_the_block_to_add() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("hosts");
        fs::write(&path, "127.0.0.1 localhost\n").expect("seed");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).expect("chmod dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).expect("chmod file");
        let p = plan(&path, entries_for(&names(), false)).expect("plan");
        let result = write(&p);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("restore");
        if rustix::process::geteuid().is_root() {
            // Root ignores permission bits; the write simply succeeds.
            assert!(result.is_ok());
            return;
        }
        let err = result.expect_err("read-only");
        assert!(matches!(err, HostsError::NotWritable { .. }), "{err}");
        assert!(
            err.to_string().contains("# BEGIN slipway") && err.to_string().contains("argocd.local"),
            "{err}"
        );
    }

    #[test]
    fn entries_are_sorted_deduplicated_and_ipv6_optional() {
        let e = entries_for(
            &["b.local".into(), "A.local".into(), "b.local".into()],
            true,
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].names, ["a.local", "b.local"]);
        assert_eq!(e[1].address, "::1");
        assert!(entries_for(&[], true).is_empty());
        assert_eq!(
            platform_hosts(".dev.test"),
            ["argocd.dev.test", "backstage.dev.test", "grafana.dev.test"]
        );
    }
}
