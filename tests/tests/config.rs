//! The settings file gives defaults below flags and environment variables.

fn slipway(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = slipway_e2e::slipway()
        .args(args)
        .env("SLIPWAY_CONFIG", config)
        .env_remove("SLIPWAY_DOMAIN")
        .env_remove("SLIPWAY_CLUSTER")
        .output()
        .expect("slipway");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn settings_fill_in_what_flags_do_not_say() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "domain: dev.test\nowner: acme\ncluster: from-config\n",
    )
    .expect("write");

    let out = dir.path().join("svc");
    let (ok, _, stderr) = slipway(
        &config,
        &[
            "service",
            "create",
            "--name",
            "shop",
            "--team",
            "t",
            "--dry-run",
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert!(ok, "{stderr}");
    let ingress = std::fs::read_to_string(out.join("deploy/ingress.yaml")).expect("ingress");
    assert!(
        ingress.contains("host: shop.dev.test"),
        "domain from the settings: {ingress}"
    );
    assert!(
        std::fs::read_to_string(out.join("catalog-info.yaml"))
            .expect("catalog")
            .contains("acme/shop"),
        "owner from the settings"
    );

    // A flag wins over the file.
    let out2 = dir.path().join("svc2");
    let (ok, _, stderr) = slipway(
        &config,
        &[
            "service",
            "create",
            "--name",
            "shop",
            "--team",
            "t",
            "--domain",
            "flag.test",
            "--dry-run",
            "--out",
            &out2.to_string_lossy(),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        std::fs::read_to_string(out2.join("deploy/ingress.yaml"))
            .expect("ingress")
            .contains("host: shop.flag.test")
    );

    // The cluster name too (status of a cluster that does not exist names it).
    let (_, stdout, stderr) = slipway(&config, &["status", "-o", "json"]);
    assert!(
        stdout.contains("\"from-config\"") || stderr.contains("from-config"),
        "{stdout}{stderr}"
    );

    std::fs::write(&config, "domian: dev.test\n").expect("write");
    let (ok, _, stderr) = slipway(&config, &["status"]);
    assert!(
        !ok && stderr.contains("domian") && stderr.contains(&config.display().to_string()),
        "{stderr}"
    );
}
