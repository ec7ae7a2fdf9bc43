//! Slipway's helm runner with the real helm 4 against kube-sim.

use std::path::Path;
use std::time::Duration;

use slipway_core::helm::{Chart, ChartSource, Helm, HelmError, KubeContext, Release};
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::tools_dir;

fn write_chart(dir: &Path, name: &str, template: &str) {
    let chart = dir.join(name);
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n"),
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "greeting: hello\n").expect("values");
    std::fs::write(chart.join("templates/cm.yaml"), template).expect("template");
}

fn release(name: &str, values: serde_json::Value) -> Release {
    Release {
        name: name.into(),
        namespace: "tools".into(),
        chart: Chart {
            name: name.into(),
            version: "1.0.0".into(),
            repo: "https://charts.invalid".into(),
        },
        values,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_upgrades_and_reports_failures_with_helms_own_words() {
    let sim = KubeSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kube = KubeContext {
        kubeconfig: dir.path().join("kubeconfig"),
        context: "kube-sim".into(),
    };
    sim.write_kubeconfig(&kube.kubeconfig).expect("kubeconfig");
    let charts = dir.path().join("charts");
    write_chart(
        &charts,
        "greeter",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: greeter}\ndata: {greeting: {{ .Values.greeting | quote }}}\n",
    );
    write_chart(
        &charts,
        "broken",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\ndata: {x: {{ .Values.missing.key }}}\n",
    );
    let source = ChartSource::parse(charts.to_str().expect("utf-8"));

    let helm = Helm::locate(Some(&tools_dir().join("helm")))
        .await
        .expect("real helm");
    assert!(helm.version.starts_with("v4."), "{}", helm.version);

    let writes_before = sim.client_writes();
    helm.upgrade_install(
        &release("greeter", serde_json::json!({"greeting": "hi from values"})),
        &source,
        &kube,
        Duration::from_secs(60),
    )
    .await
    .expect("install");
    assert_eq!(
        sim.object("", "configmaps", "tools", "greeter")
            .expect("configmap")["data"]["greeting"],
        "hi from values",
        "values reached the chart"
    );
    assert!(sim.client_writes() > writes_before);
    helm.upgrade_install(
        &release("greeter", serde_json::json!({})),
        &source,
        &kube,
        Duration::from_secs(60),
    )
    .await
    .expect("upgrade");
    let releases = helm.list(&kube).await.expect("list");
    let greeter = releases
        .iter()
        .find(|r| r.name == "greeter")
        .expect("listed");
    assert_eq!(
        (
            greeter.namespace.as_str(),
            greeter.revision.as_str(),
            greeter.status.as_str()
        ),
        ("tools", "2", "deployed")
    );

    let err = helm
        .upgrade_install(
            &release("broken", serde_json::json!({})),
            &source,
            &kube,
            Duration::from_secs(60),
        )
        .await
        .expect_err("template error");
    let msg = err.to_string();
    assert!(matches!(err, HelmError::Failed { .. }), "{msg}");
    assert!(
        msg.contains("broken") && msg.contains("nil pointer"),
        "helm's stderr is in the error: {msg}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_helm_is_named_with_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = Helm::locate(Some(&dir.path().join("no-helm-here")))
        .await
        .expect_err("missing");
    let text = err.to_string();
    assert!(
        matches!(err, HelmError::Missing(_))
            && [
                "--helm",
                "SLIPWAY_HELM",
                "`helm: PATH` in the settings file"
            ]
            .iter()
            .all(|how| text.contains(how)),
        "every way to point Slipway at helm is named: {text}"
    );

    let old = dir.path().join("helm");
    std::fs::write(&old, "#!/bin/sh\necho v2.17.0+ga690bad\n").expect("fake helm");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let err = Helm::locate(Some(&old)).await.expect_err("too old");
    assert!(matches!(err, HelmError::Version { .. }), "{err}");
    assert!(
        err.to_string().contains("v2.17.0") && err.to_string().contains("helm 3 or 4"),
        "{err}"
    );
}
