//! End to end: the real `slipway` binary makes kind-compatible clusters on the real Docker
//! daemon, with the SIMULATED node image standing in for kindest/node.
#![allow(clippy::print_stdout, reason = "timings are printed for the test log")]

use std::net::TcpListener;

use serde_json::Value;
use slipway_core::cluster::kubeadm::BootstrapToken;
use slipway_e2e::{TestCluster, docker, faulty_sim_image, http_get, inspect, sim_image};

const UNRELATED_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: 'https://prod.example:6443'}\nusers:\n- name: prod\n  user: {token: keep-me}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\ncurrent-context: prod\n";

fn names(config: &Value, key: &str) -> Vec<String> {
    config[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn up_makes_a_kind_compatible_two_node_cluster_and_down_removes_it() {
    let c = TestCluster::new("up");
    std::fs::create_dir_all(c.kubeconfig.parent().expect("dir")).expect("mkdir");
    std::fs::write(&c.kubeconfig, UNRELATED_KUBECONFIG).expect("seed kubeconfig");

    // At -vv (debug): what it logs is checked for credentials below.
    let first = c.up_with(&sim_image(), &["-vv"]).expect_ok("first up");
    println!(
        "first up (cluster only, simulated image): {:.2} s",
        first.secs
    );

    // Network and containers, as `docker` itself reports them.
    let net = inspect(&c.network);
    assert_eq!(net["Driver"], "bridge");
    assert_eq!(
        net["Options"]["com.docker.network.bridge.enable_ip_masquerade"],
        "true"
    );
    let attached: Vec<&str> = net["Containers"]
        .as_object()
        .expect("containers")
        .values()
        .filter_map(|v| v["Name"].as_str())
        .collect();
    assert!(
        attached.contains(&c.control_plane().as_str()) && attached.contains(&c.worker().as_str()),
        "{attached:?}"
    );
    let mut containers = c.containers();
    containers.sort();
    assert_eq!(containers, [c.control_plane(), c.worker()]);

    for (node, role) in [(c.control_plane(), "control-plane"), (c.worker(), "worker")] {
        let i = inspect(&node);
        assert_eq!(i["Config"]["Hostname"], node.as_str());
        assert_eq!(
            i["Config"]["Labels"]["io.x-k8s.kind.cluster"],
            c.name.as_str()
        );
        assert_eq!(i["Config"]["Labels"]["io.x-k8s.kind.role"], role);
        assert_eq!(i["Config"]["Tty"], true);
        let hc = &i["HostConfig"];
        assert_eq!(hc["Tmpfs"], serde_json::json!({"/tmp": "", "/run": ""}));
        assert_eq!(
            hc["RestartPolicy"],
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 1})
        );
        assert_eq!(hc["CgroupnsMode"], "private");
        assert_eq!(hc["NetworkMode"], c.network.as_str());
        let opts: Vec<&str> = hc["SecurityOpt"]
            .as_array()
            .expect("security opts")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(opts, ["seccomp=unconfined", "apparmor=unconfined"]);
        assert_eq!(
            hc["Privileged"], false,
            "the test-only switch drops privileged (unit tests check the real spec)"
        );
        let var_volume = i["Mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .any(|m| m["Type"] == "volume" && m["Destination"] == "/var");
        assert!(var_volume, "anonymous /var volume: {}", i["Mounts"]);
    }
    let ports = &inspect(&c.control_plane())["HostConfig"]["PortBindings"];
    assert_eq!(
        ports["80/tcp"][0],
        serde_json::json!({"HostIp": "127.0.0.1", "HostPort": c.http_port.to_string()})
    );
    assert_eq!(
        ports["443/tcp"][0],
        serde_json::json!({"HostIp": "127.0.0.1", "HostPort": c.https_port.to_string()})
    );
    assert_eq!(ports["6443/tcp"][0]["HostIp"], "127.0.0.1");
    let api_port = ports["6443/tcp"][0]["HostPort"]
        .as_str()
        .expect("api port")
        .to_owned();
    assert!(
        inspect(&c.worker())["HostConfig"]["PortBindings"]
            .as_object()
            .is_none_or(|m| m.is_empty())
    );

    // The published ingress ports reach the platform node: the simulated Traefik's web and
    // websecure entrypoints (no route for an unknown host yet; TLS with Traefik's default
    // certificate for a name no Ingress has).
    assert_eq!(
        http_get(c.http_port).expect("8880 ingress").trim(),
        "404 page not found"
    );
    let curl = std::process::Command::new("curl")
        .args(["-sSvk", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{}/", c.https_port))
        .output()
        .expect("curl");
    let said = String::from_utf8_lossy(&curl.stderr);
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout).trim(),
        "404 page not found",
        "{said}"
    );
    assert!(said.contains("TRAEFIK DEFAULT CERT"), "{said}");

    // kubeadm init ran before the worker joined.
    let events: Vec<String> = c
        .node_file(&c.control_plane(), "/var/lib/sim-kube/events")
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |x| x.1).to_owned())
        .collect();
    let pos = |needle: &str| {
        events
            .iter()
            .position(|e| e.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {events:?}"))
    };
    assert!(
        pos("init ") < pos(&format!("register {}", c.worker())),
        "{events:?}"
    );
    let cp_conf = c.node_file(&c.control_plane(), "/kind/kubeadm.conf");
    assert!(
        cp_conf.contains("apiVersion: kubeadm.k8s.io/v1beta4"),
        "{cp_conf}"
    );

    // The bootstrap token is the cluster's own (not kind's fixed one), the worker joined with
    // it, and it is gone once the worker joined: nothing else can join with it.
    let token = BootstrapToken::in_config(&cp_conf).expect("a bootstrap token in the config");
    assert_ne!(token.expose(), "abcdef.0123456789abcdef");
    assert_eq!(
        BootstrapToken::in_config(&c.node_file(&c.worker(), "/kind/kubeadm.conf")),
        Some(token.clone()),
        "the worker joins with the control plane's token"
    );
    assert!(
        pos(&format!("token create {}", token.id())) < pos(&format!("register {}", c.worker())),
        "{events:?}"
    );
    let bootstrap_secrets = || -> Vec<String> {
        c.kubectl_json(&["get", "secrets", "-n", "kube-system"])["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|s| s["metadata"]["name"].as_str())
            .filter(|n| n.starts_with("bootstrap-token-"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(bootstrap_secrets(), Vec::<String>::new());

    // Nothing -vv logged carries a credential: not the kubeconfig's user token (the simulated
    // admin.conf's; kind's has a client key), not the bootstrap token.
    let user_token = c.kubeconfig_yaml()["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == format!("kind-{}", c.name))
        .and_then(|u| u["user"]["token"].as_str())
        .expect("the cluster's user token")
        .to_owned();
    assert!(
        first.stderr.contains("DEBUG") && first.stderr.contains("exec"),
        "-vv logs the node commands:\n{}",
        first.stderr
    );
    for secret in [user_token.as_str(), &token.expose()[7..], "PRIVATE KEY"] {
        assert!(
            !first.stderr.contains(secret) && !first.stdout.contains(secret),
            "a credential ({}…) in the -vv log",
            &secret[..4]
        );
    }

    // What the API server holds, read with the real kubectl through the exported context:
    // CNI and storage from the node's manifests, both nodes Ready with their pool labels.
    let cni = c.kubectl_json(&["get", "daemonset", "sim-kindnet", "-n", "kube-system"]);
    let env = &cni["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array().is_some_and(|e| e
            .iter()
            .any(|v| v["name"] == "POD_SUBNET" && v["value"] == "10.244.0.0/16")),
        "pod subnet templated in: {env}"
    );
    assert!(
        env.as_array().is_some_and(|e| e
            .iter()
            .any(|v| v["value"] == format!("{}:6443", c.control_plane()))),
        "endpoint patched in: {env}"
    );
    let sc = c.kubectl_json(&["get", "storageclass", "standard"]);
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    let worker = c.kubectl_json(&["get", "node", &c.worker()]);
    assert_eq!(
        worker["metadata"]["labels"]["slipway.dev/pool"],
        "workloads"
    );
    assert_eq!(
        worker["status"]["conditions"][0]["status"], "True",
        "{worker}"
    );
    let cp = c.kubectl_json(&["get", "node", &c.control_plane()]);
    assert_eq!(
        (
            cp["metadata"]["labels"]["ingress-ready"].as_str(),
            cp["metadata"]["labels"]["slipway.dev/pool"].as_str()
        ),
        (Some("true"), Some("platform")),
        "{cp}"
    );

    // Kubeconfig: kind-<name> at the published API port, 0600, the unrelated context intact.
    let kc = c.kubeconfig_yaml();
    let ctx = format!("kind-{}", c.name);
    assert_eq!(kc["current-context"], ctx.as_str());
    assert_eq!(names(&kc, "contexts"), ["prod".to_owned(), ctx.clone()]);
    assert_eq!(names(&kc, "users"), ["prod".to_owned(), ctx.clone()]);
    assert_eq!(kc["users"][0]["user"]["token"], "keep-me");
    assert_eq!(
        kc["clusters"][1]["cluster"]["server"],
        format!("https://127.0.0.1:{api_port}")
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c.kubeconfig)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    let status: Value = serde_json::from_str(
        &c.slipway(&["status", "-o", "json"])
            .expect_ok("status")
            .stdout,
    )
    .expect("status json");
    assert_eq!(status["healthy"], true, "{status}");
    assert_eq!(status["contextPresent"], true);
    assert_eq!(status["nodes"].as_array().map(Vec::len), Some(2));
    assert!(
        status["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["ready"] == true && n["state"] == "running")
    );

    // Second up: nothing created, nothing changed, fast.
    let ids_before = docker(&[
        "inspect",
        "--format",
        "{{.Id}}",
        &c.control_plane(),
        &c.worker(),
    ]);
    let second = c.up().expect_ok("second up");
    println!(
        "second up on a healthy cluster: {:.2} s (first: {:.2} s)",
        second.secs, first.secs
    );
    assert!(
        second.stdout.contains("all is up to date"),
        "{}",
        second.stdout
    );
    assert!(
        !second.stderr.contains("] done:"),
        "no step may report a change:\n{}",
        second.stderr
    );
    assert_eq!(
        docker(&[
            "inspect",
            "--format",
            "{{.Id}}",
            &c.control_plane(),
            &c.worker()
        ]),
        ids_before
    );

    // A worker that has to join again (its Node gone, its kubelet config lost) gets the same
    // token made anew for one TTL, joins, and the token is removed again.
    docker(&[
        "exec",
        &c.control_plane(),
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        "delete",
        "node",
        &c.worker(),
    ]);
    docker(&["exec", &c.worker(), "rm", "/etc/kubernetes/kubelet.conf"]);
    let rejoin = c.up().expect_ok("up with a worker to join again");
    assert!(
        rejoin.stderr.contains("making it anew")
            && rejoin.stderr.contains("removed the bootstrap token"),
        "{}",
        rejoin.stderr
    );
    assert_eq!(bootstrap_secrets(), Vec::<String>::new());
    assert_eq!(
        c.kubectl_json(&["get", "node", &c.worker()])["metadata"]["name"],
        c.worker().as_str()
    );

    // kubeconfig printed for scripts.
    let printed = c.slipway(&["kubeconfig"]).expect_ok("kubeconfig");
    assert!(
        printed
            .stdout
            .contains(&format!("https://127.0.0.1:{api_port}")),
        "{}",
        printed.stdout
    );

    // Down twice: no error; nodes and our kubeconfig entries gone; the network stays (kind's rule).
    c.slipway(&["down"]).expect_ok("down");
    c.slipway(&["down"]).expect_ok("second down");
    assert!(c.containers().is_empty());
    let kc = c.kubeconfig_yaml();
    assert_eq!(names(&kc, "contexts"), ["prod"]);
    assert_eq!(names(&kc, "clusters"), ["prod"]);
    assert_eq!(kc["users"][0]["user"]["token"], "keep-me");
    inspect(&c.network);
    let gone: Value = serde_json::from_str(
        &c.slipway(&["status", "-o", "json"])
            .expect_ok("status after down")
            .stdout,
    )
    .expect("json");
    assert_eq!(gone["exists"], false);
}

#[test]
fn stop_then_up_starts_the_same_containers_and_verifies_them() {
    let c = TestCluster::new("stop");
    c.up().expect_ok("up");
    let ids = docker(&[
        "inspect",
        "--format",
        "{{.Id}}",
        &c.control_plane(),
        &c.worker(),
    ]);

    c.slipway(&["stop"]).expect_ok("stop");
    let states = docker(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        &c.control_plane(),
        &c.worker(),
    ]);
    assert_eq!(states.lines().collect::<Vec<_>>(), ["exited", "exited"]);
    let stopped: Value = serde_json::from_str(
        &c.slipway(&["status", "-o", "json"])
            .expect_ok("status")
            .stdout,
    )
    .expect("json");
    assert_eq!(stopped["healthy"], false);

    // Two `up` at once on one cluster (the tray and the CLI, say): one runs, the other is
    // refused before it touches anything, naming the run it waits for.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| c.up());
        let b = s.spawn(|| c.up());
        (a.join().expect("first up"), b.join().expect("second up"))
    });
    let refused = |r: &slipway_e2e::Run| {
        !r.ok
            && r.stderr
                .contains("`slipway up` is already running on cluster")
    };
    assert!(
        (a.ok && (b.ok || refused(&b))) || (b.ok && refused(&a)),
        "one up runs, the other finishes after it or is refused:\n--- a\n{}\n--- b\n{}",
        a.stderr,
        b.stderr
    );
    let again = if a.ok { a } else { b };
    assert!(
        again.stderr.contains("started stopped node(s)")
            || again.stderr.contains("both nodes running"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("[nodes-ready]"),
        "readiness re-verified:\n{}",
        again.stderr
    );
    assert_eq!(
        docker(&[
            "inspect",
            "--format",
            "{{.Id}}",
            &c.control_plane(),
            &c.worker()
        ]),
        ids,
        "same containers"
    );
    let states = docker(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        &c.control_plane(),
        &c.worker(),
    ]);
    assert_eq!(states.lines().collect::<Vec<_>>(), ["running", "running"]);
    assert_eq!(
        http_get(c.http_port)
            .expect("ingress port mapped again")
            .trim(),
        "404 page not found",
        "the API server (and its ingress) restarted"
    );
    assert_eq!(
        c.kubectl_json(&["get", "nodes"])["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "the API server kept its objects"
    );
}

#[test]
fn a_taken_host_port_fails_preflight_before_anything_is_created() {
    let c = TestCluster::new("port");
    let _holder = TcpListener::bind(("127.0.0.1", c.http_port)).expect("hold the port");
    let run = c.up();
    assert!(!run.ok, "up must fail");
    assert!(
        run.stderr.contains(&format!("port {}", c.http_port)) && run.stderr.contains("--http-port"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("preflight"), "{}", run.stderr);
    assert!(c.containers().is_empty(), "nothing created");
    let network = std::process::Command::new("docker")
        .args(["network", "inspect", &c.network])
        .output()
        .expect("docker");
    assert!(!network.status.success(), "network not created either");
}

#[test]
fn unreachable_docker_is_a_clear_error() {
    let c = TestCluster::new("nodocker");
    let out = slipway_e2e::slipway()
        .args(["up", "--name", &c.name])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("KUBECONFIG", &c.kubeconfig)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot reach the Docker daemon") && stderr.contains("Start Docker"),
        "{stderr}"
    );
}

#[test]
fn a_node_that_never_boots_times_out_with_its_log_and_is_cleaned_up() {
    let c = TestCluster::new("noboot");
    let run = c.up_with(&faulty_sim_image("no-boot"), &["--boot-timeout", "5"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("did not finish booting within 5 s"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("simulated fault: never reaching the multi-user target"),
        "last log lines included:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("removed the half-made node"),
        "{}",
        run.stderr
    );
    assert!(
        c.containers().is_empty(),
        "half-made nodes removed: {:?}",
        c.containers()
    );
    // The same command with a good image resumes from a clean slate.
    c.up().expect_ok("up after the failed boot");
}

#[test]
fn nodes_that_never_turn_ready_fail_the_ready_step_and_up_resumes() {
    let c = TestCluster::new("notready");
    let run = c.up_with(&faulty_sim_image("never-ready"), &["--wait", "2"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("step `nodes-ready` failed") && run.stderr.contains("NotReady"),
        "{}",
        run.stderr
    );
    assert_eq!(c.containers().len(), 2, "the cluster is kept for resuming");
}

/// kubeadm writes admin.conf in its kubeconfig phase, long before init is done: an init cut
/// short leaves it, and the next `up` must reset the node and init again, not call it done.
#[test]
fn a_kubeadm_init_cut_short_is_reset_and_run_again() {
    let c = TestCluster::new("initcut");
    let image = faulty_sim_image("init-cut-short");
    let first = c.up_with(&image, &[]);
    assert!(!first.ok);
    assert!(
        first.stderr.contains("step `control-plane` failed")
            || first.stderr.contains("kubeadm init"),
        "{}",
        first.stderr
    );
    let again = c.up_with(&image, &[]).expect_ok("up resumes");
    assert!(
        again
            .stderr
            .contains("did not finish: kubeadm reset, then init again"),
        "{}",
        again.stderr
    );
    let events = c.node_file(&c.control_plane(), "/var/lib/sim-kube/events");
    let order: Vec<&str> = events
        .lines()
        .filter_map(|l| l.split_once(' ').map(|x| x.1))
        .filter(|e| e.starts_with("init") || e.starts_with("reset"))
        .collect();
    assert_eq!(
        order,
        [
            format!("init cut short {}", c.control_plane()),
            format!("reset {}", c.control_plane()),
            format!("init {}", c.control_plane()),
        ],
        "{events}"
    );
    let nodes = c.kubectl_json(&["get", "nodes"]);
    assert_eq!(nodes["items"].as_array().map(Vec::len), Some(2), "{nodes}");
    // Done now: a third run changes nothing.
    let third = c.up_with(&image, &[]).expect_ok("third up");
    assert!(
        third.stdout.contains("all is up to date"),
        "{}",
        third.stdout
    );
}

#[test]
fn a_different_spec_is_reported_with_the_fix_and_recreate_applies_it() {
    let c = TestCluster::new("spec");
    c.up().expect_ok("up");
    let other = slipway_e2e::free_port().to_string();
    let image = sim_image();
    let https = c.https_port.to_string();
    let run = c.slipway(&[
        "up",
        "--cluster-only",
        "--node-image",
        &image,
        "--http-port",
        &other,
        "--https-port",
        &https,
    ]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("differs from the requested one"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{}", c.http_port)) && run.stderr.contains(&other),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("slipway down") && run.stderr.contains("--recreate"),
        "{}",
        run.stderr
    );

    c.slipway(&[
        "up",
        "--cluster-only",
        "--node-image",
        &image,
        "--http-port",
        &other,
        "--https-port",
        &https,
        "--recreate",
    ])
    .expect_ok("recreate");
    let ports = &inspect(&c.control_plane())["HostConfig"]["PortBindings"];
    assert_eq!(ports["80/tcp"][0]["HostPort"], other.as_str());
}

#[test]
fn invalid_names_are_refused_with_the_rule() {
    let out = slipway_e2e::slipway()
        .args(["up", "--name", "Bad_Name"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("invalid cluster name") && stderr.contains("^[a-z0-9.-]+$"),
        "{stderr}"
    );
    // Charts run as cluster-admin: a repository reached over plain HTTP is refused up front.
    let out = slipway_e2e::slipway()
        .args(["up", "--charts", "http://charts.example/stable"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("plain http://") && stderr.contains("https://"),
        "{stderr}"
    );
}

#[test]
fn without_a_display_the_gui_says_to_use_the_cli() {
    let out = slipway_e2e::slipway()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no graphical display") && stderr.contains("slipway --help"),
        "{stderr}"
    );
}
