//! Harness for the end-to-end tests: the real `slipway` binary against the real Docker daemon
//! and the SIMULATED node image (`tests/sim-node`, built by `scripts/sim-node-image.sh`).
//!
//! Every test cluster gets its own name, Docker network, free host ports and kubeconfig file, and
//! is removed on drop, so leftovers or a running platform never break a run. Tests that need
//! Docker fail (never skip) when it is not there.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use serde_json::Value;

pub mod fakes;
pub mod github_platform;
pub mod golden;
pub mod gui;
pub mod keyring;
pub mod kube_sim;
pub mod scaffolder;
pub mod webdriver;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `slipway` binary under test (`SLIPWAY_BIN`, else the workspace's debug build).
pub fn slipway_bin() -> PathBuf {
    let path = std::env::var_os("SLIPWAY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root().join("target"), PathBuf::from);
            target.join("debug").join("slipway")
        });
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build -p slipway` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// The `slipway` binary as the tests run it: with the test process's private keyring (a
/// Secret Service on its own D-Bus session, [`keyring::PrivateKeyring`]) and no other.
pub fn slipway() -> Command {
    let mut c = Command::new(slipway_bin());
    keyring::PrivateKeyring::shared().apply(&mut c);
    c
}

/// Folder with the real kubectl and helm (`SLIPWAY_TOOLS`, else `.tools/bin` from
/// `scripts/fetch-tools.sh`). Missing tools fail the test: fidelity checks never skip.
pub fn tools_dir() -> PathBuf {
    let dir =
        std::env::var_os("SLIPWAY_TOOLS").map_or_else(|| root().join(".tools/bin"), PathBuf::from);
    assert!(
        dir.join("kubectl").exists() && dir.join("helm").exists(),
        "kubectl/helm missing in {}: run scripts/fetch-tools.sh",
        dir.display()
    );
    dir
}

/// Fail loudly when Docker is unavailable: these tests must never pass by skipping.
pub fn require_docker() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "Docker daemon unavailable ({}); scripts/test.sh starts one",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("docker CLI unavailable ({e}); install docker.io (scripts/setup.sh)"),
        }
    });
}

/// The simulated node image reference (`SLIPWAY_SIM_IMAGE`, else built now).
pub fn sim_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            if let Ok(image) = std::env::var("SLIPWAY_SIM_IMAGE") {
                return image;
            }
            require_docker();
            let kube_sim = slipway_bin().with_file_name("kube-sim");
            let out = Command::new("bash")
                .arg(root().join("scripts/sim-node-image.sh"))
                .env("KUBE_SIM", kube_sim)
                .env("KUBECTL", tools_dir().join("kubectl"))
                .output()
                .expect("run sim-node-image.sh");
            assert!(
                out.status.success(),
                "sim-node-image.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .clone()
}

/// A variant of the simulated image with a fault switched on (`SLIPWAY_SIM_FAULT`).
pub fn faulty_sim_image(fault: &str) -> String {
    let base = sim_image();
    let tag = format!("{base}-{fault}");
    let exists = Command::new("docker")
        .args(["image", "inspect", &tag])
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let created = docker(&["create", &base]);
        let id = created.trim();
        docker(&[
            "commit",
            "--change",
            &format!("ENV SLIPWAY_SIM_FAULT={fault}"),
            id,
            &tag,
        ]);
        docker(&["rm", id]);
    }
    tag
}

/// Run the docker CLI (the independent peer to Slipway's bollard calls) and return stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker inspect` of one object as JSON.
pub fn inspect(name: &str) -> Value {
    let v: Value = serde_json::from_str(&docker(&["inspect", name])).expect("inspect json");
    v[0].clone()
}

/// A free TCP port on 127.0.0.1 (released at once; the tests use it moments later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// What one CLI run printed, and how long it took.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub secs: f64,
}

impl Run {
    /// Run `command` to its end, timing it.
    pub fn of(command: &mut Command) -> Self {
        let started = Instant::now();
        let out = command.output().expect("run slipway");
        Self::from(out, started.elapsed().as_secs_f64())
    }

    /// Run `command` to its end with `stdin` as its input (a secret never passed as an
    /// argument), timing it.
    pub fn feeding(command: &mut Command, stdin: &str) -> Self {
        use std::io::Write;
        let started = Instant::now();
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run slipway");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("run slipway");
        Self::from(out, started.elapsed().as_secs_f64())
    }

    fn from(out: Output, secs: f64) -> Self {
        Self {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            secs,
        }
    }

    /// Panic with both streams unless the run succeeded.
    pub fn expect_ok(self, what: &str) -> Self {
        assert!(
            self.ok,
            "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A throwaway cluster with its own name, network, ports and kubeconfig.
pub struct TestCluster {
    pub name: String,
    pub network: String,
    pub http_port: u16,
    pub https_port: u16,
    pub kubeconfig: PathBuf,
    _home: tempfile::TempDir,
}

impl TestCluster {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        require_docker();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}-{label}-{n}", std::process::id());
        let home = tempfile::tempdir().expect("temp dir");
        Self {
            network: format!("slipway-test-{name}"),
            kubeconfig: home.path().join("kube").join("config"),
            http_port: free_port(),
            https_port: free_port(),
            name,
            _home: home,
        }
    }

    pub fn control_plane(&self) -> String {
        format!("{}-control-plane", self.name)
    }

    pub fn worker(&self) -> String {
        format!("{}-worker", self.name)
    }

    /// `slipway <args…> --name <name>` with this cluster's environment.
    pub fn slipway(&self, args: &[&str]) -> Run {
        self.run(self.command().args(args).args(["--name", &self.name]))
    }

    /// The `slipway` binary with this cluster's environment (KUBECONFIG, network) and no arguments.
    pub fn command(&self) -> Command {
        let mut c = slipway();
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("XDG_STATE_HOME", self._home.path().join("state"))
            .env("KIND_EXPERIMENTAL_DOCKER_NETWORK", &self.network)
            .env("SLIPWAY_UNPRIVILEGED_NODES", "1")
            .env_remove("SLIPWAY_CLUSTER");
        c
    }

    /// Run a command made by [`command`](Self::command), timing it.
    pub fn run(&self, command: &mut Command) -> Run {
        Run::of(command)
    }

    /// `slipway up --cluster-only` with the simulated image (or `image`) and this cluster's ports.
    pub fn up_with(&self, image: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--cluster-only"];
        args.extend_from_slice(extra);
        self.up_args(image, &args)
    }

    /// `slipway up --cluster-only`: the cluster without the platform.
    pub fn up(&self) -> Run {
        self.up_with(&sim_image(), &[])
    }

    /// The whole `slipway up`: cluster, then the platform from the stand-in charts in
    /// `charts` (default: tests/tests/fixtures/charts) with the real helm.
    pub fn platform_up(&self, charts: Option<&Path>, extra: &[&str]) -> Run {
        self.run(&mut self.platform_up_command(charts, extra))
    }

    /// The command [`platform_up`](Self::platform_up) runs, for a test to add to.
    pub fn platform_up_command(&self, charts: Option<&Path>, extra: &[&str]) -> Command {
        let charts = charts.map_or_else(
            || root().join("tests/tests/fixtures/charts"),
            Path::to_path_buf,
        );
        let helm = tools_dir().join("helm");
        let (charts, helm) = (
            charts.to_string_lossy().into_owned(),
            helm.to_string_lossy().into_owned(),
        );
        let (http, https) = (self.http_port.to_string(), self.https_port.to_string());
        let mut command = self.command();
        command.args([
            "up",
            "--node-image",
            &sim_image(),
            "--http-port",
            &http,
            "--https-port",
            &https,
            "--charts",
            &charts,
            "--helm",
            &helm,
        ]);
        command.args(extra).args(["--name", &self.name]);
        command
    }

    fn up_args(&self, image: &str, extra: &[&str]) -> Run {
        let (http, https) = (self.http_port.to_string(), self.https_port.to_string());
        let mut args = vec![
            "up",
            "--node-image",
            image,
            "--http-port",
            &http,
            "--https-port",
            &https,
        ];
        args.extend_from_slice(extra);
        self.slipway(&args)
    }

    /// kube-sim's client-write counter, through its control path (`GET /sim/writes`).
    pub fn sim_writes(&self) -> u64 {
        self.kubectl_raw(&["get", "--raw", "/sim/writes"])["clientWrites"]
            .as_u64()
            .expect("clientWrites")
    }

    /// Replace kube-sim's faults (`POST /sim/faults`): `{"controllers": {...}, "http": [...]}`.
    pub fn sim_faults(&self, faults: &Value) {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), faults.to_string()).expect("write faults");
        let path = file.path().to_string_lossy().into_owned();
        self.kubectl_raw(&["create", "--raw", "/sim/faults", "-f", &path]);
    }

    fn kubectl_raw(&self, args: &[&str]) -> Value {
        let out = Command::new(tools_dir().join("kubectl"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("kubectl printed JSON")
    }

    /// The real kubectl against this cluster's exported context; `-o json` appended.
    pub fn kubectl_json(&self, args: &[&str]) -> Value {
        let out = Command::new(tools_dir().join("kubectl"))
            .args(args)
            .args(["-o", "json", "--kubeconfig"])
            .arg(&self.kubeconfig)
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("kubectl printed JSON")
    }

    /// Node containers of this cluster (by kind's label), running or not.
    pub fn containers(&self) -> Vec<String> {
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={}", self.name),
            "--format",
            "{{.Names}}",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// `kubectl`-free look at the simulated control-plane's state.
    pub fn node_file(&self, node: &str, path: &str) -> String {
        docker(&["exec", node, "cat", path])
    }

    pub fn kubeconfig_yaml(&self) -> Value {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig written");
        serde_saphyr::from_str(&text).expect("kubeconfig is YAML")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for c in self.containers() {
            let _ = Command::new("docker").args(["rm", "-f", "-v", &c]).output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &self.network])
            .output();
    }
}

/// Wait until `ready` holds, checking every 50 ms, failing the test after `limit` with `what`:
/// a wait on the condition itself, never a fixed sleep that a loaded machine outruns.
pub async fn eventually(limit: std::time::Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Step limits for installs against the in-process kube-sim: short enough that a fault fails
/// fast, long enough for a loaded 2-core machine.
pub fn test_timeouts() -> slipway_core::pipeline::Timeouts {
    use std::time::Duration;
    let mut timeouts = slipway_core::pipeline::Timeouts::default();
    timeouts.set(
        &[
            "argocd-ready",
            "platform-apps",
            "certificates",
            "sealing-key",
        ],
        Duration::from_secs(20),
    );
    timeouts.set(&["routing"], Duration::from_secs(10));
    timeouts.set(&["argocd"], Duration::from_secs(120));
    timeouts
}

/// A namespaced, schemaless CRD `<plural>.<group>` (v1alpha1, with a status subresource), as
/// test fixtures need them (Argo CD's kinds, mostly).
pub fn crd_yaml(group: &str, kind: &str, plural: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {plural}.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: {plural}, singular: {}, kind: {kind}}}\n  versions: [{{name: v1alpha1, served: true, storage: true, subresources: {{status: {{}}}}, schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}}}]\n",
        kind.to_lowercase()
    )
}

/// A TCP echo server on 127.0.0.1 (the stand-in for a pod's port), running until the runtime ends.
pub async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind echo server");
    let addr = listener.local_addr().expect("echo address");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// A bare Running pod in `default` whose `port` kube-sim forwards to `target`.
pub async fn forwarding_pod(
    client: &kube::Client,
    name: &str,
    port: u16,
    target: std::net::SocketAddr,
) -> kube::Api<k8s_openapi::api::core::v1::Pod> {
    use kube::api::{Patch, PatchParams, PostParams};
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client.clone(), "default");
    let pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "annotations": {format!("kube-sim.slipway.dev/port-{port}"): target.to_string()}},
        "spec": {"containers": [{"name": "c", "image": "x"}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    // A bare pod has no controller: mark it running as the kubelet would.
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"phase": "Running", "podIP": "10.244.0.9"}})),
    )
    .await
    .expect("pod status");
    pods
}

/// GET `path` from `127.0.0.1:port` with raw HTTP/1.0; returns the body.
pub fn http_get(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or(response))
}

/// What a tool run printed.
pub struct ToolOut {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run the real `kubectl` or `helm` (from [`tools_dir`]) against `kubeconfig`, feeding `stdin`.
pub async fn tool(name: &str, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> ToolOut {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(tools_dir().join(name));
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap_or(Path::new("/tmp")));
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tool");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await.expect("stdin");
    }
    let out = child.wait_with_output().await.expect("tool output");
    ToolOut {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `out`, after checking the tool succeeded (else its output is the failure message).
pub fn expect(out: ToolOut, what: &str) -> ToolOut {
    assert!(
        out.ok,
        "{what} failed\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}
