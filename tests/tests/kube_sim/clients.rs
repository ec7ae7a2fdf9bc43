//! The real kubectl and helm against kube-sim.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_applies_gets_waits_and_deletes() {
    let e = env().await;
    let bundle = e.kubeconfig.with_file_name("bundle.yaml");
    std::fs::write(&bundle, BUNDLE).expect("bundle");
    let file = bundle.to_str().expect("utf-8 path");

    // As against a real API server, a custom resource whose CRD is created by the same apply
    // cannot be validated on the first pass; once the CRD is Established, the bundle applies whole.
    let first = kubectl(&e, &["apply", "--server-side", "-f", file]).await;
    assert!(first.stdout.contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.slipway.dev serverside-applied"), "{}{}", first.stdout, first.stderr);
    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Established",
                "crd/widgets.example.slipway.dev",
                "--timeout=10s",
            ],
        )
        .await,
        "wait for CRD",
    );
    let applied = expect(
        kubectl(&e, &["apply", "--server-side", "-f", file]).await,
        "apply",
    );
    for obj in [
        "namespace/demo",
        "widget.example.slipway.dev/w1",
        "deployment.apps/web",
        "service/web",
        "secret/creds",
        "ingress.networking.k8s.io/web",
    ] {
        assert!(
            applied
                .stdout
                .contains(&format!("{obj} serverside-applied")),
            "{obj}: {}",
            applied.stdout
        );
    }

    let got: Value = serde_json::from_str(
        &expect(kubectl(&e, &["get", "-f", file, "-o", "json"]).await, "get").stdout,
    )
    .expect("json");
    let items = got["items"].as_array().expect("items");
    assert_eq!(items.len(), 7);
    let find = |kind: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    assert_eq!(find("Widget")["spec"]["size"], 3);
    assert_eq!(find("Deployment")["spec"]["replicas"], 2);
    assert_eq!(find("Ingress")["spec"]["rules"][0]["host"], "web.local");
    assert_eq!(
        find("Secret")["data"]["token"],
        "bm90LWEtcmVhbC10b2tlbg==",
        "stringData stored as data, as the API server does"
    );
    assert_eq!(
        find("CustomResourceDefinition")["status"]["conditions"][1]["type"],
        "Established"
    );

    // Re-applying the same bundle changes nothing: same resourceVersions, no writes.
    let versions = |v: &Value| {
        v["items"].as_array().map(|i| {
            i.iter()
                .map(|o| o["metadata"]["resourceVersion"].clone())
                .collect::<Vec<_>>()
        })
    };
    let writes = e.sim.client_writes();
    expect(
        kubectl(&e, &["apply", "--server-side", "-f", file]).await,
        "re-apply",
    );
    let again: Value = serde_json::from_str(
        &expect(kubectl(&e, &["get", "-f", file, "-o", "json"]).await, "get").stdout,
    )
    .expect("json");
    assert_eq!(
        versions(&again),
        versions(&got),
        "unchanged objects keep their resourceVersion"
    );
    assert_eq!(
        e.sim.client_writes(),
        writes,
        "a no-op apply writes nothing"
    );

    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Available",
                "deployment/web",
                "-n",
                "demo",
                "--timeout=10s",
            ],
        )
        .await,
        "wait Available",
    );
    let pods: Value = serde_json::from_str(
        &expect(
            kubectl(
                &e,
                &["get", "pods", "-n", "demo", "-l", "app=web", "-o", "json"],
            )
            .await,
            "pods",
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(
        pods["items"].as_array().map(Vec::len),
        Some(2),
        "the simulated controller made the backing pods"
    );

    e.sim.faults(|f| {
        f.never_ready.insert("demo/stuck".into());
    });
    let stuck = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: stuck, namespace: demo}\nspec:\n  selector: {matchLabels: {app: stuck}}\n  template:\n    metadata: {labels: {app: stuck}}\n    spec: {containers: [{name: c, image: busybox}]}\n";
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(stuck),
        )
        .await,
        "apply stuck",
    );
    let timed_out = kubectl(
        &e,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/stuck",
            "-n",
            "demo",
            "--timeout=2s",
        ],
    )
    .await;
    assert!(
        !timed_out.ok && timed_out.stderr.contains("timed out"),
        "{}",
        timed_out.stderr
    );

    expect(
        kubectl(&e, &["delete", "namespace", "demo", "--timeout=20s"]).await,
        "delete namespace",
    );
    assert!(e.sim.object("apps", "deployments", "demo", "web").is_none());
    assert!(e.sim.object("", "secrets", "demo", "creds").is_none());
    assert!(e.sim.object("", "pods", "demo", "").is_none());
    let left = expect(
        kubectl(
            &e,
            &[
                "get",
                "all,secrets,ingresses,widgets",
                "-n",
                "demo",
                "-o",
                "name",
            ],
        )
        .await,
        "get after delete",
    );
    assert_eq!(left.stdout.trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_helm_installs_upgrades_lists_and_uninstalls() {
    let e = env().await;
    let chart = e.kubeconfig.with_file_name("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "message: hello\nreplicas: 1\n").expect("values");
    std::fs::write(
        chart.join("templates/app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  message: {{ .Values.message | quote }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec:\n      containers: [{name: app, image: \"busybox:1.36\"}]\n",
    )
    .expect("template");
    let chart = chart.to_str().expect("utf-8");

    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &[
                "install",
                "rel",
                chart,
                "-n",
                "apps",
                "--create-namespace",
                "--wait",
                "--timeout",
                "30s",
            ],
            None,
        )
        .await,
        "helm install",
    );
    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &[
                "upgrade",
                "rel",
                chart,
                "-n",
                "apps",
                "--set",
                "message=bye",
            ],
            None,
        )
        .await,
        "helm upgrade",
    );
    let listed: Value = serde_json::from_str(
        &expect(
            tool("helm", &e.kubeconfig, &["list", "-A", "-o", "json"], None).await,
            "helm list",
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(listed[0]["name"], "rel");
    assert_eq!(listed[0]["revision"], "2");
    assert_eq!(listed[0]["status"], "deployed");
    // Release records are Secrets, as helm stores them; the upgrade reached the objects.
    for rev in ["v1", "v2"] {
        let secret = e
            .sim
            .object(
                "",
                "secrets",
                "apps",
                &format!("sh.helm.release.v1.rel.{rev}"),
            )
            .expect("release secret");
        assert_eq!(secret["type"], "helm.sh/release.v1");
        assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
    }
    assert_eq!(
        e.sim
            .object("", "configmaps", "apps", "rel-config")
            .expect("configmap")["data"]["message"],
        "bye"
    );

    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &["uninstall", "rel", "-n", "apps"],
            None,
        )
        .await,
        "helm uninstall",
    );
    let listed = expect(
        tool("helm", &e.kubeconfig, &["list", "-A", "-o", "json"], None).await,
        "helm list",
    );
    assert_eq!(listed.stdout.trim(), "[]");
    assert!(e.sim.object("apps", "deployments", "apps", "rel").is_none());
    assert!(
        e.sim
            .object("", "secrets", "apps", "sh.helm.release.v1.rel.v2")
            .is_none()
    );
}
