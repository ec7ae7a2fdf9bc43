/// Every app command; capabilities must grant each one explicitly.
const COMMANDS: &[&str] = &[
    "platform_status",
    "platform_up",
    "platform_stop",
    "platform_delete",
    "platform_preflight",
    "argocd_password_copy",
    "open_link",
    "hosts_show",
    "hosts_apply",
    "forwards_list",
    "forward_start",
    "forward_stop",
    "logs_runs",
    "diagnostics",
    "service_check",
    "service_create",
    "service_rollback",
    "services_list",
    "github_connect",
    "github_status",
    "github_disconnect",
    "settings_get",
    "settings_set",
];

fn main() {
    let commands = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        panic!("tauri build script failed: {e:#}");
    }
}
