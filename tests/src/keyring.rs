//! A private OS keyring for the tests: its own D-Bus session bus running GNOME Keyring's Secret
//! Service, with its files in a temporary folder. Every `slipway` the tests start gets this
//! session (and only this one), so no test reads or writes the keyring of the person running
//! it, and no run sees what an earlier run left. Tests read and seed entries with libsecret's
//! `secret-tool`, the same Secret Service API Slipway uses.
//!
//! The session lives as long as the test process: the helper shell waits on its stdin, which
//! closes when the process ends, and then the bus and the keyring daemon end with it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use slipway_core::secrets::SERVICE;

/// One private Secret Service session.
pub struct PrivateKeyring {
    address: String,
    _session: Child,
    _dir: tempfile::TempDir,
}

impl PrivateKeyring {
    /// Start a new session (about a tenth of a second). Fails the test if the tools are missing.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("keyring dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("private runtime dir");
        }
        let script = "printf test-password | gnome-keyring-daemon --unlock --components=secrets \
                      >/dev/null 2>&1 || exit 90\n\
                      echo \"$DBUS_SESSION_BUS_ADDRESS\"\n\
                      exec cat >/dev/null";
        let mut session = Command::new("dbus-run-session")
            .args(["--", "sh", "-c", script])
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "dbus-run-session (Debian dbus-daemon; scripts/setup.sh installs it with gnome-keyring)",
            );
        let mut line = String::new();
        BufReader::new(session.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the session's address");
        let address = line.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "gnome-keyring-daemon did not start on the private bus (got {address:?})"
        );
        Self {
            address,
            _session: session,
            _dir: dir,
        }
    }

    /// The session every test of this process shares (accounts are per test: each test has
    /// its own cluster name and fake GitHub URL).
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<PrivateKeyring> = OnceLock::new();
        SHARED.get_or_init(Self::start)
    }

    /// The session bus's address (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `command` with this session as its only keyring.
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }

    fn secret_tool(&self) -> Command {
        let mut c = Command::new("secret-tool");
        self.apply(&mut c);
        c
    }

    /// Keep `secret` under Slipway's service and `account`, as Slipway itself would.
    pub fn set(&self, account: &str, secret: &str) {
        let mut child = self
            .secret_tool()
            .args([
                "store", "--label", account, "service", SERVICE, "username", account,
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("secret-tool (Debian libsecret-tools; scripts/setup.sh installs it)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(secret.as_bytes())
            .expect("write the secret");
        assert!(
            child.wait().expect("secret-tool").success(),
            "secret-tool store"
        );
    }

    /// The secret under `account`, if any.
    pub fn get(&self, account: &str) -> Option<String> {
        let out = self
            .secret_tool()
            .args(["lookup", "service", SERVICE, "username", account])
            .output()
            .expect("secret-tool (Debian libsecret-tools; scripts/setup.sh installs it)");
        (out.status.success() && !out.stdout.is_empty())
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// SIMULATED Windows Credential Manager, as far as Slipway relies on it: an in-memory store (on
/// keyring-core's mock) that refuses any password whose UTF-16 form exceeds 2,560 bytes, the
/// `CRED_MAX_CREDENTIAL_BLOB_SIZE` (5 × 512) that `CredWriteW` enforces on `CredentialBlobSize`
/// (learn.microsoft.com, CREDENTIALW). windows-native-keyring-store stores passwords as UTF-16
/// and answers with `Error::TooLong("password encoded as UTF-16", 2560)`, as this does.
pub mod credential_manager {
    use std::any::Any;
    use std::collections::HashMap;
    use std::sync::Arc;

    use keyring_core::api::{CredentialApi, CredentialStoreApi};
    use keyring_core::{Credential, CredentialStore, Entry, Error, Result};

    pub const BLOB_LIMIT: u32 = 2560;

    pub struct Store {
        inner: Arc<keyring_core::mock::Store>,
    }

    /// A new, empty store.
    pub fn store() -> Arc<CredentialStore> {
        Arc::new(Store {
            inner: keyring_core::mock::Store::new().expect("mock store"),
        })
    }

    struct Cred {
        inner: Entry,
    }

    impl CredentialApi for Cred {
        fn set_password(&self, password: &str) -> Result<()> {
            if password.encode_utf16().count() * 2 > BLOB_LIMIT as usize {
                return Err(Error::TooLong(
                    "password encoded as UTF-16".into(),
                    BLOB_LIMIT,
                ));
            }
            self.inner.set_password(password)
        }
        fn set_secret(&self, secret: &[u8]) -> Result<()> {
            if secret.len() > BLOB_LIMIT as usize {
                return Err(Error::TooLong("secret".into(), BLOB_LIMIT));
            }
            self.inner.set_secret(secret)
        }
        fn get_secret(&self) -> Result<Vec<u8>> {
            self.inner.get_secret()
        }
        fn get_password(&self) -> Result<String> {
            self.inner.get_password()
        }
        fn delete_credential(&self) -> Result<()> {
            self.inner.delete_credential()
        }
        fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
            Ok(None)
        }
        fn get_specifiers(&self) -> Option<(String, String)> {
            self.inner.get_specifiers()
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "simulated Credential Manager entry {:?}",
                self.get_specifiers()
            )
        }
    }

    impl CredentialStoreApi for Store {
        fn vendor(&self) -> String {
            "SIMULATED Windows Credential Manager (2,560-byte blobs)".into()
        }
        fn id(&self) -> String {
            self.inner.id()
        }
        fn build(
            &self,
            service: &str,
            user: &str,
            modifiers: Option<&HashMap<&str, &str>>,
        ) -> Result<Entry> {
            let inner = self.inner.build(service, user, modifiers)?;
            Ok(Entry::new_with_credential(Arc::new(Cred { inner })))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    impl Store {
        /// How many entries hold a value (to show no part is left behind).
        pub fn stored(store: &Arc<CredentialStore>) -> usize {
            let store = store
                .as_any()
                .downcast_ref::<Store>()
                .expect("a simulated Credential Manager");
            let creds = store.inner.inner.lock().expect("mock store");
            creds
                .borrow()
                .iter()
                .filter(|c| c.inner.lock().expect("cred").borrow().secret.is_some())
                .count()
        }
    }
}
