//! The certificate stores browsers and tools read, per OS, and how Slipway's CA goes into and
//! out of each (facts from each tool's documentation; the programs are called with argv arrays):
//! - Linux's system store: a PEM file in the distribution's anchor folder, then its refresh
//!   command (Debian/Ubuntu `/usr/local/share/ca-certificates/*.crt` + `update-ca-certificates`,
//!   which takes only `.crt` files; Fedora/RHEL `/etc/pki/ca-trust/source/anchors` +
//!   `update-ca-trust extract`; Arch `/etc/ca-certificates/trust-source/anchors` + `trust
//!   extract-compat`; openSUSE `/etc/pki/trust/anchors` + `update-ca-certificates`).
//! - NSS databases (Firefox profiles, and Chromium's `~/.pki/nssdb` on Linux): `certutil -A -t
//!   "C,,"` (a CA trusted to issue server certificates), found by `cert9.db` (`sql:`) or
//!   `cert8.db` (`dbm:`), deleted by nickname with `certutil -D`.
//! - macOS: the login keychain, `security add-trusted-cert -r trustRoot` (the system asks for the
//!   user's password to change trust settings), `security delete-certificate -Z <SHA-1>`.
//! - Windows: the CurrentUser Root store, `certutil -user -addstore Root` (Windows shows its own
//!   confirmation), `certutil -user -delstore Root <SHA-1>`.
//!
//! Slipway finds its CA by fingerprint everywhere: uninstall removes only a certificate whose
//! SHA-256 is the CA's, never another with a similar name.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::TrustError;
use super::ca::CaCert;

/// Where a machine's stores are: `/` and the user's home, or a test's stand-ins for both.
#[derive(Debug, Clone)]
pub struct Host {
    /// The file-system root the system store's paths are under (`/` but in tests).
    pub root: PathBuf,
    pub home: PathBuf,
}

impl Host {
    /// `/` and `$HOME`; `SLIPWAY_TRUST_ROOT` puts the system store's paths under another root
    /// (a test-only switch: the tests' stand-in for `/`).
    pub fn this_machine() -> Self {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        Self {
            root: std::env::var_os("SLIPWAY_TRUST_ROOT")
                .map_or_else(|| PathBuf::from("/"), PathBuf::from),
            home,
        }
    }

    fn relocated(&self) -> bool {
        self.root != Path::new("/")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum StoreKind {
    /// The OS's system store (Linux's anchors folder).
    System,
    /// An NSS database (a Firefox profile, Chromium on Linux).
    Nss,
    /// macOS's login keychain.
    Keychain,
    /// Windows' CurrentUser Root store.
    Windows,
}

/// One store on this machine.
#[derive(Debug, Clone)]
pub struct Store {
    pub kind: StoreKind,
    /// What a person calls it ("system (Debian ca-certificates)", "Firefox profile x.default").
    pub name: String,
    pub location: PathBuf,
    how: How,
}

#[derive(Debug, Clone)]
enum How {
    /// A distribution's anchors folder and the command that rebuilds the bundle from it, after
    /// an addition and after a removal.
    Anchors {
        refresh: Vec<OsString>,
        refresh_removed: Vec<OsString>,
    },
    /// `sql:DIR` or `dbm:DIR`, and the certutil to use (None: not installed).
    Nss {
        db: String,
        certutil: Option<PathBuf>,
    },
    Keychain,
    Windows,
}

/// Whether the CA is in a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", tag = "state")]
#[ts(export)]
pub enum StoreState {
    Installed,
    Absent,
    /// The store cannot be read or changed here; the fix says what to do.
    Unavailable {
        reason: String,
        fix: String,
    },
}

/// The stores of this machine that browsers and tools read.
pub fn discover(host: &Host) -> Vec<Store> {
    let mut stores = Vec::new();
    if cfg!(target_os = "linux") {
        stores.extend(linux_system(host));
    }
    if cfg!(target_os = "macos") {
        stores.push(Store {
            kind: StoreKind::Keychain,
            name: "login keychain".into(),
            location: login_keychain(host),
            how: How::Keychain,
        });
    }
    if cfg!(windows) {
        stores.push(Store {
            kind: StoreKind::Windows,
            name: "Windows CurrentUser Root".into(),
            location: PathBuf::from("Cert:\\CurrentUser\\Root"),
            how: How::Windows,
        });
    } else {
        stores.extend(nss(host));
    }
    stores
}

/// The distribution's anchors folder, the first that exists (Debian's family first: its
/// `update-ca-certificates` is also openSUSE's name, with another folder).
fn linux_system(host: &Host) -> Option<Store> {
    let under = |p: &str| host.root.join(p.trim_start_matches('/'));
    let families: [(&str, &str, &[&str]); 4] = [
        (
            "Debian ca-certificates",
            "/usr/local/share/ca-certificates",
            &["update-ca-certificates"],
        ),
        (
            "Fedora/RHEL ca-trust",
            "/etc/pki/ca-trust/source/anchors",
            &["update-ca-trust", "extract"],
        ),
        (
            "Arch p11-kit",
            "/etc/ca-certificates/trust-source/anchors",
            &["trust", "extract-compat"],
        ),
        (
            "openSUSE ca-certificates",
            "/etc/pki/trust/anchors",
            &["update-ca-certificates"],
        ),
    ];
    let (name, dir, refresh) = families
        .into_iter()
        .find(|(_, dir, _)| under(dir).is_dir())?;
    let mut refresh: Vec<OsString> = refresh.iter().map(OsString::from).collect();
    if host.relocated() && name.starts_with("Debian") {
        // Debian's script takes each of its paths as a flag: the same refresh on a stand-in root.
        for (flag, path) in [
            ("--localcertsdir", dir),
            ("--certsdir", "/usr/share/ca-certificates"),
            ("--etccertsdir", "/etc/ssl/certs"),
            ("--certsconf", "/etc/ca-certificates.conf"),
            ("--hooksdir", "/etc/ca-certificates/update.d"),
        ] {
            refresh.push(flag.into());
            refresh.push(under(path).into());
        }
    }
    // Debian's script links and bundles what it finds, but a removed file's links stay behind
    // unless it starts afresh (`--fresh` clears its links and makes them all again).
    let mut refresh_removed = refresh.clone();
    if refresh[0] == "update-ca-certificates" && name.starts_with("Debian") {
        refresh_removed.insert(1, "--fresh".into());
    }
    Some(Store {
        kind: StoreKind::System,
        name: format!("system ({name})"),
        location: under(dir),
        how: How::Anchors {
            refresh,
            refresh_removed,
        },
    })
}

/// Every NSS database a browser of this user reads: Chromium's shared one and each Firefox
/// profile (native, snap and flatpak installs).
fn nss(host: &Host) -> Vec<Store> {
    let certutil = which::which("certutil").ok();
    let mut candidates = vec![
        (
            "Chromium/Chrome (NSS)".to_owned(),
            host.home.join(".pki/nssdb"),
        ),
        (
            "Chromium snap (NSS)".to_owned(),
            host.home.join("snap/chromium/current/.pki/nssdb"),
        ),
        // Chromium 146 and later, when ~/.pki/nssdb does not exist.
        (
            "Chromium (NSS, XDG)".to_owned(),
            host.home.join(".local/share/pki/nssdb"),
        ),
    ];
    for profiles in [
        ".mozilla/firefox",
        // Firefox 147 and later (XDG layout).
        ".config/mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
        "Library/Application Support/Firefox/Profiles",
    ] {
        let Ok(entries) = std::fs::read_dir(host.home.join(profiles)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let profile = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            candidates.push((format!("Firefox profile {profile}"), dir));
        }
    }
    candidates
        .into_iter()
        .filter_map(|(name, dir)| {
            let db = if dir.join("cert9.db").is_file() {
                format!("sql:{}", dir.display())
            } else if dir.join("cert8.db").is_file() {
                format!("dbm:{}", dir.display())
            } else {
                return None;
            };
            Some(Store {
                kind: StoreKind::Nss,
                name,
                location: dir,
                how: How::Nss {
                    db,
                    certutil: certutil.clone(),
                },
            })
        })
        .collect()
}

fn login_keychain(host: &Host) -> PathBuf {
    host.home.join("Library/Keychains/login.keychain-db")
}

/// What the CA's file is called in an anchors folder; `.crt`, the one extension Debian's
/// `update-ca-certificates` reads.
fn anchor_file(ca: &CaCert) -> String {
    format!("slipway-local-ca-{}.crt", &ca.sha256()[..16])
}

/// The CA's nickname in NSS databases (unique per CA, so two CAs never collide).
fn nickname(ca: &CaCert) -> String {
    format!("Slipway local CA {}", &ca.sha256()[..16])
}

const NSS_FIX: &str = "install NSS's certutil (Debian/Ubuntu: libnss3-tools, Fedora: nss-tools, Arch: nss, macOS: brew install nss), then run `slipway trust install` again";

impl Store {
    pub fn state(&self, ca: &CaCert) -> StoreState {
        match &self.how {
            How::Anchors { .. } => {
                if anchors_holding(&self.location, ca).is_empty() {
                    StoreState::Absent
                } else {
                    StoreState::Installed
                }
            }
            How::Nss { db, certutil } => {
                let Some(certutil) = certutil else {
                    return StoreState::Unavailable {
                        reason: "certutil is not installed".into(),
                        fix: NSS_FIX.into(),
                    };
                };
                if nss_holds(certutil, db, &nickname(ca), ca) {
                    StoreState::Installed
                } else {
                    StoreState::Absent
                }
            }
            How::Keychain => match output(&[
                "/usr/bin/security".into(),
                "find-certificate".into(),
                "-a".into(),
                "-Z".into(),
                self.location.clone().into(),
            ]) {
                Ok(listing) if listing.contains(&ca.sha1()) => StoreState::Installed,
                Ok(_) => StoreState::Absent,
                Err(reason) => StoreState::Unavailable {
                    reason,
                    fix: "unlock the login keychain and try again".into(),
                },
            },
            How::Windows => {
                match output(&windows_certutil(&["-user", "-store", "Root", &ca.sha1()])) {
                    Ok(_) => StoreState::Installed,
                    Err(_) => StoreState::Absent,
                }
            }
        }
    }

    /// Put the CA in; nothing is written when it is there already. Linux's system store needs
    /// root: with `elevated`, its change runs as `slipway trust system-store …` under the OS's
    /// prompt instead (the caller's helper).
    pub fn install(&self, ca: &CaCert, elevated: Option<&Elevated>) -> Result<bool, TrustError> {
        if self.state(ca) == StoreState::Installed {
            return Ok(false);
        }
        let failed = |reason: String| self.failed(reason);
        match &self.how {
            How::Anchors { refresh, .. } => {
                if let Some(elevated) = elevated.filter(|_| !writable(&self.location)) {
                    let file = tempfile::Builder::new()
                        .suffix(".crt")
                        .tempfile()
                        .map_err(|e| failed(e.to_string()))?;
                    std::fs::write(file.path(), ca.pem()).map_err(|e| failed(e.to_string()))?;
                    elevated.run(&["install".into(), "--cert".into(), file.path().into()])?;
                } else {
                    write_anchor(&self.location.join(anchor_file(ca)), ca.pem())
                        .map_err(|e| failed(e.to_string()))?;
                    output(refresh).map_err(failed)?;
                }
            }
            How::Nss { db, certutil } => {
                let certutil = certutil.as_ref().ok_or_else(|| TrustError::Store {
                    store: self.name.clone(),
                    reason: "certutil is not installed".into(),
                    fix: NSS_FIX.into(),
                })?;
                let file = pem_file(ca).map_err(|e| failed(e.to_string()))?;
                output(&[
                    certutil.into(),
                    "-A".into(),
                    "-d".into(),
                    db.into(),
                    "-t".into(),
                    "C,,".into(),
                    "-n".into(),
                    nickname(ca).into(),
                    "-i".into(),
                    file.path().into(),
                ])
                .map_err(failed)?;
            }
            How::Keychain => {
                let file = pem_file(ca).map_err(|e| failed(e.to_string()))?;
                output(&[
                    "/usr/bin/security".into(),
                    "add-trusted-cert".into(),
                    "-r".into(),
                    "trustRoot".into(),
                    "-k".into(),
                    self.location.clone().into(),
                    file.path().into(),
                ])
                .map_err(failed)?;
            }
            How::Windows => {
                let file = pem_file(ca).map_err(|e| failed(e.to_string()))?;
                let path = file.path().to_string_lossy().into_owned();
                output(&windows_certutil(&["-user", "-addstore", "Root", &path]))
                    .map_err(failed)?;
            }
        }
        Ok(true)
    }

    /// Take out exactly what [`Store::install`] put in: the certificate whose fingerprint is the
    /// CA's. `false` when it was not there.
    pub fn uninstall(&self, ca: &CaCert, elevated: Option<&Elevated>) -> Result<bool, TrustError> {
        if self.state(ca) != StoreState::Installed {
            return Ok(false);
        }
        let failed = |reason: String| self.failed(reason);
        match &self.how {
            How::Anchors { .. } => {
                if let Some(elevated) = elevated.filter(|_| !writable(&self.location)) {
                    elevated.run(&["uninstall".into(), "--sha256".into(), ca.sha256().into()])?;
                } else {
                    remove_anchors(self, &ca.sha256())?;
                }
            }
            How::Nss { db, certutil } => {
                let Some(certutil) = certutil else {
                    return Ok(false);
                };
                // A nickname can name several certificates; delete while ours is among them.
                while nss_holds(certutil, db, &nickname(ca), ca) {
                    output(&[
                        certutil.into(),
                        "-D".into(),
                        "-d".into(),
                        db.into(),
                        "-n".into(),
                        nickname(ca).into(),
                    ])
                    .map_err(failed)?;
                }
            }
            How::Keychain => {
                output(&[
                    "/usr/bin/security".into(),
                    "delete-certificate".into(),
                    "-Z".into(),
                    ca.sha1().into(),
                    "-t".into(),
                    self.location.clone().into(),
                ])
                .map_err(failed)?;
            }
            How::Windows => {
                output(&windows_certutil(&[
                    "-user",
                    "-delstore",
                    "Root",
                    &ca.sha1(),
                ]))
                .map_err(failed)?;
            }
        }
        Ok(true)
    }

    fn failed(&self, reason: String) -> TrustError {
        TrustError::Store {
            store: self.name.clone(),
            reason,
            fix: match self.kind {
                StoreKind::System => "run it again from a terminal (sudo asks there) or as root",
                StoreKind::Nss => "close the browser using that profile and run it again",
                StoreKind::Keychain => "answer the password prompt, or unlock the login keychain",
                StoreKind::Windows => "answer Windows' confirmation with Yes",
            }
            .into(),
        }
    }
}

/// Running the system store's change as root through the OS's prompt: `<slipway> trust
/// system-store <args>` (the caller's binary, which repeats the discovery itself as root).
pub struct Elevated {
    pub exe: PathBuf,
    pub elevator: crate::hosts::elevate::Elevator,
}

impl Elevated {
    fn run(&self, args: &[OsString]) -> Result<(), TrustError> {
        let mut helper: Vec<OsString> = vec![
            self.exe.clone().into(),
            "trust".into(),
            "system-store".into(),
        ];
        helper.extend(args.iter().cloned());
        let argv = crate::hosts::elevate::command(&self.elevator, &helper);
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .status()
            .map_err(|e| TrustError::Elevation(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            Err(TrustError::Elevation(format!(
                "the elevated helper ended with {status}"
            )))
        }
    }
}

/// The system store's change itself (what the elevated helper runs as root).
pub fn system_install(host: &Host, ca_pem: &str) -> Result<bool, TrustError> {
    let ca = CaCert::from_pem(ca_pem)?;
    let store = linux_system(host).ok_or(TrustError::NoSystemStore)?;
    store.install(&ca, None)
}

/// Remove the anchors holding the certificate of this SHA-256 and refresh (as root).
pub fn system_uninstall(host: &Host, sha256: &str) -> Result<bool, TrustError> {
    let store = linux_system(host).ok_or(TrustError::NoSystemStore)?;
    remove_anchors(&store, sha256)
}

fn remove_anchors(store: &Store, sha256: &str) -> Result<bool, TrustError> {
    let How::Anchors {
        refresh_removed, ..
    } = &store.how
    else {
        return Ok(false);
    };
    let ours: Vec<PathBuf> = anchor_files(&store.location)
        .into_iter()
        .filter(|(_, fp)| fp.eq_ignore_ascii_case(sha256))
        .map(|(p, _)| p)
        .collect();
    if ours.is_empty() {
        return Ok(false);
    }
    for file in ours {
        std::fs::remove_file(&file).map_err(|e| store.failed(e.to_string()))?;
    }
    output(refresh_removed).map_err(|r| store.failed(r))?;
    Ok(true)
}

/// Slipway's anchor files in a folder with the SHA-256 of the certificate each holds.
fn anchor_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("slipway-local-ca-") && n.ends_with(".crt"))
        })
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let fp = CaCert::from_pem(&text).ok()?.sha256();
            Some((p, fp))
        })
        .collect()
}

fn anchors_holding(dir: &Path, ca: &CaCert) -> Vec<PathBuf> {
    let ours = ca.sha256();
    anchor_files(dir)
        .into_iter()
        .filter(|(_, fp)| *fp == ours)
        .map(|(p, _)| p)
        .collect()
}

/// Write an anchor atomically (readable by all, as the system store must be).
fn write_anchor(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(pem.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn writable(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

/// Whether the database's certificate(s) of that nickname include the CA (by fingerprint).
fn nss_holds(certutil: &Path, db: &str, nick: &str, ca: &CaCert) -> bool {
    let Ok(pem) = output(&[
        certutil.into(),
        "-L".into(),
        "-d".into(),
        db.into(),
        "-n".into(),
        nick.into(),
        "-a".into(),
    ]) else {
        return false;
    };
    super::ca::pem_blocks(&pem)
        .into_iter()
        .filter_map(|(_, der)| CaCert::from_der(der).ok())
        .any(|c| c.sha256() == ca.sha256())
}

fn pem_file(ca: &CaCert) -> std::io::Result<tempfile::NamedTempFile> {
    let file = tempfile::Builder::new()
        .prefix("slipway-ca-")
        .suffix(".pem")
        .tempfile()?;
    std::fs::write(file.path(), ca.pem())?;
    Ok(file)
}

/// Windows' own certutil, by absolute path (NSS's tool has the same name).
fn windows_certutil(args: &[&str]) -> Vec<OsString> {
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
    let mut argv = vec![
        PathBuf::from(root)
            .join("System32")
            .join("certutil.exe")
            .into_os_string(),
    ];
    argv.extend(args.iter().map(OsString::from));
    argv
}

/// Run a program; its stdout when it succeeds, else what it said.
fn output(argv: &[OsString]) -> Result<String, String> {
    let program = argv.first().ok_or_else(|| "no program".to_owned())?;
    let out = Command::new(program)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.to_string_lossy()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = if said.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            said
        };
        Err(format!(
            "{} ended with {}: {}",
            program.to_string_lossy(),
            out.status,
            said.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_family_refresh_is_relocated_with_the_root_and_plain_on_the_machine() {
        let root = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(root.path().join("usr/local/share/ca-certificates")).expect("dir");
        let host = Host {
            root: root.path().into(),
            home: root.path().join("home"),
        };
        let store = linux_system(&host).expect("found");
        let How::Anchors {
            refresh,
            refresh_removed,
        } = &store.how
        else {
            panic!("anchors")
        };
        assert_eq!(refresh_removed[1], "--fresh", "a removal starts afresh");
        assert_eq!(refresh[0], "update-ca-certificates");
        let etc = root.path().join("etc/ssl/certs");
        assert!(
            refresh
                .windows(2)
                .any(|w| w[0] == "--etccertsdir" && w[1] == etc.as_os_str()),
            "{refresh:?}"
        );
        assert_eq!(
            store.location,
            root.path().join("usr/local/share/ca-certificates")
        );
    }

    #[test]
    fn nss_databases_are_found_by_their_files_in_every_browser_layout() {
        let home = tempfile::tempdir().expect("tmp");
        for (dir, file) in [
            (".pki/nssdb", "cert9.db"),
            (".mozilla/firefox/abc.default-release", "cert9.db"),
            (
                "snap/firefox/common/.mozilla/firefox/snap.default",
                "cert9.db",
            ),
            (".mozilla/firefox/old.default", "cert8.db"),
            (".mozilla/firefox/Crash Reports", "other"),
        ] {
            std::fs::create_dir_all(home.path().join(dir)).expect("dir");
            std::fs::write(home.path().join(dir).join(file), b"").expect("file");
        }
        let stores = nss(&Host {
            root: "/".into(),
            home: home.path().into(),
        });
        let names: Vec<&str> = stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Chromium/Chrome (NSS)",
                "Firefox profile abc.default-release",
                "Firefox profile old.default",
                "Firefox profile snap.default"
            ]
        );
        let dbs: Vec<String> = stores
            .iter()
            .filter_map(|s| match &s.how {
                How::Nss { db, .. } => Some(db[..4].to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(dbs, ["sql:", "sql:", "dbm:", "sql:"]);
    }

    #[test]
    fn windows_and_macos_commands_address_the_ca_by_its_thumbprint() {
        let argv = windows_certutil(&["-user", "-delstore", "Root", "AB12"]);
        assert!(argv[0].to_string_lossy().ends_with("certutil.exe"));
        assert_eq!(&argv[1..], ["-user", "-delstore", "Root", "AB12"]);
    }
}
