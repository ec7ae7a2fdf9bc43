//! Slipway's Kubernetes layer (server-side apply through discovery, named waits) against kube-sim.

use std::time::Duration;

use slipway_core::k8s::{K8sError, apply, wait};
use slipway_e2e::kube_sim::KubeSim;

const BUNDLE: &str = include_str!("fixtures/bundle.yaml");
const APPS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: platform, namespace: argocd}\nspec: {sourceRepos: ['*'], destinations: [{server: '*', namespace: '*'}]}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: traefik, namespace: argocd}\nspec: {project: platform}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: backstage, namespace: argocd}\nspec: {project: platform}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_with_its_crd_applies_in_one_pass_and_reapplies_without_writes() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let objects = apply::parse(BUNDLE).expect("parse");
    assert_eq!(objects.len(), 7);

    let first = apply::apply(
        &client,
        &objects,
        "slipway",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("apply");
    assert_eq!(first.changed.len(), 7, "{first:?}");
    assert_eq!(
        sim.object("example.slipway.dev", "widgets", "demo", "w1")
            .expect("custom resource")["spec"]["size"],
        3
    );

    let writes = sim.client_writes();
    let again = apply::apply(
        &client,
        &objects,
        "slipway",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("re-apply");
    assert!(again.changed.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len(), 7);
    assert_eq!(
        sim.client_writes(),
        writes,
        "a healthy re-apply makes no writes"
    );

    wait::deployment_available(&client, "demo", "web", in_secs(10))
        .await
        .expect("available");
    assert!(matches!(
        apply::parse("kind: ConfigMap\n"),
        Err(K8sError::Manifest { .. })
    ));
    let unknown = apply::parse("apiVersion: nope.example/v1\nkind: Thing\nmetadata: {name: x}\n")
        .expect("parse");
    let err = apply::apply(
        &client,
        &unknown,
        "slipway",
        "default",
        Duration::from_secs(5),
    )
    .await
    .expect_err("unknown kind");
    assert!(err.to_string().contains("is its CRD installed"), "{err}");
    assert!(
        matches!(err, K8sError::Discovery { .. }) && !err.is_transient(),
        "an unknown kind is not worth a retry: {err:?}"
    );
    // A discovery answer of 500 is the API server's hiccup: typed, and retried by `up`.
    sim.inject_http_fault(slipway_e2e::kube_sim::HttpFault {
        method: Some("GET".into()),
        path_contains: "/apis/nope.example".into(),
        status: 500,
        times: 1,
    });
    let err = apply::apply(
        &client,
        &unknown,
        "slipway",
        "default",
        Duration::from_secs(5),
    )
    .await
    .expect_err("discovery 500");
    assert!(
        matches!(err, K8sError::Discovery { .. }) && err.is_transient(),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_report_what_state_they_ended_in() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    sim.faults(|f| {
        f.degraded.insert("backstage".into());
        f.never_ready.insert("demo/web".into());
    });
    let apps = format!(
        "{}---\n{}---\n{APPS}",
        slipway_e2e::crd_yaml("argoproj.io", "Application", "applications"),
        slipway_e2e::crd_yaml("argoproj.io", "AppProject", "appprojects")
    );
    apply::apply(
        &client,
        &apply::parse(&apps).expect("parse"),
        "slipway",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("apply apps");
    apply::apply(
        &client,
        &apply::parse(BUNDLE).expect("parse"),
        "slipway",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("apply bundle");

    wait::application_healthy(&client, "argocd", "traefik", in_secs(10))
        .await
        .expect("traefik healthy");
    let started = std::time::Instant::now();
    let err = wait::application_healthy(&client, "argocd", "backstage", in_secs(30))
        .await
        .expect_err("degraded");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "Degraded fails at once, not at the timeout"
    );
    assert!(
        err.to_string().contains("health Degraded") && err.to_string().contains("backstage"),
        "{err}"
    );

    let err = wait::deployment_available(&client, "demo", "web", in_secs(2))
        .await
        .expect_err("never ready");
    assert!(
        err.to_string().contains("within 2 s")
            && err.to_string().contains("0/2 replicas available"),
        "{err}"
    );
}

fn in_secs(secs: u64) -> slipway_core::pipeline::Deadline {
    slipway_core::pipeline::Deadline::after(Duration::from_secs(secs))
}
