//! The embedded bundle as real tools see it: kustomize renders the ingress overlay, and the
//! bootstrap objects apply to an API server that serves Argo CD's CRDs.

use std::time::Duration;

use slipway_core::bundle;
use slipway_core::k8s::apply;
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{root, tools_dir};

fn argo_crd(kind: &str, plural: &str) -> String {
    slipway_e2e::crd_yaml("argoproj.io", kind, plural)
}

#[test]
fn real_kubectl_kustomize_renders_the_ingress_overlay_with_the_local_host() {
    let out = std::process::Command::new(tools_dir().join("kubectl"))
        .args(["kustomize"])
        .arg(root().join("embedded-manifests/ingress/overlays/local"))
        .output()
        .expect("kubectl kustomize");
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        rendered.contains("host: backstage.local")
            && rendered.contains("ingressClassName: traefik"),
        "{rendered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_objects_apply_to_an_api_server() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let crds = [
        ("AppProject", "appprojects"),
        ("ApplicationSet", "applicationsets"),
        ("Application", "applications"),
    ]
    .iter()
    .map(|(k, p)| argo_crd(k, p))
    .collect::<Vec<_>>()
    .join("---\n");
    let setup = format!("{crds}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n");
    apply::apply(
        &client,
        &apply::parse(&setup).expect("crds"),
        "test",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("argo CRDs");
    for file in [
        "bootstrap/projects.yaml",
        "bootstrap/platform-appset.yaml",
        "bootstrap/workloads-appset.yaml",
        "bootstrap/teams-appset.yaml",
        "bootstrap/root-app.yaml",
    ] {
        let objects = apply::parse(&bundle::text(file).expect("embedded")).expect(file);
        let report = apply::apply(
            &client,
            &objects,
            "slipway",
            "argocd",
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(report.changed.len(), objects.len(), "{file}");
    }
    for project in ["bootstrap", "platform"] {
        assert!(
            sim.object("argoproj.io", "appprojects", "argocd", project)
                .is_some(),
            "{project}"
        );
    }
    for set in ["workloads", "teams"] {
        assert!(
            sim.object("argoproj.io", "applicationsets", "argocd", set)
                .is_some(),
            "{set}"
        );
    }
    // The guard rails Slipway applies itself, with the per-user parameters they read.
    let mut rails = slipway_core::platform::gitops::policies().expect("policies");
    rails.push(slipway_core::platform::gitops::site_config("local"));
    let ns = apply::parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: backstage}\n")
        .expect("namespace");
    apply::apply(&client, &ns, "slipway", "default", Duration::from_secs(10))
        .await
        .expect("backstage namespace");
    let rails: Vec<_> = rails
        .into_iter()
        .map(|d| serde_json::from_value(d).expect("object"))
        .collect();
    let report = apply::apply(
        &client,
        &rails,
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("policies apply");
    assert_eq!(report.changed.len(), rails.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_platform_applications_are_generated_with_their_pins_and_values() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let crds = [
        ("ApplicationSet", "applicationsets"),
        ("Application", "applications"),
        ("AppProject", "appprojects"),
    ]
    .iter()
    .map(|(k, p)| argo_crd(k, p))
    .collect::<Vec<_>>()
    .join("---\n");
    let setup = format!("{crds}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n");
    apply::apply(
        &client,
        &apply::parse(&setup).expect("crds"),
        "test",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("argo CRDs");
    // The projects come first, as in `up`'s gitops-source step: Argo CD makes no Application
    // for a project that does not exist.
    apply::apply(
        &client,
        &apply::parse(&bundle::text("bootstrap/projects.yaml").expect("projects")).expect("parse"),
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("projects");
    let set = slipway_core::platform::gitops::local_platform_appset("local").expect("local appset");
    let objects = apply::parse(&serde_json::to_string(&set).expect("json")).expect("parse");
    apply::apply(
        &client,
        &objects,
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("apply appset");
    let apps = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let found: Vec<serde_json::Value> = ["backstage", "sealed-secrets", "traefik"]
                .iter()
                .filter_map(|n| sim.object("argoproj.io", "applications", "argocd", n))
                .collect();
            if found.len() == 3
                && found
                    .iter()
                    .all(|a| a["status"]["health"]["status"] == "Healthy")
            {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("three Applications, Synced and Healthy");
    let traefik = &apps[2];
    assert_eq!(traefik["spec"]["source"]["chart"], "traefik");
    assert_eq!(traefik["spec"]["source"]["targetRevision"], "41.3.0");
    assert_eq!(traefik["spec"]["destination"]["namespace"], "traefik");
    let values: serde_json::Value = serde_saphyr::from_str(
        traefik["spec"]["source"]["helm"]["values"]
            .as_str()
            .expect("values"),
    )
    .expect("YAML");
    assert_eq!(values["ports"]["web"]["hostPort"], 80);
}
