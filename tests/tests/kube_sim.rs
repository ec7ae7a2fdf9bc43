//! kube-sim's fidelity, checked with clients no one here wrote: the real kubectl 1.35 and
//! helm 4.1, and kube-rs.
#![allow(clippy::print_stdout, reason = "figures are printed for the test log")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::{WatchStreamExt, wait::await_condition, watcher};
use serde_json::{Value, json};
use slipway_e2e::kube_sim::{HttpFault, KubeSim};
use slipway_e2e::{echo_server, forwarding_pod, tools_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BUNDLE: &str = include_str!("fixtures/bundle.yaml");

struct Env {
    sim: KubeSim,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

async fn env() -> Env {
    let sim = KubeSim::start().await.expect("start kube-sim");
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    Env {
        sim,
        _dir: dir,
        kubeconfig,
    }
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn tool(name: &str, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Out {
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
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

async fn kubectl(e: &Env, args: &[&str]) -> Out {
    tool("kubectl", &e.kubeconfig, args, None).await
}

fn expect(out: Out, what: &str) -> Out {
    assert!(
        out.ok,
        "{what} failed\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_applies_gets_waits_and_deletes() {
    let e = env().await;
    let bundle = e.kubeconfig.with_file_name("bundle.yaml");
    std::fs::write(&bundle, BUNDLE).expect("bundle");
    let file = bundle.to_str().expect("utf-8 path");

    // As against a real API server, a custom resource whose CRD is created by the same apply
    // cannot be validated on the first pass; once the CRD is Established, the bundle applies whole.
    let first = kubectl(&e, &["apply", "--server-side", "-f", file]).await;
    assert!(first.stdout.contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.slipway.dev serverside-applied"), "{}{}", first.stdout, first.stderr);
    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Established",
                "crd/widgets.example.slipway.dev",
                "--timeout=10s",
            ],
        )
        .await,
        "wait for CRD",
    );
    let applied = expect(
        kubectl(&e, &["apply", "--server-side", "-f", file]).await,
        "apply",
    );
    for obj in [
        "namespace/demo",
        "widget.example.slipway.dev/w1",
        "deployment.apps/web",
        "service/web",
        "secret/creds",
        "ingress.networking.k8s.io/web",
    ] {
        assert!(
            applied
                .stdout
                .contains(&format!("{obj} serverside-applied")),
            "{obj}: {}",
            applied.stdout
        );
    }

    let got: Value = serde_json::from_str(
        &expect(kubectl(&e, &["get", "-f", file, "-o", "json"]).await, "get").stdout,
    )
    .expect("json");
    let items = got["items"].as_array().expect("items");
    assert_eq!(items.len(), 7);
    let find = |kind: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    assert_eq!(find("Widget")["spec"]["size"], 3);
    assert_eq!(find("Deployment")["spec"]["replicas"], 2);
    assert_eq!(find("Ingress")["spec"]["rules"][0]["host"], "web.local");
    assert_eq!(
        find("Secret")["data"]["token"],
        "bm90LWEtcmVhbC10b2tlbg==",
        "stringData stored as data, as the API server does"
    );
    assert_eq!(
        find("CustomResourceDefinition")["status"]["conditions"][1]["type"],
        "Established"
    );

    // Re-applying the same bundle changes nothing: same resourceVersions, no writes.
    let versions = |v: &Value| {
        v["items"].as_array().map(|i| {
            i.iter()
                .map(|o| o["metadata"]["resourceVersion"].clone())
                .collect::<Vec<_>>()
        })
    };
    let writes = e.sim.client_writes();
    expect(
        kubectl(&e, &["apply", "--server-side", "-f", file]).await,
        "re-apply",
    );
    let again: Value = serde_json::from_str(
        &expect(kubectl(&e, &["get", "-f", file, "-o", "json"]).await, "get").stdout,
    )
    .expect("json");
    assert_eq!(
        versions(&again),
        versions(&got),
        "unchanged objects keep their resourceVersion"
    );
    assert_eq!(
        e.sim.client_writes(),
        writes,
        "a no-op apply writes nothing"
    );

    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Available",
                "deployment/web",
                "-n",
                "demo",
                "--timeout=10s",
            ],
        )
        .await,
        "wait Available",
    );
    let pods: Value = serde_json::from_str(
        &expect(
            kubectl(
                &e,
                &["get", "pods", "-n", "demo", "-l", "app=web", "-o", "json"],
            )
            .await,
            "pods",
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(
        pods["items"].as_array().map(Vec::len),
        Some(2),
        "the simulated controller made the backing pods"
    );

    e.sim.faults(|f| {
        f.never_ready.insert("demo/stuck".into());
    });
    let stuck = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: stuck, namespace: demo}\nspec:\n  selector: {matchLabels: {app: stuck}}\n  template:\n    metadata: {labels: {app: stuck}}\n    spec: {containers: [{name: c, image: busybox}]}\n";
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(stuck),
        )
        .await,
        "apply stuck",
    );
    let timed_out = kubectl(
        &e,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/stuck",
            "-n",
            "demo",
            "--timeout=2s",
        ],
    )
    .await;
    assert!(
        !timed_out.ok && timed_out.stderr.contains("timed out"),
        "{}",
        timed_out.stderr
    );

    expect(
        kubectl(&e, &["delete", "namespace", "demo", "--timeout=20s"]).await,
        "delete namespace",
    );
    assert!(e.sim.object("apps", "deployments", "demo", "web").is_none());
    assert!(e.sim.object("", "secrets", "demo", "creds").is_none());
    assert!(e.sim.object("", "pods", "demo", "").is_none());
    let left = expect(
        kubectl(
            &e,
            &[
                "get",
                "all,secrets,ingresses,widgets",
                "-n",
                "demo",
                "-o",
                "name",
            ],
        )
        .await,
        "get after delete",
    );
    assert_eq!(left.stdout.trim(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_helm_installs_upgrades_lists_and_uninstalls() {
    let e = env().await;
    let chart = e.kubeconfig.with_file_name("chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: \"1.0\"\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "message: hello\nreplicas: 1\n").expect("values");
    std::fs::write(
        chart.join("templates/app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  message: {{ .Values.message | quote }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n    spec:\n      containers: [{name: app, image: \"busybox:1.36\"}]\n",
    )
    .expect("template");
    let chart = chart.to_str().expect("utf-8");

    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &[
                "install",
                "rel",
                chart,
                "-n",
                "apps",
                "--create-namespace",
                "--wait",
                "--timeout",
                "30s",
            ],
            None,
        )
        .await,
        "helm install",
    );
    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &[
                "upgrade",
                "rel",
                chart,
                "-n",
                "apps",
                "--set",
                "message=bye",
            ],
            None,
        )
        .await,
        "helm upgrade",
    );
    let listed: Value = serde_json::from_str(
        &expect(
            tool("helm", &e.kubeconfig, &["list", "-A", "-o", "json"], None).await,
            "helm list",
        )
        .stdout,
    )
    .expect("json");
    assert_eq!(listed[0]["name"], "rel");
    assert_eq!(listed[0]["revision"], "2");
    assert_eq!(listed[0]["status"], "deployed");
    // Release records are Secrets, as helm stores them; the upgrade reached the objects.
    for rev in ["v1", "v2"] {
        let secret = e
            .sim
            .object(
                "",
                "secrets",
                "apps",
                &format!("sh.helm.release.v1.rel.{rev}"),
            )
            .expect("release secret");
        assert_eq!(secret["type"], "helm.sh/release.v1");
        assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
    }
    assert_eq!(
        e.sim
            .object("", "configmaps", "apps", "rel-config")
            .expect("configmap")["data"]["message"],
        "bye"
    );

    expect(
        tool(
            "helm",
            &e.kubeconfig,
            &["uninstall", "rel", "-n", "apps"],
            None,
        )
        .await,
        "helm uninstall",
    );
    let listed = expect(
        tool("helm", &e.kubeconfig, &["list", "-A", "-o", "json"], None).await,
        "helm list",
    );
    assert_eq!(listed.stdout.trim(), "[]");
    assert!(e.sim.object("apps", "deployments", "apps", "rel").is_none());
    assert!(
        e.sim
            .object("", "secrets", "apps", "sh.helm.release.v1.rel.v2")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_applies_through_discovery_watches_and_awaits() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");

    // Server-side apply of arbitrary objects via discovery, CRD first.
    let docs: Vec<DynamicObject> = serde_saphyr::from_multiple(BUNDLE).expect("bundle");
    let pp = PatchParams::apply("slipway-test").force();
    for pass in 0..2 {
        let discovery = Discovery::new(client.clone())
            .run()
            .await
            .expect("discovery");
        for obj in docs.iter().filter(|o| {
            (pass == 0)
                == (o
                    .types
                    .as_ref()
                    .is_some_and(|t| t.kind == "CustomResourceDefinition" || t.kind == "Namespace"))
        }) {
            let gvk = kube::core::GroupVersionKind::try_from(obj.types.as_ref().expect("types"))
                .expect("gvk");
            let (ar, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{gvk:?} not discovered"));
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster => Api::all_with(client.clone(), &ar),
                Scope::Namespaced => Api::namespaced_with(
                    client.clone(),
                    obj.metadata.namespace.as_deref().unwrap_or("default"),
                    &ar,
                ),
            };
            api.patch(
                obj.metadata.name.as_deref().expect("name"),
                &pp,
                &Patch::Apply(obj),
            )
            .await
            .expect("apply");
        }
    }
    let widget = e
        .sim
        .object("example.slipway.dev", "widgets", "demo", "w1")
        .expect("custom resource");
    assert_eq!(widget["spec"]["size"], 3);

    // A watcher sees create, update and delete.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "demo");
    let mut events = Box::pin(watcher(cms.clone(), watcher::Config::default()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            let (kind, obj) = match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => ("apply", o),
                watcher::Event::Delete(o) => ("delete", o),
                watcher::Event::Init => continue,
                watcher::Event::InitDone => {
                    let _ = tx.send(("ready", None));
                    continue;
                }
            };
            let v = obj.data.as_ref().and_then(|d| d.get("v")).cloned();
            if tx.send((kind, v)).is_err() {
                return;
            }
        }
    });
    while next_event(&mut rx).await.0 != "ready" {}
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"v": "1"}})).expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert_eq!(next_event(&mut rx).await, ("apply", Some("1".into())));
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("update");
    assert_eq!(next_event(&mut rx).await, ("apply", Some("2".into())));
    cms.delete("c", &Default::default()).await.expect("delete");
    assert_eq!(next_event(&mut rx).await, ("delete", Some("2".into())));
    collector.abort();

    // await_condition: the simulated controller makes the Deployment available.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
            })
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(deploys, "web", available),
    )
    .await
    .expect("available in time")
    .expect("watch");
}

type Events = tokio::sync::mpsc::UnboundedReceiver<(&'static str, Option<String>)>;

async fn next_event(rx: &mut Events) -> (&'static str, Option<String>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("watch event in time")
        .expect("stream open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_port_forward_round_trips_bytes() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");
    let pods = forwarding_pod(&client, "echo", 8080, echo_server().await).await;

    let mut pf = pods
        .portforward("echo", &[8080])
        .await
        .expect("portforward");
    let mut stream = pf.take_stream(8080).expect("stream");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = tokio::io::split(&mut stream);
    let send = async {
        w.write_all(&payload).await.expect("write");
    };
    let mut back = vec![0u8; payload.len()];
    let recv = async {
        r.read_exact(&mut back).await.expect("read back");
    };
    tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(send, recv) })
        .await
        .expect("round trip in time");
    assert_eq!(back, payload);
    drop(stream);
    let _ = pf.join().await;

    // No target for a port: the error channel says so, as the kubelet would.
    let mut pf = pods
        .portforward("echo", &[9999])
        .await
        .expect("portforward");
    let err = pf.take_error(9999).expect("error channel");
    let message = tokio::time::timeout(Duration::from_secs(5), err)
        .await
        .expect("error in time")
        .expect("an error message");
    assert!(message.contains("9999"), "{message}");

    // A pod that does not exist is a 404, not a hang.
    assert!(pods.portforward("missing", &[8080]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_faults_latency_and_dropped_watches() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    e.sim.inject_http_fault(HttpFault {
        method: Some("GET".into()),
        path_contains: "/configmaps".into(),
        status: 500,
        times: 1,
    });
    let err = cms
        .list(&Default::default())
        .await
        .expect_err("injected 500");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 500),
        "{err:?}"
    );
    cms.list(&Default::default())
        .await
        .expect("the fault was used up");

    e.sim.set_latency(Duration::from_millis(200));
    let started = std::time::Instant::now();
    cms.list(&Default::default()).await.expect("slow list");
    let slow = started.elapsed();
    e.sim.set_latency(Duration::ZERO);
    assert!(
        slow >= Duration::from_millis(200),
        "latency injected: {slow:?}"
    );

    // A dropped watch connection: kube-rs's watcher reconnects and keeps delivering.
    let mut events = Box::pin(
        watcher(cms.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects(),
    );
    let cm = |n: &str| {
        serde_json::from_value::<ConfigMap>(json!({"metadata": {"name": n}})).expect("cm")
    };
    cms.create(&PostParams::default(), &cm("before"))
        .await
        .expect("create");
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("event")
        .expect("item")
        .expect("ok");
    assert_eq!(first.metadata.name.as_deref(), Some("before"));
    e.sim.drop_connections();
    cms.create(&PostParams::default(), &cm("after"))
        .await
        .expect("create");
    let recovered = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = events.next().await {
            if let Ok(c) = ev
                && c.metadata.name.as_deref() == Some("after")
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("recovered in time");
    assert!(recovered);
}

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
    for _ in 0..100 {
        if kubeconfig.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(kubeconfig.exists(), "kubeconfig written once serving");
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
async fn simulated_controllers_patches_selectors_and_resume() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");
    let apply = |yaml: &'static str| {
        let kc = e.kubeconfig.clone();
        async move {
            tool(
                "kubectl",
                &kc,
                &["apply", "--server-side", "-f", "-"],
                Some(yaml),
            )
            .await
        }
    };
    e.sim.faults(|f| {
        f.degraded.insert("broken".into());
    });
    let objects = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ctl}\n---\n\
apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ctl}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: postgres}]}\n---\n\
apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ctl}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {containers: [{name: a, image: agent}]}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: ctl, labels: {tier: data}}\nspec:\n  selector: {app: db}\n  ports: [{name: pg, port: 5432, targetPort: 5432}]\n---\n\
apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: ctl}\nspec:\n  template:\n    spec: {restartPolicy: Never, containers: [{name: m, image: migrate}]}\n";
    expect(apply(objects).await, "apply workloads");
    let crd = slipway_e2e::crd_yaml("argoproj.io", "Application", "applications");
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(&crd),
        )
        .await,
        "apply Application CRD",
    );
    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Established",
                "crd/applications.argoproj.io",
                "--timeout=10s",
            ],
        )
        .await,
        "CRD established",
    );
    let apps = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: good, namespace: ctl}\nspec: {project: default}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: broken, namespace: ctl}\nspec: {project: default}\n";
    expect(apply(apps).await, "apply Applications");
    e.sim
        .set_node("worker-1", &[("slipway.dev/pool", "workloads")]);

    let get = |kind: &'static str, name: &'static str| {
        let kc = e.kubeconfig.clone();
        async move {
            let out = tool(
                "kubectl",
                &kc,
                &["get", kind, name, "-n", "ctl", "-o", "json"],
                None,
            )
            .await;
            serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null)
        }
    };
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let ep = get("endpoints", "db").await;
            let app = get("applications.argoproj.io", "broken").await;
            if ep["subsets"][0]["addresses"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
                && app["status"]["health"]["status"] == "Degraded"
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "controllers settled");
    assert_eq!(get("statefulset", "db").await["status"]["readyReplicas"], 1);
    assert_eq!(get("daemonset", "agent").await["status"]["numberReady"], 1);
    assert_eq!(get("job", "migrate").await["status"]["succeeded"], 1);
    assert_eq!(
        get("endpoints", "db").await["subsets"][0]["ports"][0]["port"],
        5432
    );
    let good = get("applications.argoproj.io", "good").await;
    assert_eq!(
        (
            good["status"]["sync"]["status"].clone(),
            good["status"]["health"]["status"].clone()
        ),
        (json!("Synced"), json!("Healthy"))
    );
    let node = e.sim.object("", "nodes", "", "worker-1").expect("node");
    assert_eq!(
        node["status"]["conditions"][0]["status"], "False",
        "no pod network yet: {node}"
    );
    assert!(
        node["status"]["conditions"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cni plugin not initialized")),
        "{node}"
    );
    // The simulated kubelet turns the node Ready once a pod network (a kube-system DaemonSet) runs.
    expect(apply("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: cni, namespace: kube-system}\nspec:\n  selector: {matchLabels: {app: cni}}\n  template:\n    metadata: {labels: {app: cni}}\n    spec: {containers: [{name: c, image: cni}]}\n").await, "apply CNI");
    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Ready",
                "node/worker-1",
                "--timeout=10s",
            ],
        )
        .await,
        "node Ready",
    );

    // Patch flavours and selectors through kube-rs.
    let svcs: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client.clone(), "ctl");
    svcs.patch(
        "db",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"ports": [{"name": "pg", "port": 6432}]}})),
    )
    .await
    .expect("strategic");
    svcs.patch(
        "db",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(
                json!([{"op": "add", "path": "/metadata/labels/extra", "value": "yes"}]),
            )
            .expect("json patch"),
        ),
    )
    .await
    .expect("json patch");
    let svc = e.sim.object("", "services", "ctl", "db").expect("svc");
    assert_eq!(
        svc["spec"]["ports"][0]["port"], 6432,
        "named list entry merged"
    );
    assert_eq!(
        svc["spec"]["ports"][0]["targetPort"], 5432,
        "other fields kept"
    );
    assert_eq!(svc["metadata"]["labels"]["extra"], "yes");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ctl");
    let by_label = pods
        .list(&kube::api::ListParams::default().labels("app in (db, agent)"))
        .await
        .expect("list");
    assert_eq!(by_label.items.len(), 2);
    let first = by_label.items[0].metadata.name.clone().expect("name");
    let by_field = pods
        .list(&kube::api::ListParams::default().fields(&format!("metadata.name={first}")))
        .await
        .expect("list");
    assert_eq!(by_field.items.len(), 1);

    // A watch resumed from an older resourceVersion replays what happened since.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ctl");
    let rv = cms
        .list(&Default::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "later"}})).expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    let mut stream = Box::pin(
        cms.watch(&kube::api::WatchParams::default(), &rv)
            .await
            .expect("watch"),
    );
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("replayed")
        .expect("event")
        .expect("ok");
    assert!(
        matches!(first, kube::api::WatchEvent::Added(ref c) if c.metadata.name.as_deref() == Some("later")),
        "{first:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_generator_application_sets_make_applications_like_argo_cd() {
    let e = env().await;
    let crd = |kind: &str, plural: &str| slipway_e2e::crd_yaml("argoproj.io", kind, plural);
    let setup = format!(
        "{}---\n{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n",
        crd("ApplicationSet", "applicationsets"),
        crd("Application", "applications")
    );
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(&setup),
        )
        .await,
        "CRDs",
    );
    expect(
        kubectl(
            &e,
            &[
                "wait",
                "--for=condition=Established",
                "crd/applications.argoproj.io",
                "crd/applicationsets.argoproj.io",
                "--timeout=10s",
            ],
        )
        .await,
        "established",
    );
    e.sim.faults(|f| {
        f.degraded.insert("backstage".into());
    });
    let set = |elements: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: platform, namespace: argocd}}\nspec:\n  goTemplate: true\n  generators:\n  - list:\n      elements: {elements}\n  template:\n    metadata: {{name: '{{{{ .name }}}}'}}\n    spec:\n      project: platform\n      source: {{repoURL: '{{{{ .chart.repo }}}}', chart: '{{{{ .name }}}}', targetRevision: '{{{{ .chart.version }}}}'}}\n      destination: {{server: https://kubernetes.default.svc, namespace: '{{{{ .name }}}}'}}\n"
        )
    };
    let two = set(
        "[{name: traefik, chart: {repo: 'https://traefik.github.io/charts', version: 41.3.0}}, {name: backstage, chart: {repo: 'https://backstage.github.io/charts', version: 2.8.2}}]",
    );
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(&two),
        )
        .await,
        "appset",
    );
    let state = |name: &'static str| {
        let kc = e.kubeconfig.clone();
        async move {
            let out = tool(
                "kubectl",
                &kc,
                &[
                    "get",
                    "applications.argoproj.io",
                    name,
                    "-n",
                    "argocd",
                    "-o",
                    "json",
                ],
                None,
            )
            .await;
            serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null)
        }
    };
    let settled = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (t, b) = (state("traefik").await, state("backstage").await);
            if t["status"]["health"]["status"] == "Healthy"
                && b["status"]["health"]["status"] == "Degraded"
            {
                return (t, b);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let (traefik, _) = settled.expect("Applications generated and reconciled");
    assert_eq!(
        traefik["spec"]["source"]["targetRevision"], "41.3.0",
        "element values rendered into the template"
    );
    assert_eq!(traefik["spec"]["destination"]["namespace"], "traefik");
    assert_eq!(traefik["status"]["sync"]["status"], "Synced");

    let one = set(
        "[{name: traefik, chart: {repo: 'https://traefik.github.io/charts', version: 41.3.0}}]",
    );
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(&one),
        )
        .await,
        "shrink appset",
    );
    let pruned = tokio::time::timeout(Duration::from_secs(10), async {
        while e
            .sim
            .object("argoproj.io", "applications", "argocd", "backstage")
            .is_some()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        pruned.is_ok(),
        "an element's removal deletes its Application"
    );
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
        for _ in 0..100 {
            if path.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} never written", path.display());
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
    tokio::time::sleep(Duration::from_millis(400)).await;
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
