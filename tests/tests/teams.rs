//! Team namespaces as tenants. The baseline is the bundle's team chart rendered by the real helm;
//! the real kubectl applies it to kube-sim (server-side dry run first), checks access with
//! `kubectl auth can-i --as … --as-group …`, and meets kube-sim's admission (ResourceQuota, Pod
//! Security, the platform's ValidatingAdmissionPolicies) with Kubernetes' own messages. Then the
//! same baseline by GitOps: the SIMULATED Argo CD's teams ApplicationSet over the organisation's
//! platform repository on the fake GitHub, and a service for a new team.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use slipway_core::helm::Helm;
use slipway_core::pipeline::Recorder;
use slipway_core::teams::{self, TeamFile};
use slipway_e2e::golden::{GoldenWorld, TOKEN, request};
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{ToolOut, crd_yaml, eventually, expect, tool, tools_dir};

struct Cluster {
    sim: KubeSim,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

/// kube-sim with Argo CD's AppProject CRD and the guard rails Slipway applies on `up`.
async fn cluster() -> Cluster {
    let sim = KubeSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let mut docs = slipway_core::platform::gitops::policies(&[]).expect("policies");
    docs.push(slipway_core::platform::gitops::site_config("local", None));
    let yaml: String = docs
        .iter()
        .map(|d| format!("---\n{}\n", serde_json::to_string(d).expect("json")))
        .collect();
    let setup = format!(
        "{}---\n{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: backstage}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: observability}}\n",
        crd_yaml("argoproj.io", "AppProject", "appprojects"),
        crd_yaml("argoproj.io", "Application", "applications")
    );
    expect(
        kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&setup)).await,
        "CRD",
    );
    expect(
        kubectl(
            &kubeconfig,
            &[
                "wait",
                "--for=condition=Established",
                "crd/appprojects.argoproj.io",
                "crd/applications.argoproj.io",
            ],
            None,
        )
        .await,
        "established",
    );
    expect(
        kubectl(&kubeconfig, &["apply", "-f", "-"], Some(&yaml)).await,
        "policies",
    );
    Cluster {
        sim,
        kubeconfig,
        _dir: dir,
    }
}

async fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> ToolOut {
    tool("kubectl", kubeconfig, args, stdin).await
}

fn yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| format!("---\n{}\n", serde_json::to_string(d).expect("json")))
        .collect()
}

async fn helm() -> Helm {
    Helm::locate(Some(&tools_dir().join("helm")))
        .await
        .expect("helm")
}

/// `kubectl auth can-i VERB RESOURCE -n NS` as a member of `team`.
async fn can(c: &Cluster, team: &str, verb: &str, resource: &str, ns: &str) -> bool {
    let group = format!("slipway:team:{team}");
    let out = kubectl(
        &c.kubeconfig,
        &[
            "auth",
            "can-i",
            verb,
            resource,
            "-n",
            ns,
            "--as",
            "alice",
            "--as-group",
            &group,
        ],
        None,
    )
    .await;
    let answer = out.stdout.trim();
    assert!(
        answer == "yes" || answer == "no",
        "can-i answers yes or no: {} {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.ok, answer == "yes", "exit code follows the answer");
    answer == "yes"
}

const GOOD_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: NAME, namespace: team-payments}\nspec:\n  nodeSelector: {slipway.dev/pool: workloads}\n  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n  - name: app\n    image: ghcr.io/acme/app:1\n    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_baseline_renders_passes_a_server_dry_run_and_holds_its_tenants() {
    let c = cluster().await;
    let helm = helm().await;
    let mut payments = TeamFile::new("payments");
    payments.quota.pods = Some(2);
    let web = TeamFile::new("web");
    let mut docs = teams::render(&helm, &payments)
        .await
        .expect("render payments");
    docs.extend(teams::render(&helm, &web).await.expect("render web"));
    let kinds: Vec<String> = docs
        .iter()
        .filter(|d| d["metadata"]["namespace"] == "team-payments" || d["kind"] == "Namespace")
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for kind in [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} in the baseline: {kinds:?}"
        );
    }
    // The platform's collector scrapes the team's pods and receives their OTLP, on its two
    // ports only; the rest of the observability namespace stays out of reach.
    let policy = |name: &str| {
        docs.iter()
            .find(|d| {
                d["metadata"]["namespace"] == "team-payments" && d["metadata"]["name"] == name
            })
            .unwrap_or_else(|| panic!("NetworkPolicy {name}"))
            .clone()
    };
    let collector = serde_json::json!({
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector"}},
    });
    assert_eq!(
        policy("allow-from-collector")["spec"]["ingress"][0]["from"][0],
        collector
    );
    let egress = policy("egress")["spec"]["egress"].clone();
    let otlp = egress
        .as_array()
        .expect("egress rules")
        .iter()
        .find(|r| r["to"][0] == collector)
        .expect("an egress rule to the collector");
    assert_eq!(
        otlp["ports"],
        serde_json::json!([{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}])
    );
    let (namespaces, rest): (Vec<Value>, Vec<Value>) =
        docs.into_iter().partition(|d| d["kind"] == "Namespace");
    expect(
        kubectl(
            &c.kubeconfig,
            &["apply", "-f", "-"],
            Some(&yaml(&namespaces)),
        )
        .await,
        "namespaces",
    );
    expect(
        kubectl(
            &c.kubeconfig,
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&yaml(&rest)),
        )
        .await,
        "server-side dry run of the baseline",
    );
    assert!(
        c.sim
            .object("", "resourcequotas", "team-payments", "team-quota")
            .is_none(),
        "a dry run stores nothing"
    );
    expect(
        kubectl(&c.kubeconfig, &["apply", "-f", "-"], Some(&yaml(&rest))).await,
        "the baseline",
    );
    let ns = c
        .sim
        .object("", "namespaces", "", "team-payments")
        .expect("namespace");
    assert_eq!(ns["metadata"]["labels"]["slipway.dev/team"], "payments");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );

    // RBAC: a member edits their namespace, reads their Applications, and nothing of others'.
    assert!(can(&c, "payments", "create", "deployments", "team-payments").await);
    assert!(
        can(
            &c,
            "payments",
            "create",
            "pods/portforward",
            "team-payments"
        )
        .await
    );
    assert!(can(&c, "payments", "list", "applications.argoproj.io", "argocd").await);
    assert!(
        !can(&c, "payments", "get", "secrets", "team-payments").await,
        "no Secrets unless the team file allows"
    );
    assert!(!can(&c, "payments", "get", "secrets", "team-web").await);
    assert!(!can(&c, "payments", "create", "deployments", "team-web").await);
    assert!(!can(&c, "payments", "delete", "resourcequotas", "team-payments").await);
    assert!(!can(&c, "payments", "create", "rolebindings", "team-payments").await);
    assert!(!can(&c, "payments", "patch", "networkpolicies", "team-payments").await);
    assert!(can(&c, "web", "create", "deployments", "team-web").await);
    let refused = kubectl(
        &c.kubeconfig,
        &[
            "get",
            "secrets",
            "-n",
            "team-web",
            "--as",
            "alice",
            "--as-group",
            "slipway:team:payments",
        ],
        None,
    )
    .await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains(
            r#"secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "team-web""#
        ),
        "{}",
        refused.stderr
    );

    // Admission: quota, Pod Security, placement, hosts, external IPs, the pull Secret.
    for name in ["p1", "p2"] {
        expect(
            kubectl(
                &c.kubeconfig,
                &["apply", "-f", "-"],
                Some(&GOOD_POD.replace("NAME", name)),
            )
            .await,
            "a compliant pod",
        );
    }
    let p1 = c.sim.object("", "pods", "team-payments", "p1").expect("p1");
    assert_eq!(
        p1["spec"]["containers"][0]["resources"]["limits"]["memory"], "256Mi",
        "LimitRange defaults filled in"
    );
    let over = kubectl(
        &c.kubeconfig,
        &["apply", "-f", "-"],
        Some(&GOOD_POD.replace("NAME", "p3")),
    )
    .await;
    assert!(!over.ok);
    assert!(
        over.stderr.contains(
            r#"pods "p3" is forbidden: exceeded quota: team-quota, requested: pods=1, used: pods=2, limited: pods=2"#
        ),
        "{}",
        over.stderr
    );
    let quota = kubectl(
        &c.kubeconfig,
        &[
            "get",
            "resourcequota",
            "team-quota",
            "-n",
            "team-payments",
            "-o",
            "json",
        ],
        None,
    )
    .await;
    let quota: Value = serde_json::from_str(&quota.stdout).expect("quota json");
    assert_eq!(quota["status"]["used"]["pods"], "2");
    assert_eq!(quota["status"]["hard"]["pods"], "2");

    let web_pod = |patch: &str| {
        GOOD_POD
            .replace("team-payments", "team-web")
            .replace("NAME", "bad")
            + patch
    };
    let cases = [
        (
            web_pod("  volumes: [{name: host, hostPath: {path: /etc/kubernetes}}]\n  hostNetwork: true\n"),
            r#"violates PodSecurity "restricted:v1.36": host namespaces (hostNetwork=true)"#,
        ),
        (
            GOOD_POD.replace("team-payments", "team-web").replace("NAME", "bad").replace("  nodeSelector: {slipway.dev/pool: workloads}\n", "  nodeSelector: {slipway.dev/pool: platform}\n"),
            "ValidatingAdmissionPolicy 'slipway-team-placement' with binding 'slipway-team-placement' denied request: team pods must select the workloads node",
        ),
        (
            web_pod("  volumes: [{name: pull, secret: {secretName: ghcr-pull}}]\n"),
            "ValidatingAdmissionPolicy 'slipway-team-pull-secret' with binding 'slipway-team-pull-secret' denied request: team pods must not mount the ghcr-pull Secret",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: steal, namespace: team-web}\nspec:\n  rules:\n  - host: argocd.local\n    http: {paths: [{path: /api/v1/session, pathType: Prefix, backend: {service: {name: x, port: {number: 80}}}}]}\n".to_owned(),
            "ValidatingAdmissionPolicy 'slipway-team-ingress-hosts' with binding 'slipway-team-ingress-hosts' denied request: team Ingress hosts must be <name>.local and not a platform host (argocd.local, backstage.local, grafana.local)",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: steal, namespace: team-web}\nspec:\n  rules:\n  - host: github.com\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: x, port: {number: 80}}}}]}\n".to_owned(),
            "team Ingress hosts must be <name>.local",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: mitm, namespace: team-web}\nspec:\n  ports: [{port: 443}]\n  externalIPs: [10.96.0.1]\n".to_owned(),
            "denied request: team Services must not set spec.externalIPs",
        ),
    ];
    for (manifest, message) in cases {
        let out = kubectl(&c.kubeconfig, &["apply", "-f", "-"], Some(&manifest)).await;
        assert!(!out.ok, "refused: {manifest}");
        assert!(out.stderr.contains(message), "{message}\n{}", out.stderr);
    }
    expect(
        kubectl(
            &c.kubeconfig,
            &["apply", "-f", "-"],
            Some("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: team-web}\nspec:\n  rules:\n  - host: web.local\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}\n"),
        )
        .await,
        "a service's own host",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_application_set_makes_a_healthy_baseline_per_team_file_and_prunes_a_removed_one()
{
    let w = GoldenWorld::new().await;
    let (gh, _) = w.clients();
    let mut files = std::collections::BTreeMap::new();
    for name in ["alpha", "beta"] {
        let team = TeamFile::new(name);
        files.insert(
            TeamFile::path(name),
            team.to_yaml().expect("yaml").into_bytes(),
        );
    }
    gh.commit_files("acme", "slipway-platform", "main", &files, "two teams")
        .await
        .expect("commit");
    let healthy = |name: &str| {
        w.app(name).is_some_and(|a| {
            a["status"]["health"]["status"] == "Healthy"
                && a["status"]["sync"]["status"] == "Synced"
        })
    };
    eventually(
        Duration::from_secs(20),
        "alpha.team and beta.team Healthy",
        || healthy("alpha.team") && healthy("beta.team"),
    )
    .await;
    for name in ["alpha", "beta"] {
        let app = w.app(&format!("{name}.team")).expect("app");
        assert_eq!(app["spec"]["project"], "platform");
        assert_eq!(app["spec"]["sources"][0]["path"], "teams/chart");
        let ns = w
            .sim
            .object("", "namespaces", "", &format!("team-{name}"))
            .expect("namespace");
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "restricted"
        );
        assert!(
            w.sim
                .object("", "resourcequotas", &format!("team-{name}"), "team-quota")
                .is_some()
        );
        assert!(
            w.sim
                .object(
                    "argoproj.io",
                    "appprojects",
                    "argocd",
                    &format!("team-{name}")
                )
                .is_some()
        );
    }
    gh.delete_files(
        "acme",
        "slipway-platform",
        "main",
        &[TeamFile::path("beta")],
        "drop beta",
    )
    .await
    .expect("delete");
    eventually(Duration::from_secs(20), "beta's baseline pruned", || {
        w.app("beta.team").is_none() && w.sim.object("", "namespaces", "", "team-beta").is_none()
    })
    .await;
    assert!(
        w.sim
            .object("argoproj.io", "appprojects", "argocd", "team-beta")
            .is_none(),
        "its project with it"
    );
    assert!(healthy("alpha.team"), "the other team keeps its baseline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_for_a_new_team_brings_the_team_and_its_pull_secret_which_stays_out_of_git_logs_and_ipc()
 {
    let w = GoldenWorld::new().await;
    let recorder = Recorder::default();
    let clients = w.clients();
    let services = w.services(&clients, "acme", true).await;
    let created = slipway_core::service::create::create(&request("shop-api"), &services, &recorder)
        .await
        .expect("create");
    let platform = w
        .github
        .repo("acme/slipway-platform")
        .expect("platform repo");
    let team_file = platform
        .files
        .get("teams/payments.yaml")
        .expect("team file");
    let team = TeamFile::parse("teams/payments.yaml", &String::from_utf8_lossy(team_file))
        .expect("a valid team file");
    assert_eq!(team, TeamFile::new("payments"));
    assert!(
        String::from_utf8_lossy(platform.files.get(teams::GROUP_CATALOG).expect("groups"))
            .contains("kind: Group"),
        "the team's Backstage Group"
    );
    for (kind, plural, ns, name) in [
        ("Namespace", "namespaces", "", "team-payments"),
        (
            "ResourceQuota",
            "resourcequotas",
            "team-payments",
            "team-quota",
        ),
        (
            "LimitRange",
            "limitranges",
            "team-payments",
            "team-defaults",
        ),
        (
            "NetworkPolicy",
            "networkpolicies",
            "team-payments",
            "default-deny-ingress",
        ),
        ("Role", "roles", "team-payments", "team-payments-developer"),
        (
            "RoleBinding",
            "rolebindings",
            "team-payments",
            "team-payments-developers",
        ),
    ] {
        let group = match kind {
            "NetworkPolicy" => "networking.k8s.io",
            "Role" | "RoleBinding" => "rbac.authorization.k8s.io",
            _ => "",
        };
        assert!(
            w.sim.object(group, plural, ns, name).is_some(),
            "{kind} {name}"
        );
    }
    let secret = w
        .sim
        .object("", "secrets", "team-payments", teams::PULL_SECRET)
        .expect("pull Secret");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    use base64::Engine;
    let config = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][".dockerconfigjson"].as_str().expect("data"))
        .expect("base64");
    let config: Value = serde_json::from_slice(&config).expect("docker config");
    assert_eq!(
        config["auths"]["ghcr.io"]["password"], TOKEN,
        "the keyring's token"
    );
    let sa = w
        .sim
        .object("", "serviceaccounts", "team-payments", "default")
        .expect("default SA");
    assert_eq!(sa["imagePullSecrets"][0]["name"], teams::PULL_SECRET);

    // The service runs under its team's project, in its namespace.
    eventually(Duration::from_secs(20), "shop-api Healthy", || {
        w.app("shop-api")
            .is_some_and(|a| a["status"]["health"]["status"] == "Healthy")
    })
    .await;
    let app = w.app("shop-api").expect("app");
    assert_eq!(app["spec"]["project"], "team-payments");
    assert_eq!(app["spec"]["destination"]["namespace"], "team-payments");

    // The token is nowhere but the Secret: not in Git, not in progress events, not in what the
    // GUI receives.
    let state = w.github.state();
    for (repo, r) in &state.repos {
        for (path, data) in &r.files {
            assert!(
                !String::from_utf8_lossy(data).contains(TOKEN),
                "{repo}/{path} holds the token"
            );
        }
    }
    assert!(
        !format!("{:?}", recorder.events()).contains(TOKEN),
        "progress events"
    );
    assert!(
        !serde_json::to_string(&created)
            .expect("json")
            .contains(TOKEN),
        "the IPC payload"
    );
}

/// Run the real binary off the runtime's threads (kube-sim serves on them).
async fn slipway_cli(args: Vec<String>, env: Vec<(&'static str, PathBuf)>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let out = slipway_e2e::slipway()
            .args(&args)
            .envs(env)
            .output()
            .expect("slipway");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_applies_lists_and_removes_a_local_team() {
    let c = cluster().await;
    let name = format!("teams-cli-{}", std::process::id());
    // The cluster as `slipway up` names it in the kubeconfig: context kind-<name>.
    let kubeconfig = c.kubeconfig.with_file_name("kind-kubeconfig");
    std::fs::write(&kubeconfig, c.sim.kubeconfig_as(&format!("kind-{name}"))).expect("kubeconfig");
    let state = tempfile::tempdir().expect("state");
    let env = vec![
        ("KUBECONFIG", kubeconfig.clone()),
        ("XDG_STATE_HOME", state.path().to_owned()),
        ("SLIPWAY_HELM", tools_dir().join("helm")),
    ];
    let run = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--local".into(), "--cluster".into(), name.clone()]);
        slipway_cli(all, env.clone())
    };

    let (ok, out) = run(&["team", "apply", "payments", "--pods", "4", "--cpu", "3"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("namespace team-payments") && out.contains("applied"),
        "{out}"
    );
    let quota = c
        .sim
        .object("", "resourcequotas", "team-payments", "team-quota")
        .expect("quota");
    assert_eq!(quota["spec"]["hard"]["pods"], "4");
    assert_eq!(quota["spec"]["hard"]["limits.cpu"], "3");
    assert!(
        state
            .path()
            .join("slipway/teams")
            .join(&name)
            .join("payments.yaml")
            .is_file(),
        "local mode keeps the team file in the state folder"
    );

    let (ok, out) = run(&["team", "list", "-o", "json"]).await;
    assert!(ok, "{out}");
    let teams: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(teams[0]["name"], "payments");
    assert_eq!(teams[0]["source"], "local");
    assert_eq!(teams[0]["applied"], true);
    let pods = teams[0]["quota"]
        .as_array()
        .expect("quota")
        .iter()
        .find(|q| q["resource"] == "pods")
        .cloned()
        .expect("pods");
    assert_eq!(
        (pods["used"].as_str(), pods["hard"].as_str()),
        (Some("0"), Some("4"))
    );
    let (ok, out) = run(&["team", "list"]).await;
    assert!(
        ok && out.contains("team-payments") && out.contains("pods 0/4"),
        "{out}"
    );

    // Changing one setting keeps the others.
    let (ok, out) = run(&["team", "apply", "payments", "--memory", "6Gi"]).await;
    assert!(ok, "{out}");
    let quota = c
        .sim
        .object("", "resourcequotas", "team-payments", "team-quota")
        .expect("quota");
    assert_eq!(
        (
            quota["spec"]["hard"]["pods"].as_str(),
            quota["spec"]["hard"]["limits.memory"].as_str()
        ),
        (Some("4"), Some("6Gi"))
    );

    for (args, says) in [
        (vec!["team", "apply", "Pay_ments"], "contains 'P'"),
        (
            vec!["team", "apply", "web", "--cpu", "lots"],
            "not a Kubernetes quantity",
        ),
        (
            vec!["team", "remove", "nobody"],
            "there is no team \"nobody\"",
        ),
    ] {
        let (ok, out) = run(&args).await;
        assert!(!ok && out.contains(says), "{args:?}: {out}");
    }

    let (ok, out) = run(&["team", "remove", "payments"]).await;
    assert!(ok, "{out}");
    assert!(
        c.sim
            .object("", "namespaces", "", "team-payments")
            .is_none()
    );
    assert!(
        c.sim
            .object("argoproj.io", "appprojects", "argocd", "team-payments")
            .is_none()
    );
}
