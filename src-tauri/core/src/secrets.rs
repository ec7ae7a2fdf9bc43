//! Slipway's secrets (GitHub token, Backstage's external-access token, Sealed Secrets' escrowed
//! key) live only in the OS keyring: on Linux the desktop's Secret Service (GNOME Keyring,
//! KWallet), which keeps them across reboots, else the kernel keyring (keyutils), which needs no
//! desktop session but forgets them at reboot; the Keychain on macOS; the Credential Manager on
//! Windows. Nothing here logs or returns a secret in an error.

use std::sync::Arc;

use base64::Engine;
use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as KeyringError};

/// The keyring service name of every Slipway entry.
pub const SERVICE: &str = "dev.slipway";

/// Keyring accounts (the "user" part of an entry).
pub mod accounts {
    /// The GitHub token for one API: `github-token` for github.com, `github-token@<api>` for
    /// GitHub Enterprise (or a test fake), so connecting one never replaces the other.
    pub fn github_token(api: &str) -> String {
        let api = api.trim_end_matches('/');
        if api == crate::github::DEFAULT_API {
            "github-token".to_owned()
        } else {
            format!("github-token@{api}")
        }
    }

    /// A read-only GitHub token for one API (`slipway github connect --read-only`): what the
    /// cluster is given to read repositories with, so that nothing in it can write as the user.
    pub fn github_read_token(api: &str) -> String {
        github_token(api).replacen("github-token", "github-read-token", 1)
    }

    /// The static token Slipway presents to Backstage's API, one per cluster.
    pub fn backstage_api_token(cluster: &str) -> String {
        format!("backstage-api-token/{cluster}")
    }

    /// The GitHub OAuth app (JSON) a cluster's Backstage signs people in with.
    pub fn github_oauth_app(cluster: &str) -> String {
        format!("github-oauth-app/{cluster}")
    }

    /// Sealed Secrets' sealing keys of a cluster (JSON), kept across re-creates of that cluster.
    pub fn sealing_keys(cluster: &str) -> String {
        format!("sealed-secrets-keys/{cluster}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// There is no usable keyring; the probe's reason says why.
    #[error("no OS keyring is available ({0}); {FIX}")]
    Unavailable(String),
    /// The keyring failed on one entry. The reason is the store's message, except for errors
    /// that would quote the stored bytes (see [`store_error`]).
    #[error("the OS keyring failed on `{account}`: {reason}")]
    Store { account: String, reason: String },
    /// The OS gave no randomness for a new token.
    #[error("no randomness from the OS for a new token: {0}")]
    Random(#[from] getrandom::Error),
}

impl crate::error::Classified for SecretsError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::Random(_) => crate::error::ErrorKind::Internal,
            _ => crate::error::ErrorKind::Keyring,
        }
    }
}

#[cfg(target_os = "linux")]
const FIX: &str = "Slipway keeps tokens only there. On Linux it uses the kernel keyring: make sure the keyctl/add_key system calls are allowed (a container's seccomp profile may block them)";
#[cfg(not(target_os = "linux"))]
const FIX: &str =
    "Slipway keeps tokens only there; unlock or enable the system keychain and try again";

/// A handle on one credential store, or on the reason there is none: callers decide whether a
/// missing keyring is fatal (the GitHub token) or worth a warning (Sealed Secrets' key escrow).
#[derive(Clone)]
pub struct Keyring {
    store: Result<Arc<CredentialStore>, String>,
    /// Which store, and what that means for the user (`Secret Service`, …).
    kind: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.store {
            Ok(_) => f
                .debug_struct("Keyring")
                .field("store", &self.kind)
                .finish(),
            Err(reason) => f
                .debug_struct("Keyring")
                .field("unavailable", reason)
                .finish(),
        }
    }
}

impl Keyring {
    /// The platform's keyring, probed once (a Secret Service may be locked or absent, the kernel
    /// keyring compiled out or blocked by a container's seccomp profile).
    pub fn os() -> Self {
        #[cfg(target_os = "linux")]
        return linux();
        #[cfg(target_os = "macos")]
        return Self::probed(
            apple_native_keyring_store::keychain::Store::new().map(|s| s as Arc<CredentialStore>),
            "macOS Keychain",
        );
        #[cfg(windows)]
        return Self::probed(
            windows_native_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
            "Windows Credential Manager",
        );
    }

    fn probed(store: keyring_core::Result<Arc<CredentialStore>>, kind: &str) -> Self {
        let keyring = Self {
            store: store.map_err(|e| e.to_string()),
            kind: kind.to_owned(),
        };
        match keyring.get("probe") {
            Ok(_) => keyring,
            Err(e) => Self::unavailable(e.to_string()),
        }
    }

    /// Whether entries survive a reboot (the kernel keyring's do not).
    pub fn persists(&self) -> bool {
        self.store.is_ok() && !self.kind.starts_with(KERNEL)
    }

    /// Which store holds the secrets, and for how long (for `slipway github status`).
    pub fn describe(&self) -> String {
        match &self.store {
            Ok(_) => self.kind.clone(),
            Err(reason) => format!("none ({reason})"),
        }
    }

    /// Any store: tests use keyring-core's mock store.
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        let kind = store.vendor();
        Self {
            store: Ok(store),
            kind,
        }
    }

    /// No keyring, for `reason`: every operation fails with [`SecretsError::Unavailable`].
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            store: Err(reason.into()),
            kind: String::new(),
        }
    }

    /// Why there is no keyring, if there is none.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.store.as_ref().err().map(String::as_str)
    }

    fn entry(&self, account: &str) -> Result<Entry, SecretsError> {
        let store = self
            .store
            .as_ref()
            .map_err(|reason| SecretsError::Unavailable(reason.clone()))?;
        Entry::new_in_store(store, SERVICE, account).map_err(|e| store_error(account, &e))
    }

    pub fn get(&self, account: &str) -> Result<Option<String>, SecretsError> {
        let Some(head) = self.get_one(account)? else {
            return Ok(None);
        };
        let Some(parts) = Parts::parse(&head) else {
            return Ok(Some(head));
        };
        let mut secret = String::new();
        for part in parts.accounts(account) {
            match self.get_one(&part)? {
                Some(piece) => secret.push_str(&piece),
                None => {
                    return Err(SecretsError::Store {
                        account: account.to_owned(),
                        reason: format!(
                            "part `{part}` is missing; delete the entry and let Slipway make a new one"
                        ),
                    });
                }
            }
        }
        Ok(Some(secret))
    }

    /// Keep `secret` under `account`. A store that refuses it as too long (Windows' Credential
    /// Manager holds 2,560 bytes of UTF-16 per entry) gets it in parts: the parts first, under
    /// a new generation, then the entry naming them, then the old parts go. A write cut short
    /// leaves the old value whole.
    pub fn set(&self, account: &str, secret: &str) -> Result<(), SecretsError> {
        let before = self.get_one(account)?.as_deref().and_then(Parts::parse);
        match self.entry(account)?.set_password(secret) {
            Ok(()) => {}
            Err(KeyringError::TooLong(_, limit)) => {
                let parts = Parts::new(random_suffix()?, split(secret, limit as usize / 2));
                for (part, piece) in parts.accounts(account).zip(&parts.pieces) {
                    self.set_one(&part, piece)?;
                }
                self.set_one(account, &parts.head())?;
            }
            Err(e) => return Err(store_error(account, &e)),
        }
        if let Some(before) = before {
            for part in before.accounts(account) {
                self.delete_one(&part)?;
            }
        }
        Ok(())
    }

    /// Remove an entry (and its parts); `false` when there was none.
    pub fn delete(&self, account: &str) -> Result<bool, SecretsError> {
        if let Some(parts) = self.get_one(account)?.as_deref().and_then(Parts::parse) {
            for part in parts.accounts(account) {
                self.delete_one(&part)?;
            }
        }
        self.delete_one(account)
    }

    fn get_one(&self, account: &str) -> Result<Option<String>, SecretsError> {
        match self.entry(account)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(store_error(account, &e)),
        }
    }

    fn set_one(&self, account: &str, secret: &str) -> Result<(), SecretsError> {
        self.entry(account)?
            .set_password(secret)
            .map_err(|e| store_error(account, &e))
    }

    fn delete_one(&self, account: &str) -> Result<bool, SecretsError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(store_error(account, &e)),
        }
    }

    /// The entry's secret, made with [`random_token`] and kept first if there is none yet.
    /// The flag says whether it was created.
    pub fn get_or_create(&self, account: &str) -> Result<(String, bool), SecretsError> {
        if let Some(secret) = self.get(account)? {
            return Ok((secret, false));
        }
        let secret = random_token()?;
        self.set(account, &secret)?;
        Ok((secret, true))
    }
}

#[cfg_attr(
    not(target_os = "linux"),
    allow(dead_code, reason = "only Linux has a kernel keyring store")
)]
const KERNEL: &str = "kernel keyring";

/// The session's Secret Service when there is one (it persists), else the kernel keyring.
#[cfg(target_os = "linux")]
fn linux() -> Keyring {
    let mut why = "no D-Bus session bus".to_owned();
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        let service = Keyring::probed(
            zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
            "Secret Service (kept across reboots)",
        );
        match service.unavailable_reason() {
            None => return service,
            Some(reason) => why = format!("Secret Service: {reason}"),
        }
    }
    let kernel = format!(
        "{KERNEL} (forgotten at reboot: {why}; a desktop keyring such as GNOME Keyring keeps them)"
    );
    Keyring::probed(
        linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
        &kernel,
    )
}

/// A secret kept in parts: the entry itself holds `slipway-parts:<generation>:<count>` and the
/// parts are `<account>#<generation>/<i>`. Slipway's secrets are tokens and JSON, so no real
/// secret starts with the marker.
struct Parts {
    generation: String,
    count: usize,
    pieces: Vec<String>,
}

const PARTS_MARKER: &str = "slipway-parts:";

impl Parts {
    fn new(generation: String, pieces: Vec<String>) -> Self {
        Self {
            generation,
            count: pieces.len(),
            pieces,
        }
    }

    fn parse(head: &str) -> Option<Self> {
        let (generation, count) = head.strip_prefix(PARTS_MARKER)?.split_once(':')?;
        Some(Self {
            generation: generation.to_owned(),
            count: count.parse().ok()?,
            pieces: Vec::new(),
        })
    }

    fn head(&self) -> String {
        format!("{PARTS_MARKER}{}:{}", self.generation, self.count)
    }

    fn accounts(&self, account: &str) -> impl Iterator<Item = String> {
        let prefix = format!("{account}#{}", self.generation);
        (0..self.count).map(move |i| format!("{prefix}/{i}"))
    }
}

/// `secret` in pieces of at most `max` UTF-8 bytes, cut at character boundaries. A piece's
/// UTF-16 form is never longer in code units than its UTF-8 form in bytes, so half a store's
/// byte limit fits whichever encoding the store counts.
fn split(secret: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in secret.chars() {
        if piece.len() + c.len_utf8() > max {
            pieces.push(std::mem::take(&mut piece));
        }
        piece.push(c);
    }
    pieces.push(piece);
    pieces
}

fn random_suffix() -> Result<String, SecretsError> {
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Keyring errors can quote what was stored (bad encodings carry the bytes): never pass those on.
fn store_error(account: &str, e: &KeyringError) -> SecretsError {
    let reason = match e {
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            "the stored value is unreadable; delete the entry and let Slipway make a new one"
                .to_owned()
        }
        other => other.to_string(),
    };
    SecretsError::Store {
        account: account.to_owned(),
        reason,
    }
}

/// 32 random bytes from the OS, URL-safe base64: a bearer token for Backstage.
pub fn random_token() -> Result<String, SecretsError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keyring {
        Keyring::with_store(keyring_core::mock::Store::new().expect("mock store"))
    }

    #[test]
    fn get_or_create_keeps_the_first_token() {
        let k = mock();
        assert_eq!(k.get("a").expect("get"), None);
        let (first, created) = k.get_or_create("a").expect("create");
        assert!(created && first.len() >= 43, "{first}");
        assert_eq!(k.get_or_create("a").expect("again"), (first.clone(), false));
        assert!(k.delete("a").expect("delete"));
        assert!(!k.delete("a").expect("second delete"));
        assert_ne!(
            k.get_or_create("a").expect("new").0,
            first,
            "a fresh token after delete"
        );
    }

    #[test]
    fn an_unavailable_keyring_says_why_and_how_to_fix_it() {
        let k = Keyring::unavailable("keyctl: operation not permitted");
        let err = k.get("a").expect_err("unavailable");
        assert!(
            err.to_string().contains("operation not permitted")
                && err.to_string().contains("Slipway keeps tokens only there"),
            "{err}"
        );
    }

    #[test]
    fn only_the_kernel_keyring_forgets_at_reboot() {
        let store = keyring_core::mock::Store::new().expect("mock store");
        assert!(Keyring::with_store(store.clone()).persists());
        let kernel = Keyring {
            store: Ok(store),
            kind: format!("{KERNEL} (forgotten at reboot)"),
        };
        assert!(!kernel.persists(), "its escrow warning depends on this");
        assert!(!Keyring::unavailable("none").persists());
    }

    #[test]
    fn errors_never_carry_the_stored_bytes() {
        let e = store_error(
            "github-token",
            &KeyringError::BadEncoding(b"ghp_secret".to_vec()),
        );
        assert!(!e.to_string().contains("ghp_secret"), "{e}");
    }
}
