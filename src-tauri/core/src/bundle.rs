//! The embedded GitOps bundle (`embedded-manifests/`).

use rust_embed::Embed;

/// Files of `embedded-manifests/`, compiled into the binary.
#[derive(Embed)]
#[folder = "../../embedded-manifests/"]
pub struct Bundle;

/// Everything here is a broken build, not the user's doing: the bundle is compiled in.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file the code needs is not in the bundle.
    #[error("the embedded bundle lacks {0}; this build of Slipway is broken, reinstall it")]
    Missing(String),
    /// A bundle file is not UTF-8 text.
    #[error("the embedded file {0} is not UTF-8; this build of Slipway is broken, reinstall it")]
    NotText(String),
    /// A bundle file is not the YAML its reader expects.
    #[error("the embedded file {path} is invalid: {source}")]
    Yaml {
        path: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// Writing values back to YAML failed.
    #[error("cannot render {what} from the bundle: {source}")]
    Render {
        what: String,
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// A bundle file lacks a field its reader needs.
    #[error("the embedded file {path} is invalid: {reason}")]
    Shape { path: String, reason: &'static str },
}

impl crate::error::Classified for BundleError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Internal
    }
}

/// One YAML file of the bundle, parsed.
pub fn yaml<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, BundleError> {
    parse(path, &required_text(path)?)
}

/// `text` (a bundle file's, maybe rewritten) parsed, with the file's path on failure.
pub fn parse<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, BundleError> {
    serde_saphyr::from_str(text).map_err(|source| BundleError::Yaml {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// Every YAML document of `text` (empty documents skipped), with the file's path on failure.
pub fn parse_documents(path: &str, text: &str) -> Result<Vec<serde_json::Value>, BundleError> {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|source| BundleError::Yaml {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Every YAML document of one bundle file (empty documents skipped).
pub fn yaml_documents(path: &str) -> Result<Vec<serde_json::Value>, BundleError> {
    parse_documents(path, &required_text(path)?)
}

/// The text of a bundle file the code needs.
pub fn required_text(path: &str) -> Result<String, BundleError> {
    let file = Bundle::get(path).ok_or_else(|| BundleError::Missing(path.to_owned()))?;
    String::from_utf8(file.data.into_owned()).map_err(|_| BundleError::NotText(path.to_owned()))
}

/// The text of one bundle file, if present.
pub fn text(path: &str) -> Option<String> {
    Bundle::get(path).and_then(|f| String::from_utf8(f.data.into_owned()).ok())
}

/// Path of the cluster definition inside the bundle.
pub const CLUSTER_CONFIG: &str = "cluster/kind-config.yaml";
/// Argo CD's pin: installed by helm before everything else.
pub const ARGO_CD: &str = "platform/argo-cd.yaml";

/// Every YAML document of every bundle file, with its path. Service template skeletons and
/// registry entries and the team chart's templates are not manifests until rendered (`crate::service::template`,
/// `crate::teams::render`), so they are left out.
pub fn documents() -> Result<Vec<(String, serde_json::Value)>, BundleError> {
    let mut docs = Vec::new();
    for path in Bundle::iter() {
        let rendered_later = path.contains("/skeleton/")
            || path.contains("/registry/")
            || path.starts_with("teams/chart/templates/");
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) || rendered_later {
            continue;
        }
        docs.extend(
            yaml_documents(&path)?
                .into_iter()
                .map(|d| (path.to_string(), d)),
        );
    }
    Ok(docs)
}

/// The memory the platform's pods request together, in bytes: every `resources.requests.memory`
/// in `platform/values/` (Argo CD's components included). The nodes must have that free for all
/// of them to schedule; preflight compares it with what Docker has (for the parts installed:
/// `platform::gitops::memory_requests`).
pub fn platform_memory_requests() -> Result<u64, BundleError> {
    memory_requests(Bundle::iter().filter(|p| p.starts_with("platform/values/")))
}

/// Every `resources.requests.memory` in the bundle files `paths`, in bytes.
pub fn memory_requests<P: AsRef<str>>(
    paths: impl IntoIterator<Item = P>,
) -> Result<u64, BundleError> {
    fn sum(v: &serde_json::Value, total: &mut f64) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(q) = map
                    .get("resources")
                    .and_then(|r| r["requests"]["memory"].as_str())
                    .and_then(crate::k8s::quantity::parse)
                {
                    *total += q;
                }
                map.values().for_each(|v| sum(v, total));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| sum(v, total)),
            _ => {}
        }
    }
    let mut total = 0.0;
    for path in paths {
        sum(&yaml::<serde_json::Value>(path.as_ref())?, &mut total);
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {

    /// The README's resources table says what the bundle requests.
    #[test]
    fn the_readme_sums_the_platform_s_memory_requests() {
        let readme = include_str!("../../../README.md");
        let mib = super::platform_memory_requests().expect("sum") >> 20;
        assert!(
            readme.contains(&format!("| **platform in all** | **485m** | **{mib}Mi** |")),
            "README's Resources table should total {mib}Mi"
        );
    }
    use serde_json::Value;

    use super::*;

    fn doc(path: &str) -> Value {
        let docs = documents().expect("bundle parses");
        docs.into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    fn kinds(path: &str) -> Vec<Value> {
        documents()
            .expect("bundle parses")
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, d)| d)
            .collect()
    }

    /// Anywhere in `v`: a toleration list that tolerates the control-plane taint.
    fn tolerates_control_plane(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "tolerations"
                    && v.as_array().is_some_and(|t| {
                        t.iter().any(|t| {
                            t["key"] == "node-role.kubernetes.io/control-plane"
                                && t["effect"] == "NoSchedule"
                        })
                    }))
                    || tolerates_control_plane(v)
            }),
            Value::Array(a) => a.iter().any(tolerates_control_plane),
            _ => false,
        }
    }

    /// Anywhere in `v`: a nodeSelector for the platform node.
    fn selects_platform_node(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "nodeSelector" && v["slipway.dev/pool"] == "platform")
                    || selects_platform_node(v)
            }),
            Value::Array(a) => a.iter().any(selects_platform_node),
            _ => false,
        }
    }

    #[test]
    fn every_yaml_document_parses() {
        let docs = documents().expect("bundle parses");
        assert!(docs.len() >= 15, "{} documents", docs.len());
    }

    #[test]
    fn components_are_pinned_and_their_pods_run_on_the_platform_node() {
        let mut files: Vec<String> = Bundle::iter()
            .filter(|p| p.starts_with("platform/components/"))
            .map(|p| p.to_string())
            .collect();
        let names: Vec<String> = files
            .iter()
            .map(|p| doc(p)["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names.len(), 9, "{names:?}");
        for expected in [
            "traefik",
            "cert-manager",
            "sealed-secrets",
            "backstage",
            "otel-collector",
            "prometheus",
            "tempo",
            "loki",
            "grafana",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        files.push(ARGO_CD.to_owned());
        for path in &files {
            let c = doc(path);
            let name = c["name"].as_str().unwrap_or_default();
            let version = c["chart"]["version"].as_str().unwrap_or_default();
            // Exactly pinned: MAJOR.MINOR.PATCH (cert-manager's chart versions carry a `v`).
            let parts: Vec<&str> = version
                .strip_prefix('v')
                .unwrap_or(version)
                .split('.')
                .collect();
            assert!(
                parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
                "{name}: chart version {version:?} must be pinned exactly"
            );
            assert!(
                c["chart"]["repo"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("https://") || r.starts_with("oci://")),
                "{name}: repo"
            );
            assert!(
                c["namespace"].is_string() && c["release"].is_string(),
                "{name}: namespace and release"
            );
            let values = doc(&format!("platform/values/{name}.yaml"));
            assert!(
                tolerates_control_plane(&values),
                "{name}: platform pods must tolerate the control-plane taint"
            );
            assert!(
                selects_platform_node(&values),
                "{name}: platform pods must select the platform node"
            );
        }
    }

    #[test]
    fn traefik_owns_the_host_ports_on_the_ingress_node_and_is_the_default_class() {
        let v = doc("platform/values/traefik.yaml");
        assert_eq!(v["ports"]["web"]["hostPort"], 80);
        assert_eq!(v["ports"]["websecure"]["hostPort"], 443);
        assert_eq!(v["nodeSelector"]["ingress-ready"], "true");
        assert_eq!(
            v["ingressClass"],
            serde_json::json!({"enabled": true, "isDefaultClass": true, "name": "traefik"})
        );
        assert_eq!(v["service"]["spec"]["type"], "ClusterIP");
        assert_eq!(
            v["providers"]["kubernetesCRD"]["namespaces"],
            serde_json::json!(["traefik", "argocd", "backstage"]),
            "IngressRoutes only from the platform's namespaces"
        );
        assert_eq!(
            v["providers"]["kubernetesCRD"]["allowCrossNamespace"],
            false
        );
        assert_eq!(
            v["providers"]["kubernetesIngress"]["allowExternalNameServices"],
            false
        );
    }

    #[test]
    fn no_floating_latest_tags() {
        // Service skeletons are exempt: a new service's own image has no release before its first build.
        for path in Bundle::iter().filter(|p| !p.contains("/skeleton/")) {
            let text = text(&path).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                assert!(
                    !line.contains(":latest")
                        && !line.trim().ends_with("tag: latest")
                        && !line.contains("version: latest"),
                    "{path}: {line}"
                );
            }
        }
    }

    #[test]
    fn projects_draw_the_seed_boundaries() {
        let projects = kinds("bootstrap/projects.yaml");
        let by_name = |n: &str| {
            projects
                .iter()
                .find(|p| p["metadata"]["name"] == n)
                .cloned()
                .unwrap_or_else(|| panic!("project {n}"))
        };
        assert_eq!(
            by_name("platform")["spec"]["clusterResourceWhitelist"],
            serde_json::json!([{"group": "*", "kind": "*"}])
        );
        assert!(
            projects
                .iter()
                .all(|p| p["metadata"]["name"] != "workloads"),
            "services run under their team's project (teams/chart), not a shared one"
        );
        let locked = kinds("policies/admission.yaml")
            .into_iter()
            .find(|d| d["kind"] == "AppProject" && d["metadata"]["name"] == "default")
            .expect("the default project is locked");
        assert_eq!(locked["spec"]["destinations"], serde_json::json!([]));
        assert_eq!(locked["spec"]["sourceRepos"], serde_json::json!([]));
        assert_eq!(
            by_name("bootstrap")["spec"]["destinations"][0]["namespace"],
            "argocd"
        );
        assert_eq!(
            doc("bootstrap/root-app.yaml")["spec"]["project"],
            "bootstrap"
        );
        assert_eq!(
            doc("bootstrap/platform-appset.yaml")["spec"]["template"]["spec"]["project"],
            "platform"
        );
    }

    #[test]
    fn workloads_are_discovered_by_an_anchored_topic_with_a_labelled_token_and_short_requeue() {
        let appset = doc("bootstrap/workloads-appset.yaml");
        let scm = &appset["spec"]["generators"][0]["scmProvider"];
        let filter = scm["filters"][0]["labelMatch"].as_str().unwrap_or_default();
        assert_eq!(filter, "^idp-managed$");
        assert!(
            scm["requeueAfterSeconds"]
                .as_u64()
                .is_some_and(|s| s <= 300),
            "short requeue"
        );
        assert!(scm["github"]["tokenRef"]["secretName"].is_string());
        let project = appset["spec"]["template"]["spec"]["project"]
            .as_str()
            .unwrap_or_default();
        assert!(
            project.contains("regexReplaceAll") && project.contains("(team-[a-z0-9-]+)"),
            "the team topic names the project: {project}"
        );
        assert_eq!(
            appset["spec"]["template"]["spec"]["destination"]["namespace"],
            project
        );
        assert!(
            appset["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"].is_null(),
            "no CreateNamespace: the team baseline owns the namespace"
        );
        let registry = doc("bootstrap/workloads-registry-appset.yaml");
        assert_eq!(
            registry["spec"]["generators"][0]["git"]["files"][0]["path"],
            "services/*.yaml"
        );
        assert_eq!(
            registry["spec"]["template"]["spec"]["project"],
            "team-{{ .team }}"
        );
    }

    #[test]
    fn the_template_picks_its_team_from_the_groups_and_services_are_owned_by_them() {
        let template = doc("templates/nodejs-v24/template.yaml");
        let team = &template["spec"]["parameters"][0]["properties"]["team"];
        assert_eq!(team["ui:field"], "OwnerPicker");
        assert_eq!(team["ui:options"]["catalogFilter"]["kind"], "Group");
        let values = &template["spec"]["steps"][0]["input"]["values"];
        assert_eq!(
            values["team"], "${{ parameters.team | parseEntityRef | pick('name') }}",
            "the picked group:default/<team> becomes the team's name"
        );
        let skeleton = text("templates/nodejs-v24/skeleton/catalog-info.yaml").unwrap_or_default();
        assert!(
            skeleton.contains("owner: group:${{ values.team }}"),
            "{skeleton}"
        );
        let locations = doc("platform/values/backstage.yaml")["backstage"]["appConfig"]["catalog"]
            ["locations"]
            .clone();
        assert!(
            locations
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l["target"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("/catalog/teams.yaml"))
                    && l["rules"][0]["allow"] == serde_json::json!(["Group", "User"]))),
            "{locations}"
        );
    }

    #[test]
    fn default_hosts_and_backstage_config() {
        assert_eq!(
            doc("platform/values/argo-cd.yaml")["global"]["domain"],
            "argocd.local"
        );
        let overlay = text("ingress/overlays/local/kustomization.yaml").unwrap_or_default();
        assert!(overlay.contains("value: backstage.local"));
        let backstage = doc("platform/values/backstage.yaml")["backstage"].clone();
        let cfg = backstage["appConfig"].clone();
        // One developer's URLs and sign-in live in the per-cluster ConfigMap, never in the
        // shared (published) values.
        assert!(cfg.get("auth").is_none(), "{cfg}");
        assert!(cfg["app"].get("baseUrl").is_none(), "{cfg}");
        assert!(cfg["backend"].get("baseUrl").is_none(), "{cfg}");
        assert_eq!(
            backstage["extraAppConfig"][0]["configMapRef"],
            "slipway-backstage-config"
        );
        assert_eq!(
            cfg["integrations"]["github"][0]["token"], "${GITHUB_TOKEN}",
            "token from the environment (a Secret), never inline"
        );
        assert!(
            cfg["catalog"]["rules"][0]["allow"]
                .as_array()
                .is_some_and(|a| a.contains(&Value::from("Template")))
        );
        assert_eq!(
            cfg["backend"]["auth"]["externalAccess"][0]["type"],
            "static"
        );
        assert!(
            cfg["catalog"]["locations"][0]["target"]
                .as_str()
                .is_some_and(|t| t.ends_with("templates/nodejs-v24/template.yaml"))
        );
    }
}
