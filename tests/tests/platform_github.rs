//! GitHub mode of the platform install: the bundle published as the owner's platform repository on
//! the SIMULATED GitHub, Argo CD's root Application on it, and kube-sim's SIMULATED Argo CD
//! syncing `bootstrap/` from that repository (read through the fake GitHub, in process), so the
//! platform Applications come from the Git files generator. Then a service created for a
//! personal owner is listed in the registry and becomes an Application. Real helm 4 installs the
//! stand-in Argo CD chart.
#![allow(clippy::print_stdout, reason = "figures are printed for the test log")]

use std::time::{Duration, Instant};

use slipway_core::pipeline::{PipelineError, Recorder, StepOutcome};
use slipway_core::platform::install::install;
use slipway_core::platform::publish::{self, PLATFORM_REPO};
use slipway_core::secrets::accounts;
use slipway_core::service::create;
use slipway_e2e::test_timeouts;

use slipway_e2e::github_platform::{GitHubPlatform as World, TOKEN};

fn b64(v: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd_runs_the_published_repository_and_deploys_a_new_service_from_it() {
    let w = World::new(None).await;
    let started = Instant::now();
    let steps = install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("install in GitHub mode");
    println!(
        "GitHub-mode install: {:.2} s, {} GitHub calls",
        started.elapsed().as_secs_f64(),
        w.github.state().calls
    );
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
    assert!(steps[3].outcome.is_change(), "{steps:?}");

    // The platform repository holds the bundle for this user, in one commit after the initial one.
    let repo = w
        .github
        .repo(&format!("octo/{PLATFORM_REPO}"))
        .expect("platform repository");
    let site = publish::Site {
        web: "https://github.test".into(),
        api: w.github.url(),
        ..publish::Site::github_com("octo", false)
    };
    let mut bundle = publish::files(&site);
    bundle.insert(publish::RECORD.into(), repo.files[publish::RECORD].clone());
    assert_eq!(repo.files, bundle, "the published bundle and its record");
    assert!(repo.private);
    assert_eq!(repo.commits.len(), 2);

    // The root Application reads it; Argo CD (simulated) synced bootstrap/ from Git.
    let root_app = w.app("root").expect("root Application");
    assert_eq!(
        root_app["spec"]["source"]["repoURL"],
        "https://github.test/octo/slipway-platform.git"
    );
    assert_eq!(
        root_app["spec"]["source"]["directory"]["exclude"],
        "{root-app.yaml,workloads-appset.yaml}"
    );
    assert_eq!(
        (
            root_app["status"]["sync"]["status"].as_str(),
            root_app["status"]["health"]["status"].as_str()
        ),
        (Some("Synced"), Some("Healthy"))
    );
    let synced: Vec<String> = root_app["status"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["kind"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for expected in [
        "AppProject/bootstrap",
        "AppProject/platform",
        "ApplicationSet/platform",
        "ApplicationSet/teams",
        "ApplicationSet/workloads",
    ] {
        assert!(
            synced.iter().any(|s| s == expected),
            "{expected} synced from Git: {synced:?}"
        );
    }
    let workloads = w
        .sim
        .object("argoproj.io", "applicationsets", "argocd", "workloads")
        .expect("workloads set");
    assert_eq!(
        workloads["spec"]["generators"][0]["git"]["files"][0]["path"], "services/*.yaml",
        "a user's services come from the registry folder"
    );

    // Platform Applications come from the Git files generator, values from the repository.
    for name in ["traefik", "sealed-secrets", "backstage"] {
        let app = w.app(name).expect("platform Application");
        assert_eq!(
            app["spec"]["sources"][0]["helm"]["valueFiles"][0],
            format!("$values/platform/values/{name}.yaml")
        );
        assert_eq!(
            app["spec"]["sources"][1]["repoURL"],
            "https://github.test/octo/slipway-platform.git"
        );
        assert_eq!(app["status"]["health"]["status"], "Healthy", "{name}");
    }

    // Argo CD's credentials for the owner's repositories, and the SCM token.
    let creds = w
        .sim
        .object("", "secrets", "argocd", "slipway-repo-creds")
        .expect("repo-creds Secret");
    assert_eq!(
        creds["metadata"]["labels"]["argocd.argoproj.io/secret-type"],
        "repo-creds"
    );
    assert_eq!(
        creds["data"]["url"],
        b64("https://github.test/octo").as_str()
    );
    assert_eq!(creds["data"]["password"], b64(TOKEN).as_str());
    assert!(
        w.sim
            .object("", "secrets", "argocd", "slipway-scm-token")
            .is_some()
    );

    // A healthy platform: nothing written to the cluster or to GitHub.
    let writes = w.sim.client_writes();
    let again = install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("re-run");
    assert!(
        again
            .iter()
            .all(|s| matches!(s.outcome, StepOutcome::UpToDate { .. })),
        "{again:?}"
    );
    assert_eq!(w.sim.client_writes(), writes, "zero cluster writes");
    assert_eq!(
        w.github
            .repo(&format!("octo/{PLATFORM_REPO}"))
            .expect("repo")
            .commits
            .len(),
        2,
        "no commit when current"
    );

    // A service for the personal owner: listed in the registry, then an Application from Git.
    let clients = w.clients();
    let services = w.services(&clients, Some(w.sim.client().await.expect("client")));
    let request = World::request("shop-api");
    create::create(&request, &services, &Recorder::default())
        .await
        .expect("service created");
    let entry = w
        .github
        .repo(&format!("octo/{PLATFORM_REPO}"))
        .expect("repo")
        .files
        .get("services/shop-api.yaml")
        .cloned()
        .expect("registry entry");
    assert!(
        String::from_utf8_lossy(&entry).contains("repo: https://github.test/octo/shop-api.git")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let app = loop {
        match w.app("shop-api") {
            Some(app) if app["status"]["health"]["status"] == "Healthy" => break app,
            other => assert!(
                Instant::now() < deadline,
                "no healthy shop-api Application: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        app["spec"]["source"]["repoURL"],
        "https://github.test/octo/shop-api.git"
    );
    assert_eq!(app["spec"]["source"]["path"], "deploy");
    // deploy/ is rendered by Kustomize (real `kubectl kustomize`); its Ingress counts as Healthy
    // only because Traefik publishes 127.0.0.1 in its status (the bundle's Traefik values).
    let kinds: Vec<&str> = app["status"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Service", "Deployment", "Ingress"], "{app}");
    let ingress = w
        .sim
        .object(
            "networking.k8s.io",
            "ingresses",
            "team-payments",
            "shop-api",
        )
        .expect("the service's Ingress");
    assert_eq!(
        ingress["status"]["loadBalancer"]["ingress"],
        serde_json::json!([{"ip": "127.0.0.1"}])
    );
    assert_eq!(app["spec"]["destination"]["namespace"], "team-payments");
    assert_eq!(app["spec"]["project"], "team-payments");
    // The new team came with it: its file, its baseline from Argo CD, its pull Secret.
    let platform = w
        .github
        .repo(&format!("octo/{PLATFORM_REPO}"))
        .expect("repo");
    assert!(platform.files.contains_key("teams/payments.yaml"));
    assert_eq!(
        w.app("payments.team").expect("the team's Application")["status"]["health"]["status"],
        "Healthy"
    );
    assert!(
        w.sim
            .object("", "secrets", "team-payments", "ghcr-pull")
            .is_some()
    );
    // The next `up` waits for the team's baseline and keeps its pull Secret current.
    let steps = install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("up with a team");
    let teams = steps.iter().find(|s| s.id == "teams").expect("teams step");
    assert!(
        format!("{:?}", teams.outcome).contains("payments: baselines Healthy"),
        "{teams:?}"
    );
    let outcome = |steps: &[slipway_core::pipeline::StepReport], id: &str| {
        format!("{:?}", steps.iter().find(|s| s.id == id).expect(id).outcome)
    };
    assert!(
        outcome(&steps, "catalog").contains("1 service(s) in the catalog"),
        "{steps:?}"
    );

    // Backstage restarts with an empty in-memory catalog; the next `up` registers the service
    // again, through the ingress as a user would reach Backstage.
    w.backstage.restart();
    let steps = install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("up after a Backstage restart");
    assert!(
        outcome(&steps, "catalog")
            .contains("registered again (the catalog had lost them): shop-api"),
        "{steps:?}"
    );
    let target = "https://github.test/octo/shop-api/blob/main/catalog-info.yaml";
    assert!(
        w.backstage.state().locations.values().any(|t| t == target),
        "{target} registered again"
    );
    assert!(
        w.backstage
            .state()
            .hosts
            .iter()
            .any(|h| h.starts_with("backstage.local")),
        "reached as backstage.local through the ingress"
    );

    // Backstage, which anyone reaching it acts through, never got the user's token; with a
    // read-only token kept, the cluster reads with that one instead (Argo CD too).
    let secret =
        |name: &str, ns: &str| w.sim.object("", "secrets", ns, name).expect(name)["data"].clone();
    assert!(
        secret("backstage-secrets", "backstage")
            .get("GITHUB_TOKEN")
            .is_none()
    );
    w.options
        .keyring
        .set(
            &accounts::github_read_token(&w.github.url()),
            "github_pat_read_only",
        )
        .expect("read-only token");
    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("up with a read-only token");
    let read = b64("github_pat_read_only");
    assert_eq!(
        secret("backstage-secrets", "backstage")["GITHUB_TOKEN"],
        read.as_str()
    );
    assert_eq!(
        secret("slipway-repo-creds", "argocd")["password"],
        read.as_str()
    );
    assert_eq!(
        secret("slipway-scm-token", "argocd")["token"],
        read.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_uses_the_scm_generator_and_a_foreign_owner_or_a_lost_repository_is_named()
{
    // An owner the token cannot publish for: the publish step says so and what to set.
    let stranger = World::new(Some("someone-else")).await;
    let err = install(
        &stranger.kube,
        &stranger.options,
        &test_timeouts(),
        &Recorder::default(),
    )
    .await
    .expect_err("foreign owner");
    assert!(
        matches!(
            &err,
            PipelineError::Failed {
                step: "publish",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("someone-else") && err.to_string().contains("--owner"),
        "{err}"
    );

    let w = World::new(Some("acme")).await;
    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("install for an organisation");
    let root_app = w.app("root").expect("root");
    assert_eq!(
        root_app["spec"]["source"]["repoURL"],
        "https://github.test/acme/slipway-platform.git"
    );
    assert_eq!(
        root_app["spec"]["source"]["directory"]["exclude"],
        "{root-app.yaml,workloads-registry-appset.yaml}"
    );
    let workloads = w
        .sim
        .object("argoproj.io", "applicationsets", "argocd", "workloads")
        .expect("workloads set");
    assert_eq!(
        workloads["spec"]["generators"][0]["scmProvider"]["github"]["organization"],
        "acme"
    );
    assert_eq!(
        workloads["spec"]["generators"][0]["scmProvider"]["github"]["api"],
        w.github.url().as_str()
    );

    // The platform repository is gone (deleted by hand): Argo CD cannot compare the root, and the
    // re-run publishes it again and recovers.
    w.github
        .state()
        .repos
        .remove(&format!("acme/{PLATFORM_REPO}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while w
        .app("root")
        .is_none_or(|a| a["status"]["conditions"][0]["type"] != "ComparisonError")
    {
        assert!(
            Instant::now() < deadline,
            "no ComparisonError: {:?}",
            w.app("root")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let steps = install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("re-published");
    assert!(
        steps
            .iter()
            .find(|s| s.id == "publish")
            .is_some_and(|s| s.outcome.is_change()),
        "{steps:?}"
    );
    assert_eq!(
        w.app("root").expect("root")["status"]["health"]["status"],
        "Healthy"
    );
}

/// A platform started before GitHub was connected runs in local mode; the next install with the
/// token kept (what `slipway up` does after `github connect`) switches it: the platform set is
/// replaced by the Git-generated one, the root Application appears, and the platform stays
/// Healthy throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_mode_platform_switches_to_github_mode_on_the_next_install() {
    use slipway_core::platform::install::Source;
    let w = World::new(None).await;
    let local = slipway_core::platform::install::InstallOptions {
        source: Source::Local,
        ..w.options.clone()
    };
    install(&w.kube, &local, &test_timeouts(), &Recorder::default())
        .await
        .expect("local mode");
    assert!(
        w.app("root").is_none(),
        "local mode has no root Application"
    );
    let set = w
        .sim
        .object("argoproj.io", "applicationsets", "argocd", "platform")
        .expect("platform set");
    assert!(set["spec"]["generators"][0].get("list").is_some(), "{set}");

    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("the switch to GitHub mode");
    let root = w.app("root").expect("root Application");
    assert_eq!(
        root["spec"]["source"]["repoURL"],
        "https://github.test/octo/slipway-platform.git"
    );
    let set = w
        .sim
        .object("argoproj.io", "applicationsets", "argocd", "platform")
        .expect("platform set");
    assert!(
        set["spec"]["generators"][0].get("git").is_some()
            && set["spec"]["generators"].as_array().map(Vec::len) == Some(1),
        "only the Git generator is left: {set}"
    );
    for component in ["traefik", "sealed-secrets", "backstage"] {
        let app = w.app(component).expect(component);
        assert_eq!(
            app["status"]["health"]["status"], "Healthy",
            "{component}: {app}"
        );
    }
}
