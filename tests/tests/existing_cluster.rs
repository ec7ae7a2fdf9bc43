//! `slipway up --context` onto an existing cluster: kube-sim on its own (no Docker at all:
//! `DOCKER_HOST` points nowhere) made to look like a managed cloud cluster (nodes with a
//! provider's labels and no Slipway pool, a default StorageClass, a load balancer controller,
//! pods scheduled by nodeSelector), Traefik's chart rendered from its stand-in. The real
//! `slipway` binary and helm; one simulated cluster for the whole file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Api;
use slipway_e2e::kube_sim::{KubeSim, cloud};
use slipway_e2e::{Run, root, slipway, tools_dir};

/// The context's name as GKE writes it (underscores, which Slipway's own names never have).
const CONTEXT: &str = "gke_team-project_europe-west1_team";
const DOMAIN: &str = "platform.team.example";
/// The simulated load balancer's address (a loopback one: the test serves Traefik there).
const LB: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 31, 0, 1));

struct Target {
    sim: KubeSim,
    kubeconfig: std::path::PathBuf,
    home: tempfile::TempDir,
}

impl Target {
    async fn start() -> Self {
        let sim = KubeSim::start().await.expect("sim");
        sim.set_helm(&tools_dir().join("helm"));
        sim.set_chart_stand_ins(&root().join("tests/tests/fixtures/charts"));
        sim.as_cloud_cluster(LB);
        // The load balancer's ports 80 and 443 reach Traefik's web and websecure entrypoints.
        let root_user = rustix::process::geteuid().is_root();
        assert!(
            root_user,
            "the simulated load balancer serves ports 80/443: run as root (CI does)"
        );
        sim.serve_ingress(SocketAddr::new(LB, 80))
            .await
            .expect("lb :80");
        sim.serve_ingress_tls(SocketAddr::new(LB, 443))
            .await
            .expect("lb :443");
        let home = tempfile::tempdir().expect("home");
        let kubeconfig = home.path().join("team-kubeconfig");
        std::fs::write(&kubeconfig, sim.kubeconfig_as(CONTEXT)).expect("kubeconfig");
        Self {
            sim,
            kubeconfig,
            home,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = slipway();
        c.args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("KUBECONFIG")
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("XDG_CONFIG_HOME", self.home.path().join("config"));
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut c = self.command(args);
        tokio::task::block_in_place(|| Run::of(&mut c))
    }

    fn up(&self, extra: &[&str]) -> Run {
        self.up_in(DOMAIN, extra)
    }

    fn up_in(&self, domain: &str, extra: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig.to_string_lossy().into_owned();
        let charts = root().join("tests/tests/fixtures/charts");
        let helm = tools_dir().join("helm");
        let mut args = vec![
            "up",
            "--context",
            CONTEXT,
            "--kubeconfig",
            &kubeconfig,
            "--domain",
            domain,
            "--local",
            "--app-timeout",
            "60",
        ];
        let (charts, helm) = (
            charts.to_string_lossy().into_owned(),
            helm.to_string_lossy().into_owned(),
        );
        args.extend(["--charts", &charts, "--helm", &helm]);
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn target_args(&self) -> Vec<String> {
        vec![
            "--context".into(),
            CONTEXT.into(),
            "--kubeconfig".into(),
            self.kubeconfig.to_string_lossy().into_owned(),
        ]
    }
}

async fn wait_for_nodes(sim: &KubeSim) {
    let client = sim.client().await.expect("client");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client);
    for _ in 0..100 {
        let list = nodes.list(&Default::default()).await.expect("nodes");
        let ready = list.items.iter().all(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        if ready && !list.items.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the simulated cloud nodes never became Ready");
}

/// HTTP through the load balancer's port 80 with a `Host` header: the status code.
async fn http_status(host: &str) -> u16 {
    slipway_core::platform::routing::probe(SocketAddr::new(LB, 80), host)
        .await
        .expect("HTTP answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_context_runs_the_platform_on_a_cloud_cluster_and_down_leaves_it_as_it_was() {
    let t = Target::start().await;
    wait_for_nodes(&t.sim).await;
    let before = t.sim.object_names();

    // The cluster's nodes carry no Slipway pool label: naming a label no node has is refused
    // before anything is written, and so is the laptop's `.local` domain.
    let writes = t.sim.client_writes();
    let wrong = t.up(&["--platform-nodes", "cloud.google.com/gke-nodepool=nope"]);
    assert!(!wrong.ok, "{}", wrong.stdout);
    assert!(
        wrong
            .stderr
            .contains("no node has the label cloud.google.com/gke-nodepool=nope"),
        "{}",
        wrong.stderr
    );
    let wrong = t.up(&["--workload-nodes", "cloud.google.com/gke-nodepool=nope"]);
    assert!(
        !wrong.ok
            && wrong.stderr.contains(
                "no node has the label cloud.google.com/gke-nodepool=nope; name a label the nodes for services carry"
            )
            && wrong.stderr.contains("leave --workload-nodes out"),
        "{}",
        wrong.stderr
    );
    let local = t.up_in("local", &[]);
    assert!(
        !local.ok && local.stderr.contains("needs --domain ZONE"),
        "{}",
        local.stderr
    );
    // A user without cluster-wide rights (the context impersonates a developer no role is bound
    // to, as `kubectl --as` would) is told which rights are missing.
    let restricted = t.home.path().join("restricted-kubeconfig");
    let text = t
        .sim
        .kubeconfig_as("restricted")
        .replace("    token:", "    as: dev-alice\n    token:");
    std::fs::write(&restricted, text).expect("restricted kubeconfig");
    let restricted = restricted.to_string_lossy().into_owned();
    let denied = t.run(&[
        "up",
        "--context",
        "restricted",
        "--kubeconfig",
        &restricted,
        "--domain",
        DOMAIN,
        "--local",
    ]);
    assert!(!denied.ok, "{}", denied.stdout);
    assert!(
        denied.stderr.contains(
            "may not create customresourcedefinitions (apiextensions.k8s.io), create clusterroles"
        ) && denied.stderr.contains("cluster-admin"),
        "{}",
        denied.stderr
    );
    assert_eq!(
        t.sim.client_writes(),
        writes,
        "a refused preflight writes nothing"
    );

    // No default StorageClass while Loki and Prometheus claim volumes: refused, naming the fix.
    let classes: Api<StorageClass> = Api::all(t.sim.client().await.expect("client"));
    let class = classes.get(cloud::STORAGE_CLASS).await.expect("class");
    classes
        .delete(cloud::STORAGE_CLASS, &Default::default())
        .await
        .expect("delete class");
    let no_class = t.up(&[]);
    assert!(
        !no_class.ok
            && no_class.stderr.contains("is-default-class=true")
            && no_class.stderr.contains("--without observability"),
        "{}",
        no_class.stderr
    );
    let mut back = class.clone();
    back.metadata.resource_version = None;
    back.metadata.uid = None;
    classes
        .create(&Default::default(), &back)
        .await
        .expect("class back");

    let pool = format!("{}=default-pool", cloud::POOL_LABEL);
    let up = t.up(&["--platform-nodes", &pool]).expect_ok("up --context");
    // The summary names the DNS records for the load balancer's address, and no hosts file.
    for host in ["argocd", "grafana"] {
        let record = format!("{host}.{DOMAIN}");
        let line = up
            .stdout
            .lines()
            .find(|l| l.contains(&record) && l.contains(" A "))
            .unwrap_or_default();
        assert!(
            line.contains("127.31.0.1"),
            "no A record for {record}:\n{}",
            up.stdout
        );
    }
    assert!(!up.stdout.contains("hosts apply"), "{}", up.stdout);
    assert!(
        up.stdout.contains("slipway forward --context"),
        "Backstage is reached by port-forward:\n{}",
        up.stdout
    );

    let client = t.sim.client().await.expect("client");
    // Traefik: behind a LoadBalancer Service, no host port, on the named nodes (scheduled, so
    // the kind pool label is gone from its selector), two replicas.
    let traefik: Deployment = Api::namespaced(client.clone(), "traefik")
        .get("traefik")
        .await
        .expect("traefik");
    let spec = traefik.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.expect("pod spec");
    let selector = pod.node_selector.clone().unwrap_or_default();
    assert_eq!(
        selector.get(cloud::POOL_LABEL).map(String::as_str),
        Some("default-pool"),
        "{selector:?}"
    );
    assert!(!selector.contains_key("slipway.dev/pool") && !selector.contains_key("ingress-ready"));
    assert!(
        pod.containers[0]
            .ports
            .iter()
            .flatten()
            .all(|p| p.host_port.is_none())
    );
    let service: Service = Api::namespaced(client.clone(), "traefik")
        .get("traefik")
        .await
        .expect("service");
    assert_eq!(
        service.spec.and_then(|s| s.type_).as_deref(),
        Some("LoadBalancer")
    );
    // The UIs: HTTPS only (routing checked them over TLS with the local CA); Backstage not routed.
    let ingresses: Api<Ingress> = Api::all(client.clone());
    let names: Vec<String> = ingresses
        .list(&Default::default())
        .await
        .expect("ingresses")
        .items
        .into_iter()
        .filter_map(|i| i.metadata.name)
        .collect();
    assert!(!names.iter().any(|n| n == "backstage"), "{names:?}");
    assert_eq!(
        http_status(&format!("argocd.{DOMAIN}")).await,
        404,
        "Argo CD must not answer over HTTP"
    );
    assert_eq!(http_status(&format!("grafana.{DOMAIN}")).await, 404);

    // A second run, as a teammate's who names none of the first run's choices: they come
    // from the cluster's record, so it is up to date and writes nothing.
    let writes = t.sim.client_writes();
    let again = t.up(&[]).expect_ok("second up --context");
    assert!(
        again.stdout.contains("nothing changed"),
        "{}\n{}",
        again.stdout,
        again.stderr
    );
    assert_eq!(t.sim.client_writes(), writes, "the second up wrote");

    // GitHub sign-in: with an OAuth app kept for the cluster (its secret from stdin, never an
    // argument), the next `up` routes Backstage over HTTPS with GitHub as its only sign-in.
    const SECRET: &str = "0123456789abcdef0123456789abcdef01234567";
    let mut oauth = t.command(&["github", "oauth", "set", "--client-id", "Ov23liTeamApp01"]);
    oauth.args(t.target_args());
    tokio::task::block_in_place(|| Run::feeding(&mut oauth, SECRET)).expect_ok("oauth set");
    let signed = t.up(&[]).expect_ok("up --context with GitHub sign-in");
    let callback = format!("https://backstage.{DOMAIN}/api/auth/github/handler/frame");
    assert!(
        signed.stdout.contains(&callback) && !signed.stdout.contains("slipway forward"),
        "{}",
        signed.stdout
    );
    assert!(!format!("{}{}", signed.stdout, signed.stderr).contains(SECRET));
    let backstage: Ingress = Api::namespaced(client.clone(), "backstage")
        .get("backstage")
        .await
        .expect("Backstage routed");
    assert_eq!(
        backstage.metadata.annotations.unwrap_or_default()["traefik.ingress.kubernetes.io/router.entrypoints"],
        "websecure"
    );
    let config = t
        .sim
        .object("", "configmaps", "backstage", "slipway-backstage-config")
        .expect("Backstage's config");
    let config: serde_json::Value = serde_saphyr::from_str(
        config["data"]["app-config.slipway.yaml"]
            .as_str()
            .unwrap_or_default(),
    )
    .expect("app-config");
    assert_eq!(
        config["auth"]["providers"]["github"]["production"]["clientId"],
        "Ov23liTeamApp01"
    );
    assert!(config["auth"]["providers"]["guest"].is_null(), "{config}");
    let secrets = t
        .sim
        .object("", "secrets", "backstage", "backstage-secrets")
        .expect("backstage-secrets");
    let kept = secrets["data"]["AUTH_GITHUB_CLIENT_SECRET"]
        .as_str()
        .map(|v| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, v));
    assert_eq!(
        kept.and_then(Result::ok).as_deref(),
        Some(SECRET.as_bytes()),
        "the OAuth app's secret reaches Backstage through its Secret"
    );

    let mut status_args = vec!["status".to_owned(), "-o".into(), "json".into()];
    status_args.extend(t.target_args());
    let status_args: Vec<&str> = status_args.iter().map(String::as_str).collect();
    let status = t.run(&status_args).expect_ok("status --context");
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(status["platformInstalled"], true, "{status:#}");
    assert_eq!(status["ingressAnswering"], true, "{status:#}");
    assert_eq!(status["problems"], serde_json::json!([]), "{status:#}");
    assert_eq!(
        status["nodes"].as_array().map(Vec::len),
        Some(3),
        "{status:#}"
    );
    let traefik_row = status["components"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "traefik")
        .cloned()
        .unwrap_or_default();
    assert_eq!(traefik_row["health"], "Healthy", "{status:#}");
    assert_eq!(traefik_row["pinned"], traefik_row["running"], "{status:#}");

    // The other commands take the same target: a team's namespace and baseline there (local
    // mode: Slipway applies it), and a Secret sealed with that cluster's controller.
    let helm = tools_dir().join("helm");
    let helm = helm.to_string_lossy().into_owned();
    let with_target = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(t.target_args());
        all
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        t.run(&args)
    };
    run(with_target(&[
        "team", "apply", "payments", "--local", "--helm", &helm,
    ]))
    .expect_ok("team apply --context");
    let teams = run(with_target(&["team", "list", "--local", "-o", "json"]))
        .expect_ok("team list --context");
    let teams: serde_json::Value = serde_json::from_str(&teams.stdout).expect("teams JSON");
    assert_eq!(teams[0]["name"], "payments", "{teams:#}");
    assert_eq!(
        teams[0]["applied"], true,
        "the baseline is on the existing cluster: {teams:#}"
    );
    let sealed = run(with_target(&[
        "seal",
        "--name",
        "db",
        "--namespace",
        "team-payments",
        "--from-literal",
        "password=s3cret-value",
    ]))
    .expect_ok("seal --context");
    assert!(
        sealed.stdout.contains("kind: SealedSecret") && !sealed.stdout.contains("s3cret-value"),
        "{}",
        sealed.stdout
    );

    // down: refused without --yes, then the platform goes and the cluster is as it was (the
    // team's namespace with it).
    let mut down_args = vec!["down".to_owned()];
    down_args.extend(t.target_args());
    let down: Vec<&str> = down_args.iter().map(String::as_str).collect();
    let refused = t.run(&down);
    assert!(
        !refused.ok && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    let helm = tools_dir().join("helm");
    let helm = helm.to_string_lossy().into_owned();
    let mut confirmed = down.clone();
    confirmed.extend(["--yes", "--helm", &helm]);
    t.run(&confirmed).expect_ok("down --context --yes");
    let after = t.sim.object_names();
    let left: Vec<&String> = after.difference(&before).collect();
    let lost: Vec<&String> = before.difference(&after).collect();
    assert!(
        left.is_empty() && lost.is_empty(),
        "left behind: {left:#?}\nremoved what was there: {lost:#?}"
    );
}

#[test]
fn the_stand_in_traefik_chart_renders_what_the_cluster_target_promises() {
    // The target's Traefik values (as `up --context` sends them) through the stand-in with the
    // real helm: a LoadBalancer Service on 80/443, no hostPort, the named selector only.
    let existing = slipway_core::platform::target::Existing {
        kube: slipway_core::helm::KubeContext {
            kubeconfig: "/dev/null".into(),
            context: CONTEXT.into(),
        },
        expose: slipway_core::platform::target::Expose::NodePort,
        platform_nodes: Some("node-pool=platform".parse().expect("selector")),
        workload_nodes: None,
        recall: Default::default(),
    };
    let values = slipway_core::platform::gitops::values_on("traefik", DOMAIN, Some(&existing))
        .expect("values");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("values.json");
    std::fs::write(&file, values.to_string()).expect("values file");
    let out = Command::new(tools_dir().join("helm"))
        .args(["template", "traefik"])
        .arg(root().join("tests/tests/fixtures/charts/traefik"))
        .args(["--namespace", "traefik", "--values"])
        .arg(&file)
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .output()
        .expect("helm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("rendered");
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .cloned()
            .unwrap_or_default()
    };
    let service = kind("Service");
    assert_eq!(service["spec"]["type"], "NodePort");
    let ports: Vec<i64> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_i64())
        .collect();
    assert_eq!(ports, [80, 443]);
    let pod = &kind("Deployment")["spec"]["template"]["spec"];
    assert_eq!(
        pod["nodeSelector"],
        serde_json::json!({"node-pool": "platform"})
    );
    assert!(pod["tolerations"].is_null(), "{}", pod["tolerations"]);
    assert!(!text.contains("hostPort"), "{text}");
}

/// GitHub mode on an existing cluster, as a team runs it: the platform repository carries the
/// cluster's values (Argo CD reads them after the base ones), and a second person with their own
/// keyring and state gets the same platform with no write to the cluster or to GitHub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_person_runs_up_context_against_the_same_platform_and_writes_nothing() {
    use slipway_core::pipeline::Recorder;
    use slipway_core::platform::install::{InstallOptions, Source};
    use slipway_core::platform::target::{Existing, Expose};
    use slipway_core::secrets::{Keyring, accounts};
    use slipway_e2e::github_platform::{GitHubPlatform, TOKEN};

    let w = GitHubPlatform::new(None).await;
    let lb = IpAddr::V4(Ipv4Addr::new(127, 31, 0, 2));
    w.sim
        .set_chart_stand_ins(&root().join("tests/tests/fixtures/charts"));
    w.sim.as_cloud_cluster(lb);
    w.sim
        .serve_ingress(SocketAddr::new(lb, 80))
        .await
        .expect("lb :80");
    w.sim
        .serve_ingress_tls(SocketAddr::new(lb, 443))
        .await
        .expect("lb :443");
    let existing = Existing {
        kube: w.kube.clone(),
        expose: Expose::LoadBalancer,
        platform_nodes: Some(
            format!("{}=big-pool", cloud::POOL_LABEL)
                .parse()
                .expect("selector"),
        ),
        workload_nodes: Some(
            format!("{}=default-pool", cloud::POOL_LABEL)
                .parse()
                .expect("selector"),
        ),
        recall: Default::default(),
    };
    // The second person names none of those choices: `up --context NAME` alone takes them
    // from the cluster's record of the first person's `up`.
    let plain = Existing {
        kube: w.kube.clone(),
        expose: Expose::default(),
        platform_nodes: None,
        workload_nodes: None,
        recall: slipway_core::platform::target::Recall {
            expose: true,
            platform_nodes: true,
            workload_nodes: true,
        },
    };
    let person = |teams: &std::path::Path, existing: &Existing| {
        let keyring = Keyring::with_store(keyring_core::mock::Store::new().expect("keyring"));
        keyring
            .set(&accounts::github_token(&w.github.url()), TOKEN)
            .expect("token");
        InstallOptions {
            cluster: existing.id(),
            domain: DOMAIN.into(),
            keyring,
            exposed: true,
            existing: Some(existing.clone()),
            teams: slipway_core::teams::LocalTeams::in_dir(teams),
            ..w.options.clone()
        }
    };
    let dirs = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (alice, bob) = (
        person(dirs.0.path(), &existing),
        person(dirs.1.path(), &plain),
    );
    // The first person gave Backstage GitHub sign-in; the second has no OAuth app of their own.
    let app = slipway_core::github::account::OAuthApp {
        client_id: "Ov23liTeamApp01".into(),
        client_secret: "0123456789abcdef0123456789abcdef01234567".into(),
    };
    app.keep(&existing.id(), &alice.keyring).expect("OAuth app");
    // The token the fake Backstage takes, as the real one takes what `up` puts in
    // backstage-secrets from the first person's keyring.
    alice
        .keyring
        .set(
            &accounts::backstage_api_token(&existing.id()),
            slipway_e2e::github_platform::BACKSTAGE_TOKEN,
        )
        .expect("Backstage token");
    assert!(matches!(alice.source, Source::GitHub { .. }));
    let timeouts = slipway_e2e::test_timeouts();

    slipway_core::platform::existing::up(&alice, &timeouts, &Recorder::default())
        .await
        .expect("the first person's up --context");
    // The platform's Backstage as a port-forward reaches it (its chart is not rendered here).
    w.sim
        .serve_service("backstage", "backstage", 7007, w.backstage.addr)
        .await
        .expect("Backstage's Service");
    let repo = w
        .github
        .repo("octo/slipway-platform")
        .expect("platform repository");
    let set = String::from_utf8_lossy(&repo.files["bootstrap/platform-appset.yaml"]).into_owned();
    assert!(
        set.contains("$values/targets/cluster/values/{{ .name }}.yaml"),
        "{set}"
    );
    assert!(
        repo.files
            .contains_key("targets/cluster/values/traefik.yaml")
    );
    // Argo CD rendered Traefik from Git with both values files: the target's placement.
    let traefik: Deployment = Api::namespaced(w.sim.client().await.expect("client"), "traefik")
        .get("traefik")
        .await
        .expect("traefik from Git");
    let selector = traefik
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.node_selector)
        .unwrap_or_default();
    assert_eq!(
        selector.get(cloud::POOL_LABEL).map(String::as_str),
        Some("big-pool"),
        "{selector:?}"
    );

    let (writes, commits) = (w.sim.client_writes(), repo.commits.len());
    let report = slipway_core::platform::existing::up(&bob, &timeouts, &Recorder::default())
        .await
        .expect("the second person's up --context");
    assert_eq!(
        w.sim.client_writes(),
        writes,
        "the second person wrote to the cluster: {:?}",
        report.steps
    );
    let repo = w
        .github
        .repo("octo/slipway-platform")
        .expect("platform repository");
    assert_eq!(
        repo.commits.len(),
        commits,
        "the second person wrote to GitHub"
    );
    // What the second person learnt went to their own keyring: the platform's Backstage token.
    let token = |o: &InstallOptions| {
        o.keyring
            .get(&accounts::backstage_api_token(&existing.id()))
            .expect("keyring")
    };
    assert!(token(&bob).is_some() && token(&bob) == token(&alice));
    assert_eq!(
        slipway_core::github::account::OAuthApp::kept(&existing.id(), &bob.keyring)
            .expect("keyring"),
        Some(app),
        "the second person keeps the cluster's Backstage sign-in (and so its route)"
    );

    // Services from either machine: each person's creation runs where `--workload-nodes` says
    // (the workloads ApplicationSet's patch over the template's own pool label, held by the
    // placement policy), and the other person lists it.
    let client = w.sim.client().await.expect("client");
    let create = async |name: &str, person: &InstallOptions| {
        let clients = w.clients();
        let services = slipway_core::service::create::Services {
            cluster: existing.id(),
            reach: person.reach(),
            zone: true,
            ..w.services(&clients, Some(client.clone()))
        };
        let request = slipway_core::service::ServiceRequest {
            domain: DOMAIN.into(),
            ..GitHubPlatform::request(name)
        };
        slipway_core::service::create::create(&request, &services, &Recorder::default())
            .await
            .expect("service created");
    };
    create("shop-api", &alice).await;
    create("cart", &bob).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(client.clone(), "team-payments");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for name in ["shop-api", "cart"] {
        let pod = loop {
            let running = pods
                .list(
                    &kube::api::ListParams::default()
                        .labels(&format!("app.kubernetes.io/name={name}")),
                )
                .await
                .expect("pods")
                .items
                .into_iter()
                .find(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()));
            match running {
                Some(p) => break p,
                None => assert!(
                    std::time::Instant::now() < deadline,
                    "no scheduled {name} pod: {:?}",
                    w.app(name)
                ),
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        let spec = pod.spec.expect("spec");
        let selector = spec.node_selector.unwrap_or_default();
        assert_eq!(
            selector.into_iter().collect::<Vec<_>>(),
            [(cloud::POOL_LABEL.to_owned(), "default-pool".to_owned())],
            "{name}"
        );
        while w
            .app(name)
            .is_none_or(|a| a["status"]["health"]["status"] != "Healthy")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: {:?}",
                w.app(name)
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let node = nodes
            .get(&spec.node_name.expect("node"))
            .await
            .expect("node");
        assert_eq!(
            node.metadata
                .labels
                .unwrap_or_default()
                .get(cloud::POOL_LABEL)
                .map(String::as_str),
            Some("default-pool")
        );
    }
    let clients = w.clients();
    for person in [&alice, &bob] {
        let owner = slipway_core::github::Owner {
            name: "octo".into(),
            org: false,
        };
        let listed = slipway_core::service::list::list(
            &clients.github,
            &owner,
            Some(&client),
            DOMAIN,
            person.reach(),
        )
        .await
        .expect("list");
        let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cart", "shop-api"], "{listed:?}");
        assert!(
            listed
                .iter()
                .all(|s| s.health.as_deref() == Some("Healthy")),
            "{listed:?}"
        );
    }

    // An upgrade through Git: the platform repository as an earlier release published it, with
    // Traefik pinned to the chart before this one (its stand-in rendered meanwhile); this
    // release's `up` publishes its own pin in one commit, Argo CD renders the new chart, and
    // `status` shows what runs against the pin all along.
    use slipway_core::platform::publish::{RECORD, Record, blob_id};
    let pinned = slipway_core::platform::gitops::components()
        .expect("components")
        .into_iter()
        .find(|c| c.name == "traefik")
        .expect("traefik")
        .chart
        .version;
    let earlier = "41.2.0";
    let fixtures = root().join("tests/tests/fixtures/charts");
    let charts = tempfile::tempdir().expect("charts");
    let copied = Command::new("cp")
        .arg("-r")
        .args([fixtures.join("argo-cd"), fixtures.join("traefik")])
        .arg(charts.path())
        .status()
        .expect("cp");
    assert!(copied.success());
    let meta = charts.path().join("traefik/Chart.yaml");
    let pin = |v: &str| format!("version: {v}");
    let text = std::fs::read_to_string(&meta).expect("Chart.yaml");
    std::fs::write(&meta, text.replace(&pin(&pinned), &pin(earlier))).expect("earlier chart");
    w.sim.set_chart_stand_ins(charts.path());
    let platform = "octo/slipway-platform";
    let mut files = w.github.repo(platform).expect("repository").files;
    let component = "platform/components/traefik.yaml";
    let old = String::from_utf8_lossy(&files[component]).replace(&pin(&pinned), &pin(earlier));
    files.insert(component.into(), old.into_bytes());
    let mut record: Record = serde_json::from_slice(&files[RECORD]).expect("record");
    record.version = "0.0.1".into();
    record
        .files
        .insert(component.into(), blob_id(&files[component]));
    files.insert(
        RECORD.into(),
        serde_json::to_vec_pretty(&record).expect("record"),
    );
    w.github
        .push(platform, files, "Publish the platform (Slipway 0.0.1)")
        .expect("the earlier release's publish");
    let traefik_chart = async || {
        let d: Deployment = Api::namespaced(client.clone(), "traefik")
            .get("traefik")
            .await
            .expect("traefik");
        d.metadata.labels.unwrap_or_default()["helm.sh/chart"].clone()
    };
    let running = async || {
        slipway_core::platform::existing::status(&existing)
            .await
            .expect("status --context")
            .components
            .into_iter()
            .find(|c| c.name == "traefik")
            .expect("traefik")
    };
    let settled = async |version: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = running().await;
            if now.running.as_deref() == Some(version)
                && now.health == "Healthy"
                && traefik_chart().await == format!("traefik-{version}")
            {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Traefik never ran {version}: {now:?}, {}",
                traefik_chart().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let before = settled(earlier).await;
    assert_eq!(
        before.pinned.as_deref(),
        Some(pinned.as_str()),
        "{before:?}"
    );

    w.sim.set_chart_stand_ins(&fixtures);
    let commits = w.github.repo(platform).expect("repository").commits.len();
    // Meanwhile Backstage restarted and its in-memory catalog lost a service: the same `up`
    // registers it again, through a port-forward to the cluster's Backstage.
    w.backstage
        .state()
        .locations
        .retain(|_, target| !target.contains("/cart/blob/"));
    let upgrade = slipway_core::platform::existing::up(&alice, &timeouts, &Recorder::default())
        .await
        .expect("the upgrade");
    let catalog = upgrade
        .steps
        .iter()
        .find(|s| s.id == "catalog")
        .expect("catalog step");
    assert!(
        format!("{:?}", catalog.outcome)
            .contains("registered again (the catalog had lost them): cart"),
        "{catalog:?}"
    );
    let repo = w.github.repo(platform).expect("repository");
    assert_eq!(repo.commits.len(), commits + 1, "one commit upgrades it");
    assert!(String::from_utf8_lossy(&repo.files[component]).contains(&pin(&pinned)));
    let after = settled(&pinned).await;
    assert_eq!(after.pinned, after.running, "{after:?}");
}
