//! The `slipway hosts` and `slipway forward` commands, run as a user would.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{echo_server, forwarding_pod, slipway_bin};

const ORIGINAL: &str = "127.0.0.1\tlocalhost\r\n::1 ip6-localhost ip6-loopback\r\n# a comment\r\n10.0.0.5 db.internal db";

fn slipway(args: &[&str], kubeconfig: &std::path::Path) -> (bool, String, String) {
    let out = slipway_e2e::slipway()
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run slipway");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_apply_show_dry_run_and_remove_on_a_real_world_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, ORIGINAL).expect("seed");
    let file = hosts.to_str().expect("utf-8");
    let no_cluster = dir.path().join("absent-kubeconfig");

    // No cluster: the platform hosts are written and the skip is said.
    let (ok, stdout, stderr) = slipway(
        &[
            "hosts",
            "apply",
            "--hosts-file",
            file,
            "--name",
            "nothing-here",
        ],
        &no_cluster,
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(stderr.contains("Ingress hosts were skipped"), "{stderr}");
    let written = std::fs::read_to_string(&hosts).expect("read");
    assert!(
        written.starts_with(&format!("{ORIGINAL}\r\n# BEGIN slipway\r\n")),
        "outside bytes kept, CRLF followed: {written:?}"
    );
    assert!(
        written.contains("127.0.0.1 argocd.local backstage.local grafana.local\r\n"),
        "{written:?}"
    );
    let (ok, stdout, _) = slipway(
        &[
            "hosts",
            "apply",
            "--hosts-file",
            file,
            "--name",
            "nothing-here",
        ],
        &no_cluster,
    );
    assert!(
        ok && stdout.contains("up to date"),
        "apply twice = no change: {stdout}"
    );

    // With a cluster: its Ingress hosts join; dry-run shows the diff and writes nothing.
    let sim = KubeSim::start().await.expect("sim");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    // A workload's Ingress for github.com must not send the browser to the cluster.
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop, namespace: default}\nspec:\n  rules: [{host: shop.local}, {host: github.com}]\n";
    let mut apply = Command::new(slipway_e2e::tools_dir().join("kubectl"))
        .args([
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8"),
            "apply",
            "--server-side",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("kubectl");
    apply
        .stdin
        .take()
        .expect("stdin")
        .write_all(ingress.as_bytes())
        .expect("write");
    assert!(apply.wait().expect("kubectl").success());
    let (ok, stdout, stderr) = slipway(
        &[
            "hosts",
            "apply",
            "--dry-run",
            "--hosts-file",
            file,
            "--context",
            "kube-sim",
        ],
        &kubeconfig,
    );
    assert!(ok, "{stdout}");
    assert!(
        !stdout.contains("github.com")
            && stderr.contains("left out an Ingress host: \"github.com\" is not under .local"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("- 127.0.0.1 argocd.local backstage.local grafana.local")
            && stdout.contains("+ 127.0.0.1 argocd.local backstage.local grafana.local shop.local"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&hosts).expect("read"),
        written,
        "dry run wrote nothing"
    );
    let (ok, stdout, _) = slipway(
        &[
            "hosts",
            "show",
            "--hosts-file",
            file,
            "--context",
            "kube-sim",
        ],
        &kubeconfig,
    );
    assert!(
        ok && stdout.contains("current: 127.0.0.1 argocd.local backstage.local grafana.local")
            && stdout.contains("shop.local"),
        "{stdout}"
    );
    let (ok, _, stderr) = slipway(
        &[
            "hosts",
            "apply",
            "--hosts-file",
            file,
            "--context",
            "kube-sim",
        ],
        &kubeconfig,
    );
    assert!(ok, "{stderr}");
    assert!(
        std::fs::read_to_string(&hosts)
            .expect("read")
            .contains("grafana.local shop.local")
    );

    // Remove: exactly the original bytes again; the backup holds the previous version.
    let (ok, stdout, stderr) = slipway(&["hosts", "remove", "--hosts-file", file], &no_cluster);
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(std::fs::read_to_string(&hosts).expect("read"), ORIGINAL);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts.slipway-backup")).expect("backup"),
        ORIGINAL,
        "the backup is the file before Slipway's first write, kept"
    );
    let previous =
        std::fs::read_to_string(dir.path().join("hosts.slipway-previous")).expect("previous");
    assert!(
        previous.contains("shop.local"),
        "the previous version is the file before the last write"
    );
}

#[test]
fn the_hosts_file_never_loses_a_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let hosts = dir.path().join("hosts");
    let file = hosts.to_str().expect("utf-8");
    let no_cluster = dir.path().join("absent-kubeconfig");
    let run = |args: &[&str]| {
        let mut all = vec!["hosts"];
        all.extend(args);
        all.extend(["--hosts-file", file, "--name", "nothing-here"]);
        slipway(&all, &no_cluster)
    };

    // A BEGIN without its END: where Slipway's lines end is unknown, so nothing is written.
    let unpaired =
        "127.0.0.1 localhost\n# BEGIN slipway\n127.0.0.1 argocd.local\n10.0.0.5 mine.lan\n";
    std::fs::write(&hosts, unpaired).expect("seed");
    for command in [&["apply"][..], &["remove"][..]] {
        let (ok, _, stderr) = run(command);
        assert!(!ok, "{command:?} refused");
        assert!(
            stderr.contains("line 2 has `# BEGIN slipway` with no `# END slipway` after it")
                && stderr.contains("remove the stray marker"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&hosts).expect("read"),
            unpaired,
            "untouched"
        );
    }
    let second = "# BEGIN slipway\n# END slipway\nmine\n# BEGIN slipway\n# END slipway\n";
    std::fs::write(&hosts, second).expect("seed");
    let (ok, _, stderr) = run(&["apply"]);
    assert!(!ok && stderr.contains("second Slipway block"), "{stderr}");

    // Bytes that are not UTF-8 come back exactly, and the backup is exact too.
    let latin1 = b"127.0.0.1 localhost\n10.0.0.7 caf\xe9.lan # \xff\n".to_vec();
    std::fs::write(&hosts, &latin1).expect("seed");
    let (ok, stdout, stderr) = run(&["apply"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(std::fs::read(&hosts).expect("read").starts_with(&latin1));
    let (ok, stdout, stderr) = run(&["remove"]);
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(std::fs::read(&hosts).expect("read"), latin1);
    assert_eq!(
        std::fs::read(dir.path().join("hosts.slipway-backup")).expect("backup"),
        latin1
    );

    // A domain that is not a DNS domain never reaches the file: flag, variable, settings file.
    let injected = "local\n6.6.6.6 github.com #";
    let (ok, _, stderr) = run(&["apply", "--domain", injected]);
    assert!(!ok && stderr.contains("is not a DNS domain"), "{stderr}");
    let out = slipway_e2e::slipway()
        .args(["hosts", "apply", "--hosts-file", file])
        .env("SLIPWAY_DOMAIN", injected)
        .env("KUBECONFIG", &no_cluster)
        .output()
        .expect("run");
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("is not a DNS domain")
    );
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "domain: \"local\\n6.6.6.6 github.com #\"\n").expect("config");
    let out = slipway_e2e::slipway()
        .args(["hosts", "apply", "--hosts-file", file])
        .env("SLIPWAY_CONFIG", &config)
        .env("KUBECONFIG", &no_cluster)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(config.to_str().expect("utf-8")) && stderr.contains("is not a DNS domain"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&hosts).expect("read"),
        latin1,
        "nothing written by any of them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_runs_in_the_foreground_and_carries_bytes() {
    let sim = KubeSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = sim.client().await.expect("client");
    forwarding_pod(&client, "echo", 9000, echo_server().await).await;

    let mut child = slipway_e2e::slipway()
        .args(["forward", "--context", "kube-sim", "pod/echo", ":9000"])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipway forward");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    assert!(
        line.starts_with("Forwarding from 127.0.0.1:") && line.contains("-> default/pod/echo:9000"),
        "{line}"
    );
    let local: std::net::SocketAddr = line
        .split_whitespace()
        .nth(2)
        .expect("address")
        .parse()
        .expect("socket address");
    let mut s = std::net::TcpStream::connect(local).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"hello through slipway").expect("write");
    let mut back = [0u8; 21];
    s.read_exact(&mut back).expect("read");
    assert_eq!(&back, b"hello through slipway");
    child.kill().expect("stop");
    let _ = child.wait();

    // Bad specs are refused before anything starts, with the fix.
    let (ok, _, stderr) = slipway(
        &["forward", "--context", "kube-sim", "80", "svc/x"],
        &kubeconfig,
    );
    assert!(!ok && stderr.contains("start with pod/NAME"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_local_ports_work_where_allowed_and_name_the_fix_where_not() {
    use std::os::unix::fs::PermissionsExt;
    let sim = KubeSim::start().await.expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    forwarding_pod(
        &sim.client().await.expect("client"),
        "echo",
        9000,
        echo_server().await,
    )
    .await;
    // The checkout may sit in a folder only root can enter: run a copy the other user can reach.
    let bin = dir.path().join("slipway");
    std::fs::copy(slipway_bin(), &bin).expect("copy slipway");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let forward_80 = |as_nobody: bool| {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            slipway_e2e::slipway()
        };
        cmd.args(["forward", "--context", "kube-sim", "pod/echo", "80:9000"])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn slipway forward")
    };
    let first_line = |child: &mut std::process::Child| {
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        line
    };
    let unprivileged_start: u16 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1024);

    // An ordinary user: refused with the fix, unless the OS allows it.
    let mut child = forward_80(true);
    if unprivileged_start > 80 {
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains("port 80")
                && stderr.contains("privileged")
                && stderr.contains("8080:80")
                && stderr.contains("ip_unprivileged_port_start"),
            "{stderr}"
        );
    } else {
        assert!(first_line(&mut child).starts_with("Forwarding from 127.0.0.1:80 "));
        child.kill().expect("stop");
        let _ = child.wait();
    }

    // Root (this test's user in CI) may bind it, as the seed's `port-forward svc/backstage 80:80` does.
    if rustix::process::geteuid().is_root() && std::net::TcpListener::bind("127.0.0.1:80").is_ok() {
        let mut child = forward_80(false);
        let line = first_line(&mut child);
        assert!(line.starts_with("Forwarding from 127.0.0.1:80 "), "{line}");
        let mut s = std::net::TcpStream::connect("127.0.0.1:80").expect("connect :80");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.write_all(b"port80").expect("write");
        let mut back = [0u8; 6];
        s.read_exact(&mut back).expect("read");
        assert_eq!(&back, b"port80");
        child.kill().expect("stop");
        let _ = child.wait();
    }
}
