//! The simulated API server's state: objects, resource versions, the event log watches replay
//! from, and the write counter tests use to prove a run changed nothing.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};

use super::registry::{Registry, ResourceType};

/// Events kept for watches that resume from an older resourceVersion.
const EVENT_LOG: usize = 50_000;

#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub kind: &'static str,
    pub object: Value,
}

/// An API error, rendered as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        let what = if t.group.is_empty() {
            t.plural.clone()
        } else {
            format!("{}.{}", t.plural, t.group)
        };
        Self::new(404, "NotFound", format!("{what} \"{name}\" not found"))
    }
    pub fn status(&self) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": self.message, "reason": self.reason, "code": self.code})
    }
}

pub type ObjectKey = (String, String); // (namespace or "", name)

#[derive(Default)]
pub struct State {
    pub registry: Registry,
    /// (group, plural) → objects
    pub objects: BTreeMap<(String, String), BTreeMap<ObjectKey, Value>>,
    pub rv: u64,
    pub events: VecDeque<WatchEvent>,
    /// Writes made by clients (controllers' writes are not counted).
    pub client_writes: u64,
    /// Server-side apply: each field manager's last applied configuration per object
    /// ((group, plural, namespace, name, manager) → configuration), for the removal rule.
    pub applied: BTreeMap<(String, String, String, String, String), Value>,
    uid_counter: u64,
}

fn deep_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    deep_merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Server-side apply, simplified: fields this manager applied last time and leaves out now are
/// removed unless another applier still sets them (structured-merge-diff's rule: "fields that
/// were previously applied by the manager but are not in the new configuration are removed",
/// kubernetes.io/docs/reference/using-api/server-side-apply/#field-management), then the applied
/// configuration is merged into the live object (maps merge, lists are replaced as atomic).
fn apply_merge(
    live: &Value,
    previous: Option<&Value>,
    applied: &Value,
    others: &[&Value],
) -> Value {
    let mut out = live.clone();
    if let Some(previous) = previous {
        remove_dropped(&mut out, previous, applied, others);
    }
    deep_merge(&mut out, applied);
    out
}

fn remove_dropped(live: &mut Value, previous: &Value, applied: &Value, others: &[&Value]) {
    let (Value::Object(live), Value::Object(previous)) = (live, previous) else {
        return;
    };
    for (key, was) in previous {
        let others_here: Vec<&Value> = others.iter().filter_map(|o| o.get(key)).collect();
        match applied.get(key) {
            None if others_here.is_empty() => {
                live.remove(key);
            }
            Some(now) if was.is_object() && now.is_object() => {
                if let Some(l) = live.get_mut(key) {
                    remove_dropped(l, was, now, &others_here);
                }
            }
            _ => {}
        }
    }
}

/// Strategic merge patch for the common cases: maps merge, lists of maps keyed by `name`
/// (containers, env, ports, volumes) merge by key, other lists are replaced.
pub fn strategic_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if k.starts_with("$setElementOrder") {
                    continue;
                }
                if v.is_null() {
                    b.remove(k);
                } else {
                    strategic_merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (Value::Array(b), Value::Array(p))
            if p.iter().all(|e| e.get("name").is_some())
                && b.iter().all(|e| e.get("name").is_some()) =>
        {
            for item in p {
                match b.iter_mut().find(|e| e["name"] == item["name"]) {
                    Some(existing) if item.get("$patch") == Some(&json!("delete")) => {
                        *existing = Value::Null
                    }
                    Some(existing) => strategic_merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
            b.retain(|e| !e.is_null());
        }
        (b, p) => *b = p.clone(),
    }
}

/// Everything but metadata and status: a change here bumps `metadata.generation`.
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

impl State {
    /// Server-side apply of `applied` by `manager` onto `live` (none: a create), remembering the
    /// configuration for the manager's next apply unless this is a dry run.
    #[allow(clippy::too_many_arguments, reason = "the apply request's parts")]
    pub fn server_side_apply(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        manager: &str,
        applied: Value,
        live: Option<&Value>,
        dry_run: bool,
    ) -> Value {
        let key = |m: &str| {
            (
                t.group.clone(),
                t.plural.clone(),
                ns.to_owned(),
                name.to_owned(),
                m.to_owned(),
            )
        };
        let merged = match live {
            Some(live) => {
                let previous = self.applied.get(&key(manager));
                let others: Vec<&Value> = self
                    .applied
                    .iter()
                    .filter(|(k, _)| {
                        k.0 == t.group
                            && k.1 == t.plural
                            && k.2 == ns
                            && k.3 == name
                            && k.4 != manager
                    })
                    .map(|(_, v)| v)
                    .collect();
                apply_merge(live, previous, &applied, &others)
            }
            None => applied.clone(),
        };
        if !dry_run {
            self.applied.insert(key(manager), applied);
        }
        merged
    }

    /// Everything needed to restart with the same objects and resource versions.
    pub fn snapshot(&self) -> Value {
        let objects: Vec<Value> = self
            .objects
            .iter()
            .flat_map(|((group, plural), m)| m.iter().map(move |((ns, name), o)| json!({"group": group, "plural": plural, "namespace": ns, "name": name, "object": o})))
            .collect();
        json!({"rv": self.rv, "uidCounter": self.uid_counter, "objects": objects})
    }

    /// Load a [`snapshot`](Self::snapshot); CRDs in it are served again.
    pub fn restore(&mut self, snapshot: &Value) {
        self.rv = snapshot["rv"].as_u64().unwrap_or(0);
        self.uid_counter = snapshot["uidCounter"].as_u64().unwrap_or(0);
        for entry in snapshot["objects"].as_array().into_iter().flatten() {
            let s = |k: &str| entry[k].as_str().unwrap_or_default().to_owned();
            let object = entry["object"].clone();
            if s("plural") == "customresourcedefinitions" {
                self.registry.add_crd(&object);
            }
            self.objects
                .entry((s("group"), s("plural")))
                .or_default()
                .insert((s("namespace"), s("name")), object);
        }
    }

    pub fn resource(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Result<ResourceType, ApiError> {
        self.registry
            .by_plural(group, version, plural)
            .cloned()
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({group}/{version} {plural})")))
    }

    /// Whether `ns` exists and is not being deleted.
    fn namespace_open(&self, ns: &str) -> bool {
        self.objects
            .get(&(String::new(), "namespaces".to_owned()))
            .and_then(|m| m.get(&(String::new(), ns.to_owned())))
            .is_some_and(|n| n["metadata"]["deletionTimestamp"].is_null())
    }

    fn table(&mut self, t: &ResourceType) -> &mut BTreeMap<ObjectKey, Value> {
        self.objects
            .entry((t.group.clone(), t.plural.clone()))
            .or_default()
    }

    pub fn get(&self, t: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&(t.group.clone(), t.plural.clone()))
            .and_then(|m| m.get(&(ns.to_owned(), name.to_owned())))
            .map(|o| with_type(o, t))
            .ok_or_else(|| ApiError::not_found(t, name))
    }

    pub fn list(&self, t: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .get(&(t.group.clone(), t.plural.clone()))
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                    .map(|(_, o)| with_type(o, t))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Store `new` (or delete when `None`), stamping metadata and recording the event.
    /// Returns the stored object; an unchanged object is not rewritten (no new resourceVersion).
    pub fn commit(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        new: Option<Value>,
        client: bool,
    ) -> Option<Value> {
        if new.is_none() {
            // A deleted object's next incarnation starts with no applied fields.
            self.applied
                .retain(|k, _| !(k.0 == t.group && k.1 == t.plural && k.2 == ns && k.3 == name));
        }
        let key = (ns.to_owned(), name.to_owned());
        let old = self.table(t).get(&key).cloned();
        // The API server's NamespaceLifecycle admission: nothing new in a namespace that is gone
        // or being deleted, whoever writes (a simulated controller that listed objects before a
        // namespace's deletion must not bring its contents back, as cert-manager cannot).
        if old.is_none() && new.is_some() && t.namespaced && !self.namespace_open(ns) {
            return None;
        }
        let (kind, stored) = match (old, new) {
            (None, None) => return None,
            (Some(old), None) => {
                self.table(t).remove(&key);
                ("DELETED", old)
            }
            (old, Some(mut obj)) => {
                let meta = obj["metadata"]
                    .as_object_mut()
                    .map(std::mem::take)
                    .unwrap_or_default();
                let mut meta: Map<String, Value> = meta;
                meta.insert("name".into(), json!(name));
                if t.namespaced {
                    meta.insert("namespace".into(), json!(ns));
                }
                match &old {
                    Some(o) => {
                        for k in ["uid", "creationTimestamp"] {
                            meta.insert(k.into(), o["metadata"][k].clone());
                        }
                        let generation = o["metadata"]["generation"].as_u64().unwrap_or(1);
                        let bumped = if spec_part(o) == spec_part(&obj) {
                            generation
                        } else {
                            generation + 1
                        };
                        meta.insert("generation".into(), json!(bumped));
                        meta.insert(
                            "resourceVersion".into(),
                            o["metadata"]["resourceVersion"].clone(),
                        );
                        obj["metadata"] = Value::Object(meta);
                        if strip(&obj) == strip(o) {
                            return Some(with_type(o, t));
                        }
                    }
                    None => {
                        self.uid_counter += 1;
                        meta.insert(
                            "uid".into(),
                            json!(format!("5151ca7e-0000-4000-8000-{:012x}", self.uid_counter)),
                        );
                        meta.insert(
                            "creationTimestamp".into(),
                            json!(
                                jiff::Timestamp::now()
                                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                                    .to_string()
                            ),
                        );
                        meta.insert("generation".into(), json!(1));
                        obj["metadata"] = Value::Object(meta);
                    }
                }
                let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
                // The API server stamps each change's time on the writer's managedFields entry
                // ("The timestamp will also be updated if ... the manager changes any of the owned
                // fields": ManagedFieldsEntry, kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/).
                // The simulator keeps one entry for all writers: the time of the last change.
                obj["metadata"]["managedFields"] = json!([{
                    "manager": "kube-sim", "operation": "Update", "apiVersion": t.api_version(),
                    "fieldsType": "FieldsV1", "fieldsV1": {},
                    "time": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                }]);
                self.rv += 1;
                obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
                obj["apiVersion"] = json!(t.api_version());
                obj["kind"] = json!(t.kind);
                self.table(t).insert(key, obj.clone());
                (kind, obj)
            }
        };
        if kind == "DELETED" {
            self.rv += 1;
        }
        if client {
            self.client_writes += 1;
        }
        if t.kind == "CustomResourceDefinition" {
            if kind == "DELETED" {
                let spec = &stored["spec"];
                self.registry.remove_crd(
                    spec["group"].as_str().unwrap_or_default(),
                    spec["names"]["plural"].as_str().unwrap_or_default(),
                );
            } else {
                self.registry.add_crd(&stored);
            }
        }
        let mut object = with_type(&stored, t);
        if kind == "DELETED" {
            object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        }
        self.events.push_back(WatchEvent {
            rv: self.rv,
            group: t.group.clone(),
            plural: t.plural.clone(),
            namespace: ns.to_owned(),
            kind,
            object: object.clone(),
        });
        if self.events.len() > EVENT_LOG {
            self.events.pop_front();
        }
        Some(object)
    }

    /// Delete an object and, as the garbage collector would, everything it owns; deleting a
    /// namespace deletes everything in it.
    pub fn delete(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        client: bool,
    ) -> Result<Value, ApiError> {
        let obj = self.get(t, ns, name)?;
        let uid = obj["metadata"]["uid"].clone();
        let deleted = self
            .commit(t, ns, name, None, client)
            .unwrap_or(obj.clone());
        let types = self.registry.types.clone();
        let mut doomed = Vec::new();
        // The simulated Argo CD's resources finalizer, done at once: an Application deleted with
        // it takes what it deployed along.
        let finalized = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == super::argocd::RESOURCES_FINALIZER));
        if t.group == "argoproj.io" && t.kind == "Application" && finalized {
            for r in obj["status"]["resources"].as_array().into_iter().flatten() {
                let found = types.iter().find(|rt| {
                    rt.group == r["group"].as_str().unwrap_or_default()
                        && rt.kind == r["kind"].as_str().unwrap_or_default()
                });
                if let Some(rt) = found {
                    doomed.push((
                        rt.clone(),
                        r["namespace"].as_str().unwrap_or_default().to_owned(),
                        r["name"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
        for rt in &types {
            for o in self.list(rt, None) {
                let owned = o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid));
                let in_namespace =
                    t.kind == "Namespace" && rt.namespaced && o["metadata"]["namespace"] == name;
                if owned || in_namespace {
                    doomed.push((
                        rt.clone(),
                        o["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        o["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    ));
                }
            }
        }
        for (rt, ons, oname) in doomed {
            let _ = self.delete(&rt, &ons, &oname, false);
        }
        Ok(deleted)
    }
}

/// The object without server-managed metadata, for "did anything change" comparisons.
fn strip(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        for k in ["resourceVersion", "managedFields"] {
            m.remove(k);
        }
    }
    o
}

fn with_type(obj: &Value, t: &ResourceType) -> Value {
    let mut o = obj.clone();
    o["apiVersion"] = json!(t.api_version());
    o["kind"] = json!(t.kind);
    o
}

/// Label selector matching: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
pub fn labels_match(selector: &str, labels: &Value) -> bool {
    split_requirements(selector).iter().all(|req| {
        let req = req.trim();
        if req.is_empty() {
            return true;
        }
        let get = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
        if let Some((k, set)) = req.split_once(" notin ") {
            let set = parse_set(set);
            return get(k).is_none_or(|v| !set.contains(&v.to_owned()));
        }
        if let Some((k, set)) = req.split_once(" in ") {
            return get(k).is_some_and(|v| parse_set(set).contains(&v.to_owned()));
        }
        if let Some((k, v)) = req.split_once("!=") {
            return get(k) != Some(v.trim());
        }
        if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            return get(k) == Some(v.trim());
        }
        if let Some(k) = req.strip_prefix('!') {
            return get(k).is_none();
        }
        get(req).is_some()
    })
}

fn parse_set(set: &str) -> Vec<String> {
    set.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Split on commas that are not inside `( … )`.
fn split_requirements(selector: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// Field selector matching on dotted paths: `metadata.name=x`, `status.phase!=Running`.
pub fn fields_match(selector: &str, obj: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        let (path, want, equal) = match req.split_once("!=") {
            Some((p, v)) => (p, v, false),
            None => match req.split_once("==").or_else(|| req.split_once('=')) {
                Some((p, v)) => (p, v, true),
                None => return true,
            },
        };
        let pointer = format!("/{}", path.trim().replace('.', "/"));
        let have = obj
            .pointer(&pointer)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        (have == want.trim()) == equal
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let labels = json!({"app": "web", "tier": "front", "owner": "helm"});
        assert!(labels_match("app=web,tier in (front, back)", &labels));
        assert!(labels_match("owner==helm,!missing,app", &labels));
        assert!(!labels_match("app!=web", &labels));
        assert!(!labels_match("tier notin (front)", &labels));
        let obj = json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}});
        assert!(fields_match("metadata.name=a,status.phase!=Pending", &obj));
        assert!(!fields_match("metadata.name=b", &obj));
    }

    #[test]
    fn strategic_merge_merges_named_lists() {
        let mut base = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        strategic_merge(
            &mut base,
            &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}}),
        );
        assert_eq!(
            base["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
    }
}
