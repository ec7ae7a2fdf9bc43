fn main() {
    // Every app command is listed here so capabilities must grant it explicitly.
    let commands = tauri_build::AppManifest::new().commands(&["platform_status"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        panic!("tauri build script failed: {e:#}");
    }
}
