//! Named waits on watched objects, each ending at a deadline (the step's) with an error that
//! says what state it ended in.

use crate::pipeline::Deadline;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::await_condition;
use serde_json::Value;

use super::K8sError;

/// Argo CD's Application resource.
pub fn application_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    )
}

/// Argo CD's ApplicationSet resource.
pub fn application_set_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "ApplicationSet"),
        "applicationsets",
    )
}

fn available(d: Option<&Deployment>) -> bool {
    d.and_then(|d| d.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
        })
}

/// Until the Deployment reports `Available=True`, at the latest at `deadline`.
pub async fn deployment_available(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    deadline: Deadline,
) -> Result<(), K8sError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let waited = tokio::time::timeout_at(
        deadline.at,
        await_condition(api.clone(), name, |d: Option<&Deployment>| available(d)),
    )
    .await;
    match waited {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(K8sError::Watch {
            what: format!("Deployment {namespace}/{name}"),
            source,
        }),
        Err(_) => {
            let state = match api.get_opt(name).await? {
                None => "it does not exist".to_owned(),
                Some(d) => {
                    let s = d.status.unwrap_or_default();
                    format!(
                        "{}/{} replicas available",
                        s.available_replicas.unwrap_or(0),
                        s.replicas.unwrap_or(0)
                    )
                }
            };
            Err(K8sError::NotReady {
                what: format!("Deployment {namespace}/{name} Available"),
                secs: deadline.secs(),
                state,
            })
        }
    }
}

/// An Application's sync and health status.
pub fn application_state(app: &DynamicObject) -> (String, String) {
    let status = app.data.get("status");
    let get = |a: &str| {
        status
            .and_then(|s| s.get(a))
            .and_then(|s| s.get("status"))
            .and_then(|s| s.as_str())
            .unwrap_or("Unknown")
            .to_owned()
    };
    (get("sync"), get("health"))
}

/// Why an Application is not Healthy, as Argo CD says it: the health message (a Degraded
/// resource's), else its first condition (ComparisonError, SyncError …), else a failed
/// operation's message.
pub fn application_reason(app: &DynamicObject) -> Option<String> {
    let status = app.data.get("status")?;
    let text = |v: &Value| v.as_str().filter(|m| !m.is_empty()).map(str::to_owned);
    let failed = matches!(
        status
            .pointer("/operationState/phase")
            .and_then(Value::as_str),
        Some("Failed" | "Error")
    );
    status
        .pointer("/health/message")
        .and_then(text)
        .or_else(|| status.pointer("/conditions/0/message").and_then(text))
        .or_else(|| {
            failed
                .then(|| status.pointer("/operationState/message").and_then(text))
                .flatten()
        })
}

/// The version of `chart` an Application deploys: the `targetRevision` of its Helm chart
/// source (`spec.source` or one of `spec.sources`).
pub fn chart_revision(app: &DynamicObject, chart: &str) -> Option<String> {
    let spec = app.data.get("spec")?;
    let single = spec.get("source").into_iter();
    let many = spec
        .get("sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    single
        .chain(many)
        .find(|s| s.get("chart").and_then(Value::as_str) == Some(chart))
        .and_then(|s| s.get("targetRevision")?.as_str().map(str::to_owned))
}

/// Until the Argo CD Application is `Synced` and `Healthy`; a `Degraded` one fails at once.
pub async fn application_healthy(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    deadline: Deadline,
) -> Result<(), K8sError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &application_resource());
    let done = |a: Option<&DynamicObject>| {
        a.is_some_and(|a| matches!(application_state(a), (s, h) if (s == "Synced" && h == "Healthy") || h == "Degraded"))
    };
    let waited =
        tokio::time::timeout_at(deadline.at, await_condition(api.clone(), name, done)).await;
    let state = match api.get_opt(name).await? {
        Some(app) => application_state(&app),
        None => ("Missing".into(), "Missing".into()),
    };
    match (waited, state) {
        (Ok(Ok(_)), (s, h)) if s == "Synced" && h == "Healthy" => Ok(()),
        (Ok(Err(source)), _) => Err(K8sError::Watch {
            what: format!("Application {namespace}/{name}"),
            source,
        }),
        (_, (s, h)) => Err(K8sError::NotReady {
            what: format!("Application {name} Synced and Healthy"),
            secs: deadline.secs(),
            state: format!(
                "sync {s}, health {h}; `kubectl -n {namespace} get application {name} -o yaml` shows why"
            ),
        }),
    }
}

/// cert-manager's ClusterIssuer resource.
pub fn cluster_issuer_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "ClusterIssuer"),
        "clusterissuers",
    )
}

fn ready(o: Option<&DynamicObject>) -> bool {
    o.and_then(|o| o.data.get("status"))
        .and_then(|s| s.get("conditions"))
        .and_then(|c| c.as_array())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Until the cluster-scoped object `name` (e.g. a ClusterIssuer) reports `Ready=True`.
pub async fn cluster_object_ready(
    client: &kube::Client,
    resource: &ApiResource,
    name: &str,
    deadline: Deadline,
) -> Result<(), K8sError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let waited =
        tokio::time::timeout_at(deadline.at, await_condition(api.clone(), name, ready)).await;
    match waited {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(K8sError::Watch {
            what: format!("{} {name}", resource.kind),
            source,
        }),
        Err(_) => {
            let state = match api.get_opt(name).await? {
                None => "it does not exist".to_owned(),
                Some(o) => o
                    .data
                    .get("status")
                    .and_then(|s| s.get("conditions"))
                    .and_then(|c| c.as_array())
                    .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                    .map_or_else(
                        || "no Ready condition yet".to_owned(),
                        |c| format!("Ready {}: {}", c["status"], c["message"]),
                    ),
            };
            Err(K8sError::NotReady {
                what: format!("{} {name} Ready", resource.kind),
                secs: deadline.secs(),
                state,
            })
        }
    }
}

/// Until the Secret `namespace/name` exists with a non-empty `key`; the Secret then.
pub async fn secret_with(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
    deadline: Deadline,
) -> Result<k8s_openapi::api::core::v1::Secret, K8sError> {
    use k8s_openapi::api::core::v1::Secret;
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let has = |s: Option<&Secret>| {
        s.and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(key))
            .is_some_and(|v| !v.0.is_empty())
    };
    let waited =
        tokio::time::timeout_at(deadline.at, await_condition(api.clone(), name, has)).await;
    match waited {
        Ok(Ok(Some(secret))) => Ok(secret),
        Ok(Ok(None)) | Err(_) => Err(K8sError::NotReady {
            what: format!("Secret {namespace}/{name} with {key}"),
            secs: deadline.secs(),
            state: format!(
                "not issued; `kubectl -n {namespace} describe certificate {name}` shows why"
            ),
        }),
        Ok(Err(source)) => Err(K8sError::Watch {
            what: format!("Secret {namespace}/{name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(data: serde_json::Value) -> DynamicObject {
        let mut a = DynamicObject::new("traefik", &application_resource());
        a.data = data;
        a
    }

    #[test]
    fn the_chart_version_comes_from_the_helm_source_single_or_among_several() {
        let single = app(
            serde_json::json!({"spec": {"source": {"chart": "traefik", "targetRevision": "41.3.0"}}}),
        );
        assert_eq!(
            chart_revision(&single, "traefik").as_deref(),
            Some("41.3.0")
        );
        // GitHub mode: the chart beside the values' `$ref` source from the platform repository.
        let multi = app(serde_json::json!({"spec": {"sources": [
            {"repoURL": "https://github.test/acme/slipway-platform", "targetRevision": "main", "ref": "values"},
            {"chart": "traefik", "targetRevision": "40.0.0"},
        ]}}));
        assert_eq!(chart_revision(&multi, "traefik").as_deref(), Some("40.0.0"));
        assert_eq!(chart_revision(&multi, "backstage"), None);
    }

    #[test]
    fn the_reason_is_argo_cds_health_message_then_its_first_condition() {
        let degraded = app(serde_json::json!({"status": {
            "health": {"status": "Degraded", "message": "Deployment backstage exceeded its progress deadline"},
            "conditions": [{"type": "SyncError", "message": "later"}],
        }}));
        assert_eq!(
            application_reason(&degraded).as_deref(),
            Some("Deployment backstage exceeded its progress deadline")
        );
        let comparison = app(
            serde_json::json!({"status": {"health": {"status": "Unknown"},
            "conditions": [{"type": "ComparisonError", "message": "chart not found"}]}}),
        );
        assert_eq!(
            application_reason(&comparison).as_deref(),
            Some("chart not found")
        );
        let failed = app(
            serde_json::json!({"status": {"operationState": {"phase": "Failed", "message": "one or more objects failed to apply"}}}),
        );
        assert_eq!(
            application_reason(&failed).as_deref(),
            Some("one or more objects failed to apply")
        );
        let running = app(
            serde_json::json!({"status": {"operationState": {"phase": "Running", "message": "waiting for healthy state"}}}),
        );
        assert_eq!(
            application_reason(&running),
            None,
            "a running sync's message is no reason"
        );
    }
}
