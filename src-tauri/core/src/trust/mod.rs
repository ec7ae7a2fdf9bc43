//! HTTPS that browsers trust on the platform's port: one local CA per machine (not per
//! cluster, so browsers keep trusting it across re-created clusters), its key only in the OS
//! keyring. The cluster's cert-manager signs every Ingress's certificate with it (a CA
//! ClusterIssuer over a Secret Slipway applies, never in Git); `install` / `uninstall` /
//! `status` put its certificate into, and take it out of, the stores browsers and tools read,
//! as mkcert does by hand. `down` leaves trust alone; only `remove-ca` forgets the CA.

pub mod ca;
pub mod stores;

use serde::Serialize;

pub use ca::{CaCert, LocalCa};
pub use stores::{Elevated, Host, Store, StoreKind, StoreState};

use crate::error::{Classified, ErrorKind};
use crate::secrets::{Keyring, SecretsError};

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Keyring(#[from] SecretsError),
    #[error(
        "the local CA is unusable ({0}): `slipway trust remove-ca` forgets it, then `slipway up` makes a new one"
    )]
    Certificate(String),
    #[error("could not make the local CA: {0}")]
    Generate(String),
    #[error("{store}: {reason}; {fix}")]
    Store {
        store: String,
        reason: String,
        fix: String,
    },
    #[error(
        "the administrator prompt for the system store did not succeed ({0}); run `sudo slipway trust install` from a terminal"
    )]
    Elevation(String),
    #[error(
        "no system certificate store Slipway knows is here (Debian, Fedora, Arch or openSUSE layout); add the certificate `slipway trust ca` prints to your distribution's store by hand"
    )]
    NoSystemStore,
    #[error(
        "there is no local CA on this machine yet: `slipway up` or `slipway trust install` makes one"
    )]
    NoCa,
}

impl Classified for TrustError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Keyring(e) => e.kind(),
            Self::Certificate(_) => ErrorKind::Conflict,
            Self::Generate(_) => ErrorKind::Internal,
            Self::Store { .. } => ErrorKind::Io,
            Self::Elevation(_) => ErrorKind::NeedsPerson,
            Self::NoSystemStore | Self::NoCa => ErrorKind::Invalid,
        }
    }
}

/// One store as `slipway trust status` shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StoreStatus {
    pub kind: StoreKind,
    pub name: String,
    pub location: String,
    #[serde(flatten)]
    pub state: StoreState,
}

/// What `install` or `uninstall` did to one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", tag = "outcome")]
#[ts(export)]
pub enum Outcome {
    Changed,
    Unchanged,
    /// Not done; the store's reason and its fix.
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StoreOutcome {
    pub kind: StoreKind,
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The machine's CA and each store's view of it: what `slipway trust status` and the window show.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Report {
    /// `None`: no CA yet (`slipway up` or `trust install` makes it).
    pub ca: Option<CaSummary>,
    pub stores: Vec<StoreStatus>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct CaSummary {
    pub name: String,
    pub sha256: String,
    pub not_after: String,
    /// The DNS subtrees it may certify.
    pub permitted: Vec<String>,
}

pub fn report(keyring: &Keyring, host: &Host) -> Result<Report, TrustError> {
    Ok(match LocalCa::load(keyring)? {
        None => Report {
            ca: None,
            stores: Vec::new(),
        },
        Some(ca) => Report {
            stores: status(host, ca.cert()),
            ca: Some(CaSummary {
                name: ca.cert().name(),
                sha256: ca.cert().sha256(),
                not_after: ca.cert().not_after(),
                permitted: ca.cert().permitted(),
            }),
        },
    })
}

/// Make the CA if there is none (for `domain`), then trust it in every store of this machine.
pub fn install_here(
    keyring: &Keyring,
    host: &Host,
    domain: &str,
    elevated: Option<&Elevated>,
) -> Result<(LocalCa, bool, Vec<StoreOutcome>), TrustError> {
    let (ca, made) = LocalCa::load_or_create(keyring, &ca::owner(), domain)?;
    let outcomes = install(host, ca.cert(), &[], elevated);
    Ok((ca, made, outcomes))
}

/// The CA in every store of this machine (or only in `kinds`).
pub fn status(host: &Host, ca: &CaCert) -> Vec<StoreStatus> {
    stores::discover(host)
        .into_iter()
        .map(|s| StoreStatus {
            kind: s.kind,
            name: s.name.clone(),
            location: s.location.display().to_string(),
            state: s.state(ca),
        })
        .collect()
}

/// Whether some store of this machine trusts the CA kept in `keyring` (none kept: no).
pub fn machine_trusts(keyring: &Keyring) -> bool {
    keyring.unavailable_reason().is_none()
        && LocalCa::load(keyring)
            .ok()
            .flatten()
            .is_some_and(|ca| trusted(&Host::this_machine(), ca.cert()))
}

/// Whether some store of this machine trusts the CA: then Slipway's URLs are the HTTPS ones.
pub fn trusted(host: &Host, ca: &CaCert) -> bool {
    stores::discover(host)
        .iter()
        .any(|s| s.state(ca) == StoreState::Installed)
}

/// Put the CA into every store (or those of `kinds`). Each store is tried; one failing does
/// not stop the others, and its outcome says why.
pub fn install(
    host: &Host,
    ca: &CaCert,
    kinds: &[StoreKind],
    elevated: Option<&Elevated>,
) -> Vec<StoreOutcome> {
    each(host, kinds, |s| s.install(ca, elevated))
}

/// Take the CA out of every store (or those of `kinds`): only the certificate of its
/// fingerprint, nothing else.
pub fn uninstall(
    host: &Host,
    ca: &CaCert,
    kinds: &[StoreKind],
    elevated: Option<&Elevated>,
) -> Vec<StoreOutcome> {
    each(host, kinds, |s| s.uninstall(ca, elevated))
}

fn each(
    host: &Host,
    kinds: &[StoreKind],
    change: impl Fn(&Store) -> Result<bool, TrustError>,
) -> Vec<StoreOutcome> {
    stores::discover(host)
        .into_iter()
        .filter(|s| kinds.is_empty() || kinds.contains(&s.kind))
        .map(|s| StoreOutcome {
            kind: s.kind,
            name: s.name.clone(),
            outcome: match change(&s) {
                Ok(true) => Outcome::Changed,
                Ok(false) => Outcome::Unchanged,
                Err(e) => Outcome::Failed {
                    reason: e.to_string(),
                },
            },
        })
        .collect()
}

/// Forget the machine's CA, after taking it out of every store (so no store is left trusting
/// a CA whose key is gone). Refused while a store still holds it.
pub fn remove_ca(
    keyring: &Keyring,
    host: &Host,
    elevated: Option<&Elevated>,
) -> Result<Vec<StoreOutcome>, TrustError> {
    let ca = LocalCa::load(keyring)?.ok_or(TrustError::NoCa)?;
    let outcomes = uninstall(host, ca.cert(), &[], elevated);
    if let Some(failed) = outcomes.iter().find_map(|o| match &o.outcome {
        Outcome::Failed { reason } => Some(reason.clone()),
        _ => None,
    }) {
        return Err(TrustError::Store {
            store: "the local CA".into(),
            reason: format!("kept, since a store still trusts it: {failed}"),
            fix: "fix that store and run `slipway trust remove-ca` again".into(),
        });
    }
    LocalCa::forget(keyring)?;
    Ok(outcomes)
}
