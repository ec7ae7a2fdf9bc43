//! End to end: the real `slipway up` on the real Docker daemon, the SIMULATED node image running
//! kube-sim as its API server (published 6443), the real helm 4 installing the stand-in Argo CD
//! chart, kube-sim's simulated Argo CD and Traefik. Then a write-free re-run, and one injected
//! fault per kind of step, each resumed once the fault is gone.
#![allow(clippy::print_stdout, reason = "timings are printed for the test log")]

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use slipway_core::bundle;
use slipway_core::platform::gitops;
use slipway_core::secrets::accounts;
use slipway_e2e::keyring::PrivateKeyring;
use slipway_e2e::{Run, TestCluster, root, tools_dir};

const INSTALL_STEPS: [&str; 10] = [
    "argocd",
    "argocd-ready",
    "secrets",
    "publish",
    "gitops-source",
    "platform-apps",
    "certificates",
    "sealing-key",
    "routing",
    "catalog",
];

/// Grafana's per-cluster settings, as `up` wrote them.
fn grafana_config(c: &TestCluster) -> Value {
    c.kubectl_json(&[
        "get",
        "configmap",
        "slipway-grafana-config",
        "-n",
        "observability",
    ])
}

/// `slipway status -o json`.
fn status_json(c: &TestCluster) -> Value {
    serde_json::from_str(
        &c.slipway(&["status", "-o", "json"])
            .expect_ok("status")
            .stdout,
    )
    .expect("status json")
}

/// The `[step] <verb>` lines of a run, in order.
fn outcomes(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| {
            let rest = l.split_once(" [")?.1;
            let (step, what) = rest.split_once("] ")?;
            let verb = ["done:", "up to date:", "FAILED:"]
                .into_iter()
                .find(|v| what.starts_with(v))?;
            Some((step.to_owned(), verb.trim_end_matches(':').to_owned()))
        })
        .collect()
}

fn outcome(run: &Run, step: &str) -> String {
    outcomes(run)
        .into_iter()
        .rev()
        .find(|(s, _)| s == step)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no outcome for {step}:\n{}", run.stderr))
}

fn helm(c: &TestCluster, args: &[&str]) -> String {
    let out = Command::new(tools_dir().join("helm"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(["--kube-context", &format!("kind-{}", c.name)])
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET / through the published ingress port with a Host header: (status, body).
fn get_host(port: u16, host: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .expect("write");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    )
}

#[test]
fn up_installs_the_platform_end_to_end_and_a_rerun_writes_nothing() {
    let c = TestCluster::new("platform");
    let first = c
        .platform_up(None, &["--app-timeout", "60"])
        .expect_ok("up");
    println!(
        "first up (cluster + platform, simulated node, real helm): {:.2} s",
        first.secs
    );
    // The routing step checked each UI over HTTPS too, trusting only the local CA.
    let routing = first
        .stderr
        .lines()
        .find(|l| l.contains("[routing] up to date:"))
        .unwrap_or_default();
    assert!(
        routing.contains("https://argocd.local → 200")
            && routing.contains("https://backstage.local → 200")
            && routing.contains("https://grafana.local → 200"),
        "{routing}"
    );
    let done: Vec<String> = outcomes(&first).into_iter().map(|(s, _)| s).collect();
    let install_order: Vec<&str> = done
        .iter()
        .map(String::as_str)
        .filter(|s| INSTALL_STEPS.contains(s))
        .collect();
    assert_eq!(
        install_order, INSTALL_STEPS,
        "every platform step ran, in order:\n{}",
        first.stderr
    );
    assert_eq!(outcome(&first, "argocd"), "done");
    assert!(
        first
            .stdout
            .contains(&format!("http://argocd.local:{}", c.http_port))
            && first
                .stdout
                .contains(&format!("http://backstage.local:{}", c.http_port))
            && first.stdout.contains(&format!(
                "Grafana         http://grafana.local:{}",
                c.http_port
            )),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("slipway argocd-password"),
        "{}",
        first.stdout
    );

    // The real helm sees the release Slipway installed.
    let releases: Value =
        serde_json::from_str(&helm(&c, &["list", "-A", "-o", "json"])).expect("helm json");
    assert_eq!(releases[0]["name"], "argocd");
    assert_eq!(releases[0]["namespace"], "argocd");
    assert_eq!(releases[0]["chart"], "argo-cd-10.1.1", "the pinned version");
    assert_eq!(releases[0]["status"], "deployed");
    let values: Value = serde_json::from_str(&helm(
        &c,
        &["get", "values", "argocd", "-n", "argocd", "-o", "json"],
    ))
    .expect("values");
    assert_eq!(values["global"]["domain"], "argocd.local");

    // AppProjects, the platform ApplicationSet and its Applications carry the bundle's content.
    for project in bundle::yaml_documents("bootstrap/projects.yaml").expect("projects") {
        let name = project["metadata"]["name"].as_str().expect("name");
        let live = c.kubectl_json(&["get", "appproject", name, "-n", "argocd"]);
        assert_eq!(live["spec"], project["spec"], "AppProject {name}");
    }
    let set = c.kubectl_json(&["get", "applicationset", "platform", "-n", "argocd"]);
    assert_eq!(
        set["spec"],
        gitops::local_platform_appset("local", &[], None).expect("appset")["spec"]
    );
    for component in gitops::components().expect("components") {
        let app = c.kubectl_json(&["get", "application", &component.name, "-n", "argocd"]);
        let source = &app["spec"]["source"];
        assert_eq!(
            (
                source["chart"].as_str(),
                source["targetRevision"].as_str(),
                source["repoURL"].as_str()
            ),
            (
                Some(component.chart.name.as_str()),
                Some(component.chart.version.as_str()),
                Some(component.chart.repo.as_str())
            )
        );
        assert_eq!(
            app["spec"]["destination"]["namespace"],
            component.namespace.as_str()
        );
        assert_eq!(
            (
                app["status"]["sync"]["status"].as_str(),
                app["status"]["health"]["status"].as_str()
            ),
            (Some("Synced"), Some("Healthy"))
        );
    }

    // The Secret Slipway owns holds the token kept in the OS keyring (the test's private Secret
    // Service), and no output shows it.
    let keyring = PrivateKeyring::shared();
    let account = accounts::backstage_api_token(&c.name);
    let token = keyring.get(&account).expect("token kept");
    let secret = c.kubectl_json(&["get", "secret", "backstage-secrets", "-n", "backstage"]);
    let stored = secret["data"]["SLIPWAY_API_TOKEN"]
        .as_str()
        .expect("token key");
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(stored)
            .expect("base64"),
        token.as_bytes()
    );
    assert!(
        !first.stdout.contains(&token) && !first.stderr.contains(&token),
        "the token never reaches the output"
    );

    // Grafana's per-cluster settings: this developer's URL, anonymous (Viewer) access on loopback.
    let grafana = grafana_config(&c);
    assert_eq!(
        grafana["data"]["GF_SERVER_ROOT_URL"],
        format!("http://grafana.local:{}", c.http_port).as_str()
    );
    assert_eq!(grafana["data"]["GF_AUTH_ANONYMOUS_ENABLED"], "true");

    // Routing through the published port, by Host header, as a browser would after `hosts apply`.
    for host in ["argocd.local", "backstage.local", "grafana.local"] {
        let (status, body) = get_host(c.http_port, host);
        assert_eq!(status, 200, "{host}: {body}");
    }
    assert_eq!(get_host(c.http_port, "unknown.local").0, 404);

    // Re-run on the healthy platform: every step up to date, not one write.
    let writes = c.sim_writes();
    let again = c
        .platform_up(None, &["--app-timeout", "60"])
        .expect_ok("second up");
    println!(
        "re-run on a healthy platform: {:.2} s (first: {:.2} s), API writes: {}",
        again.secs,
        first.secs,
        c.sim_writes() - writes
    );
    assert_eq!(c.sim_writes(), writes, "zero writes on a healthy platform");
    assert!(
        again.stdout.contains("all is up to date"),
        "{}",
        again.stdout
    );
    assert!(
        outcomes(&again).iter().all(|(_, v)| v == "up to date"),
        "{}",
        again.stderr
    );

    let status = status_json(&c);
    let components: Vec<(String, String)> = status["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap_or_default().to_owned(),
                x["health"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Argo CD, then the nine charts Argo CD deploys (observability's five among them).
    assert_eq!(components.len(), 10, "{status}");
    assert!(
        components.iter().all(|(_, h)| h == "Healthy"),
        "{components:?}"
    );
    // Each component runs the chart version the bundle pins (Argo CD's from its chart's
    // helm.sh/chart label, the others from their Application's chart source).
    for x in status["components"].as_array().expect("components") {
        assert!(
            x["pinned"].is_string() && x["running"] == x["pinned"],
            "running against pinned: {x}"
        );
    }
    assert_eq!(
        status["httpsTrusted"], false,
        "no store here trusts the CA yet"
    );
    // No GitHub connected: local mode, said as such, and nothing else in the way.
    assert_eq!(
        (status["mode"].as_str(), status["problems"].clone()),
        (Some("local"), serde_json::json!([])),
        "{status}"
    );
    // HTTPS on the published port, checked with the machine's CA as curl takes it: the
    // (simulated) cert-manager issued each UI's certificate from the CA Secret `up` applied, the
    // (simulated) Traefik serves it to the client naming the host (SNI).
    let ca = c
        .run(c.command().args(["trust", "ca"]))
        .expect_ok("ca")
        .stdout;
    let ca_file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(ca_file.path(), &ca).expect("write");
    for host in ["argocd.local", "backstage.local", "grafana.local"] {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(ca_file.path())
            .arg("--resolve")
            .arg(format!("{host}:{}:127.0.0.1", c.https_port))
            .arg(format!("https://{host}:{}/", c.https_port))
            .output()
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && body.contains(&format!("{host}/ -> ")),
            "{host}: {body}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let password = c.slipway(&["argocd-password"]).expect_ok("password");
    assert_eq!(
        password.stdout.trim().len(),
        16,
        "the initial admin password"
    );

    // Sealed Secrets' key is escrowed in the keyring, and can be backed up by hand (0600).
    let escrow = accounts::sealing_keys(&c.name);
    let key = active_key(&c);
    let kept = keyring.get(&escrow).expect("key escrowed");
    // A keyring that keeps its entries across reboots needs no advice to keep a copy.
    assert!(
        !first
            .stderr
            .contains("keep a copy with `slipway seal --backup-key FILE`"),
        "{}",
        first.stderr
    );
    assert!(
        kept.contains(key["metadata"]["name"].as_str().expect("name")),
        "the escrowed key is the active one"
    );
    let backup = tempfile::tempdir()
        .expect("tmp")
        .keep()
        .join("sealing-key.yaml");
    let out = c
        .run(
            c.command()
                .args(["seal", "--cluster", &c.name, "--backup-key"])
                .arg(&backup),
        )
        .expect_ok("backup");
    assert!(out.stderr.contains("PRIVATE keys"), "{}", out.stderr);
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&backup)
                .expect("backup")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    // kubeseal's job without kubeseal: the certificate from the controller through the API.
    let sealed = c
        .run(c.command().args([
            "seal",
            "--cluster",
            &c.name,
            "--name",
            "db",
            "--namespace",
            "shop",
            "--from-literal",
            "k=v",
            "-o",
            "json",
        ]))
        .expect_ok("seal");
    assert!(
        sealed.stdout.contains("\"SealedSecret\""),
        "{}",
        sealed.stdout
    );

    // Once a store here trusts the local CA (an NSS database in a home of the test's own), `up`
    // gives the HTTPS addresses, and Backstage's and Argo CD's own URLs become HTTPS too (a page
    // over HTTPS calling an HTTP backend is mixed content).
    let home = tempfile::tempdir().expect("tmp");
    let nssdb = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).expect("nssdb");
    let created = std::process::Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", nssdb.display()))
        .status()
        .expect("certutil (libnss3-tools)");
    assert!(created.success());
    c.run(
        c.command()
            .env("HOME", home.path())
            .args(["trust", "install", "--store", "nss"]),
    )
    .expect_ok("trust install");
    let trusted = c
        .run(c.platform_up_command(None, &[]).env("HOME", home.path()))
        .expect_ok("up, trusted");
    let https = |host: &str| format!("https://{host}:{}", c.https_port);
    assert!(
        trusted.stdout.contains(&https("argocd.local"))
            && trusted.stdout.contains(&https("backstage.local")),
        "{}",
        trusted.stdout
    );
    let config = c.kubectl_json(&[
        "get",
        "configmap",
        "slipway-backstage-config",
        "-n",
        "backstage",
    ]);
    assert!(
        config["data"]["app-config.slipway.yaml"]
            .as_str()
            .is_some_and(|f| f.contains(&https("backstage.local"))),
        "{config}"
    );
    let grafana = grafana_config(&c);
    assert_eq!(
        grafana["data"]["GF_SERVER_ROOT_URL"],
        https("grafana.local").as_str()
    );
    let status = c
        .run(
            c.command()
                .env("HOME", home.path())
                .args(["status", "--name", &c.name]),
        )
        .expect_ok("status, trusted");
    assert!(
        status
            .stdout
            .contains(&format!("{}, trusted by this machine", https("127.0.0.1"))),
        "{}",
        status.stdout
    );
    c.run(
        c.command()
            .env("HOME", home.path())
            .args(["trust", "uninstall", "--store", "nss"]),
    )
    .expect_ok("trust uninstall");

    c.slipway(&["down"]).expect_ok("down");
    assert_eq!(
        keyring.get(&account),
        None,
        "down forgets the cluster's token"
    );
    assert!(
        keyring.get(&escrow).is_some(),
        "down keeps the sealing key for the next cluster"
    );

    // A re-created cluster gets the same key back, before Argo CD deploys Sealed Secrets.
    let again = c
        .platform_up(None, &["--app-timeout", "60"])
        .expect_ok("up after down");
    assert!(
        again
            .stderr
            .contains("restoring 1 escrowed Sealed Secrets key"),
        "{}",
        again.stderr
    );
    let restored = active_key(&c);
    assert_eq!(
        (&restored["metadata"]["name"], &restored["data"]),
        (&key["metadata"]["name"], &key["data"]),
        "the same key"
    );
    let app = c.kubectl_json(&["get", "application", "sealed-secrets", "-n", "argocd"]);
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .expect("resourceVersion")
    };
    assert!(
        rv(&restored) < rv(&app),
        "the key was in place before the sealed-secrets Application existed"
    );
    c.slipway(&["down"]).expect_ok("down");
}

/// The one active Sealed Secrets key Secret in kube-system.
fn active_key(c: &TestCluster) -> Value {
    let list = c.kubectl_json(&[
        "get",
        "secrets",
        "-n",
        "kube-system",
        "-l",
        "sealedsecrets.bitnami.com/sealed-secrets-key=active",
    ]);
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

/// The stand-in charts with the Argo CD chart broken the way a bad chart breaks helm.
fn broken_charts(dir: &Path) {
    let copy = Command::new("cp")
        .arg("-r")
        .arg(root().join("tests/tests/fixtures/charts/argo-cd"))
        .arg(dir)
        .status()
        .expect("cp");
    assert!(copy.success());
    std::fs::write(
        dir.join("argo-cd/templates/broken.yaml"),
        "{{ .Values.nothing.here }}\n",
    )
    .expect("break the chart");
}

#[test]
fn each_failing_step_names_itself_and_up_resumes_without_redoing_finished_steps() {
    let c = TestCluster::new("faults");
    c.up().expect_ok("cluster");
    // Without the observability part: what breaks and resumes must not depend on it.
    let short = ["--app-timeout", "3", "--without", "observability"];

    // A helm failure: the step, the chart and helm's own words.
    let broken = tempfile::tempdir().expect("tmp");
    broken_charts(broken.path());
    let run = c.platform_up(Some(broken.path()), &short);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("step `argocd` failed")
            && run
                .stderr
                .contains("nil pointer evaluating interface {}.here"),
        "{}",
        run.stderr
    );
    assert_eq!(
        outcome(&run, "kubeconfig"),
        "up to date",
        "the cluster was not redone"
    );

    // Argo CD's server never becomes available.
    c.sim_faults(&json!({"controllers": {"neverReady": ["argocd/argocd-server"]}}));
    let run = c.platform_up(None, &short);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("step `argocd-ready` failed")
            && run
                .stderr
                .contains("Deployment argocd/argocd-server Available"),
        "{}",
        run.stderr
    );
    assert_eq!(outcome(&run, "argocd"), "done", "the fixed chart went in");

    // An API server that keeps failing one kind of write (retried, then reported with its object).
    c.sim_faults(&json!({"http": [{"method": "PATCH", "pathContains": "/secrets/backstage-secrets", "status": 500, "times": 100}]}));
    let run = c.platform_up(None, &short);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("step `secrets` failed")
            && run.stderr.contains("Secret/backstage/backstage-secrets")
            && run.stderr.contains("500"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("attempt 1 failed, retrying"),
        "transient errors are retried first:\n{}",
        run.stderr
    );
    assert_eq!(outcome(&run, "argocd"), "up to date");
    assert_eq!(outcome(&run, "argocd-ready"), "up to date");

    // A component Argo CD reports Degraded.
    c.sim_faults(&json!({"controllers": {"degraded": ["backstage"]}}));
    let run = c.platform_up(None, &short);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("step `platform-apps` failed")
            && run.stderr.contains("Application backstage")
            && run.stderr.contains("health Degraded"),
        "{}",
        run.stderr
    );

    // Faults gone: up resumes and finishes; what was done before is not done again.
    c.sim_faults(&json!({}));
    let run = c.platform_up(None, &short).expect_ok("resume");
    for step in [
        "kubeconfig",
        "argocd",
        "argocd-ready",
        "secrets",
        "gitops-source",
    ] {
        assert_eq!(
            outcome(&run, step),
            "up to date",
            "{step} was finished before:\n{}",
            run.stderr
        );
    }
    assert_eq!(outcome(&run, "routing"), "up to date");
    assert!(
        !run.stdout.contains("Grafana") && !run.stderr.contains("grafana.local →"),
        "{}",
        run.stdout
    );
    // The part left out is not installed, and `status` does not call it missing.
    let status = status_json(&c);
    let names: Vec<&str> = status["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "argo-cd",
            "backstage",
            "cert-manager",
            "sealed-secrets",
            "traefik"
        ]
    );
    assert_eq!(status["problems"], json!([]), "{status}");
}
