//! The kube-sim binary: serving, its kubeconfig, and restarts with a state folder.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kube_sim_binary_serves_and_writes_its_kubeconfig() {
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("kc");
    let bin = std::env::var_os("CARGO_BIN_EXE_kube-sim")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kube-sim")));
    let mut child = tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn kube-sim");
    slipway_e2e::eventually(
        Duration::from_secs(10),
        "the kubeconfig written once serving",
        || kubeconfig.exists(),
    )
    .await;
    let out = tool(
        "kubectl",
        &kubeconfig,
        &["get", "namespaces", "-o", "name"],
        None,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("namespace/kube-system"),
        "{}",
        out.stdout
    );
    let version = tool("kubectl", &kubeconfig, &["version", "-o", "json"], None).await;
    assert!(
        version.stdout.contains("kube-sim"),
        "the server names itself a simulation: {}",
        version.stdout
    );
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_state_dir_the_binary_restarts_with_its_objects_and_credentials() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let kubeconfig = dir.path().join("kc");
    let port = slipway_e2e::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let server = format!("https://127.0.0.1:{port}");
    let start = |kc: &Path| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
            .args(["--listen", &listen, "--state-dir"])
            .arg(&state)
            .args(["--server-url", &server, "--kubeconfig"])
            .arg(kc)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn kube-sim")
    };
    let wait_for = |path: PathBuf| async move {
        slipway_e2e::eventually(Duration::from_secs(10), "the kubeconfig written", || {
            path.exists()
        })
        .await;
    };
    let mut first = start(&kubeconfig);
    wait_for(kubeconfig.clone()).await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep, namespace: default}\ndata: {k: v}\n";
    let created = tool(
        "kubectl",
        &kubeconfig,
        &[
            "apply",
            "--server-side",
            "-f",
            "-",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        Some(cm),
    )
    .await;
    assert!(created.ok, "{}", created.stderr);
    // As etcd would have it: killed only once the object is on disk.
    let snapshot = state.join("objects.json");
    slipway_e2e::eventually(Duration::from_secs(10), "the object saved", || {
        std::fs::read_to_string(&snapshot).is_ok_and(|t| t.contains("\"keep\""))
    })
    .await;
    let _ = first.kill().await;

    // Restarted: the old kubeconfig (same CA, token and URL) still works and the object is there.
    let second_kc = dir.path().join("kc2");
    let mut second = start(&second_kc);
    wait_for(second_kc).await;
    let got = tool(
        "kubectl",
        &kubeconfig,
        &[
            "get",
            "configmap",
            "keep",
            "-o",
            "jsonpath={.data.k} {.metadata.resourceVersion}",
        ],
        None,
    )
    .await;
    assert!(got.ok, "{}", got.stderr);
    assert_eq!(
        got.stdout,
        format!("v {}", created.stdout),
        "same object, same resourceVersion"
    );
    let _ = second.kill().await;
}
