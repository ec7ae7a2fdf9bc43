//! The Node.js v24 template as `slipway service create --dry-run` renders it: its own tests pass
//! under Node 24 (server starts, probes, metrics histogram, trace ids in request logs, readiness
//! flips during shutdown), and the real kubectl accepts its kustomize `deploy/` folder.
#![allow(clippy::print_stdout, reason = "timings are printed for the test log")]

use std::process::{Command, Stdio};
use std::time::Instant;

use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::tools_dir;

fn render(out: &std::path::Path, name: &str) -> std::process::Output {
    slipway_e2e::slipway()
        .args([
            "service",
            "create",
            "--name",
            name,
            "--team",
            "payments",
            "--owner",
            "acme",
            "--dry-run",
            "--out",
        ])
        .arg(out)
        .output()
        .expect("slipway")
}

fn check(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_rendered_service_passes_its_own_tests_under_node_24() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("shop-api");
    check("service create --dry-run", &render(&out, "shop-api"));

    let node = tools_dir().join("node");
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .expect("node 24 (scripts/fetch-tools.sh)");
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("v24."),
        "Node 24 expected: {:?}",
        version
    );

    let started = Instant::now();
    check(
        "npm ci",
        &Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&out)
            .output()
            .expect("npm"),
    );
    println!(
        "npm ci of the rendered service: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let tests = Command::new(&node)
        .args(["--test", "--test-reporter=tap"])
        .current_dir(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("node --test");
    let report = String::from_utf8_lossy(&tests.stdout);
    check("the template's tests under Node 24", &tests);
    // Every test file of the template ran and passed (server.test.js, telemetry.test.js).
    let count = |key: &str| {
        report.lines().find_map(|l| {
            l.strip_prefix(&format!("# {key} "))?
                .trim()
                .parse::<u32>()
                .ok()
        })
    };
    assert!(
        count("tests") >= Some(3) && count("pass") == count("tests") && count("fail") == Some(0),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_accepts_the_kustomize_deploy_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("shop-api");
    check("service create --dry-run", &render(&out, "shop-api"));
    let kubectl = tools_dir().join("kubectl");
    let rendered = Command::new(&kubectl)
        .arg("kustomize")
        .arg(out.join("deploy"))
        .output()
        .expect("kubectl kustomize");
    check("kubectl kustomize deploy/", &rendered);
    let yaml = String::from_utf8_lossy(&rendered.stdout).into_owned();
    for expected in [
        "namespace: team-payments",
        "image: ghcr.io/acme/shop-api:latest",
        "host: shop-api.local",
        "slipway.dev/pool: workloads",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
    ] {
        assert!(yaml.contains(expected), "{expected:?} in\n{yaml}");
    }

    // Client-side dry run still asks the API server for its resource types: kube-sim serves them.
    let sim = KubeSim::start().await.expect("sim");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let mut apply = Command::new(&kubectl)
        .args(["apply", "--dry-run=client", "-f", "-", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl apply");
    std::io::Write::write_all(&mut apply.stdin.take().expect("stdin"), yaml.as_bytes())
        .expect("write");
    let applied = tokio::task::spawn_blocking(move || apply.wait_with_output())
        .await
        .expect("join")
        .expect("kubectl");
    check("kubectl apply --dry-run=client", &applied);
    let said = String::from_utf8_lossy(&applied.stdout);
    for object in [
        "deployment.apps/shop-api created (dry run)",
        "service/shop-api created (dry run)",
        "ingress.networking.k8s.io/shop-api created (dry run)",
    ] {
        assert!(said.contains(object), "{said}");
    }
    assert_eq!(sim.client_writes(), 0, "a dry run writes nothing");
}

#[test]
fn invalid_names_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("bad");
    let run = render(&out, "Shop_API");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("service name \"Shop_API\"")
            && stderr.contains("lower-case letters, digits and '-'"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing rendered");
}

/// Two doors, one rule: the Backstage form's name pattern (template.yaml, evaluated by Node's
/// JavaScript RegExp, the engine of the form's JSON-schema validation) accepts exactly the names
/// `slipway service create` accepts, reserved names and lengths included. And the form renders
/// the skeleton with the same values Slipway provides.
#[test]
fn the_backstage_form_and_the_cli_accept_the_same_service_names() {
    let template: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            slipway_e2e::root().join("embedded-manifests/templates/nodejs-v24/template.yaml"),
        )
        .expect("template.yaml"),
    )
    .expect("yaml");
    let pattern = template["spec"]["parameters"][0]["properties"]["name"]["pattern"]
        .as_str()
        .expect("the name pattern")
        .to_owned();
    let names: Vec<String> = [
        "shop-api",
        "a",
        "root",
        "argo-cd",
        "argocd",
        "backstage",
        "traefik",
        "sealed-secrets",
        "rooted",
        "backstage-ui",
        "Shop",
        "1shop",
        "shop-",
        "shop_api",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(["a".repeat(40), "a".repeat(41)])
    .collect();
    let script = "const re = new RegExp(process.argv[1], 'u'); \
                  for (const n of process.argv.slice(2)) console.log(re.test(n) ? 'ok' : 'no');";
    let out = Command::new(tools_dir().join("node"))
        .args(["-e", script, &pattern])
        .args(&names)
        .output()
        .expect("node 24 (scripts/fetch-tools.sh)");
    check("node", &out);
    let form: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l == "ok")
        .collect();
    for (name, form_accepts) in names.iter().zip(form) {
        let request = slipway_core::service::ServiceRequest {
            name: name.clone(),
            team: "payments".into(),
            template: "nodejs-v24".into(),
            description: None,
            domain: "local".into(),
            template_repo: None,
        };
        assert_eq!(
            form_accepts,
            request.validate().is_ok(),
            "{name}: the form says {form_accepts}, the CLI {:?}",
            request.validate().err().map(|e| e.to_string())
        );
    }
    let values: Vec<&str> = template["spec"]["steps"][0]["input"]["values"]
        .as_object()
        .expect("values")
        .keys()
        .map(String::as_str)
        .collect();
    let mut values = values;
    values.sort_unstable();
    assert_eq!(
        values,
        [
            "description",
            "domain",
            "grafanaUrl",
            "image",
            "name",
            "repoSlug",
            "team"
        ],
        "the placeholders Slipway fills (template::Values)"
    );
}

/// The CI step that records each built image in deploy/, run as GitHub's runner runs it (bash),
/// then the real kustomize: every commit SHA must come out as the image tag, also one of digits
/// alone, which YAML would read as a number and kustomize refuse.
#[test]
fn ci_s_recorded_tag_is_what_kustomize_deploys_for_every_sha() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("shop-api");
    check("service create --dry-run", &render(&out, "shop-api"));
    let workflow = std::fs::read_to_string(out.join(".github/workflows/ci.yaml")).expect("ci");
    let doc: serde_json::Value = serde_saphyr::from_str(&workflow).expect("yaml");
    let step = doc["jobs"]["publish"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "Record the image in deploy/")
        .expect("the recording step");
    let script = step["run"].as_str().expect("run");
    // Only the edit: the commit and push need a remote.
    let edit = script
        .lines()
        .find(|l| l.trim_start().starts_with("sed "))
        .expect("the sed line");
    let kubectl = tools_dir().join("kubectl");
    for tag in [
        "1234567890123456789012345678901234567890",
        "0123456789abcdef0123456789abcdef01234567",
    ] {
        let k = out.join("deploy/kustomization.yaml");
        let ran = Command::new("bash")
            .args(["-ec", edit])
            .current_dir(&out)
            .env("IMAGE", "ghcr.io/acme/shop-api")
            .env("TAG", tag)
            .output()
            .expect("bash");
        check("the recording step", &ran);
        let rendered = Command::new(&kubectl)
            .arg("kustomize")
            .arg(out.join("deploy"))
            .output()
            .expect("kubectl kustomize");
        check(&format!("kubectl kustomize with tag {tag}"), &rendered);
        assert!(
            String::from_utf8_lossy(&rendered.stdout)
                .contains(&format!("image: ghcr.io/acme/shop-api:{tag}")),
            "{}",
            std::fs::read_to_string(&k).unwrap_or_default()
        );
    }
}
