//! `slipway trust` against real stores on stand-ins for this machine's: Debian's real
//! `update-ca-certificates` relocated under a temporary root (`SLIPWAY_TRUST_ROOT`) holding a few
//! of the system's CAs, and real NSS databases (Debian's `libnss3-tools` certutil) in a temporary
//! home: Chromium's `~/.pki/nssdb` and a Firefox profile. Install puts the CA in each store
//! (the bundle Debian's tools read holds it, NSS trusts it for servers); uninstall restores the
//! system store byte for byte and leaves NSS listing exactly what it listed before; others'
//! certificates, even one in a file named like Slipway's, are never touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn certutil() -> PathBuf {
    which::which("certutil").unwrap_or_else(|_| {
        panic!("certutil is missing: install Debian's libnss3-tools (scripts/setup.sh does)")
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file's bytes and every link's target under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).expect("under").to_owned();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).expect("link").display()),
                );
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    rel,
                    String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned(),
                );
            }
        }
    }
    out
}

/// A stand-in root with three of this machine's CAs, as Debian lays them out and as
/// `update-ca-certificates` leaves them.
fn system_root(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let mozilla = root.join("usr/share/ca-certificates/mozilla");
    std::fs::create_dir_all(&mozilla).expect("dir");
    for d in [
        "usr/local/share/ca-certificates",
        "etc/ssl/certs",
        "etc/ca-certificates/update.d",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("dir");
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir("/usr/share/ca-certificates/mozilla")
        .expect("Debian's ca-certificates")
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    let mut conf = String::new();
    for src in names.iter().take(3) {
        let name = src.file_name().expect("name");
        std::fs::copy(src, mozilla.join(name)).expect("copy");
        conf.push_str(&format!("mozilla/{}\n", name.to_string_lossy()));
    }
    std::fs::write(root.join("etc/ca-certificates.conf"), conf).expect("conf");
    root
}

fn nss_db(dir: &Path) -> String {
    std::fs::create_dir_all(dir).expect("dir");
    let db = format!("sql:{}", dir.display());
    run(Command::new(certutil()).args(["-N", "-d", &db, "--empty-password"]));
    db
}

fn nss_listing(db: &str) -> String {
    run(Command::new(certutil()).args(["-L", "-d", db]))
}

/// A CA that is not Slipway's, as PEM.
fn other_ca(name: &str) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("sign").pem()
}

struct Machine {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    state: PathBuf,
}

impl Machine {
    /// The real binary on this stand-in machine: (succeeded, stdout, stderr).
    fn slipway(&self, args: &[&str]) -> (bool, String, String) {
        let run = slipway_e2e::Run::of(
            slipway_e2e::slipway()
                .args(args)
                .env("HOME", &self.home)
                .env("SLIPWAY_TRUST_ROOT", &self.root)
                .env("XDG_STATE_HOME", &self.state)
                .env_remove("DISPLAY")
                .env_remove("WAYLAND_DISPLAY")
                .stdin(std::process::Stdio::null()),
        );
        (run.ok, run.stdout, run.stderr)
    }
}

#[test]
fn install_trusts_the_ca_everywhere_and_uninstall_restores_every_store() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = system_root(dir.path());
    let home = dir.path().join("home");
    let chromium = nss_db(&home.join(".pki/nssdb"));
    let firefox = nss_db(&home.join(".mozilla/firefox/x1y2z3.default-release"));
    // Someone else's CAs: one in Firefox, one in the anchors folder under a name like Slipway's.
    let corp = dir.path().join("corp.pem");
    std::fs::write(&corp, other_ca("Corp Root CA")).expect("write");
    run(Command::new(certutil())
        .args(["-A", "-d", &firefox, "-t", "C,,", "-n", "Corp Root CA"])
        .arg("-i")
        .arg(&corp));
    let anchors = root.join("usr/local/share/ca-certificates");
    std::fs::write(
        anchors.join("slipway-local-ca-0000000000000000.crt"),
        other_ca("An older Slipway CA"),
    )
    .expect("write");
    let update = |fresh: bool| {
        let mut cmd = Command::new("update-ca-certificates");
        if fresh {
            cmd.arg("--fresh");
        }
        for (flag, path) in [
            ("--localcertsdir", "usr/local/share/ca-certificates"),
            ("--certsdir", "usr/share/ca-certificates"),
            ("--etccertsdir", "etc/ssl/certs"),
            ("--certsconf", "etc/ca-certificates.conf"),
            ("--hooksdir", "etc/ca-certificates/update.d"),
        ] {
            cmd.arg(flag).arg(root.join(path));
        }
        run(&mut cmd);
    };
    update(true);
    let system_before = snapshot(&root);
    let (chromium_before, firefox_before) = (nss_listing(&chromium), nss_listing(&firefox));
    let m = Machine {
        _dir: dir,
        root: root.clone(),
        home: home.clone(),
        state: home.join("state"),
    };

    let (ok, out, err) = m.slipway(&["trust", "install"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("Made the local CA"), "{err}");
    for store in [
        "system (Debian ca-certificates)",
        "Chromium/Chrome (NSS)",
        "Firefox profile x1y2z3.default-release",
    ] {
        assert!(
            err.contains(&format!("{store}: now trusts the local CA")),
            "{err}"
        );
    }
    let (ok, pem, err) = m.slipway(&["trust", "ca"]);
    assert!(
        ok && pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{pem}{err}"
    );
    assert!(
        !pem.contains("PRIVATE KEY"),
        "the key is only printed to a file on request"
    );
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let bundle =
        std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).expect("bundle");
    assert!(
        bundle.lines().collect::<String>().contains(&body),
        "the bundle Debian's tools read holds the CA"
    );
    let (ok, json, err) = m.slipway(&["trust", "status", "-o", "json"]);
    assert!(ok, "{err}");
    let status: serde_json::Value = serde_json::from_str(&json).expect("json");
    let states: Vec<(&str, &str)> = status["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or(""),
                s["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("system", "installed"),
            ("nss", "installed"),
            ("nss", "installed")
        ],
        "{json}"
    );
    let nick = format!(
        "Slipway local CA {}",
        &status["ca"]["sha256"].as_str().expect("sha256")[..16]
    );
    for db in [&chromium, &firefox] {
        let listing = nss_listing(db);
        let line = listing
            .lines()
            .find(|l| l.starts_with(&nick))
            .unwrap_or_else(|| panic!("{listing}"));
        assert!(
            line.trim_end().ends_with("C,,"),
            "trusted to issue server certificates: {line}"
        );
    }
    // A CA file for tools: curl and Node take it as it is printed.
    let (_, pem_again, _) = m.slipway(&["trust", "ca"]);
    assert_eq!(pem, pem_again, "one CA per machine");

    // Again: nothing changes.
    let system_installed = snapshot(&root);
    let (ok, _, err) = m.slipway(&["trust", "install"]);
    assert!(
        ok && err.matches("already trusted the local CA").count() == 3,
        "{err}"
    );
    assert_eq!(
        snapshot(&root),
        system_installed,
        "a second install writes nothing"
    );

    let (ok, out, err) = m.slipway(&["trust", "uninstall"]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        err.matches("no longer trusts the local CA").count(),
        3,
        "{err}"
    );
    let system_after = snapshot(&root);
    assert_eq!(
        system_after.keys().collect::<Vec<_>>(),
        system_before.keys().collect::<Vec<_>>(),
        "the same files and links"
    );
    assert_eq!(
        system_after, system_before,
        "the system store, byte for byte"
    );
    assert_eq!(nss_listing(&chromium), chromium_before);
    assert_eq!(nss_listing(&firefox), firefox_before, "Corp Root CA stays");
    let (ok, json, _) = m.slipway(&["trust", "status", "-o", "json"]);
    assert!(ok && json.matches("\"absent\"").count() == 3, "{json}");

    // remove-ca forgets the CA; the next install makes a new one.
    let (ok, _, err) = m.slipway(&["trust", "remove-ca"]);
    assert!(ok && err.contains("Forgot the local CA"), "{err}");
    let (ok, out, _) = m.slipway(&["trust", "status"]);
    assert!(ok && out.contains("No local CA yet"), "{out}");
    let (ok, pem_new, _) = m.slipway(&["trust", "ca"]);
    assert!(ok && pem_new != pem, "a new CA");
    let (ok, _, _) = m.slipway(&["trust", "remove-ca"]);
    assert!(ok);
}
