//! Where a service stands, end to end: a service created on a GitHub-mode platform, followed
//! link by link while the SIMULATED GitHub runs its CI (queued, running, passed: the image on
//! ghcr.io and its tag committed into deploy/), kube-sim's SIMULATED Argo CD renders deploy/
//! with the real `kubectl kustomize`, its kubelet pulls from the fake ghcr.io (ErrImagePull until
//! the image exists; a private one only with the namespace's pull Secret), and its Traefik
//! answers 503 until a pod is ready, then routes.
#![allow(clippy::print_stdout, reason = "the chain is printed for the test log")]

use std::time::Duration;

use slipway_core::github::{GitHub, Owner};
use slipway_core::pipeline::{Deadline, Recorder};
use slipway_core::platform::install::install;
use slipway_core::service::create;
use slipway_core::service::status::{self, LinkKind, LinkState, ServiceStatus, Sources};
use slipway_e2e::github_platform::{GitHubPlatform as World, TOKEN};
use slipway_e2e::test_timeouts;

fn states(s: &ServiceStatus) -> Vec<(LinkKind, LinkState)> {
    s.links.iter().map(|l| (l.kind, l.state)).collect()
}

fn print(s: &ServiceStatus) {
    for l in &s.links {
        println!("  {:?} {:?}: {}", l.kind, l.state, l.summary);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_follows_a_new_service_from_commit_to_traffic_and_names_the_broken_link() {
    use LinkKind as K;
    use LinkState as S;
    let w = World::new(None).await;
    w.sim.set_image_registry(w.github.registry());
    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("install in GitHub mode");
    let clients = w.clients();
    let kube = w.sim.client().await.expect("client");
    let services = w.services(&clients, Some(kube.clone()));
    let (gh, owner) = (&clients.github, services.owner.clone());
    let request = World::request("shop-api");
    create::create(&request, &services, &Recorder::default())
        .await
        .expect("service created");
    let sources = Sources {
        github: gh,
        owner: &owner,
        kube: Some(&kube),
        domain: "local",
        ingress: Some(w.options.ingress),
        zone: false,
    };

    // Just created: the push queued CI; the Deployment runs `latest`, which ghcr.io lacks, so
    // the pod waits on its image and Traefik has the route but nothing behind it.
    let pulled_nothing = |s: &ServiceStatus| {
        s.link(K::Pods).state == S::Failed && s.link(K::Url).state == S::Waiting
    };
    let mut first = status::status(&sources, "shop-api").await.expect("status");
    for _ in 0..50 {
        if pulled_nothing(&first) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        first = status::status(&sources, "shop-api").await.expect("status");
    }
    print(&first);
    assert_eq!(
        states(&first),
        [
            (K::Repository, S::Done),
            (K::Ci, S::Waiting),
            (K::Image, S::Waiting),
            (K::Application, S::Waiting),
            (K::Pods, S::Failed),
            (K::Url, S::Waiting),
        ]
    );
    assert_eq!(first.broken, Some(K::Ci), "the first link not done");
    assert_eq!(first.team.as_deref(), Some("payments"));
    let ci = first.link(K::Ci);
    assert!(ci.summary.contains("is queued"), "{ci:?}");
    assert!(
        ci.url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://github.test/octo/shop-api/actions/runs/")),
        "{ci:?}"
    );
    let pods = first.link(K::Pods);
    assert!(
        pods.summary.contains("0/1 ready in team-payments")
            && (pods.summary.contains("ErrImagePull") || pods.summary.contains("ImagePullBackOff"))
            && pods.summary.contains("ghcr.io/octo/shop-api:latest"),
        "{pods:?}"
    );
    assert!(
        pods.fix
            .as_deref()
            .is_some_and(|f| f.contains("wait for CI")),
        "{pods:?}"
    );
    assert!(
        first.link(K::Url).summary.contains("HTTP 503"),
        "{:?}",
        first.link(K::Url)
    );
    let app = first.link(K::Application);
    assert!(app.summary.contains("Synced, Progressing"), "{app:?}");

    // CI runs, then passes: the image and its recorded tag reach the cluster, the pod pulls it,
    // Traefik routes. The follow reports each change and stops once the service answers.
    w.github.start_run("octo/shop-api");
    let mut seen: Vec<String> = Vec::new();
    let fake = &w.github;
    let mut changed = |now: &ServiceStatus, before: Option<&ServiceStatus>| {
        for l in now.changes_since(before) {
            seen.push(format!("{:?} {:?}: {}", l.kind, l.state, l.summary));
        }
        // GitHub's runner finishes once the follow has seen the run in progress.
        if now.link(LinkKind::Ci).summary.ends_with("is in progress") {
            fake.finish_run("octo/shop-api", "success");
        }
    };
    let last = status::follow(
        &sources,
        "shop-api",
        Deadline::after(Duration::from_secs(30)),
        Duration::from_millis(200),
        &mut changed,
    )
    .await
    .expect("follow");
    println!("followed:\n  {}", seen.join("\n  "));
    print(&last);
    assert!(last.answering(), "{:?}", last.broken_link());
    let sha = w.github.repo("octo/shop-api").expect("repo").commits[1].clone();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("Ci Waiting: CI for") && l.ends_with("is in progress")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| *l == format!("Ci Done: CI passed for {}", &sha[..7])),
        "{seen:#?}"
    );
    assert_eq!(
        last.link(K::Image).summary,
        format!("ghcr.io/octo/shop-api:{} on ghcr.io", &sha[..7])
    );
    let deployment = w
        .sim
        .object("apps", "deployments", "team-payments", "shop-api")
        .expect("deployment");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("ghcr.io/octo/shop-api:{sha}"),
        "CI's recorded tag rolled out"
    );
    assert_eq!(last.link(K::Pods).summary, "1/1 ready in team-payments");
    assert!(
        last.link(K::Url)
            .summary
            .starts_with("http://shop-api.local:")
            && last.link(K::Url).summary.ends_with("answers (HTTP 200)"),
        "{:?}",
        last.link(K::Url)
    );

    // A private repository's image pulls only with the namespace's pull Secret: without it the
    // chain says so and what helps.
    w.github
        .state()
        .repos
        .get_mut("octo/shop-api")
        .expect("repo")
        .private = true;
    let sa = w
        .sim
        .object("", "serviceaccounts", "team-payments", "default")
        .expect("the namespace's ServiceAccount");
    assert_eq!(sa["imagePullSecrets"][0]["name"], "ghcr-pull");
    let pods_api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(kube.clone(), "team-payments");
    let shop_pod = || async {
        pods_api
            .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=shop-api"))
            .await
            .expect("pods")
            .items
            .into_iter()
            .next()
            .expect("a shop-api pod")
    };
    let delete = kube::api::DeleteParams::default();
    let before = shop_pod().await;
    let before_name = before.metadata.name.clone().expect("name");
    pods_api
        .delete(&before_name, &delete)
        .await
        .expect("delete pod");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let replaced = shop_pod().await;
    assert_ne!(
        replaced.metadata.name.as_deref(),
        Some(before_name.as_str())
    );
    assert_eq!(
        replaced.status.and_then(|s| s.phase).as_deref(),
        Some("Running"),
        "pulled with the pull Secret"
    );
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(kube.clone(), "team-payments");
    secrets
        .delete("ghcr-pull", &delete)
        .await
        .expect("delete pull Secret");
    let victim = replaced.metadata.name.clone().expect("name");
    pods_api.delete(&victim, &delete).await.expect("delete pod");
    let mut stuck = status::status(&sources, "shop-api").await.expect("status");
    for _ in 0..50 {
        if stuck.link(K::Pods).state == S::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stuck = status::status(&sources, "shop-api").await.expect("status");
    }
    print(&stuck);
    let pods = stuck.link(K::Pods);
    assert_eq!(pods.state, S::Failed, "{pods:?}");
    assert!(pods.summary.contains("401 Unauthorized"), "{pods:?}");
    assert!(
        pods.fix
            .as_deref()
            .is_some_and(|f| f.contains("pull Secret")),
        "{pods:?}"
    );
    assert!(stuck.link(K::Repository).summary.contains("private"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_ci_run_and_a_missing_repository_are_named_with_their_fix() {
    use LinkKind as K;
    use LinkState as S;
    let w = World::new(None).await;
    let gh = GitHub::new(&w.github.url(), TOKEN).expect("github");
    let owner = Owner {
        name: "octo".into(),
        org: false,
    };
    let sources = Sources {
        github: &gh,
        owner: &owner,
        kube: None,
        domain: "local",
        ingress: Some(w.options.ingress),
        zone: false,
    };
    for bad in ["../user", "a/actions/runs", "Shop"] {
        let refused = status::status(&sources, bad).await.expect_err(bad);
        assert!(refused.to_string().contains("service name"), "{refused}");
    }
    let missing = status::status(&sources, "nothing-here")
        .await
        .expect("status");
    assert_eq!(missing.broken, Some(K::Repository));
    assert!(
        missing
            .link(K::Repository)
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("slipway service create")),
        "{missing:?}"
    );
    assert!(missing.links[1..].iter().all(|l| l.state == S::Unknown));

    // A repository whose CI failed: the CI link fails with the run's address.
    let clients = w.clients();
    let services = w.services(&clients, None);
    // The platform repository a personal account's services are listed in.
    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("install");
    let request = World::request("broken-ci");
    create::create(&request, &services, &Recorder::default())
        .await
        .expect("created");
    w.github.finish_run("octo/broken-ci", "failure");
    let failed = status::status(&sources, "broken-ci").await.expect("status");
    print(&failed);
    let ci = failed.link(K::Ci);
    assert_eq!((failed.broken, ci.state), (Some(K::Ci), S::Failed));
    assert!(ci.summary.ends_with("ended: failure"), "{ci:?}");
    assert!(
        ci.url
            .as_deref()
            .is_some_and(|u| u.contains("/actions/runs/"))
    );
    assert!(
        ci.fix
            .as_deref()
            .is_some_and(|f| f.contains("open the CI run"))
    );
    assert_eq!(
        failed.link(K::Image).state,
        S::Waiting,
        "nothing was pushed"
    );
    assert_eq!(
        failed.link(K::Application).state,
        S::Unknown,
        "no cluster given"
    );

    // A token without read:packages cannot see the image: the link says so and what helps.
    w.github.state().scopes = Some("repo, read:org, workflow".into());
    let blind = status::status(&sources, "broken-ci").await.expect("status");
    let image = blind.link(K::Image);
    assert_eq!(image.state, S::Unknown, "{image:?}");
    assert!(image.summary.contains("read:packages"), "{image:?}");
}
