//! Discovery as kubectl and kube-rs read it: `/version`, the legacy `/api` and `/apis` lists,
//! per-group resource lists, and the slice of OpenAPI v3 kubectl needs for field validation.

use serde_json::{Value, json};

use crate::kube_sim::Shared;
use crate::kube_sim::registry::{self, ResourceType};
use crate::kube_sim::store::ApiError;

pub(super) fn discovery(shared: &Shared, path: &str) -> Option<Result<Value, ApiError>> {
    let state = shared.state();
    let reg = &state.registry;
    let v = match path {
        "/version" => {
            json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-kube-sim", "platform": "linux/amd64", "goVersion": "go1.25 (simulated)", "compiler": "gc"})
        }
        "/healthz" | "/readyz" | "/livez" => return Some(Ok(json!("ok"))),
        "/api" => {
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})
        }
        "/apis" => {
            let groups: Vec<Value> = reg
                .groups()
                .into_iter()
                .map(|(g, versions)| {
                    let vs: Vec<Value> = versions
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        "/api/v1" => {
            return Some(
                reg.resource_list("", "v1")
                    .ok_or_else(|| ApiError::new(404, "NotFound", "no v1")),
            );
        }
        "/openapi/v3" => {
            let mut paths = serde_json::Map::new();
            paths.insert(
                "api/v1".into(),
                json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=kube-sim"}),
            );
            for (g, versions) in reg.groups() {
                for v in versions {
                    paths.insert(format!("apis/{g}/{v}"), json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash=kube-sim")}));
                }
            }
            json!({"paths": paths})
        }
        p if p.starts_with("/openapi/v3/") => {
            let gv = &p["/openapi/v3/".len()..];
            let (group, version) = match gv.strip_prefix("api/") {
                Some(v) => ("", v),
                None => gv.strip_prefix("apis/")?.split_once('/')?,
            };
            return Some(openapi_v3(reg, group, version));
        }
        p if p.starts_with("/apis/") && p.matches('/').count() == 2 => {
            let g = &p["/apis/".len()..];
            let versions = reg.groups().into_iter().find(|(name, _)| name == g)?.1;
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": vs, "preferredVersion": vs[0]})
        }
        p if p.starts_with("/apis/") && p.matches('/').count() == 3 => {
            let rest = &p["/apis/".len()..];
            let (g, v) = rest.split_once('/')?;
            return Some(
                reg.resource_list(g, v)
                    .ok_or_else(|| ApiError::new(404, "NotFound", format!("{g}/{v} not served"))),
            );
        }
        _ => return None,
    };
    Some(Ok(v))
}

/// A minimal OpenAPI v3 document for one group/version: the PATCH operations with their GVK and
/// the `fieldValidation` parameter, which is what kubectl checks before it relies on server-side
/// field validation instead of downloading schemas. No object schemas are served.
fn openapi_v3(reg: &registry::Registry, group: &str, version: &str) -> Result<Value, ApiError> {
    let types: Vec<&ResourceType> = reg
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!("no OpenAPI document for {group}/{version}"),
        ));
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    for t in types {
        let path = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let params: Vec<Value> = ["fieldValidation", "fieldManager", "dryRun", "force"]
            .iter()
            .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
            .collect();
        paths.insert(path, json!({
            "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get", "responses": {"200": {"description": "OK"}}},
            "patch": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch", "parameters": params, "responses": {"200": {"description": "OK"}}},
        }));
    }
    Ok(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes (kube-sim)", "version": "v1.35.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}
