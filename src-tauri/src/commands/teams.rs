//! Team commands: the teams with their quota use and services (the Services view's team column
//! and the form's suggestions).

use slipway_core::secrets::Keyring;
use slipway_core::teams::ops::{self, TeamSummary, TeamsTarget};

use super::{CommandResult, settings};

/// Every team of the platform, where `up`'s mode keeps them.
#[tauri::command]
pub async fn teams_list() -> CommandResult<Vec<TeamSummary>> {
    let target = TeamsTarget::from_config(&settings()?)?;
    Ok(ops::list(&target, &Keyring::os()).await?)
}
