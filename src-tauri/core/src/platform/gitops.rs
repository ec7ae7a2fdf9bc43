//! The GitOps side of the platform, from the embedded bundle: Argo CD's helm release, and for a
//! platform without a GitHub connection ("local mode") the platform ApplicationSet rewritten to a
//! list generator with the values inline, since Argo CD has no repository to read them from.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::bundle::{self, BundleError};
use crate::helm::{Chart, Release};

/// A platform component: a pinned chart and where it runs.
#[derive(Debug, Clone, Deserialize)]
pub struct Component {
    pub name: String,
    pub namespace: String,
    pub release: String,
    pub chart: Chart,
}

/// Traefik, Sealed Secrets and Backstage: the components Argo CD deploys.
pub fn components() -> Result<Vec<Component>, BundleError> {
    let mut paths: Vec<String> = bundle::Bundle::iter()
        .filter(|p| p.starts_with("platform/components/") && p.ends_with(".yaml"))
        .map(|p| p.to_string())
        .collect();
    paths.sort();
    paths.iter().map(|p| bundle::yaml(p)).collect()
}

/// A component's values, with the default `.local` host names moved to `domain`.
pub fn values(component: &str, domain: &str) -> Result<Value, BundleError> {
    let path = format!("platform/values/{component}.yaml");
    bundle::parse(&path, &with_domain(&bundle::required_text(&path)?, domain))
}

/// The ConfigMap Backstage reads after its chart values (`backstage.extraAppConfig`): this
/// developer's URLs, and guest sign-in only while the ingress listens on loopback (`guest`).
pub const BACKSTAGE_CONFIG: &str = "slipway-backstage-config";

pub fn backstage_config(domain: &str, reach: crate::platform::Reach, guest: bool) -> Value {
    let url = reach.url(&format!("backstage.{}", domain.trim_start_matches('.')));
    let mut config = json!({
        "app": {"baseUrl": url},
        "backend": {"baseUrl": url, "cors": {"origin": url}},
    });
    if guest {
        // A local, single-user platform reached from this machine only.
        config["auth"] = json!({"environment": "development", "providers": {"guest": {"dangerouslyAllowOutsideDevelopment": true}}});
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": BACKSTAGE_CONFIG, "namespace": "backstage", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {"app-config.slipway.yaml": serde_json::to_string_pretty(&config).unwrap_or_default()},
    })
}

/// `text` with the default `.local` host names moved to `domain`.
pub fn with_domain(text: &str, domain: &str) -> String {
    let domain = domain.trim_start_matches('.');
    text.replace("argocd.local", &format!("argocd.{domain}"))
        .replace("backstage.local", &format!("backstage.{domain}"))
}

/// Argo CD, installed by helm before anything else.
pub fn argo_cd_release(
    domain: &str,
    reach: crate::platform::Reach,
) -> Result<Release, BundleError> {
    let c: Component = bundle::yaml(bundle::ARGO_CD)?;
    let mut values = values(&c.name, domain)?;
    // Argo CD's own links (notifications, the UI's deep links, SSO callbacks) use `url`, which
    // the chart makes `https://<global.domain>`: where it does not answer.
    values["configs"]["cm"]["url"] =
        Value::from(reach.url(&format!("argocd.{}", domain.trim_start_matches('.'))));
    Ok(Release {
        name: c.release,
        namespace: c.namespace,
        values,
        chart: c.chart,
    })
}

/// `bootstrap/platform-appset.yaml` for local mode: a list generator, one element per
/// component carrying its chart pin and its values as YAML, and a single chart source.
pub fn local_platform_appset(domain: &str) -> Result<Value, BundleError> {
    const PATH: &str = "bootstrap/platform-appset.yaml";
    let mut set: Value = bundle::yaml(PATH)?;
    let mut elements = Vec::new();
    for c in components()? {
        let mut values = values(&c.name, domain)?;
        drop_platform_repo_references(&mut values);
        let values = serde_saphyr::to_string(&values).map_err(|source| BundleError::Render {
            what: format!("{}'s values", c.name),
            source,
        })?;
        elements.push(json!({"name": c.name, "namespace": c.namespace, "release": c.release, "chart": c.chart_json(), "values": values}));
    }
    set["spec"]["generators"] = json!([{"list": {"elements": elements}}]);
    let spec = set["spec"]["template"]["spec"]
        .as_object_mut()
        .ok_or_else(|| BundleError::Shape {
            path: PATH.into(),
            reason: "no spec.template.spec",
        })?;
    spec.remove("sources");
    spec.insert(
        "source".into(),
        json!({
            "repoURL": "{{ .chart.repo }}",
            "chart": "{{ .chart.name }}",
            "targetRevision": "{{ .chart.version }}",
            "helm": {"releaseName": "{{ .release }}", "values": "{{ .values }}"},
        }),
    );
    Ok(set)
}

/// Where Backstage reads local mode's team Groups: a ConfigMap Slipway writes, mounted as a file.
pub const LOCAL_GROUPS_CONFIGMAP: &str = "slipway-teams-catalog";
const LOCAL_GROUPS_DIR: &str = "/slipway/catalog";

/// Local mode has no platform repository: catalog locations inside it (the Software Template,
/// the teams' Groups) would make Backstage fail on an unresolved `${SLIPWAY_PLATFORM_REPO}`, so
/// they are left out; the Groups come from a file Slipway keeps instead (an optional ConfigMap
/// volume: Backstage starts before the first team exists).
fn drop_platform_repo_references(values: &mut Value) {
    let Some(locations) = values
        .pointer_mut("/backstage/appConfig/catalog/locations")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    locations.retain(|l| {
        !l["target"]
            .as_str()
            .is_some_and(|t| t.contains("${SLIPWAY_PLATFORM_REPO}"))
    });
    locations.push(json!({"type": "file", "target": format!("{LOCAL_GROUPS_DIR}/teams.yaml"), "rules": [{"allow": ["Group"]}]}));
    let backstage = &mut values["backstage"];
    push(
        backstage,
        "extraVolumes",
        json!({"name": "slipway-teams", "configMap": {"name": LOCAL_GROUPS_CONFIGMAP, "optional": true}}),
    );
    push(
        backstage,
        "extraVolumeMounts",
        json!({"name": "slipway-teams", "mountPath": LOCAL_GROUPS_DIR, "readOnly": true}),
    );
}

fn push(parent: &mut Value, key: &str, item: Value) {
    match parent.get_mut(key).and_then(Value::as_array_mut) {
        Some(list) => list.push(item),
        None => parent[key] = json!([item]),
    }
}

/// Local mode's team Groups for Backstage (the file its catalog location reads).
pub fn local_groups(teams: &[crate::teams::TeamFile]) -> Result<Value, crate::teams::TeamError> {
    Ok(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": LOCAL_GROUPS_CONFIGMAP, "namespace": "backstage", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {"teams.yaml": crate::teams::group_catalog(teams)?},
    }))
}

/// The platform's guard rails, applied by Slipway on every `up` in both modes (never read from
/// the shared repository): the admission policies for team namespaces, the platform
/// namespaces' NetworkPolicies, the locked-down `default` project.
pub fn policies() -> Result<Vec<Value>, BundleError> {
    let mut paths: Vec<String> = bundle::Bundle::iter()
        .filter(|p| p.starts_with("policies/") && p.ends_with(".yaml"))
        .map(|p| p.to_string())
        .collect();
    paths.sort();
    let mut docs = Vec::new();
    for p in &paths {
        docs.extend(bundle::yaml_documents(p)?);
    }
    Ok(docs)
}

/// The name of the ConfigMap holding the admission policies' per-user parameters.
pub const SITE_CONFIG: &str = "slipway-site";

/// `argocd/slipway-site`: what the admission policies compare with, for this user's domain
/// (the allowed `<name>.<domain>` hosts, the platform's own hosts, the workloads pool).
pub fn site_config(domain: &str) -> Value {
    let domain = domain.trim_start_matches('.');
    let escaped = regex_escape(domain);
    let platform: Vec<String> = crate::hosts::platform_hosts(domain);
    let reserved = platform
        .iter()
        .map(|h| regex_escape(h.split('.').next().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("|");
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": SITE_CONFIG, "namespace": "argocd", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {
            "domain": domain,
            "workloadsPool": crate::cluster::spec::WORKLOADS_POOL,
            "allowedHost": format!("^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.{escaped}$"),
            "reservedHost": format!("^({reserved})\\.{escaped}$"),
            "reservedNames": platform.join(", "),
        },
    })
}

/// `text` with the regex metacharacters a domain can hold escaped.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if ".+*?()[]{}|^$\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

impl Component {
    fn chart_json(&self) -> Value {
        json!({"repo": self.chart.repo, "name": self.chart.name, "version": self.chart.version})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Reach;

    #[test]
    fn the_site_config_allows_service_hosts_under_the_domain_only() {
        let site = site_config("dev.test");
        let allowed = site["data"]["allowedHost"].as_str().expect("allowedHost");
        let reserved = site["data"]["reservedHost"].as_str().expect("reservedHost");
        assert_eq!(allowed, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.dev\\.test$");
        assert_eq!(reserved, "^(argocd|backstage)\\.dev\\.test$");
        assert_eq!(site["data"]["workloadsPool"], "workloads");
        let kinds: Vec<String> = policies()
            .expect("policies")
            .iter()
            .map(|p| p["kind"].as_str().unwrap_or_default().to_owned())
            .collect();
        for kind in [
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "NetworkPolicy",
            "AppProject",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
        }
    }

    #[test]
    fn backstage_gets_this_developer_s_urls_and_guest_sign_in_only_on_loopback() {
        let config = |guest| -> Value {
            let cm = backstage_config("dev.test", Reach::http(9080), guest);
            serde_saphyr::from_str(
                cm["data"]["app-config.slipway.yaml"]
                    .as_str()
                    .expect("file"),
            )
            .expect("YAML")
        };
        let local = config(true);
        assert_eq!(local["app"]["baseUrl"], "http://backstage.dev.test:9080");
        assert_eq!(
            local["backend"]["cors"]["origin"],
            "http://backstage.dev.test:9080"
        );
        assert_eq!(
            local["auth"]["providers"]["guest"]["dangerouslyAllowOutsideDevelopment"],
            true
        );
        assert!(config(false)["auth"].is_null(), "exposed: no guest sign-in");
        // Once browsers trust the local CA, the page and its backend are both HTTPS.
        let cm = backstage_config(
            "local",
            Reach {
                http_port: 8880,
                https_port: Some(8843),
            },
            true,
        );
        let https: Value = serde_saphyr::from_str(
            cm["data"]["app-config.slipway.yaml"]
                .as_str()
                .expect("file"),
        )
        .expect("YAML");
        assert_eq!(https["backend"]["baseUrl"], "https://backstage.local:8843");
    }

    #[test]
    fn every_pinned_chart_comes_over_tls() {
        let mut repos: Vec<String> = components()
            .expect("components")
            .into_iter()
            .map(|c| c.chart.repo)
            .collect();
        repos.push(
            argo_cd_release("local", Reach::http(8880))
                .expect("release")
                .chart
                .repo,
        );
        for repo in repos {
            assert!(
                (repo.starts_with("https://") || repo.starts_with("oci://"))
                    && crate::config::charts_problem(&repo).is_none(),
                "{repo}"
            );
        }
        assert!(crate::config::charts_problem("http://charts.example").is_some());
    }

    #[test]
    fn argo_cd_release_follows_the_domain() {
        let r = argo_cd_release("dev.test", Reach::http(9080)).expect("release");
        assert_eq!(
            (r.name.as_str(), r.namespace.as_str(), r.chart.name.as_str()),
            ("argocd", "argocd", "argo-cd")
        );
        assert_eq!(r.values["global"]["domain"], "argocd.dev.test");
        assert_eq!(
            r.values["configs"]["cm"]["url"],
            "http://argocd.dev.test:9080"
        );
        let local = argo_cd_release("local", Reach::http(8880)).expect("release");
        assert_eq!(local.values["global"]["domain"], "argocd.local");
        assert_eq!(
            local.values["configs"]["cm"]["url"],
            "http://argocd.local:8880"
        );
        // The rest of the chart's settings stay as the bundle has them.
        assert_eq!(local.values["configs"]["params"]["server.insecure"], true);
    }

    #[test]
    fn local_mode_lists_every_component_with_inline_values() {
        let set = local_platform_appset("dev.test").expect("appset");
        let elements = set["spec"]["generators"][0]["list"]["elements"]
            .as_array()
            .expect("list generator");
        let names: Vec<&str> = elements.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(
            names,
            ["backstage", "cert-manager", "sealed-secrets", "traefik"]
        );
        let backstage = &elements[0];
        let values: Value =
            serde_saphyr::from_str(backstage["values"].as_str().expect("values text"))
                .expect("values YAML");
        assert!(
            values["backstage"]["appConfig"]["app"]["baseUrl"].is_null(),
            "per-user URLs are in Slipway's ConfigMap, not the values"
        );
        assert_eq!(
            values["backstage"]["extraAppConfig"][0]["configMapRef"],
            BACKSTAGE_CONFIG
        );
        let text = backstage["values"].as_str().expect("values text");
        assert!(
            !text.contains("${SLIPWAY_PLATFORM_REPO}"),
            "no reference to a platform repository local mode does not have"
        );
        let locations = values["backstage"]["appConfig"]["catalog"]["locations"]
            .as_array()
            .expect("locations");
        assert!(
            locations
                .iter()
                .any(|l| l["type"] == "file" && l["target"] == "/slipway/catalog/teams.yaml"),
            "the teams' Groups from Slipway's file: {locations:?}"
        );
        assert_eq!(
            values["backstage"]["extraVolumes"][0]["configMap"]["name"],
            LOCAL_GROUPS_CONFIGMAP
        );
        assert!(
            values["backstage"]["appConfig"]["integrations"]["github"][0]["token"]
                == "${GITHUB_TOKEN}",
            "other placeholders stay for Backstage"
        );
        assert_eq!(backstage["chart"]["version"], "2.8.2");
        let spec = &set["spec"]["template"]["spec"];
        assert!(
            spec.get("sources").is_none(),
            "no repository to read values from"
        );
        assert_eq!(spec["source"]["helm"]["values"], "{{ .values }}");
        assert_eq!(spec["project"], "platform");
        let generators = set["spec"]["generators"].as_array().expect("generators");
        assert!(
            generators
                .iter()
                .all(|g| g.as_object().is_some_and(|g| g.keys().all(|k| k == "list"))),
            "only the list generator"
        );
    }
}
