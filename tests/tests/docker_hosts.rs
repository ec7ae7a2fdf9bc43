//! The Docker a developer really has, end to end with the real `slipway` and the real daemon:
//! reached only through `tcp://` or a Docker context with the default socket absent (its own
//! mount namespace hides `/run`), a daemon that refuses privileged containers, and a daemon
//! restarted under a running cluster. One test at a time: the restart takes the daemon away.
#![allow(
    clippy::print_stdout,
    reason = "what the restart showed is printed for the test log"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_e2e::{Run, TestCluster, docker, sim_image};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// `command` in a mount namespace whose `/run` is empty, so `/var/run/docker.sock` does not
/// exist for it (as on Docker Desktop for Linux, Colima, OrbStack …).
fn without_default_socket(command: &Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped.args([
        "--mount",
        "sh",
        "-c",
        "mount -t tmpfs slipway-test /run && [ ! -e /var/run/docker.sock ] && exec \"$@\"",
        "sh",
    ]);
    wrapped.arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

async fn run(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || Run::of(&mut command))
        .await
        .expect("join")
}

/// A byte-for-byte relay from `accept` to the daemon's socket: another address the same daemon
/// answers on (dockerd's own `-H` listeners would need a restart to add).
async fn relay<L, S>(listener: L)
where
    L: Accept<S> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok(mut client) = listener.accept_one().await {
            tokio::spawn(async move {
                if let Ok(mut daemon) = tokio::net::UnixStream::connect(DOCKER_SOCKET).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut daemon).await;
                }
            });
        }
    });
}

trait Accept<S> {
    fn accept_one(&self) -> impl std::future::Future<Output = std::io::Result<S>> + Send;
}

impl Accept<tokio::net::TcpStream> for tokio::net::TcpListener {
    async fn accept_one(&self) -> std::io::Result<tokio::net::TcpStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Accept<tokio::net::UnixStream> for tokio::net::UnixListener {
    async fn accept_one(&self) -> std::io::Result<tokio::net::UnixStream> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// A Docker config folder as `docker context create NAME --docker host=HOST` and `docker
/// context use NAME` leave it: config.json's currentContext and the context's meta.json under
/// the sha256 of its name (computed by `sha256sum`, an independent peer).
fn docker_config_with_context(dir: &Path, name: &str, host: &str) {
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("printf %s '{name}' | sha256sum | cut -d' ' -f1"),
        ])
        .output()
        .expect("sha256sum");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let meta = dir.join("contexts/meta").join(&id);
    std::fs::create_dir_all(&meta).expect("meta dir");
    std::fs::write(
        meta.join("meta.json"),
        format!(
            r#"{{"Name":"{name}","Metadata":{{"Description":"e2e"}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        ),
    )
    .expect("meta.json");
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#),
    )
    .expect("config.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_reached_only_through_tcp_or_a_context_runs_the_cluster() {
    let _one = ONE_AT_A_TIME.lock().await;
    let c = TestCluster::new("endpoint");
    let image = sim_image();
    let (http, https) = (c.http_port.to_string(), c.https_port.to_string());
    let up_args = [
        "up",
        "--cluster-only",
        "--node-image",
        &image,
        "--http-port",
        &http,
        "--https-port",
        &https,
        "--name",
        &c.name,
    ];

    // tcp:// in DOCKER_HOST: the whole cluster comes up through it (exec, logs, archives).
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    relay(tcp).await;
    let mut command = c.command();
    command
        .args(up_args)
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"));
    let up = run(without_default_socket(&command)).await;
    assert!(up.ok, "up through tcp:// failed:\n{}", up.stderr);
    assert!(
        up.stderr
            .contains(&format!("Docker at tcp://127.0.0.1:{port} (DOCKER_HOST)")),
        "preflight names the endpoint:\n{}",
        up.stderr
    );
    assert_eq!(c.containers().len(), 2);

    // A Docker context (config.json's currentContext, as Docker Desktop, Colima and rootless
    // Docker set it) pointing at a socket elsewhere: status and down go through it.
    let config = tempfile::tempdir().expect("docker config");
    let socket: PathBuf = config.path().join("desktop.sock");
    let unix = tokio::net::UnixListener::bind(&socket).expect("bind socket");
    relay(unix).await;
    docker_config_with_context(
        config.path(),
        "e2e-desktop",
        &format!("unix://{}", socket.display()),
    );
    let mut status = c.command();
    status
        .args(["status", "--name", &c.name])
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    let shown = run(without_default_socket(&status)).await;
    assert!(
        shown.ok,
        "status through the context failed:\n{}",
        shown.stderr
    );
    assert!(
        shown.stdout.contains(&format!(
            "Docker:     unix://{} (context e2e-desktop)",
            socket.display()
        )) && shown.stdout.contains(&c.control_plane()),
        "{}",
        shown.stdout
    );
    let mut down = c.command();
    down.args(["down", "--name", &c.name])
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST");
    let removed = run(without_default_socket(&down)).await;
    assert!(
        removed.ok,
        "down through the context failed:\n{}",
        removed.stderr
    );
    assert!(c.containers().is_empty());

    // A context that does not exist, and ssh://, are refused with the way out.
    let mut missing = c.command();
    missing
        .args(["status", "--name", &c.name])
        .env("DOCKER_CONFIG", config.path())
        .env("DOCKER_CONTEXT", "nope");
    let refused = run(missing).await;
    assert!(
        !refused.ok && refused.stderr.contains("docker context ls"),
        "{}",
        refused.stderr
    );
    let mut ssh = c.command();
    ssh.args(["status", "--name", &c.name])
        .env("DOCKER_HOST", "ssh://me@build-box");
    let refused = run(ssh).await;
    assert!(
        !refused.ok && refused.stderr.contains("ssh -nNT -L"),
        "{}",
        refused.stderr
    );
}

/// This sandbox's daemon refuses privileged containers ("unable to apply caps"); a real
/// Docker Engine allows them. Either way the docker CLI (the independent peer) says which, and
/// Slipway must agree: stop in preflight with the fix, or pass it, leaving no check container.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_refusing_privileged_containers_stops_up_in_preflight_with_the_fix() {
    let _one = ONE_AT_A_TIME.lock().await;
    let c = TestCluster::new("privileged");
    let image = sim_image();
    let allowed = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--privileged",
            "--entrypoint",
            "true",
            &image,
        ])
        .output()
        .expect("docker run")
        .status
        .success();
    let mut command = c.command();
    command.env_remove("SLIPWAY_UNPRIVILEGED_NODES").args([
        "up",
        "--cluster-only",
        "--node-image",
        &image,
        "--http-port",
        &c.http_port.to_string(),
        "--https-port",
        &c.https_port.to_string(),
        "--name",
        &c.name,
        "--boot-timeout",
        "60",
    ]);
    let up = run(command).await;
    let leftovers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}-privileged-check", c.name),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(leftovers.trim(), "", "the check container is removed");
    if allowed {
        println!("this daemon allows privileged containers: preflight passes");
        assert!(
            !up.stderr.contains("refused a privileged container"),
            "{}",
            up.stderr
        );
    } else {
        println!("this daemon refuses privileged containers: preflight must stop");
        assert!(!up.ok);
        assert!(
            up.stderr.contains("step `preflight` failed")
                && up.stderr.contains("refused a privileged container")
                && up.stderr.contains("docker context use"),
            "{}",
            up.stderr
        );
        assert!(c.containers().is_empty(), "no node was made");
    }
}

/// `systemctl restart docker` under a running cluster, for real: the test's dockerd is stopped
/// and started again (scripts/restart-dockerd.sh). The nodes come back through their restart
/// policy; `status` says whether all is healthy again, and `up` verifies and repairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_docker_restart_status_says_whether_the_cluster_is_back_and_up_repairs_it() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(pidfile) = std::env::var_os("SLIPWAY_TEST_DOCKERD_PIDFILE") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "under CI the tests' dockerd is started by scripts/docker-daemon.sh, which the restart needs"
        );
        println!("skipped here: this Docker daemon was not started by scripts/docker-daemon.sh");
        return;
    };
    let c = TestCluster::new("restart");
    c.up().expect_ok("up");
    let status = |c: &TestCluster| -> Value {
        let out = c.slipway(&["status", "-o", "json"]).expect_ok("status");
        serde_json::from_str(&out.stdout).expect("status json")
    };
    let before = status(&c);
    assert_eq!(before["problems"], serde_json::json!([]), "{before}");
    assert_eq!(
        (
            before["apiReachable"].as_bool(),
            before["ingressAnswering"].as_bool()
        ),
        (Some(true), Some(true))
    );

    let restart = Command::new("bash")
        .arg(slipway_e2e::root().join("scripts/restart-dockerd.sh"))
        .arg("restart")
        .env("SLIPWAY_TEST_DOCKERD_PIDFILE", &pidfile)
        .output()
        .expect("restart dockerd");
    assert!(
        restart.status.success(),
        "restart: {}",
        String::from_utf8_lossy(&restart.stderr)
    );
    let after = status(&c);
    println!(
        "status right after the restart: problems {}",
        after["problems"]
    );
    let repaired = c.up().expect_ok("up after the restart");
    println!("up after the restart:\n{}", repaired.stderr);
    let healthy = status(&c);
    assert_eq!(healthy["problems"], serde_json::json!([]), "{healthy}");
    assert_eq!(healthy["healthy"], true);
    assert!(
        healthy["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["ready"] == true)),
        "{healthy}"
    );
}
