//! The GitOps side of the platform, from the embedded bundle: Argo CD's helm release, and for a
//! platform without a GitHub connection ("local mode") the platform ApplicationSet rewritten to a
//! list generator with the values inline, since Argo CD has no repository to read them from.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bundle::{self, BundleError};
use crate::helm::{Chart, Release};
use crate::platform::target::Existing;

/// A platform component: a pinned chart and where it runs.
#[derive(Debug, Clone, Deserialize)]
pub struct Component {
    pub name: String,
    pub namespace: String,
    pub release: String,
    pub chart: Chart,
    /// The optional part of the platform this chart belongs to (`part: observability`); a
    /// component without one is always installed.
    #[serde(default)]
    pub part: Option<Part>,
}

/// A part of the platform a developer may leave out (`up --without PART`, the settings key
/// `without`). Several charts can make one part (observability's five).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// OpenTelemetry Collector, Prometheus, Tempo, Loki and Grafana in `observability`.
    Observability,
}

impl Part {
    pub const ALL: [Part; 1] = [Part::Observability];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Observability => "observability",
        }
    }

    /// The namespace the part's charts share.
    pub fn namespace(self) -> &'static str {
        match self {
            Part::Observability => OBSERVABILITY_NAMESPACE,
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the observability part runs; the template's services send OTLP to its collector here.
pub const OBSERVABILITY_NAMESPACE: &str = "observability";

/// Every component in the bundle, the optional parts' included.
pub fn components() -> Result<Vec<Component>, BundleError> {
    let mut paths: Vec<String> = bundle::Bundle::iter()
        .filter(|p| p.starts_with("platform/components/") && p.ends_with(".yaml"))
        .map(|p| p.to_string())
        .collect();
    paths.sort();
    paths.iter().map(|p| bundle::yaml(p)).collect()
}

/// The components Argo CD deploys when the parts in `without` are left out.
pub fn components_without(without: &[Part]) -> Result<Vec<Component>, BundleError> {
    let mut all = components()?;
    all.retain(|c| c.part.is_none_or(|p| !without.contains(&p)));
    Ok(all)
}

/// The memory the platform's pods request with the parts in `without` left out: Argo CD's and
/// each deployed component's values (what preflight compares with Docker's memory).
pub fn memory_requests(without: &[Part]) -> Result<u64, BundleError> {
    let argo: Component = bundle::yaml(bundle::ARGO_CD)?;
    let names =
        std::iter::once(argo.name).chain(components_without(without)?.into_iter().map(|c| c.name));
    bundle::memory_requests(names.map(|n| format!("platform/values/{n}.yaml")))
}

/// A component's values, with the default `.local` host names moved to `domain`.
pub fn values(component: &str, domain: &str) -> Result<Value, BundleError> {
    let path = format!("platform/values/{component}.yaml");
    bundle::parse(&path, &with_domain(&bundle::required_text(&path)?, domain))
}

/// A component's values on `target` (`None`: Slipway's own cluster, as the bundle is written).
pub fn values_on(
    component: &str,
    domain: &str,
    target: Option<&Existing>,
) -> Result<Value, BundleError> {
    let values = values(component, domain)?;
    match target {
        Some(t) => t.values(component, values),
        None => Ok(values),
    }
}

/// The ConfigMap Backstage reads after its chart values (`backstage.extraAppConfig`): this
/// developer's URLs, and guest sign-in only while the ingress listens on loopback (`guest`).
pub const BACKSTAGE_CONFIG: &str = "slipway-backstage-config";

/// How people sign in to Backstage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn<'a> {
    /// Guest: a local, single-user platform reached from this machine only.
    Guest,
    /// GitHub, with this OAuth app's client ID (its secret is `AUTH_GITHUB_CLIENT_SECRET` in
    /// `backstage-secrets`): people whose login is a User of the catalog (a team member).
    GitHub { client_id: &'a str },
    /// None configured: Backstage is reached by port-forward only.
    Closed,
}

/// The environment variable Backstage reads its GitHub OAuth app's secret from.
pub const GITHUB_CLIENT_SECRET_ENV: &str = "AUTH_GITHUB_CLIENT_SECRET";

/// Where GitHub sends a person back after signing in to the Backstage at `url`: the OAuth app's
/// callback URL (`<backend.baseUrl>/api/auth/github/handler/frame`, auth-node's
/// createOAuthRouteHandlers).
pub fn github_callback(url: &str) -> String {
    format!("{url}/api/auth/github/handler/frame")
}

pub fn backstage_config(domain: &str, reach: crate::platform::Reach, sign_in: SignIn<'_>) -> Value {
    let url = reach.url(&format!("backstage.{}", domain.trim_start_matches('.')));
    let mut config = json!({
        "app": {"baseUrl": url},
        "backend": {"baseUrl": url, "cors": {"origin": url}},
    });
    match sign_in {
        SignIn::Guest => {
            config["auth"] = json!({"environment": "development", "providers": {"guest": {"dangerouslyAllowOutsideDevelopment": true}}});
        }
        // Keys of plugins/auth-backend-module-github-provider (config.d.ts). The resolver
        // matches the GitHub login with a User entity's name, which Slipway registers for every
        // team member; nobody else signs in (no `dangerouslyAllowSignInWithoutUserInCatalog`).
        // No guest provider: the demo app's page still offers it, and the backend refuses it.
        SignIn::GitHub { client_id } => {
            config["auth"] = json!({
                "environment": "production",
                "providers": {"github": {"production": {
                    "clientId": client_id,
                    "clientSecret": format!("${{{GITHUB_CLIENT_SECRET_ENV}}}"),
                    "callbackUrl": github_callback(&url),
                    "signIn": {"resolvers": [{"resolver": "usernameMatchingUserEntityName"}]},
                }}},
            });
        }
        SignIn::Closed => {}
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": BACKSTAGE_CONFIG, "namespace": "backstage", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {"app-config.slipway.yaml": serde_json::to_string_pretty(&config).unwrap_or_default()},
    })
}

/// The ConfigMap Grafana takes environment variables from (the chart's `envFromConfigMaps`):
/// its URL for this developer, and anonymous access only while the ingress listens on loopback
/// (`guest`), as Backstage's guest sign-in.
pub const GRAFANA_CONFIG: &str = "slipway-grafana-config";

/// The `observability` namespace (Argo CD's CreateNamespace would make it only at the first
/// sync, after this ConfigMap is applied) and [`GRAFANA_CONFIG`].
pub fn grafana_config(domain: &str, reach: crate::platform::Reach, guest: bool) -> [Value; 2] {
    let url = reach.url(&format!("grafana.{}", domain.trim_start_matches('.')));
    let labels = json!({"app.kubernetes.io/managed-by": "slipway"});
    [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OBSERVABILITY_NAMESPACE}}),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": GRAFANA_CONFIG, "namespace": OBSERVABILITY_NAMESPACE, "labels": labels},
            // Grafana's `GF_<SECTION>_<KEY>` variables override grafana.ini (Grafana's
            // "Configure Grafana" docs, "Override configuration with environment variables").
            "data": {
                "GF_SERVER_ROOT_URL": url,
                "GF_AUTH_ANONYMOUS_ENABLED": guest.to_string(),
                "GF_AUTH_ANONYMOUS_ORG_ROLE": "Editor",
            },
        }),
    ]
}

/// `text` with the default `.local` host names moved to `domain`.
pub fn with_domain(text: &str, domain: &str) -> String {
    let domain = domain.trim_start_matches('.');
    text.replace("argocd.local", &format!("argocd.{domain}"))
        .replace("backstage.local", &format!("backstage.{domain}"))
        .replace("grafana.local", &format!("grafana.{domain}"))
}

/// Argo CD, installed by helm before anything else.
pub fn argo_cd_release(
    domain: &str,
    reach: crate::platform::Reach,
    target: Option<&Existing>,
) -> Result<Release, BundleError> {
    let c: Component = bundle::yaml(bundle::ARGO_CD)?;
    let mut values = values_on(&c.name, domain, target)?;
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
pub fn local_platform_appset(
    domain: &str,
    without: &[Part],
    target: Option<&Existing>,
) -> Result<Value, BundleError> {
    const PATH: &str = "bootstrap/platform-appset.yaml";
    let mut set: Value = bundle::yaml(PATH)?;
    let mut elements = Vec::new();
    for c in components_without(without)? {
        let mut values = values_on(&c.name, domain, target)?;
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
    locations.push(json!({"type": "file", "target": format!("{LOCAL_GROUPS_DIR}/teams.yaml"), "rules": [{"allow": ["Group", "User"]}]}));
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
/// namespaces' NetworkPolicies, the locked-down `default` project. Those in the namespace of a
/// part left out (`without`) are not.
pub fn policies(without: &[Part]) -> Result<Vec<Value>, BundleError> {
    let mut paths: Vec<String> = bundle::Bundle::iter()
        .filter(|p| p.starts_with("policies/") && p.ends_with(".yaml"))
        .map(|p| p.to_string())
        .collect();
    paths.sort();
    let mut docs = Vec::new();
    for p in &paths {
        docs.extend(bundle::yaml_documents(p)?);
    }
    docs.retain(|d| {
        !without
            .iter()
            .any(|part| d["metadata"]["namespace"] == part.namespace())
    });
    Ok(docs)
}

/// The name of the ConfigMap holding the admission policies' per-user parameters.
pub const SITE_CONFIG: &str = "slipway-site";

/// `argocd/slipway-site`: what the admission policies compare with, for this user's domain
/// (the allowed `<name>.<domain>` hosts, the platform's own hosts) and cluster (`target` none:
/// Slipway's own; the label team pods must select, empty when they may run anywhere).
pub fn site_config(domain: &str, target: Option<&super::target::Shape>) -> Value {
    let domain = domain.trim_start_matches('.');
    let escaped = regex_escape(domain);
    let platform: Vec<String> = crate::hosts::platform_hosts(domain);
    let reserved = platform
        .iter()
        .map(|h| regex_escape(h.split('.').next().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("|");
    let workloads = super::target::workload_nodes(target);
    let (label, pool) = workloads.map_or_else(Default::default, |n| (n.key, n.value));
    let mut site = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": SITE_CONFIG, "namespace": "argocd", "labels": {"app.kubernetes.io/managed-by": "slipway"}},
        "data": {
            "domain": domain,
            "workloadsLabel": label,
            "workloadsPool": pool,
            "allowedHost": format!("^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.{escaped}$"),
            "reservedHost": format!("^({reserved})\\.{escaped}$"),
            "reservedNames": platform.join(", "),
        },
    });
    // An existing cluster's record of the other choices its last `up` was given, which the
    // next `up --context` without them keeps (`target::Existing::recalled`).
    if let Some(shape) = target {
        site["data"]["expose"] = json!(match shape.expose {
            super::target::Expose::LoadBalancer => "load-balancer",
            super::target::Expose::NodePort => "node-port",
        });
        site["data"]["platformNodes"] = json!(
            shape
                .platform_nodes
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    site
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
        let site = site_config("dev.test", None);
        let allowed = site["data"]["allowedHost"].as_str().expect("allowedHost");
        let reserved = site["data"]["reservedHost"].as_str().expect("reservedHost");
        assert_eq!(allowed, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.dev\\.test$");
        assert_eq!(reserved, "^(argocd|backstage|grafana)\\.dev\\.test$");
        assert_eq!(site["data"]["workloadsLabel"], "slipway.dev/pool");
        assert_eq!(site["data"]["workloadsPool"], "workloads");
        // An existing cluster without --workload-nodes: no placement rule for team pods.
        let anywhere = super::super::target::Shape::default();
        let site = site_config("dev.test", Some(&anywhere));
        assert_eq!(site["data"]["workloadsLabel"], "");
        let kinds: Vec<String> = policies(&[])
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
            let sign_in = if guest { SignIn::Guest } else { SignIn::Closed };
            let cm = backstage_config("dev.test", Reach::http(9080), sign_in);
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
            SignIn::Guest,
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
    fn github_sign_in_names_the_app_and_never_its_secret_or_guest() {
        let reach = Reach {
            http_port: 80,
            https_port: Some(443),
        };
        let cm = backstage_config(
            "idp.example.com",
            reach,
            SignIn::GitHub {
                client_id: "Iv1.abc",
            },
        );
        let text = cm["data"]["app-config.slipway.yaml"]
            .as_str()
            .expect("file");
        let config: Value = serde_saphyr::from_str(text).expect("YAML");
        let github = &config["auth"]["providers"]["github"]["production"];
        assert_eq!(config["auth"]["environment"], "production");
        assert_eq!(github["clientId"], "Iv1.abc");
        assert_eq!(github["clientSecret"], "${AUTH_GITHUB_CLIENT_SECRET}");
        assert_eq!(
            github["callbackUrl"],
            "https://backstage.idp.example.com/api/auth/github/handler/frame"
        );
        assert_eq!(
            github["signIn"]["resolvers"][0]["resolver"],
            "usernameMatchingUserEntityName"
        );
        assert!(config["auth"]["providers"]["guest"].is_null(), "{text}");
        assert!(!text.contains("dangerously"), "{text}");
    }

    #[test]
    fn every_pinned_chart_comes_over_tls() {
        let mut repos: Vec<String> = components()
            .expect("components")
            .into_iter()
            .map(|c| c.chart.repo)
            .collect();
        repos.push(
            argo_cd_release("local", Reach::http(8880), None)
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
        let r = argo_cd_release("dev.test", Reach::http(9080), None).expect("release");
        assert_eq!(
            (r.name.as_str(), r.namespace.as_str(), r.chart.name.as_str()),
            ("argocd", "argocd", "argo-cd")
        );
        assert_eq!(r.values["global"]["domain"], "argocd.dev.test");
        assert_eq!(
            r.values["configs"]["cm"]["url"],
            "http://argocd.dev.test:9080"
        );
        let local = argo_cd_release("local", Reach::http(8880), None).expect("release");
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
        let set = local_platform_appset("dev.test", &[], None).expect("appset");
        let elements = set["spec"]["generators"][0]["list"]["elements"]
            .as_array()
            .expect("list generator");
        let names: Vec<&str> = elements.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "backstage",
                "cert-manager",
                "grafana",
                "loki",
                "otel-collector",
                "prometheus",
                "sealed-secrets",
                "tempo",
                "traefik"
            ]
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

/// The observability part as the bundle makes it: its budget, its dashboard against the
/// template's metric names, and the catalog's links into Grafana.
#[cfg(test)]
mod observability {
    use super::*;
    use crate::service::template;

    fn part() -> Vec<Component> {
        let mut all = components().expect("components");
        all.retain(|c| c.part == Some(Part::Observability));
        all
    }

    /// Every `resources` map below `v`: (requests.memory, limits.memory) in bytes.
    fn memory(v: &Value, out: &mut Vec<(Option<f64>, Option<f64>)>) {
        match v {
            Value::Object(m) => {
                // (A ClusterRole rule's `resources` is a list of API resources, not this.)
                if let Some(r) = m.get("resources").filter(|r| r.is_object()) {
                    let q = |k: &str| {
                        r[k]["memory"]
                            .as_str()
                            .and_then(crate::k8s::quantity::parse)
                    };
                    out.push((q("requests"), q("limits")));
                }
                m.values().for_each(|v| memory(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| memory(v, out)),
            _ => {}
        }
    }

    #[test]
    fn five_charts_in_one_namespace_within_600_mib() {
        let names: Vec<String> = part().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["grafana", "loki", "otel-collector", "prometheus", "tempo"]
        );
        let mut limits = 0.0;
        for c in part() {
            assert_eq!(c.namespace, OBSERVABILITY_NAMESPACE, "{}", c.name);
            let mut found = Vec::new();
            memory(&values(&c.name, "local").expect("values"), &mut found);
            assert!(!found.is_empty(), "{}: no resources", c.name);
            for (request, limit) in found {
                let (Some(request), Some(limit)) = (request, limit) else {
                    panic!("{}: every container has a memory request and limit", c.name);
                };
                assert!(request <= limit, "{}", c.name);
                limits += limit;
            }
        }
        // The memory limits cap what the part can take: the issue's laptop budget.
        let mib = limits / f64::from(1 << 20);
        assert!(mib < 600.0, "observability may take {mib} MiB");
        // The services' OTLP endpoint (the template's deploy/deployment.yaml) is the collector's.
        let deployment =
            crate::bundle::required_text("templates/nodejs-v24/skeleton/deploy/deployment.yaml")
                .expect("deployment");
        assert!(deployment.contains("http://otel-collector.observability.svc:4318"));
        assert_eq!(
            values("otel-collector", "local").expect("values")["fullnameOverride"],
            "otel-collector"
        );
    }

    /// Preflight's figure: a platform without observability needs its 320 MiB of requests less.
    #[test]
    fn a_part_left_out_requests_no_memory() {
        let all = memory_requests(&[]).expect("all");
        assert_eq!(
            all,
            crate::bundle::platform_memory_requests().expect("bundle")
        );
        let without = memory_requests(&[Part::Observability]).expect("without");
        assert_eq!((all - without) >> 20, 320, "README's Resources table");
    }

    #[test]
    fn without_observability_none_of_its_charts_is_deployed() {
        let kept: Vec<String> = components_without(&[Part::Observability])
            .expect("components")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            kept,
            ["backstage", "cert-manager", "sealed-secrets", "traefik"]
        );
        let set = local_platform_appset("local", &[Part::Observability], None).expect("appset");
        let elements = set["spec"]["generators"][0]["list"]["elements"]
            .as_array()
            .expect("list");
        assert_eq!(elements.len(), 4);
    }

    /// The metric names an expression reads (`http_requests_total`, a histogram's
    /// `…_bucket` series as its name).
    fn metrics_in(expr: &str) -> Vec<String> {
        let functions = [
            "sum",
            "rate",
            "by",
            "histogram_quantile",
            "label_values",
            "le",
        ];
        regex::Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
            .expect("regex")
            .find_iter(expr)
            .map(|m| m.as_str())
            // Label matchers (`service_name=`), Grafana variables and functions are not metrics.
            .filter(|t| {
                let after = expr[expr.find(t).unwrap_or(0) + t.len()..].trim_start();
                !functions.contains(t)
                    && !t.starts_with("__")
                    && !after.starts_with('=')
                    && !after.starts_with("!=")
                    && !after.starts_with("=~")
                    && !expr.contains(&format!("${t}"))
                    && t.starts_with("http_")
            })
            .map(|t| t.trim_end_matches("_bucket").to_owned())
            .collect()
    }

    /// The metrics `src/metrics.js` of the template defines (`name: '…'`).
    fn template_metrics() -> Vec<String> {
        let js = crate::bundle::required_text("templates/nodejs-v24/skeleton/src/metrics.js")
            .expect("metrics.js");
        regex::Regex::new(r"name: '([a-z_]+)'")
            .expect("regex")
            .captures_iter(&js)
            .map(|c| c[1].to_owned())
            .collect()
    }

    /// Every expression of the starter dashboard and of Tempo's trace-to-metrics queries.
    fn expressions(grafana: &Value) -> Vec<String> {
        let dashboard: Value = serde_json::from_str(
            grafana["dashboards"]["slipway"]["service"]["json"]
                .as_str()
                .expect("json"),
        )
        .expect("dashboard JSON");
        let mut out: Vec<String> = dashboard["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t["expr"].as_str().map(str::to_owned))
            .collect();
        out.extend(
            dashboard["templating"]["list"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["query"]["query"].as_str().map(str::to_owned)),
        );
        for ds in grafana["datasources"]["datasources.yaml"]["datasources"]
            .as_array()
            .expect("datasources")
        {
            for q in ds["jsonData"]["tracesToMetrics"]["queries"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.extend(q["query"].as_str().map(str::to_owned));
            }
        }
        out
    }

    /// Expressions naming a metric the template does not define.
    fn unknown_metrics(grafana: &Value, defined: &[String]) -> Vec<String> {
        expressions(grafana)
            .into_iter()
            .filter(|e| metrics_in(e).iter().any(|m| !defined.contains(m)))
            .collect()
    }

    #[test]
    fn the_starter_dashboard_reads_the_template_s_own_metrics() {
        let defined = template_metrics();
        assert_eq!(
            defined,
            ["http_request_duration_seconds", "http_requests_total"]
        );
        let grafana = values("grafana", "local").expect("values");
        assert_eq!(unknown_metrics(&grafana, &defined), Vec::<String>::new());
        // Both are used: request and error rate from the counter, latency from the histogram.
        let used: Vec<String> = expressions(&grafana)
            .iter()
            .flat_map(|e| metrics_in(e))
            .collect();
        for m in &defined {
            assert!(used.contains(m), "{m} is on no panel");
        }
        // A metric renamed in the template fails the check.
        let renamed = [
            "http_request_duration_seconds".to_owned(),
            "http_requests_count".to_owned(),
        ];
        assert!(!unknown_metrics(&grafana, &renamed).is_empty());
    }

    /// The uids of the datasources Grafana is provisioned with.
    fn datasource_uids() -> Vec<String> {
        values("grafana", "local").expect("values")["datasources"]["datasources.yaml"]["datasources"]
            .as_array()
            .expect("datasources")
            .iter()
            .filter_map(|d| d["uid"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_catalog_entry_links_the_service_s_traces_logs_and_dashboard() {
        let files = template::render(
            "nodejs-v24",
            &template::Values {
                name: "shop-api".into(),
                team: "payments".into(),
                description: "d".into(),
                domain: "local".into(),
                repo_slug: "acme/shop-api".into(),
            },
        )
        .expect("render");
        let entity: Value = crate::bundle::parse(
            "catalog-info.yaml",
            std::str::from_utf8(&files["catalog-info.yaml"]).expect("utf-8"),
        )
        .expect("yaml");
        let links = entity["metadata"]["links"].as_array().expect("links");
        let titles: Vec<&str> = links.iter().filter_map(|l| l["title"].as_str()).collect();
        assert_eq!(titles, ["Traces", "Logs", "Dashboard"]);
        let uids = datasource_uids();
        for link in links {
            let url = link["url"].as_str().expect("url");
            let (path, query) = url
                .strip_prefix("http://grafana.local:8880/")
                .and_then(|rest| rest.split_once('?'))
                .unwrap_or_else(|| panic!("{url}: the platform's Grafana"));
            let params: std::collections::BTreeMap<String, String> =
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
            if path == "explore" {
                let panes: Value = serde_json::from_str(&params["panes"]).expect("panes JSON");
                let pane = panes
                    .as_object()
                    .and_then(|p| p.values().next())
                    .expect("a pane");
                let query = &pane["queries"][0];
                let uid = query["datasource"]["uid"].as_str().expect("uid");
                assert!(uids.iter().any(|u| u == uid), "{uid} is provisioned");
                let text = query["query"]
                    .as_str()
                    .or(query["expr"].as_str())
                    .expect("query");
                assert!(text.contains("\"shop-api\""), "{text}");
            } else {
                let dashboard: Value = serde_json::from_str(
                    values("grafana", "local").expect("values")["dashboards"]["slipway"]["service"]
                        ["json"]
                        .as_str()
                        .expect("json"),
                )
                .expect("dashboard");
                let uid = dashboard["uid"].as_str().expect("uid");
                assert!(path.starts_with(&format!("d/{uid}/")), "{path}");
                assert_eq!(params["var-service"], "shop-api");
                assert_eq!(dashboard["templating"]["list"][0]["name"], "service");
            }
        }
        // Each datasource's links go to datasources that exist.
        let grafana = values("grafana", "local").expect("values");
        let text = serde_json::to_string(&grafana["datasources"]).expect("json");
        for uid in regex::Regex::new(r#""datasourceUid":"([a-z]+)""#)
            .expect("regex")
            .captures_iter(&text)
        {
            assert!(uids.iter().any(|u| *u == uid[1]), "{}", &uid[1]);
        }
    }
}
