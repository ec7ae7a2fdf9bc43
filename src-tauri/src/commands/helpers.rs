//! Helpers: the hosts file's Slipway block and port-forwards. Forward state changes are announced
//! with the event `forwards-changed` (the view re-fetches).

use serde::Serialize;
use slipway_core::forward::{ForwardInfo, Forwards};
use slipway_core::hosts::{self, Applied, HostEntry, Plan};
use slipway_core::k8s::KubeTarget;
use tauri::{AppHandle, Emitter, Runtime, State};

use super::{CommandResult, DesktopError, settings};

/// The hosts file: what the block holds and should hold.
#[derive(Debug, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HostsView {
    pub plan: Plan,
    pub up_to_date: bool,
    /// Why the cluster's Ingress hosts are missing from the desired list, if they are.
    pub cluster_skipped: Option<String>,
    /// Ingress hosts left out (not under the platform's domain), each with why.
    pub skipped: Vec<String>,
}

#[tauri::command]
pub async fn hosts_show() -> CommandResult<HostsView> {
    let c = settings()?;
    let desired = hosts::desired(
        &c.domain_or_default(),
        &KubeTarget::cluster(&c.cluster_or_default()),
    )
    .await;
    let plan = hosts::plan(
        &hosts::default_path(),
        hosts::entries_for(&desired.names, hosts::DEFAULT_IPV6),
    )?;
    Ok(HostsView {
        up_to_date: !plan.changes(),
        plan,
        cluster_skipped: desired.cluster_skipped,
        skipped: desired.skipped,
    })
}

/// Write exactly the block the view showed (`desired`, computed from the file with
/// `fingerprint`): refused when the file changed since, or for a name Slipway may not write.
/// The system's administrator prompt appears when the file needs it.
#[tauri::command]
pub async fn hosts_apply(desired: Vec<HostEntry>, fingerprint: String) -> CommandResult<Applied> {
    let domain = settings()?.domain_or_default();
    let desired = hosts::checked(desired, &domain)?;
    let plan = hosts::shown_plan(&hosts::default_path(), desired, &fingerprint)?;
    let exe = std::env::current_exe().map_err(DesktopError::from)?;
    let applied = tauri::async_runtime::spawn_blocking(move || hosts::apply(&plan, false, &exe))
        .await
        .map_err(DesktopError::from)?;
    Ok(applied?)
}

#[tauri::command]
pub fn forwards_list(forwards: State<'_, Forwards>) -> Vec<ForwardInfo> {
    forwards.list()
}

/// Start forwards from kubectl-style words (`svc/backstage 7007`, `backstage`, `argocd`).
#[tauri::command]
pub async fn forward_start(
    target: String,
    forwards: State<'_, Forwards>,
) -> CommandResult<Vec<ForwardInfo>> {
    let words: Vec<String> = target.split_whitespace().map(str::to_owned).collect();
    let specs = slipway_core::forward::from_words(&words, "default")?;
    let cluster = settings()?.cluster_or_default();
    let client = KubeTarget::cluster(&cluster).client().await?;
    let mut started = Vec::new();
    for s in specs {
        started.push(
            forwards
                .start(client.clone(), s, std::net::Ipv4Addr::LOCALHOST.into())
                .await?,
        );
    }
    Ok(started)
}

#[tauri::command]
pub fn forward_stop(id: u64, forwards: State<'_, Forwards>) -> bool {
    forwards.stop(id)
}

/// Relay forward state changes as "changed, re-fetch" events for as long as the app runs.
pub fn announce_forward_changes<R: Runtime>(app: &AppHandle<R>, forwards: &Forwards) {
    let mut events = forwards.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        while let Ok(_) | Err(RecvError::Lagged(_)) = events.recv().await {
            let _ = app.emit("forwards-changed", ());
        }
    });
}
