//! SIMULATED admission, in the API server's order and with its messages: LimitRanger's defaults,
//! Pod Security Admission (`restricted` and `baseline`, for namespaces labelled
//! `pod-security.kubernetes.io/enforce`), ValidatingAdmissionPolicy (CEL, with the `cel` crate),
//! then ResourceQuota. Every rule here is written from the upstream source:
//! - PSA: kubernetes/pod-security-admission `policy/check_*.go` (check ids, reasons, details,
//!   their order: baseline ids sorted, then restricted ids sorted), `admission/admission.go`
//!   (only Pods are enforced; workloads are not), the message
//!   `pods "x" is forbidden: violates PodSecurity "restricted:latest": reason (detail), ...`.
//! - VAP: kubernetes `staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating`
//!   (`ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: <message>`, the
//!   `reason` choosing the status code, `failed expression: <expr>` when no message is set,
//!   `parameterNotFoundAction`).
//! - ResourceQuota: `plugin/resourcequota/controller.go` (`exceeded quota: q, requested: ...,
//!   used: ..., limited: ...`, and `failed quota: q: must specify ...` for compute quotas).

use serde_json::{Value, json};

use super::registry::ResourceType;
use super::store::{ApiError, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Create => "CREATE",
            Op::Update => "UPDATE",
        }
    }
}

/// Run every admission step on a write of `obj` (which mutating steps may change).
pub fn admit(
    state: &State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    op: Op,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let namespace = namespace_object(state, ns);
    if rt.group.is_empty() && rt.plural == "pods" && op == Op::Create {
        limit_ranger(state, ns, obj);
        pod_security(namespace.as_ref(), name, obj)?;
    }
    policies(state, rt, ns, name, op, obj, old, namespace.as_ref())?;
    if op == Op::Create {
        quota(state, rt, ns, name, obj)?;
    }
    Ok(())
}

fn namespace_object(state: &State, ns: &str) -> Option<Value> {
    let t = state.resource("", "v1", "namespaces").ok()?;
    state.get(&t, "", ns).ok()
}

fn list(state: &State, group: &str, version: &str, plural: &str, ns: Option<&str>) -> Vec<Value> {
    state
        .resource(group, version, plural)
        .map(|t| state.list(&t, ns))
        .unwrap_or_default()
}

fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| pod["spec"][k].as_array().into_iter().flatten())
        .collect()
}

// ------------------------------------------------------------------------------ LimitRanger

/// LimitRanger: containers without requests or limits get the namespace's defaults.
fn limit_ranger(state: &State, ns: &str, pod: &mut Value) {
    for range in list(state, "", "v1", "limitranges", Some(ns)) {
        for limit in range["spec"]["limits"].as_array().into_iter().flatten() {
            if limit["type"] != "Container" {
                continue;
            }
            for key in ["initContainers", "containers"] {
                // get_mut, not indexing: indexing a missing key would add it as null.
                let Some(list) = pod
                    .get_mut("spec")
                    .and_then(|s| s.get_mut(key))
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for c in list {
                    for (field, defaults) in [
                        ("requests", &limit["defaultRequest"]),
                        ("limits", &limit["default"]),
                    ] {
                        for (res, q) in defaults.as_object().into_iter().flatten() {
                            if c["resources"][field][res].is_null() {
                                c["resources"][field][res] = q.clone();
                            }
                        }
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------ Pod Security

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    if names.len() == 1 {
        format!("container {}", quoted[0])
    } else {
        format!("containers {}", quoted.join(", "))
    }
}

fn plural(names: &[String], one: &str, many: &str) -> String {
    if names.len() == 1 {
        one.to_owned()
    } else {
        many.to_owned()
    }
}

fn name_of(c: &Value) -> String {
    c["name"].as_str().unwrap_or_default().to_owned()
}

/// Containers for which `bad` holds.
fn offending(pod: &Value, bad: impl Fn(&Value) -> bool) -> Vec<String> {
    containers(pod)
        .into_iter()
        .filter(|c| bad(c))
        .map(name_of)
        .collect()
}

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// The violations of `level` (`baseline` or `restricted`), in PSA's order.
pub fn pod_security_violations(level: &str, pod: &Value) -> Vec<(String, String)> {
    let restricted = level == "restricted";
    let spec = &pod["spec"];
    let psc = &spec["securityContext"];
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |reason: &str, detail: String| out.push((reason.to_owned(), detail));

    // --- baseline, ids sorted (restricted replacements take the restricted position)
    let unconfined = |v: &Value| v["appArmorProfile"]["type"] == "Unconfined";
    let mut setters = Vec::new();
    if unconfined(psc) {
        setters.push("pod".to_owned());
    }
    let bad = offending(pod, |c| unconfined(&c["securityContext"]));
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if !setters.is_empty() {
        add(
            "forbidden AppArmor profile(s)",
            format!(
                "{} must not set AppArmor profile type to \"Unconfined\"",
                setters.join(" and ")
            ),
        );
    }
    let hosts: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|k| spec[k] == true)
        .collect();
    if !hosts.is_empty() {
        add(
            "host namespaces",
            hosts
                .iter()
                .map(|h| format!("{h}=true"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if !restricted && let Some(volumes) = spec["volumes"].as_array() {
        let host_path: Vec<String> = volumes
            .iter()
            .filter(|v| !v["hostPath"].is_null())
            .map(name_of)
            .collect();
        if !host_path.is_empty() {
            let quoted: Vec<String> = host_path.iter().map(|n| format!("{n:?}")).collect();
            add(
                "hostPath volumes",
                format!(
                    "{} {}",
                    plural(&host_path, "volume", "volumes"),
                    quoted.join(", ")
                ),
            );
        }
    }
    let mut host_ports = Vec::new();
    let with_ports = offending(pod, |c| {
        c["ports"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["hostPort"].as_u64().unwrap_or(0) != 0))
    });
    for c in containers(pod) {
        for p in c["ports"].as_array().into_iter().flatten() {
            if let Some(port) = p["hostPort"].as_u64().filter(|p| *p != 0) {
                host_ports.push(port.to_string());
            }
        }
    }
    if !with_ports.is_empty() {
        add(
            "hostPort",
            format!(
                "{} {} {} {}",
                containers_phrase(&with_ports),
                plural(&with_ports, "uses", "use"),
                if host_ports.len() == 1 {
                    "hostPort"
                } else {
                    "hostPorts"
                },
                host_ports.join(", ")
            ),
        );
    }
    let privileged = offending(pod, |c| c["securityContext"]["privileged"] == true);
    if !privileged.is_empty() {
        add(
            "privileged",
            format!(
                "{} must not set securityContext.privileged=true",
                containers_phrase(&privileged)
            ),
        );
    }
    let proc_mount = offending(pod, |c| {
        c["securityContext"]["procMount"]
            .as_str()
            .is_some_and(|p| p != "Default")
    });
    if !restricted && !proc_mount.is_empty() {
        add(
            "procMount",
            format!(
                "{} must not set securityContext.procMount",
                containers_phrase(&proc_mount)
            ),
        );
    }
    let bad_sysctls: Vec<String> = psc["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .filter(|n| !SAFE_SYSCTLS.contains(n))
        .map(str::to_owned)
        .collect();
    if !bad_sysctls.is_empty() {
        add("forbidden sysctls", bad_sysctls.join(", "));
    }

    // --- restricted, ids sorted
    if restricted {
        let escalation = offending(pod, |c| {
            c["securityContext"]["allowPrivilegeEscalation"] != false
        });
        if !escalation.is_empty() {
            add(
                "allowPrivilegeEscalation != false",
                format!(
                    "{} must set securityContext.allowPrivilegeEscalation=false",
                    containers_phrase(&escalation)
                ),
            );
        }
        let no_drop = offending(pod, |c| {
            !c["securityContext"]["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "ALL"))
        });
        let mut parts = Vec::new();
        if !no_drop.is_empty() {
            parts.push(format!(
                "{} must set securityContext.capabilities.drop=[\"ALL\"]",
                containers_phrase(&no_drop)
            ));
        }
        for c in containers(pod) {
            let added: Vec<String> = c["securityContext"]["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .filter(|a| *a != "NET_BIND_SERVICE")
                .map(|a| format!("{a:?}"))
                .collect();
            if !added.is_empty() {
                parts.push(format!(
                    "container {:?} must not include {} in securityContext.capabilities.add",
                    name_of(c),
                    added.join(", ")
                ));
            }
        }
        if !parts.is_empty() {
            add("unrestricted capabilities", parts.join("; "));
        }
        if !proc_mount.is_empty() {
            add(
                "procMount",
                format!(
                    "{} must not set securityContext.procMount",
                    containers_phrase(&proc_mount)
                ),
            );
        }
        let restricted_volumes: Vec<(String, String)> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let kind = v
                    .as_object()?
                    .keys()
                    .find(|k| *k != "name" && !RESTRICTED_VOLUMES.contains(&k.as_str()))?
                    .clone();
                Some((name_of(v), kind))
            })
            .collect();
        if !restricted_volumes.is_empty() {
            let names: Vec<String> = restricted_volumes
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect();
            let mut kinds: Vec<String> = restricted_volumes
                .iter()
                .map(|(_, k)| format!("{k:?}"))
                .collect();
            kinds.dedup();
            let one = restricted_volumes.len() == 1;
            add(
                "restricted volume types",
                format!(
                    "{} {} {} restricted volume {} {}",
                    if one { "volume" } else { "volumes" },
                    names.join(", "),
                    if one { "uses" } else { "use" },
                    if kinds.len() == 1 { "type" } else { "types" },
                    kinds.join(", ")
                ),
            );
        }
        let pod_non_root = psc["runAsNonRoot"].clone();
        if pod_non_root == false {
            add(
                "runAsNonRoot != true",
                "pod must not set securityContext.runAsNonRoot=false".to_owned(),
            );
        } else {
            let missing = offending(pod, |c| match &c["securityContext"]["runAsNonRoot"] {
                Value::Bool(b) => !b,
                _ => pod_non_root != true,
            });
            if !missing.is_empty() {
                add(
                    "runAsNonRoot != true",
                    format!(
                        "pod or {} must set securityContext.runAsNonRoot=true",
                        containers_phrase(&missing)
                    ),
                );
            }
        }
        let mut root = Vec::new();
        if psc["runAsUser"] == 0 {
            root.push("pod must not set runAsUser=0".to_owned());
        }
        let root_containers = offending(pod, |c| c["securityContext"]["runAsUser"] == 0);
        if !root_containers.is_empty() {
            root.push(format!(
                "{} must not set runAsUser=0",
                containers_phrase(&root_containers)
            ));
        }
        if !root.is_empty() {
            add("runAsUser=0", root.join("; "));
        }
        let good = |v: &Value| {
            matches!(
                v["seccompProfile"]["type"].as_str(),
                Some("RuntimeDefault" | "Localhost")
            )
        };
        let pod_ok = good(psc);
        let no_seccomp = offending(pod, |c| {
            let t = &c["securityContext"]["seccompProfile"]["type"];
            if t.is_null() {
                !pod_ok
            } else {
                !good(&c["securityContext"])
            }
        });
        if !no_seccomp.is_empty() {
            add(
                "seccompProfile",
                format!(
                    "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                    containers_phrase(&no_seccomp)
                ),
            );
        }
    } else {
        let caps = offending(pod, |c| {
            c["securityContext"]["capabilities"]["add"]
                .as_array()
                .is_some_and(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .any(|x| !BASELINE_CAPS.contains(&x))
                })
        });
        if !caps.is_empty() {
            add(
                "non-default capabilities",
                format!(
                    "{} must not include non-default capabilities in securityContext.capabilities.add",
                    containers_phrase(&caps)
                ),
            );
        }
    }
    out
}

/// Enforce the namespace's Pod Security level on a new pod.
fn pod_security(namespace: Option<&Value>, name: &str, pod: &Value) -> Result<(), ApiError> {
    let Some(labels) = namespace.map(|n| &n["metadata"]["labels"]) else {
        return Ok(());
    };
    let level = labels["pod-security.kubernetes.io/enforce"]
        .as_str()
        .unwrap_or("privileged");
    if level == "privileged" {
        return Ok(());
    }
    let version = labels["pod-security.kubernetes.io/enforce-version"]
        .as_str()
        .unwrap_or("latest");
    let violations = pod_security_violations(level, pod);
    if violations.is_empty() {
        return Ok(());
    }
    let detail: Vec<String> = violations
        .iter()
        .map(|(r, d)| {
            if d.is_empty() {
                r.clone()
            } else {
                format!("{r} ({d})")
            }
        })
        .collect();
    Err(ApiError::new(
        403,
        "Forbidden",
        format!(
            "pods {name:?} is forbidden: violates PodSecurity \"{level}:{version}\": {}",
            detail.join(", ")
        ),
    ))
}

// ------------------------------------------------------------------------------ policies

/// Whether a label selector (`matchLabels`, `matchExpressions`) matches `labels`.
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    if selector.is_null() {
        return true;
    }
    let labels_ok = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels[k] == *v);
    let expressions_ok = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let have = labels[key].as_str();
            match e["operator"].as_str().unwrap_or_default() {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        });
    labels_ok && expressions_ok
}

fn rule_matches(rules: &Value, rt: &ResourceType, op: Op) -> bool {
    rules.as_array().into_iter().flatten().any(|r| {
        let has = |key: &str, want: &str| {
            r[key]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x == "*" || x == want))
        };
        has("apiGroups", &rt.group)
            && has("resources", &rt.plural)
            && has("operations", op.as_str())
    })
}

/// A CEL value of a JSON document.
fn cel_value(v: &Value) -> cel::Value {
    cel::to_value(v).unwrap_or(cel::Value::Null)
}

/// Every ValidatingAdmissionPolicy bound to this request, evaluated as the API server does.
#[allow(clippy::too_many_arguments, reason = "the request's attributes")]
fn policies(
    state: &State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    op: Op,
    obj: &Value,
    old: Option<&Value>,
    namespace: Option<&Value>,
) -> Result<(), ApiError> {
    let bindings = list(
        state,
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        None,
    );
    if bindings.is_empty() {
        return Ok(());
    }
    let policies = list(
        state,
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        None,
    );
    let ns_labels = namespace.map_or(Value::Null, |n| n["metadata"]["labels"].clone());
    for binding in &bindings {
        let policy_name = binding["spec"]["policyName"].as_str().unwrap_or_default();
        let Some(policy) = policies
            .iter()
            .find(|p| p["metadata"]["name"] == policy_name)
        else {
            continue;
        };
        let constraints = &policy["spec"]["matchConstraints"];
        if !rule_matches(&constraints["resourceRules"], rt, op) {
            continue;
        }
        let binding_rules = &binding["spec"]["matchResources"]["resourceRules"];
        if binding_rules.as_array().is_some_and(|r| !r.is_empty())
            && !rule_matches(binding_rules, rt, op)
        {
            continue;
        }
        if rt.namespaced
            && !(selector_matches(&constraints["namespaceSelector"], &ns_labels)
                && selector_matches(
                    &binding["spec"]["matchResources"]["namespaceSelector"],
                    &ns_labels,
                ))
        {
            continue;
        }
        let binding_name = binding["metadata"]["name"].as_str().unwrap_or_default();
        let resource = if rt.group.is_empty() {
            rt.plural.clone()
        } else {
            format!("{}.{}", rt.plural, rt.group)
        };
        let deny = |code: u16, reason: &'static str, message: String| {
            ApiError::new(
                code,
                reason,
                format!(
                    "{resource} {name:?} is forbidden: ValidatingAdmissionPolicy '{policy_name}' with binding '{binding_name}' denied request: {message}"
                ),
            )
        };
        let params = match &binding["spec"]["paramRef"] {
            Value::Null => Value::Null,
            r => {
                let pns = r["namespace"].as_str().unwrap_or(ns);
                let pname = r["name"].as_str().unwrap_or_default();
                let kind = policy["spec"]["paramKind"]["kind"]
                    .as_str()
                    .unwrap_or_default();
                let candidates = if kind == "ConfigMap" {
                    list(state, "", "v1", "configmaps", Some(pns))
                } else {
                    Vec::new()
                };
                let found = candidates
                    .into_iter()
                    .find(|c| c["metadata"]["name"] == pname);
                match found {
                    Some(p) => p,
                    None if r["parameterNotFoundAction"] == "Allow" => continue,
                    None => {
                        return Err(deny(
                            403,
                            "Forbidden",
                            "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction".to_owned(),
                        ));
                    }
                }
            }
        };
        let mut context = cel::Context::default();
        context.add_variable_from_value("object", cel_value(obj));
        context.add_variable_from_value("oldObject", old.map_or(cel::Value::Null, cel_value));
        context.add_variable_from_value("params", cel_value(&params));
        context.add_variable_from_value(
            "namespaceObject",
            namespace.map_or(cel::Value::Null, cel_value),
        );
        context.add_variable_from_value(
            "request",
            cel_value(&json!({"operation": op.as_str(), "namespace": ns, "name": name})),
        );
        let fail_closed = policy["spec"]["failurePolicy"] != "Ignore";
        // `spec.variables`, in order (each may use the ones before), as `variables.<name>`.
        let mut variables: std::collections::HashMap<String, cel::Value> =
            std::collections::HashMap::new();
        for variable in policy["spec"]["variables"].as_array().into_iter().flatten() {
            let (name, expression) = (
                variable["name"].as_str().unwrap_or_default(),
                variable["expression"].as_str().unwrap_or_default().trim(),
            );
            context.add_variable_from_value("variables", variables.clone());
            let value = cel::Program::compile(expression)
                .map_err(|e| e.to_string())
                .and_then(|p| p.execute(&context).map_err(|e| e.to_string()));
            match value {
                Ok(v) => {
                    variables.insert(name.to_owned(), v);
                }
                Err(e) if fail_closed => {
                    return Err(deny(
                        422,
                        "Invalid",
                        format!("variable '{name}' resulted in error: {e}"),
                    ));
                }
                Err(_) => {}
            }
        }
        context.add_variable_from_value("variables", variables);
        for validation in policy["spec"]["validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let expression = validation["expression"].as_str().unwrap_or_default().trim();
            let (code, reason) = match validation["reason"].as_str() {
                Some("Forbidden") => (403, "Forbidden"),
                Some("Unauthorized") => (401, "Unauthorized"),
                _ => (422, "Invalid"),
            };
            let outcome = cel::Program::compile(expression)
                .map_err(|e| e.to_string())
                .and_then(|p| p.execute(&context).map_err(|e| e.to_string()));
            match outcome {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    let message = validation["messageExpression"]
                        .as_str()
                        .and_then(|m| cel::Program::compile(m.trim()).ok())
                        .and_then(|p| p.execute(&context).ok())
                        .and_then(|v| match v {
                            cel::Value::String(s) => Some(s.to_string()),
                            _ => None,
                        })
                        .or_else(|| validation["message"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("failed expression: {expression}"));
                    return Err(deny(code, reason, message));
                }
                Ok(other) if fail_closed => {
                    return Err(deny(
                        code,
                        reason,
                        format!("expression '{expression}' resulted in a non-boolean: {other:?}"),
                    ));
                }
                Err(e) if fail_closed => {
                    return Err(deny(
                        code,
                        reason,
                        format!("expression '{expression}' resulted in error: {e}"),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------ quota

/// A quantity in milli-units (`500m` → 500, `2` → 2000, `64Mi` → 64·2^20·1000).
pub fn milli(q: &Value) -> Option<u128> {
    let text = match q {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let suffixes: &[(&str, u128)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("m", 0),
    ];
    for (suffix, factor) in suffixes {
        if let Some(n) = text.strip_suffix(suffix) {
            let n: f64 = n.parse().ok()?;
            return Some(if *factor == 0 {
                n as u128
            } else {
                (n * *factor as f64 * 1000.0) as u128
            });
        }
    }
    let n: f64 = text.parse().ok()?;
    Some((n * 1000.0) as u128)
}

/// A quantity as the API server prints it: cores or millicores, whole Mi of memory, counts.
fn format_milli(resource: &str, m: u128) -> String {
    if resource.ends_with("cpu") {
        if m.is_multiple_of(1000) {
            (m / 1000).to_string()
        } else {
            format!("{m}m")
        }
    } else if resource.ends_with("memory") && m != 0 && m.is_multiple_of(1000 << 20) {
        format!("{}Mi", m / (1000 << 20))
    } else {
        (m / 1000).to_string()
    }
}

/// What one object consumes of the quota's resources.
fn usage(kind: &str, obj: &Value) -> Vec<(String, u128)> {
    match kind {
        "pods" => {
            let mut u = vec![("pods".to_owned(), 1000)];
            for (res, field, key) in [
                ("requests.cpu", "requests", "cpu"),
                ("requests.memory", "requests", "memory"),
                ("limits.cpu", "limits", "cpu"),
                ("limits.memory", "limits", "memory"),
            ] {
                let sum: u128 = obj["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| milli(&c["resources"][field][key]))
                    .sum();
                u.push((res.to_owned(), sum));
            }
            u
        }
        "services" => vec![("services".to_owned(), 1000)],
        "persistentvolumeclaims" => vec![("persistentvolumeclaims".to_owned(), 1000)],
        _ => Vec::new(),
    }
}

/// The namespace's current usage of each resource a quota names.
pub fn used(state: &State, ns: &str) -> Vec<(String, u128)> {
    let mut total: Vec<(String, u128)> = Vec::new();
    for kind in ["pods", "services", "persistentvolumeclaims"] {
        for o in list(state, "", "v1", kind, Some(ns)) {
            if kind == "pods"
                && matches!(o["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
            {
                continue;
            }
            for (res, n) in usage(kind, &o) {
                match total.iter_mut().find(|(r, _)| *r == res) {
                    Some((_, t)) => *t += n,
                    None => total.push((res, n)),
                }
            }
        }
    }
    total
}

fn quota(
    state: &State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    if !rt.group.is_empty() {
        return Ok(());
    }
    let requested = usage(&rt.plural, obj);
    if requested.is_empty() {
        return Ok(());
    }
    let current = used(state, ns);
    for q in list(state, "", "v1", "resourcequotas", Some(ns)) {
        let qname = q["metadata"]["name"].as_str().unwrap_or_default();
        let hard = q["spec"]["hard"].as_object().cloned().unwrap_or_default();
        let forbidden = |message: String| {
            ApiError::new(
                403,
                "Forbidden",
                format!("{} {name:?} is forbidden: {message}", rt.plural),
            )
        };
        if rt.plural == "pods" {
            let mut missing = Vec::new();
            for (res, field, key) in [
                ("limits.cpu", "limits", "cpu"),
                ("limits.memory", "limits", "memory"),
                ("requests.cpu", "requests", "cpu"),
                ("requests.memory", "requests", "memory"),
            ] {
                if !hard.contains_key(res) {
                    continue;
                }
                let without: Vec<String> = obj["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["resources"][field][key].is_null())
                    .map(name_of)
                    .collect();
                if !without.is_empty() {
                    missing.push(format!("{res} for: {}", without.join(",")));
                }
            }
            if !missing.is_empty() {
                return Err(forbidden(format!(
                    "failed quota: {qname}: must specify {}",
                    missing.join("; ")
                )));
            }
        }
        let mut exceeded = Vec::new();
        for (res, want) in &requested {
            let Some(limit) = hard.get(res).and_then(milli) else {
                continue;
            };
            let have = current
                .iter()
                .find(|(r, _)| r == res)
                .map_or(0, |(_, n)| *n);
            if have + want > limit {
                exceeded.push((res.clone(), *want, have, limit));
            }
        }
        if !exceeded.is_empty() {
            exceeded.sort();
            // requested, used, limited: one `resource=quantity` list each.
            let part = |column: usize| {
                exceeded
                    .iter()
                    .map(|(res, want, have, limit)| {
                        let n = [*want, *have, *limit][column];
                        format!("{res}={}", format_milli(res, n))
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(forbidden(format!(
                "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                part(0),
                part(1),
                part(2)
            )));
        }
    }
    Ok(())
}

/// The quota controller's status: `hard` as given, `used` as counted.
pub fn quota_status(state: &State, quota: &Value) -> Value {
    let ns = quota["metadata"]["namespace"].as_str().unwrap_or_default();
    let current = used(state, ns);
    let hard = quota["spec"]["hard"].clone();
    let used: serde_json::Map<String, Value> = hard
        .as_object()
        .into_iter()
        .flatten()
        .map(|(res, _)| {
            let n = current
                .iter()
                .find(|(r, _)| r == res)
                .map_or(0, |(_, n)| *n);
            (res.clone(), json!(format_milli(res, n)))
        })
        .collect();
    json!({"hard": hard, "used": used})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_pod_breaks_restricted_in_psa_order_with_its_wording() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "x"}]}});
        let v = pod_security_violations("restricted", &pod);
        let reasons: Vec<&str> = v.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "allowPrivilegeEscalation != false",
                "unrestricted capabilities",
                "runAsNonRoot != true",
                "seccompProfile"
            ]
        );
        assert_eq!(
            v[1].1,
            "container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]"
        );
        let hostile = json!({"spec": {"hostNetwork": true, "volumes": [{"name": "data", "hostPath": {"path": "/etc/kubernetes"}}],
            "containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
        let reasons: Vec<String> = pod_security_violations("restricted", &hostile)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(
            reasons[..3],
            [
                "host namespaces".to_owned(),
                "privileged".to_owned(),
                "allowPrivilegeEscalation != false".to_owned()
            ]
        );
        assert!(reasons.contains(&"restricted volume types".to_owned()));
        let compliant = json!({"spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}});
        assert!(pod_security_violations("restricted", &compliant).is_empty());
    }

    #[test]
    fn quantities_compare_in_milli_units() {
        assert_eq!(milli(&json!("500m")), Some(500));
        assert_eq!(milli(&json!("2")), Some(2000));
        assert_eq!(milli(&json!(20)), Some(20_000));
        assert_eq!(milli(&json!("64Mi")), Some(64 * 1024 * 1024 * 1000));
        assert_eq!(format_milli("requests.cpu", 1500), "1500m");
        assert_eq!(format_milli("pods", 2000), "2");
    }

    #[test]
    fn cel_reads_json_with_the_macros_policies_use() {
        let mut context = cel::Context::default();
        context.add_variable_from_value("object", cel_value(&json!({"spec": {"rules": [{"host": "a.local"}], "nodeSelector": {"slipway.dev/pool": "workloads"}}})));
        context.add_variable_from_value(
            "params",
            cel_value(&json!({"data": {"allowedHost": "^[a-z0-9-]+\\.local$"}})),
        );
        for (expr, want) in [
            (
                "object.spec.rules.all(r, has(r.host) && r.host.matches(params.data.allowedHost))",
                true,
            ),
            (
                "'slipway.dev/pool' in object.spec.nodeSelector && object.spec.nodeSelector['slipway.dev/pool'] == 'workloads'",
                true,
            ),
            ("has(object.spec.defaultBackend)", false),
        ] {
            let got = cel::Program::compile(expr)
                .expect(expr)
                .execute(&context)
                .expect(expr);
            assert_eq!(got, cel::Value::Bool(want), "{expr}");
        }
    }
}
