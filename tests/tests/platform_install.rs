//! The platform install stage with the real helm 4 against an in-process kube-sim: Argo CD (a
//! stand-in chart with the pinned name and version), the owned Secrets from a mock keyring, the
//! GitOps source in local mode, every platform Application Synced and Healthy, routing through
//! the simulated Traefik; then a write-free re-run and a failing component.

use slipway_core::helm::{ChartSource, KubeContext};
use slipway_core::pipeline::{PipelineError, Recorder, StepOutcome};
use slipway_core::platform::gitops::Part;
use slipway_core::platform::install::{InstallOptions, Source, install};
use slipway_core::secrets::{Keyring, accounts};
use slipway_core::teams::{LocalTeams, TeamFile};
use slipway_e2e::keyring::credential_manager;
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{root, tools_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd_then_gitops_then_healthy_apps_and_a_rerun_writes_nothing() {
    let sim = KubeSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kube = KubeContext {
        kubeconfig: dir.path().join("kubeconfig"),
        context: "kube-sim".into(),
    };
    sim.write_kubeconfig(&kube.kubeconfig).expect("kubeconfig");
    let ingress = sim
        .serve_ingress("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("ingress");
    // Windows' limit on an entry is the tightest of the OS keyrings: the escrowed keys must fit.
    let keyring = Keyring::with_store(credential_manager::store());
    keyring
        .set(
            &accounts::github_token(slipway_core::github::DEFAULT_API),
            "ghp_test_token",
        )
        .expect("GitHub token");
    let teams_dir = tempfile::tempdir().expect("teams");
    let options = InstallOptions {
        cluster: "sim".into(),
        domain: "dev.test".into(),
        ingress,
        keyring: keyring.clone(),
        source: Source::Local,
        charts: ChartSource::Local(root().join("tests/tests/fixtures/charts")),
        helm: Some(tools_dir().join("helm")),
        teams: LocalTeams::in_dir(&teams_dir.path().join("sim")),
        exposed: false,
        https_port: None,
        tls_ingress: None,
        // The part a developer may leave out, left out: the rest must not depend on it.
        without: vec![Part::Observability],
        existing: None,
        github_sign_in: None,
    };
    let timeouts = slipway_e2e::test_timeouts();
    // Local mode's teams: Slipway renders each file with the team chart and applies it.
    let mut payments = TeamFile::new("payments");
    payments.quota.pods = Some(7);
    options.teams.save(&payments).expect("team file");

    let sink = Recorder::default();
    let steps = install(&kube, &options, &timeouts, &sink)
        .await
        .expect("install");
    let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [
            "argocd",
            "argocd-ready",
            "secrets",
            "publish",
            "gitops-source",
            "platform-apps",
            "certificates",
            "teams",
            "sealing-key",
            "routing",
            "catalog"
        ]
    );
    assert!(
        steps[0].outcome.is_change()
            && steps[2].outcome.is_change()
            && steps[4].outcome.is_change(),
        "{steps:?}"
    );
    let b64 = |v: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(v)
    };
    let token = keyring
        .get(&accounts::backstage_api_token("sim"))
        .expect("keyring")
        .expect("token made");
    let secret = sim
        .object("", "secrets", "backstage", "backstage-secrets")
        .expect("Backstage's Secret");
    assert_eq!(secret["data"]["SLIPWAY_API_TOKEN"], b64(&token).as_str());
    // Anyone who reaches Backstage acts with its GitHub token: local mode gives it none.
    assert!(
        secret["data"].get("GITHUB_TOKEN").is_none(),
        "{}",
        secret["data"]
    );
    let scm = sim
        .object("", "secrets", "argocd", "slipway-scm-token")
        .expect("SCM token Secret");
    assert_eq!(
        scm["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
        "scm-creds"
    );
    assert!(
        sim.object("networking.k8s.io", "ingresses", "backstage", "backstage")
            .is_some_and(|i| i["spec"]["rules"][0]["host"] == "backstage.dev.test")
    );
    assert!(
        sim.object("networking.k8s.io", "ingresses", "argocd", "argocd-server")
            .is_some_and(|i| i["spec"]["rules"][0]["host"] == "argocd.dev.test"),
        "the chart's own Ingress"
    );
    assert_eq!(
        sim.object("", "configmaps", "argocd", "argocd-cm")
            .expect("chart installed")["data"]["url"],
        "http://argocd.dev.test",
        "domain reached Argo CD's values"
    );
    for app in ["traefik", "sealed-secrets", "backstage"] {
        let a = sim
            .object("argoproj.io", "applications", "argocd", app)
            .expect("Application");
        assert_eq!(a["status"]["health"]["status"], "Healthy", "{app}");
        assert_eq!(a["spec"]["project"], "platform");
    }
    // Without observability: none of its Applications, no Grafana Ingress or config.
    for app in ["otel-collector", "prometheus", "tempo", "loki", "grafana"] {
        assert!(
            sim.object("argoproj.io", "applications", "argocd", app)
                .is_none(),
            "{app} left out"
        );
    }
    assert!(
        sim.object("networking.k8s.io", "ingresses", "observability", "grafana")
            .is_none()
            && sim
                .object("", "configmaps", "observability", "slipway-grafana-config")
                .is_none()
    );
    for project in ["bootstrap", "platform", "team-payments"] {
        assert!(
            sim.object("argoproj.io", "appprojects", "argocd", project)
                .is_some(),
            "{project}"
        );
    }
    let quota = sim
        .object("", "resourcequotas", "team-payments", "team-quota")
        .expect("the team's quota");
    assert_eq!(
        quota["spec"]["hard"]["pods"], "7",
        "the team file's override"
    );
    assert_eq!(
        sim.object("", "namespaces", "", "team-payments")
            .expect("namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert!(
        sim.object(
            "admissionregistration.k8s.io",
            "validatingadmissionpolicies",
            "",
            "slipway-team-placement"
        )
        .is_some(),
        "the guard rails are applied"
    );

    // Healthy platform: every step up to date, no write reaches the API server.
    let writes = sim.client_writes();
    let again = install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect("re-run");
    assert!(
        again
            .iter()
            .all(|s| matches!(s.outcome, StepOutcome::UpToDate { .. })),
        "{again:?}"
    );
    assert_eq!(
        sim.client_writes(),
        writes,
        "zero writes on a healthy platform"
    );

    // Backstage's per-cluster config: guest sign-in while the ingress is on loopback. The
    // simulated Argo CD does not render the Backstage chart: its Deployment is made here, as
    // the chart makes it, after the config (its pods start with it: no roll needed).
    let made: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "backstage", "namespace": "backstage"},
        "spec": {"selector": {"matchLabels": {"app": "backstage"}},
                 "template": {"metadata": {"labels": {"app": "backstage"}},
                              "spec": {"containers": [{"name": "backstage", "image": "backstage"}]}}}
    }))
    .expect("deployment");
    kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
        sim.client().await.expect("client"),
        "backstage",
    )
    .create(&Default::default(), &made)
    .await
    .expect("Backstage's Deployment");
    install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect("with Backstage running");
    let deployment = || {
        sim.object("apps", "deployments", "backstage", "backstage")
            .expect("Backstage's Deployment")
    };
    let config = || {
        sim.object("", "configmaps", "backstage", "slipway-backstage-config")
            .expect("config")["data"]["app-config.slipway.yaml"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(config().contains("guest") && config().contains("http://backstage.dev.test"));
    assert!(
        deployment()["spec"]["template"]["metadata"]["annotations"]
            .get("slipway.dev/app-config-digest")
            .is_none()
    );
    // Exposed to the network: no guest sign-in, and Backstage restarts to read that. (API
    // timestamps have whole seconds: the change comes in a later second than the Deployment.)
    let second = || jiff::Timestamp::now().as_second();
    let made_at = second();
    while second() == made_at {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let exposed = InstallOptions {
        exposed: true,
        ..options.clone()
    };
    install(&kube, &exposed, &timeouts, &Recorder::default())
        .await
        .expect("exposed");
    assert!(!config().contains("guest"), "{}", config());
    assert!(
        deployment()["spec"]["template"]["metadata"]["annotations"]["slipway.dev/app-config-digest"]
            .is_string(),
        "rolled"
    );
    install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect("back on loopback");
    assert!(config().contains("guest"));

    // A Degraded component stops the run at the step that waits for it, naming it.
    sim.faults(|f| {
        f.degraded.insert("backstage".into());
    });
    let err = install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect_err("degraded");
    assert!(
        matches!(
            &err,
            PipelineError::Failed {
                step: "platform-apps",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("backstage") && err.to_string().contains("Degraded"),
        "{err}"
    );
    sim.faults(|f| f.degraded.clear());
    install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect("resumes once the fault is gone");
    let escrowed = keyring
        .get(&accounts::sealing_keys("sim"))
        .expect("keyring")
        .expect("sealing key escrowed");
    assert!(
        escrowed.contains("sealed-secrets-key"),
        "the controller's key"
    );

    // An escrow entry that cannot be read stops `up` at the first step that reads it, names the
    // recovery, and is left exactly as it was (never overwritten with the cluster's key).
    let account = accounts::sealing_keys("sim");
    keyring
        .set(&account, "{not json")
        .expect("damage the escrow");
    let err = install(&kube, &options, &timeouts, &Recorder::default())
        .await
        .expect_err("unreadable escrow");
    let text = err.to_string();
    assert_eq!(err.step(), "secrets", "{text}");
    assert!(
        text.contains("--backup-key") && text.contains("--restore-key") && text.contains(&account),
        "{text}"
    );
    assert_eq!(
        keyring.get(&account).expect("keyring").as_deref(),
        Some("{not json"),
        "the entry is untouched"
    );
    keyring.set(&account, &escrowed).expect("repair the escrow");

    // Without a keyring the platform still comes up, and the user is told what that costs.
    let no_keyring = InstallOptions {
        keyring: Keyring::unavailable("keyctl blocked (test)"),
        ..options.clone()
    };
    let sink = Recorder::default();
    install(&kube, &no_keyring, &timeouts, &sink)
        .await
        .expect("up without a keyring");
    let warnings = sink.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("will not survive a re-created cluster")
                && w.contains("--backup-key")),
        "{warnings:?}"
    );
    let secret = sim
        .object("", "secrets", "backstage", "backstage-secrets")
        .expect("still there");
    assert_eq!(
        secret["data"]["SLIPWAY_API_TOKEN"],
        b64(&token).as_str(),
        "the token in the cluster is kept, not replaced"
    );
}
