/// Every app command; capabilities must grant each one explicitly.
const COMMANDS: &[&str] = &[
    "platform_status",
    "platform_up",
    "platform_stop",
    "platform_delete",
    "platform_preflight",
    "platform_expected",
    "platform_links",
    "helm_check",
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
    "service_status",
    "teams_list",
    "github_connect",
    "github_status",
    "github_disconnect",
    "settings_get",
    "kube_contexts",
    "settings_set",
    "trust_status",
    "trust_install",
    "trust_uninstall",
];

fn main() {
    // The window embeds the built UI: without it tauri's context macro fails with a bare
    // "proc macro panicked". Say what to run instead.
    let dist = std::path::Path::new("../ui/dist/index.html");
    println!("cargo::rerun-if-changed=../ui/dist/index.html");
    if std::env::var_os("CARGO_FEATURE_CUSTOM_PROTOCOL").is_some() && !dist.exists() {
        println!(
            "cargo::error=the desktop window embeds the UI, which is not built yet (ui/dist is missing). \
             Build it first: `npm --prefix ui ci && npm --prefix ui run build` (or `bash scripts/setup.sh`, \
             which also installs what the build needs); or build without the window's UI: \
             `cargo build -p slipway --no-default-features`"
        );
        return;
    }
    let commands = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        panic!("tauri build script failed: {e:#}");
    }
}
