//! The simulated controllers and Argo CD's ApplicationSets, as kubectl and kube-rs see them.

use super::*;

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
    assert!(
        settled.is_ok(),
        "controllers settled: {} {}",
        get("endpoints", "db").await,
        get("applications.argoproj.io", "broken").await["status"]
    );
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
        "{}---\n{}---\n{}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n",
        crd("ApplicationSet", "applicationsets"),
        crd("Application", "applications"),
        crd("AppProject", "appprojects")
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
                "crd/appprojects.argoproj.io",
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
    let set_condition = || async {
        let out = tool(
            "kubectl",
            &e.kubeconfig,
            &[
                "get",
                "applicationsets.argoproj.io",
                "platform",
                "-n",
                "argocd",
                "-o",
                "json",
            ],
            None,
        )
        .await;
        serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null)["status"]["conditions"][0]
            ["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // As Argo CD's ApplicationSet controller: no Application for a project that does not exist.
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = set_condition().await;
            if !message.is_empty() {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the set reports its error");
    assert!(
        refused.contains("application references project platform which does not exist"),
        "{refused}"
    );
    assert!(
        e.sim
            .object("argoproj.io", "applications", "argocd", "traefik")
            .is_none()
    );
    let project = "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: platform, namespace: argocd}\nspec:\n  sourceRepos: ['*']\n  destinations: [{server: https://kubernetes.default.svc, namespace: '*'}]\n";
    expect(
        tool(
            "kubectl",
            &e.kubeconfig,
            &["apply", "--server-side", "-f", "-"],
            Some(project),
        )
        .await,
        "project",
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
