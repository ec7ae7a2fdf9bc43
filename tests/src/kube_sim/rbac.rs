//! SIMULATED authorization: RBAC evaluated from the stored Roles, ClusterRoles and bindings, for
//! impersonated requests (`Impersonate-User` / `Impersonate-Group`, what `kubectl --as …
//! --as-group …` sends) and for SelfSubjectAccessReview / SubjectAccessReview. Written from
//! kubernetes `pkg/apis/rbac/v1/evaluation_helpers.go` and `plugin/pkg/auth/authorizer/rbac`:
//! allowed when any rule of any role bound to the user (ClusterRoleBindings, and RoleBindings in
//! the request's namespace) matches; `*` wildcards; a plain resource does not cover its
//! subresources; resourceNames limit a rule to those names. The token kube-sim issues is the
//! cluster admin's, as kind's admin.conf is: without impersonation everything is allowed.

use http::{HeaderMap, Method};
use serde_json::{Value, json};

use super::api::Target;
use super::registry::ResourceType;
use super::store::{ApiError, State};

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

/// What a request wants to do.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

/// The identity `Impersonate-User` / `Impersonate-Group` name (the admin token may impersonate
/// anyone); the API server adds `system:authenticated` to every authenticated user.
pub fn impersonated(headers: &HeaderMap) -> Option<Identity> {
    let user = headers.get("impersonate-user")?.to_str().ok()?.to_owned();
    let mut groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    groups.push("system:authenticated".to_owned());
    Some(Identity { user, groups })
}

impl Attributes {
    /// The verb and resource of an API request, as the API server's request-info resolver
    /// derives them (`GET` of a collection is `list`, or `watch` with `?watch`).
    pub fn of(method: &Method, target: &Target, watch: bool) -> Self {
        let verb = match (method.as_str(), target.name.is_some()) {
            ("GET", false) if watch => "watch",
            ("GET", false) => "list",
            ("GET", true) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", false) => "deletecollection",
            ("DELETE", true) => "delete",
            (other, _) => other,
        };
        Self {
            verb: verb.to_owned(),
            group: target.rt.group.clone(),
            resource: target.rt.plural.clone(),
            subresource: target.subresource.clone().unwrap_or_default(),
            namespace: target.namespace.clone(),
            name: target.name.clone().unwrap_or_default(),
        }
    }

    fn from_review(spec: &Value) -> Self {
        let a = &spec["resourceAttributes"];
        let text = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
        Self {
            verb: text("verb"),
            group: text("group"),
            resource: text("resource"),
            subresource: text("subresource"),
            namespace: text("namespace"),
            name: text("name"),
        }
    }
}

/// A SelfSubjectAccessReview (for the caller: impersonated, or the admin) or SubjectAccessReview
/// (for `spec.user` / `spec.groups`), answered and not stored, as the API server does. Every
/// authenticated user may create them (the `system:basic-user` ClusterRole).
pub fn review(
    state: &State,
    rt: &ResourceType,
    caller: Option<&Identity>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mut review: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "BadRequest", format!("cannot parse the review: {e}")))?;
    let spec = &review["spec"];
    if spec.get("resourceAttributes").is_none() {
        review["status"] =
            json!({"allowed": false, "reason": "kube-sim evaluates resourceAttributes only"});
        return Ok(review);
    }
    let who = match rt.plural.as_str() {
        "selfsubjectaccessreviews" => caller.cloned(),
        "subjectaccessreviews" => Some(Identity {
            user: spec["user"].as_str().unwrap_or_default().to_owned(),
            groups: spec["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
        }),
        other => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("kube-sim does not serve {other}"),
            ));
        }
    };
    let (allowed, reason) = match &who {
        None => (true, "kube-sim: the cluster admin's token".to_owned()),
        Some(who) => authorize(state, who, &Attributes::from_review(spec)),
    };
    review["status"] = json!({"allowed": allowed, "reason": reason});
    review["metadata"] = json!({"creationTimestamp": null});
    Ok(review)
}

fn list(state: &State, plural: &str, ns: Option<&str>) -> Vec<Value> {
    state
        .resource("rbac.authorization.k8s.io", "v1", plural)
        .map(|t| state.list(&t, ns))
        .unwrap_or_default()
}

fn subject_matches(subjects: &Value, who: &Identity) -> bool {
    subjects.as_array().into_iter().flatten().any(|s| {
        let name = s["name"].as_str().unwrap_or_default();
        match s["kind"].as_str() {
            Some("User") => name == who.user,
            Some("Group") => who.groups.iter().any(|g| g == name),
            Some("ServiceAccount") => {
                who.user
                    == format!(
                        "system:serviceaccount:{}:{name}",
                        s["namespace"].as_str().unwrap_or_default()
                    )
            }
            _ => false,
        }
    })
}

fn any(list: &Value, want: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|x| x == "*" || x == want))
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource_ok = rule["resources"].as_array().is_some_and(|l| {
        l.iter().any(|r| {
            let r = r.as_str().unwrap_or_default();
            r == "*"
                || r == resource
                || (!a.subresource.is_empty() && r == format!("*/{}", a.subresource))
        })
    });
    let names = rule["resourceNames"].as_array();
    let name_ok = names.is_none_or(|n| n.is_empty() || n.iter().any(|x| x == a.name.as_str()));
    any(&rule["verbs"], &a.verb) && any(&rule["apiGroups"], &a.group) && resource_ok && name_ok
}

/// Whether RBAC allows `a` for `who`, and the reason as the API server words it.
pub fn authorize(state: &State, who: &Identity, a: &Attributes) -> (bool, String) {
    let role_rules = |kind: &str, name: &str, ns: &str| -> Vec<Value> {
        let found = if kind == "ClusterRole" {
            list(state, "clusterroles", None)
        } else {
            list(state, "roles", Some(ns))
        };
        found
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    for b in list(state, "clusterrolebindings", None) {
        if subject_matches(&b["subjects"], who) {
            let role = b["roleRef"]["name"].as_str().unwrap_or_default();
            if role_rules("ClusterRole", role, "")
                .iter()
                .any(|r| rule_allows(r, a))
            {
                return (
                    true,
                    format!(
                        "RBAC: allowed by ClusterRoleBinding {:?} of ClusterRole {role:?} to {}",
                        b["metadata"]["name"].as_str().unwrap_or_default(),
                        who.user
                    ),
                );
            }
        }
    }
    if !a.namespace.is_empty() {
        for b in list(state, "rolebindings", Some(&a.namespace)) {
            if subject_matches(&b["subjects"], who) {
                let kind = b["roleRef"]["kind"].as_str().unwrap_or_default();
                let role = b["roleRef"]["name"].as_str().unwrap_or_default();
                if role_rules(kind, role, &a.namespace)
                    .iter()
                    .any(|r| rule_allows(r, a))
                {
                    return (
                        true,
                        format!(
                            "RBAC: allowed by RoleBinding \"{}/{}\" of {kind} {role:?} to {}",
                            b["metadata"]["name"].as_str().unwrap_or_default(),
                            a.namespace,
                            who.user
                        ),
                    );
                }
            }
        }
    }
    (false, String::new())
}

/// The API server's message when RBAC refuses a request.
pub fn forbidden_message(who: &Identity, a: &Attributes) -> String {
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let object = if a.name.is_empty() {
        a.resource.clone()
    } else {
        format!("{} {:?}", a.resource, a.name)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace {:?}", a.namespace)
    };
    format!(
        "{object} is forbidden: User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
        who.user, a.verb, a.group
    )
}
