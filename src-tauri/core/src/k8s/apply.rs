//! Server-side apply of any manifest bundle: CRDs and Namespaces first (then waiting until
//! each CRD is Established), every other object after, each resolved through discovery.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope};
use kube::runtime::wait::{await_condition, conditions};
use serde::Serialize;

use super::K8sError;

/// What an apply did, object by object (`kind/namespace/name`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Parse a multi-document YAML bundle (empty documents are skipped).
pub fn parse(yaml: &str) -> Result<Vec<DynamicObject>, K8sError> {
    let docs: Vec<Option<DynamicObject>> = serde_saphyr::from_multiple(yaml).map_err(Box::new)?;
    let objects: Vec<DynamicObject> = docs.into_iter().flatten().collect();
    for o in &objects {
        if o.types.is_none() || o.metadata.name.is_none() {
            return Err(K8sError::Manifest {
                reason: format!(
                    "every document needs apiVersion, kind and metadata.name (found {:?})",
                    o.metadata.name
                ),
            });
        }
    }
    Ok(objects)
}

fn is_first(o: &DynamicObject) -> bool {
    o.types
        .as_ref()
        .is_some_and(|t| t.kind == "CustomResourceDefinition" || t.kind == "Namespace")
}

fn label(o: &DynamicObject) -> String {
    let kind = o.types.as_ref().map_or("?", |t| t.kind.as_str());
    match &o.metadata.namespace {
        Some(ns) => format!("{kind}/{ns}/{}", o.metadata.name.as_deref().unwrap_or("?")),
        None => format!("{kind}/{}", o.metadata.name.as_deref().unwrap_or("?")),
    }
}

/// Apply `objects` with field manager `manager`; objects without a namespace that need one go
/// to `default_namespace`.
pub async fn apply(
    client: &kube::Client,
    objects: &[DynamicObject],
    manager: &str,
    default_namespace: &str,
    crd_timeout: Duration,
) -> Result<ApplyReport, K8sError> {
    let mut report = ApplyReport::default();
    let mut resolved: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)> = HashMap::new();
    let params = PatchParams::apply(manager).force();
    for first_pass in [true, false] {
        for obj in objects.iter().filter(|o| is_first(o) == first_pass) {
            let types = obj.types.as_ref().ok_or_else(|| K8sError::Manifest {
                reason: format!("{} has no apiVersion/kind", label(obj)),
            })?;
            let gvk = GroupVersionKind::try_from(types).map_err(|e| K8sError::Manifest {
                reason: format!("{}: {e}", label(obj)),
            })?;
            if !resolved.contains_key(&gvk) {
                let found = discovery::pinned_kind(client, &gvk)
                    .await
                    .map_err(|source| K8sError::Discovery {
                        api_version: types.api_version.clone(),
                        kind: types.kind.clone(),
                        source,
                    })?;
                resolved.insert(gvk.clone(), found);
            }
            let (ar, caps) = &resolved[&gvk];
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster => Api::all_with(client.clone(), ar),
                Scope::Namespaced => Api::namespaced_with(
                    client.clone(),
                    obj.metadata
                        .namespace
                        .as_deref()
                        .unwrap_or(default_namespace),
                    ar,
                ),
            };
            let name = obj.metadata.name.as_deref().unwrap_or_default();
            let failed = |source| K8sError::Apply {
                object: label(obj),
                source,
            };
            let before = api
                .get_opt(name)
                .await
                .map_err(failed)?
                .and_then(|o| o.metadata.resource_version);
            let after = api
                .patch(name, &params, &Patch::Apply(obj))
                .await
                .map_err(failed)?
                .metadata
                .resource_version;
            if before.is_some() && before == after {
                report.unchanged.push(label(obj));
            } else {
                report.changed.push(label(obj));
            }
            if types.kind == "CustomResourceDefinition" {
                let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
                tokio::time::timeout(
                    crd_timeout,
                    await_condition(crds, name, conditions::is_crd_established()),
                )
                .await
                .map_err(|_| K8sError::NotReady {
                    what: format!("CRD {name} Established"),
                    secs: crd_timeout.as_secs(),
                    state: "not established".into(),
                })?
                .map_err(|source| K8sError::Watch {
                    what: format!("CRD {name}"),
                    source,
                })?;
            }
        }
    }
    Ok(report)
}
