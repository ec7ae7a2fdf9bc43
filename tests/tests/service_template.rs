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
    assert!(
        report.contains("# pass 1") && report.contains("# fail 0"),
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
