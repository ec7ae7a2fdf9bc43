//! HTTPS trust: the machine's local CA in the stores browsers read (as `slipway trust`).

use slipway_core::secrets::Keyring;
use slipway_core::trust::{self, Elevated, Host, Report, StoreOutcome};

use super::{CommandResult, settings};

/// The local CA (if made yet) and whether each store of this machine trusts it.
#[tauri::command]
pub async fn trust_status() -> CommandResult<Report> {
    run(|| Ok(trust::report(&Keyring::os(), &Host::this_machine())?)).await
}

/// Make the CA if needed and trust it in every store (the OS asks for the system store and
/// the keychain; polkit's prompt on Linux).
#[tauri::command]
pub async fn trust_install() -> CommandResult<Vec<StoreOutcome>> {
    let domain = settings()?.domain_or_default();
    run(move || {
        let elevated = elevated();
        let (_, _, outcomes) = trust::install_here(
            &Keyring::os(),
            &Host::this_machine(),
            &domain,
            elevated.as_ref(),
        )?;
        Ok(outcomes)
    })
    .await
}

/// Take the CA out of every store again (only the certificate of its fingerprint).
#[tauri::command]
pub async fn trust_uninstall() -> CommandResult<Vec<StoreOutcome>> {
    run(|| {
        let keyring = Keyring::os();
        let ca = trust::LocalCa::load(&keyring)?.ok_or(trust::TrustError::NoCa)?;
        Ok(trust::uninstall(
            &Host::this_machine(),
            ca.cert(),
            &[],
            elevated().as_ref(),
        ))
    })
    .await
}

/// The stores' programs (and the OS prompts) block: off the async runtime.
async fn run<T: Send + 'static>(
    f: impl FnOnce() -> CommandResult<T> + Send + 'static,
) -> CommandResult<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(slipway_core::error::ErrorReport {
            kind: slipway_core::error::ErrorKind::Internal,
            message: format!("the trust task stopped: {e}"),
            step: None,
        })
    })
}

/// The desktop's prompt (polkit) for the system store's change; none without a display.
fn elevated() -> Option<Elevated> {
    let exe = std::env::current_exe().ok()?;
    slipway_core::hosts::elevate::choose(false).map(|elevator| Elevated { exe, elevator })
}
