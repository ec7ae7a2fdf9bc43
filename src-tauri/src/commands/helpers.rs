//! Helpers: the hosts file's Slipway block and port-forwards. Forward state changes are announced
//! with the event `forwards-changed` (the view re-fetches).

use serde::Serialize;
use slipway_core::forward::{ForwardInfo, Forwards};
use slipway_core::hosts::{self, Applied, Plan};
use slipway_core::k8s::KubeTarget;
use tauri::{AppHandle, Emitter, Runtime, State};

use super::{CommandError, settings};

/// The hosts file: what the block holds and should hold.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostsView {
    pub plan: Plan,
    pub up_to_date: bool,
    /// Why the cluster's Ingress hosts are missing from the desired list, if they are.
    pub cluster_skipped: Option<String>,
}

async fn hosts_plan() -> Result<(Plan, Option<String>), CommandError> {
    let c = settings()?;
    let desired = hosts::desired(
        &c.domain_or_default(),
        &KubeTarget::cluster(&c.cluster_or_default()),
    )
    .await;
    let plan = hosts::plan(
        &hosts::default_path(),
        hosts::entries_for(&desired.names, hosts::DEFAULT_IPV6),
    )
    .map_err(|e| CommandError::new("hosts", e))?;
    Ok((plan, desired.cluster_skipped))
}

#[tauri::command]
pub async fn hosts_show() -> Result<HostsView, CommandError> {
    let (plan, cluster_skipped) = hosts_plan().await?;
    Ok(HostsView {
        up_to_date: !plan.changes(),
        plan,
        cluster_skipped,
    })
}

/// Write the block; the system's administrator prompt appears when the file needs it.
#[tauri::command]
pub async fn hosts_apply() -> Result<Applied, CommandError> {
    let (plan, _) = hosts_plan().await?;
    let exe = std::env::current_exe().map_err(|e| CommandError::new("hosts", e))?;
    tauri::async_runtime::spawn_blocking(move || hosts::apply(&plan, false, &exe))
        .await
        .map_err(|e| CommandError::new("hosts", e))?
        .map_err(|e| CommandError::new("hosts", e))
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
) -> Result<Vec<ForwardInfo>, CommandError> {
    let words: Vec<String> = target.split_whitespace().map(str::to_owned).collect();
    let specs = match words.as_slice() {
        [one] if slipway_core::forward::preset(one).is_some() => {
            slipway_core::forward::preset(one).into_iter().collect()
        }
        _ => slipway_core::forward::parse(&words, "default")
            .map_err(|e| CommandError::new("forward", e))?,
    };
    let cluster = settings()?.cluster_or_default();
    let client = KubeTarget::cluster(&cluster)
        .client()
        .await
        .map_err(|e| CommandError::new("cluster", e))?;
    let mut started = Vec::new();
    for s in specs {
        started.push(
            forwards
                .start(client.clone(), s, std::net::Ipv4Addr::LOCALHOST.into())
                .await
                .map_err(|e| CommandError::new("forward", e))?,
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
