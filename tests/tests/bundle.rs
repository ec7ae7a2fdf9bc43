//! The embedded bundle as real tools see it: kustomize renders the ingress overlay, and the
//! bootstrap objects apply to an API server that serves Argo CD's CRDs.

use std::time::Duration;

use slipway_core::bundle;
use slipway_core::k8s::apply;
use slipway_e2e::kube_sim::KubeSim;
use slipway_e2e::{root, tools_dir};

fn argo_crd(kind: &str, plural: &str) -> String {
    slipway_e2e::crd_yaml("argoproj.io", kind, plural)
}

#[test]
fn real_kubectl_kustomize_renders_the_ingress_overlay_with_the_local_host() {
    let out = std::process::Command::new(tools_dir().join("kubectl"))
        .args(["kustomize"])
        .arg(root().join("embedded-manifests/ingress/overlays/local"))
        .output()
        .expect("kubectl kustomize");
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        rendered.contains("host: backstage.local")
            && rendered.contains("ingressClassName: traefik"),
        "{rendered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_objects_apply_to_an_api_server() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let crds = [
        ("AppProject", "appprojects"),
        ("ApplicationSet", "applicationsets"),
        ("Application", "applications"),
    ]
    .iter()
    .map(|(k, p)| argo_crd(k, p))
    .collect::<Vec<_>>()
    .join("---\n");
    let setup = format!("{crds}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n");
    apply::apply(
        &client,
        &apply::parse(&setup).expect("crds"),
        "test",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("argo CRDs");
    for file in [
        "bootstrap/projects.yaml",
        "bootstrap/platform-appset.yaml",
        "bootstrap/workloads-appset.yaml",
        "bootstrap/teams-appset.yaml",
        "bootstrap/root-app.yaml",
    ] {
        let objects = apply::parse(&bundle::text(file).expect("embedded")).expect(file);
        let report = apply::apply(
            &client,
            &objects,
            "slipway",
            "argocd",
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(report.changed.len(), objects.len(), "{file}");
    }
    for project in ["bootstrap", "platform"] {
        assert!(
            sim.object("argoproj.io", "appprojects", "argocd", project)
                .is_some(),
            "{project}"
        );
    }
    for set in ["workloads", "teams"] {
        assert!(
            sim.object("argoproj.io", "applicationsets", "argocd", set)
                .is_some(),
            "{set}"
        );
    }
    // The guard rails Slipway applies itself, with the per-user parameters they read.
    let mut rails = slipway_core::platform::gitops::policies(&[]).expect("policies");
    rails.push(slipway_core::platform::gitops::site_config("local", None));
    let ns = apply::parse(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: backstage}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: observability}\n",
    )
    .expect("namespaces");
    apply::apply(&client, &ns, "slipway", "default", Duration::from_secs(10))
        .await
        .expect("backstage namespace");
    let rails: Vec<_> = rails
        .into_iter()
        .map(|d| serde_json::from_value(d).expect("object"))
        .collect();
    let report = apply::apply(
        &client,
        &rails,
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("policies apply");
    assert_eq!(report.changed.len(), rails.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_platform_applications_are_generated_with_their_pins_and_values() {
    let sim = KubeSim::start().await.expect("sim");
    let client = sim.client().await.expect("client");
    let crds = [
        ("ApplicationSet", "applicationsets"),
        ("Application", "applications"),
        ("AppProject", "appprojects"),
    ]
    .iter()
    .map(|(k, p)| argo_crd(k, p))
    .collect::<Vec<_>>()
    .join("---\n");
    let setup = format!("{crds}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n");
    apply::apply(
        &client,
        &apply::parse(&setup).expect("crds"),
        "test",
        "default",
        Duration::from_secs(10),
    )
    .await
    .expect("argo CRDs");
    // The projects come first, as in `up`'s gitops-source step: Argo CD makes no Application
    // for a project that does not exist.
    apply::apply(
        &client,
        &apply::parse(&bundle::text("bootstrap/projects.yaml").expect("projects")).expect("parse"),
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("projects");
    let set = slipway_core::platform::gitops::local_platform_appset("local", &[], None)
        .expect("local appset");
    let objects = apply::parse(&serde_json::to_string(&set).expect("json")).expect("parse");
    apply::apply(
        &client,
        &objects,
        "slipway",
        "argocd",
        Duration::from_secs(10),
    )
    .await
    .expect("apply appset");
    let apps = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let found: Vec<serde_json::Value> = ["backstage", "sealed-secrets", "traefik"]
                .iter()
                .filter_map(|n| sim.object("argoproj.io", "applications", "argocd", n))
                .collect();
            if found.len() == 3
                && found
                    .iter()
                    .all(|a| a["status"]["health"]["status"] == "Healthy")
            {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("three Applications, Synced and Healthy");
    let traefik = &apps[2];
    assert_eq!(traefik["spec"]["source"]["chart"], "traefik");
    assert_eq!(traefik["spec"]["source"]["targetRevision"], "41.3.0");
    assert_eq!(traefik["spec"]["destination"]["namespace"], "traefik");
    let values: serde_json::Value = serde_saphyr::from_str(
        traefik["spec"]["source"]["helm"]["values"]
            .as_str()
            .expect("values"),
    )
    .expect("YAML");
    assert_eq!(values["ports"]["web"]["hostPort"], 80);
}

/// The value paths a pinned chart reads: `tests/tests/fixtures/chart-keys/<chart>-<version>.txt`,
/// taken from the chart's `values.yaml` (and schema) at its release tag, each file naming the
/// ref; refreshed whenever a pin changes. `*` marks a map the chart passes on whole.
struct ChartKeys {
    known: std::collections::HashSet<Vec<String>>,
    open: std::collections::HashSet<Vec<String>>,
}

/// `a.b."c.d"` → `["a", "b", "c.d"]`.
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

impl ChartKeys {
    fn load(chart: &str, version: &str) -> Self {
        let path = root().join(format!(
            "tests/tests/fixtures/chart-keys/{chart}-{version}.txt"
        ));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; a new pin needs its chart's value paths ({chart} {version})",
                path.display()
            )
        });
        let (mut known, mut open) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let line = line.trim_end_matches(" (template)");
            let (path, free) = match line.strip_suffix(" *") {
                Some(p) => (p, true),
                None => (line, false),
            };
            let path = segments(path.trim_end_matches(" (template)"));
            if free {
                open.insert(path.clone());
            }
            known.insert(path);
        }
        Self { known, open }
    }

    /// Every leaf Slipway sets that the chart does not read.
    fn unknown(&self, values: &serde_json::Value) -> Vec<String> {
        fn leaves(v: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            match v.as_object() {
                Some(map) if !map.is_empty() => {
                    for (k, v) in map {
                        at.push(k.clone());
                        leaves(v, at, out);
                        at.pop();
                    }
                }
                _ => out.push(at.clone()),
            }
        }
        let mut all = Vec::new();
        leaves(values, &mut Vec::new(), &mut all);
        all.into_iter()
            .filter(|p| {
                !self.known.contains(p) && !(1..p.len()).any(|n| self.open.contains(&p[..n]))
            })
            .map(|p| p.join("."))
            .collect()
    }
}

/// Argo CD's and Sealed Secrets' charts have no schema, so helm takes any key and a typo or a
/// wrong nesting in Slipway's values does nothing, silently. Every value Slipway gives a chart,
/// as the bundle and the code make them, must be one the pinned chart reads.
#[test]
fn every_value_slipway_sets_is_one_the_pinned_chart_reads() {
    use slipway_core::platform::gitops;
    let mut releases = vec![{
        let r = gitops::argo_cd_release("local", slipway_core::platform::Reach::http(8880), None)
            .expect("argo cd");
        (r.chart.name, r.chart.version, r.values)
    }];
    for c in gitops::components().expect("components") {
        let values = gitops::values(&c.name, "local").expect("values");
        releases.push((c.chart.name.clone(), c.chart.version.clone(), values));
    }
    assert_eq!(
        releases.len(),
        10,
        "argo-cd, backstage, cert-manager, sealed-secrets, traefik and observability's five"
    );
    // And as an existing cluster's target overlay leaves them (targets/cluster/values/).
    let existing = slipway_core::platform::target::Existing {
        kube: slipway_core::helm::KubeContext {
            kubeconfig: "/dev/null".into(),
            context: "team".into(),
        },
        expose: slipway_core::platform::target::Expose::NodePort,
        platform_nodes: Some("node-pool=platform".parse().expect("selector")),
        workload_nodes: None,
        recall: Default::default(),
    };
    let on_target = releases
        .iter()
        .map(|(chart, version, _)| {
            let values = if chart == "argo-cd" {
                gitops::argo_cd_release(
                    "team.example.com",
                    slipway_core::platform::Reach {
                        http_port: 80,
                        https_port: Some(443),
                    },
                    Some(&existing),
                )
                .expect("argo cd")
                .values
            } else {
                let c = gitops::components()
                    .expect("components")
                    .into_iter()
                    .find(|c| &c.chart.name == chart)
                    .expect("component");
                gitops::values_on(&c.name, "team.example.com", Some(&existing)).expect("values")
            };
            (chart.clone(), version.clone(), values)
        })
        .collect::<Vec<_>>();
    releases.extend(on_target);
    for (chart, version, values) in &releases {
        let keys = ChartKeys::load(chart, version);
        let unknown = keys.unknown(values);
        assert!(
            unknown.is_empty(),
            "{chart} {version} reads none of: {unknown:?}"
        );
    }
    // The check can fail: a misspelt key and a wrong nesting are caught.
    let traefik = ChartKeys::load("traefik", "41.3.0");
    assert_eq!(
        traefik.unknown(&serde_json::json!({"providers": {"kubernetesIngres": {"enabled": true}}, "updateStrategy": {"maxSurge": 0}})),
        ["providers.kubernetesIngres.enabled", "updateStrategy.maxSurge"]
    );
    // Below a map the chart passes on whole, anything goes.
    let argo = ChartKeys::load("argo-cd", "10.1.1");
    assert!(
        argo.unknown(&serde_json::json!({"configs": {"params": {"server.insecure": true}}}))
            .is_empty()
    );
}
