//! Untrusted services stay in their lane. Two hostile service repositories in the organisation
//! (topics `idp-managed` and `team-payments`, as any member could set) are deployed by the
//! SIMULATED Argo CD of a GitHub-mode platform: one asks for kinds its team's project does not
//! allow (a Namespace `argocd`, a ClusterRoleBinding, a Traefik IngressRoute), the other for
//! allowed kinds with hostile contents (a hostPath pod pinned to the platform node, a privileged
//! pod, an Ingress taking Argo CD's login path, an Ingress for github.com). Afterwards nothing
//! hostile exists, each Application says why, the platform is intact, and the hosts file would
//! not get `github.com`.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_core::github::GitHub;
use slipway_core::pipeline::Recorder;
use slipway_core::platform::install::install;
use slipway_core::teams::TeamFile;
use slipway_e2e::fakes::FakeRepo;
use slipway_e2e::github_platform::{GitHubPlatform, TOKEN};
use slipway_e2e::{eventually, test_timeouts};

fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    list.iter()
        .map(|(p, d)| ((*p).to_owned(), d.as_bytes().to_vec()))
        .collect()
}

const KINDS: &[(&str, &str)] = &[
    (
        "deploy/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n",
    ),
    (
        "deploy/admin.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: evil-admin}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: team-payments}]\n",
    ),
    (
        "deploy/route.yaml",
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: steal}\nspec:\n  routes: [{match: \"Host(`argocd.local`) && PathPrefix(`/api/v1/session`)\", kind: Rule, services: [{name: evil, port: 80}]}]\n",
    ),
    (
        "deploy/innocent.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: innocent}\ndata: {a: b}\n",
    ),
];

const HOSTPATH: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: steal-admin-conf}\nspec:\n  selector: {matchLabels: {app: steal}}\n  template:\n    metadata: {labels: {app: steal}}\n    spec:\n      nodeSelector: {slipway.dev/pool: platform}\n      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n      containers: [{name: c, image: busybox, volumeMounts: [{name: k, mountPath: /k}]}]\n      volumes: [{name: k, hostPath: {path: /etc/kubernetes}}]\n";
const PRIVILEGED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: escape}\nspec:\n  selector: {matchLabels: {app: escape}}\n  template:\n    metadata: {labels: {app: escape}}\n    spec:\n      nodeSelector: {slipway.dev/pool: workloads}\n      containers: [{name: c, image: busybox, securityContext: {privileged: true}}]\n";
const LOGIN_ROUTE: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: argocd-login}\nspec:\n  rules:\n  - host: argocd.local\n    http: {paths: [{path: /api/v1/session, pathType: Prefix, backend: {service: {name: evil, port: {number: 80}}}}]}\n";
const GITHUB_ROUTE: &str = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: github}\nspec:\n  rules:\n  - host: github.com\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: evil, port: {number: 80}}}}]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_service_repositories_get_nothing_and_the_platform_stays_intact() {
    let w = GitHubPlatform::new(Some("acme")).await;
    install(&w.kube, &w.options, &test_timeouts(), &Recorder::default())
        .await
        .expect("GitHub-mode install for the organisation");
    // Traefik's CRDs are there (the real chart installs them): the IngressRoute is refused by
    // the project, not for an unknown kind.
    let client = w.sim.client().await.expect("client");
    let crd = slipway_core::k8s::apply::parse(&slipway_e2e::crd_yaml(
        "traefik.io",
        "IngressRoute",
        "ingressroutes",
    ))
    .expect("crd");
    slipway_core::k8s::apply::apply(&client, &crd, "test", "default", Duration::from_secs(10))
        .await
        .expect("IngressRoute CRD");
    // The team the hostile repositories claim.
    let gh = GitHub::new(&w.github.url(), TOKEN).expect("github");
    let team = TeamFile::new("payments");
    gh.commit_files(
        "acme",
        "slipway-platform",
        "main",
        &BTreeMap::from([(
            TeamFile::path("payments"),
            team.to_yaml().expect("yaml").into_bytes(),
        )]),
        "team payments",
    )
    .await
    .expect("team file");
    eventually(Duration::from_secs(20), "team payments' baseline", || {
        w.app("payments.team")
            .is_some_and(|a| a["status"]["health"]["status"] == "Healthy")
    })
    .await;

    let pods = [
        ("deploy/hostpath.yaml", HOSTPATH),
        ("deploy/privileged.yaml", PRIVILEGED),
        ("deploy/login.yaml", LOGIN_ROUTE),
        ("deploy/github.yaml", GITHUB_ROUTE),
    ];
    {
        let mut state = w.github.state();
        for (name, contents) in [("evil-kinds", KINDS), ("evil-pods", &pods[..])] {
            state.repos.insert(
                format!("acme/{name}"),
                FakeRepo {
                    topics: vec!["idp-managed".into(), "team-payments".into()],
                    files: files(contents),
                    commits: vec!["0000000000000000000000000000000000000001".into()],
                    ..FakeRepo::default()
                },
            );
        }
    }

    // The project refuses the whole sync of the repository with forbidden kinds, naming each.
    eventually(Duration::from_secs(20), "evil-kinds refused", || {
        w.app("evil-kinds")
            .is_some_and(|a| a["status"]["conditions"][0]["type"] == "SyncError")
    })
    .await;
    let kinds = w.app("evil-kinds").expect("app");
    assert_eq!(kinds["spec"]["project"], "team-payments");
    let why = kinds["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    for refused in [
        "one or more synchronization tasks are not valid",
        "resource :Namespace is not permitted in project team-payments",
        "resource rbac.authorization.k8s.io:ClusterRoleBinding is not permitted in project team-payments",
        "resource traefik.io:IngressRoute is not permitted in project team-payments",
    ] {
        assert!(why.contains(refused), "{refused}: {why}");
    }
    assert!(
        w.sim
            .object(
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                "",
                "evil-admin"
            )
            .is_none()
    );
    assert!(
        w.sim
            .object("traefik.io", "ingressroutes", "team-payments", "steal")
            .is_none()
    );
    assert!(
        w.sim
            .object("", "configmaps", "team-payments", "innocent")
            .is_none(),
        "nothing of a refused sync is applied"
    );

    // Allowed kinds with hostile contents: admission refuses the Ingresses and every pod.
    eventually(
        Duration::from_secs(20),
        "evil-pods synced as far as admission lets it",
        || {
            w.app("evil-pods")
                .is_some_and(|a| a["status"]["conditions"][0]["type"] == "SyncError")
                && w.sim
                    .object("apps", "deployments", "team-payments", "escape")
                    .is_some_and(|d| {
                        d["status"]["conditions"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| c["type"] == "ReplicaFailure"))
                    })
                && w.sim
                    .object("apps", "deployments", "team-payments", "steal-admin-conf")
                    .is_some_and(|d| {
                        d["status"]["conditions"]
                            .as_array()
                            .is_some_and(|c| c.iter().any(|c| c["type"] == "ReplicaFailure"))
                    })
        },
    )
    .await;
    let app = w.app("evil-pods").expect("app");
    let why = app["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("one or more objects failed to apply"), "{why}");
    assert!(
        why.contains("ingresses.networking.k8s.io \"argocd-login\" is forbidden: ValidatingAdmissionPolicy 'slipway-team-ingress-hosts'")
            && why.contains("ingresses.networking.k8s.io \"github\" is forbidden"),
        "{why}"
    );
    let failure = |name: &str| {
        w.sim
            .object("apps", "deployments", "team-payments", name)
            .and_then(|d| {
                d["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .find(|c| c["type"] == "ReplicaFailure")
                    .and_then(|c| c["message"].as_str().map(str::to_owned))
            })
            .unwrap_or_default()
    };
    let escape = failure("escape");
    assert!(
        escape.contains("violates PodSecurity \"restricted:v1.36\": privileged"),
        "{escape}"
    );
    let steal = failure("steal-admin-conf");
    assert!(
        steal.contains("violates PodSecurity") && steal.contains("restricted volume types"),
        "the hostPath mount: {steal}"
    );
    let team_pods = w.sim.client().await.expect("client");
    let listed: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(team_pods, "team-payments");
    let running = listed.list(&Default::default()).await.expect("pods");
    assert!(
        running.items.is_empty(),
        "no hostile pod exists: {:?}",
        running
            .items
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect::<Vec<_>>()
    );

    // The platform is intact, and the hosts file would get only names under the domain.
    assert!(w.sim.object("", "namespaces", "", "argocd").is_some());
    for name in ["root", "traefik", "backstage", "sealed-secrets"] {
        assert_eq!(
            w.app(name).expect("platform app")["status"]["health"]["status"],
            "Healthy",
            "{name}"
        );
    }
    let hosts = slipway_core::hosts::desired(
        "local",
        &slipway_core::k8s::KubeTarget {
            kubeconfig: Some(w.kube.kubeconfig.clone()),
            context: Some(w.kube.context.clone()),
        },
    )
    .await;
    assert!(
        hosts.names.iter().all(|n| n.ends_with(".local")),
        "{:?}",
        hosts.names
    );
    assert!(!hosts.names.iter().any(|n| n == "github.com"));
}
