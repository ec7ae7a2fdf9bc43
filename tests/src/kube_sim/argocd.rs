//! The SIMULATED Argo CD: the ApplicationSet controller and the application controller, as far
//! as Slipway relies on them. Each rule is written from argoproj/argo-cd (v3.x):
//! - Generators (`applicationset/generators`): list, Git files, and the GitHub SCM provider
//!   (`scm_provider.go`: parameters organization, repository, url, branch, sha, short_sha,
//!   short_sha_7, labels = the topics joined by `,`, branchNormalized; `services/scm_provider/
//!   utils.go`: a filter matches when all of its conditions do, `labelMatch` when any topic matches
//!   the regex, `pathsExist` when every path exists; filters are alternatives). Templates are
//!   rendered by [`super::template`].
//! - Generated Applications whose project does not exist are not created
//!   (`applicationset_controller.go` validateGeneratedApplications: "application references
//!   project X which does not exist", reported in the set's ErrorOccurred condition).
//! - AppProjects (`app_project_types.go` IsGroupKindNamePermitted, `controller/sync.go`
//!   validateSyncPermissions, `util/argo/argo.go`): source repositories and destinations by glob;
//!   namespaced kinds allowed unless a whitelist is set and misses them (or the blacklist has
//!   them); cluster-scoped kinds only when the cluster whitelist has them. One refused resource
//!   fails the whole operation before anything is applied ("one or more synchronization tasks are
//!   not valid: …", `gitops-engine/pkg/sync/sync_context.go`), reported as condition SyncError
//!   "Failed last sync attempt to <rev>: …" (`controller/appcontroller.go`). The `default` project,
//!   when nobody wrote one, is Argo CD's permissive default.
//! - Sync applies through the API server, so admission (Pod Security, policies, quota) refuses
//!   objects as it would for Argo CD: "one or more objects failed to apply, reason: …".
//! - Health (`gitops-engine/pkg/health`): workloads Progressing until their replicas are
//!   available, Degraded past their progress deadline; an Ingress (`health_ingress.go`) and a
//!   `LoadBalancer` Service (`health_service.go`) Healthy only once `status.loadBalancer.ingress`
//!   has an entry, Progressing before; the Application takes the worst.
//! - Deleting an Application with `resources-finalizer.argocd.argoproj.io` deletes what it deployed
//!   (done in [`super::store::State::delete`], at once).
//!
//! Not simulated: Helm charts from remote repositories (no registry is reachable: reported Synced
//! with no resources). Helm and Kustomize paths in Git are rendered with the real `helm` and
//! `kubectl kustomize` when the test gave kube-sim them ([`super::KubeSim::set_helm`],
//! [`super::KubeSim::set_kubectl`]), otherwise only checked to exist.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use serde_json::{Value, json};

use super::Shared;
use super::admission::{self, Op};
use super::controllers::{Faults, condition, set_status, types};
use super::git::{self, GitSource, Rendered};
use super::registry::ResourceType;

/// Argo CD's finalizer that makes deleting an Application delete what it deployed.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// What asks the ApplicationSet controller to run a set's generators now
/// (`common.AnnotationApplicationSetRefresh`; the controller removes it once done).
const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";

/// The revision every simulated sync reports.
const REVISION: &str = "kube-sim";

pub(super) fn reconcile(shared: &Shared, faults: &Faults) {
    let enabled = |kind: &str| !faults.disabled.contains(kind);
    let Some(apps) = types(shared, "argoproj.io", "applications") else {
        return;
    };
    let git = shared.git.lock().ok().and_then(|g| g.clone());
    if enabled("Traefik") {
        super::ingress::publish_status(shared, git.as_deref());
    }
    if let Some(sets) = types(shared, "argoproj.io", "applicationsets")
        && enabled("ApplicationSet")
    {
        let all = shared.state().list(&sets, None);
        for set in all {
            generate_applications(shared, git.as_deref(), &sets, &apps, &set);
        }
    }
    if enabled("Application") {
        let all = shared.state().list(&apps, None);
        for app in all {
            reconcile_application(shared, git.as_deref(), faults, &apps, &app);
        }
    }
}

// ------------------------------------------------------------------------------ ApplicationSets

/// One ApplicationSet: its generators' parameter sets rendered into Applications, owned by the
/// set; Applications for removed parameter sets deleted (not when a generator failed, as Argo
/// CD keeps them then).
fn generate_applications(
    shared: &Shared,
    git: Option<&dyn GitSource>,
    sets: &ResourceType,
    apps: &ResourceType,
    set: &Value,
) {
    let ns = set["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let uid = set["metadata"]["uid"].clone();
    let mut wanted = Vec::new();
    let mut errors = Vec::new();
    let mut generator_failed = false;
    for generator in set["spec"]["generators"].as_array().into_iter().flatten() {
        match parameters(shared, git, &ns, generator) {
            Ok(params) => {
                for p in params {
                    match super::template::render(&set["spec"]["template"], &p) {
                        Ok(app) => wanted.push(app),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => {
                generator_failed = true;
                errors.push(e);
            }
        }
    }
    let names: Vec<String> = wanted
        .iter()
        .filter_map(|a| a["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    for mut app in wanted {
        let Some(name) = app["metadata"]["name"].as_str().map(str::to_owned) else {
            continue;
        };
        let project = app["spec"]["project"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if project_of(shared, &project).is_none() {
            errors.push(format!(
                "application references project {project} which does not exist"
            ));
            continue;
        }
        app["metadata"]["namespace"] = json!(ns);
        app["metadata"]["ownerReferences"] = json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": set["metadata"]["name"], "uid": uid, "controller": true}]);
        let existing = shared.state().get(apps, &ns, &name).ok();
        let unchanged = existing.as_ref().is_some_and(|e| {
            e["spec"] == app["spec"]
                && e["metadata"]["labels"] == app["metadata"]["labels"]
                && e["metadata"]["finalizers"] == app["metadata"]["finalizers"]
        });
        if !unchanged {
            if let Some(e) = &existing {
                app["status"] = e["status"].clone();
            }
            shared.state().commit(apps, &ns, &name, Some(app), false);
        }
    }
    if !generator_failed {
        let owned: Vec<String> = shared
            .state()
            .list(apps, Some(&ns))
            .into_iter()
            .filter(|a| {
                a["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
            })
            .filter_map(|a| a["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        for stale in owned.iter().filter(|n| !names.contains(n)) {
            let _ = shared.state().delete(apps, &ns, stale, false);
        }
    }
    // A refresh request is answered by this pass: the controller removes its annotation.
    if set["metadata"]["annotations"][REFRESH_ANNOTATION].is_string() {
        let mut state = shared.state();
        let name = set["metadata"]["name"].as_str().unwrap_or_default();
        if let Ok(mut live) = state.get(sets, &ns, name)
            && let Some(a) = live["metadata"]["annotations"].as_object_mut()
        {
            a.remove(REFRESH_ANNOTATION);
            state.commit(sets, &ns, name, Some(live), false);
        }
    }
    let condition = if errors.is_empty() {
        condition("ResourcesUpToDate", true, "ApplicationSetUpToDate")
    } else {
        json!({"type": "ErrorOccurred", "status": "True", "reason": "ApplicationGenerationFromParamsError", "message": errors.join("; ")})
    };
    set_status(shared, sets, set, json!({"conditions": [condition]}));
}

/// One generator's parameter sets.
fn parameters(
    shared: &Shared,
    git: Option<&dyn GitSource>,
    ns: &str,
    generator: &Value,
) -> Result<Vec<Value>, String> {
    let need_git =
        |what: &Value| git.ok_or_else(|| format!("kube-sim has no Git source to read {}", what));
    if let Some(list) = generator.get("list") {
        return Ok(list["elements"].as_array().cloned().unwrap_or_default());
    }
    if let Some(g) = generator.get("git").filter(|g| g.get("files").is_some()) {
        return git::files_generator(need_git(&g["repoURL"])?, g);
    }
    if let Some(scm) = generator.get("scmProvider") {
        let github = &scm["github"];
        if github.is_null() {
            return Err("kube-sim simulates the GitHub SCM provider only".into());
        }
        let secret = github["tokenRef"]["secretName"]
            .as_str()
            .unwrap_or_default();
        if !secret.is_empty() {
            let t = types(shared, "", "secrets").ok_or("no secrets")?;
            shared.state().get(&t, ns, secret).map_err(|_| {
                format!("error fetching Secret token: secrets \"{secret}\" not found")
            })?;
        }
        let org = github["organization"].as_str().unwrap_or_default();
        let source = need_git(&github["organization"])?;
        let repos = source
            .organization_repositories(org)
            .ok_or_else(|| format!("error listing repositories for {org}: 404 Not Found"))?;
        return scm_parameters(source, scm, repos);
    }
    Err(format!(
        "kube-sim simulates the list, Git files and GitHub SCM provider generators, not {:?}",
        generator
            .as_object()
            .map(|g| g.keys().collect::<Vec<_>>())
            .unwrap_or_default()
    ))
}

/// The SCM provider's filters and parameters over an organisation's repositories.
fn scm_parameters(
    source: &dyn GitSource,
    scm: &Value,
    repos: Vec<git::ScmRepository>,
) -> Result<Vec<Value>, String> {
    let mut filters = Vec::new();
    for f in scm["filters"].as_array().into_iter().flatten() {
        let regex = |key: &str| {
            f[key]
                .as_str()
                .map(|r| {
                    regex::Regex::new(r)
                        .map_err(|e| format!("error compiling {key} regexp {r:?}: {e}"))
                })
                .transpose()
        };
        let paths: Vec<String> = f["pathsExist"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(|p| p.trim_matches('/').to_owned()))
            .collect();
        filters.push((regex("repositoryMatch")?, regex("labelMatch")?, paths));
    }
    let mut params = Vec::new();
    for repo in repos {
        let files = source.files(&repo.url, &repo.branch).unwrap_or_default();
        let matches = filters.is_empty()
            || filters.iter().any(|(name, label, paths)| {
                name.as_ref().is_none_or(|r| r.is_match(&repo.repository))
                    && label
                        .as_ref()
                        .is_none_or(|r| repo.labels.iter().any(|l| r.is_match(l)))
                    && paths.iter().all(|p| {
                        files
                            .keys()
                            .any(|f| f == p || f.starts_with(&format!("{p}/")))
                    })
            });
        if !matches {
            continue;
        }
        params.push(json!({
            "organization": repo.organization, "repository": repo.repository, "url": repo.url,
            "branch": repo.branch, "sha": repo.sha, "short_sha": &repo.sha[..repo.sha.len().min(8)],
            "short_sha_7": &repo.sha[..repo.sha.len().min(7)], "labels": repo.labels.join(","),
            "branchNormalized": repo.branch.to_lowercase().replace(['/', '_', '.'], "-"),
        }));
    }
    Ok(params)
}

// ------------------------------------------------------------------------------ projects

/// Where Argo CD runs and keeps its AppProjects.
const ARGO_NAMESPACE: &str = "argocd";

/// The AppProject `name`; `default` is Argo CD's permissive default when nobody wrote it.
fn project_of(shared: &Shared, name: &str) -> Option<Value> {
    let name = if name.is_empty() { "default" } else { name };
    let stored = types(shared, "argoproj.io", "appprojects")
        .and_then(|t| shared.state().get(&t, ARGO_NAMESPACE, name).ok());
    match stored {
        Some(p) => Some(p),
        None if name == "default" => Some(json!({"metadata": {"name": "default"}, "spec": {
            "sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}})),
        None => None,
    }
}

/// Argo CD's glob match with `!` negation: any allow matches, no deny matches.
fn permitted(patterns: &[&str], value: &str) -> bool {
    let matches = |p: &str| glob::Pattern::new(p).is_ok_and(|p| p.matches(value));
    let allowed = patterns.iter().any(|p| !p.starts_with('!') && matches(p));
    let denied = patterns
        .iter()
        .any(|p| p.strip_prefix('!').is_some_and(matches));
    allowed && !denied
}

fn destination_permitted(project: &Value, server: &str, ns: &str) -> bool {
    project["spec"]["destinations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| {
            let server_ok = d["server"].as_str().is_none_or(|s| permitted(&[s], server));
            server_ok && permitted(&[d["namespace"].as_str().unwrap_or_default()], ns)
        })
}

fn in_list(list: &Value, group: &str, kind: &str, name: &str) -> bool {
    list.as_array().into_iter().flatten().any(|r| {
        permitted(&[r["group"].as_str().unwrap_or_default()], group)
            && permitted(&[r["kind"].as_str().unwrap_or_default()], kind)
            && r["name"]
                .as_str()
                .is_none_or(|n| n.is_empty() || permitted(&[n], name))
    })
}

/// `IsGroupKindNamePermitted`: nil namespace whitelist allows all, an empty one none; cluster
/// kinds need the cluster whitelist; blacklists win.
fn kind_permitted(project: &Value, group: &str, kind: &str, name: &str, namespaced: bool) -> bool {
    let spec = &project["spec"];
    let nonempty = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
    if namespaced {
        let white = &spec["namespaceResourceWhitelist"];
        let whitelisted = white.is_null() || (nonempty(white) && in_list(white, group, kind, name));
        let black = &spec["namespaceResourceBlacklist"];
        whitelisted && !(nonempty(black) && in_list(black, group, kind, name))
    } else {
        let white = &spec["clusterResourceWhitelist"];
        let black = &spec["clusterResourceBlacklist"];
        nonempty(white)
            && in_list(white, group, kind, name)
            && !(nonempty(black) && in_list(black, group, kind, name))
    }
}

// ------------------------------------------------------------------------------ Applications

enum Outcome {
    /// Every resource applied; their entries.
    Synced(Vec<Value>),
    /// The spec itself is refused (project, repository, destination).
    InvalidSpec(String),
    /// The repo-server could not render the sources.
    Comparison(String),
    /// The sync failed (permissions, admission); the resources that did apply.
    SyncFailed(String, Vec<Value>),
}

fn reconcile_application(
    shared: &Shared,
    git: Option<&dyn GitSource>,
    faults: &Faults,
    apps: &ResourceType,
    app: &Value,
) {
    let name = app["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let outcome = sync(shared, git, app);
    let mut status = app["status"].clone();
    if !status.is_object() {
        status = json!({});
    }
    let (sync_status, mut health, phase, message, conditions, resources) = match outcome {
        Outcome::Synced(resources) => {
            let health = health_of(shared, &resources);
            (
                "Synced",
                health,
                "Succeeded",
                "successfully synced (all tasks run)".to_owned(),
                json!([]),
                resources,
            )
        }
        Outcome::InvalidSpec(m) => (
            "Unknown",
            "Unknown",
            "Failed",
            m.clone(),
            json!([{"type": "InvalidSpecError", "message": m}]),
            Vec::new(),
        ),
        Outcome::Comparison(m) => (
            "Unknown",
            "Unknown",
            "Running",
            m.clone(),
            json!([{"type": "ComparisonError", "message": m}]),
            Vec::new(),
        ),
        Outcome::SyncFailed(m, resources) => (
            "OutOfSync",
            "Missing",
            "Failed",
            m.clone(),
            json!([{"type": "SyncError", "message": format!("Failed last sync attempt to {REVISION}: {m}")}]),
            resources,
        ),
    };
    let sync_status = if Faults::hit(&faults.never_synced, &name) && sync_status == "Synced" {
        health = "Progressing";
        "OutOfSync"
    } else {
        sync_status
    };
    if Faults::hit(&faults.degraded, &name) {
        health = "Degraded";
    }
    let phase = if sync_status == "OutOfSync" && phase == "Succeeded" {
        "Running"
    } else {
        phase
    };
    status["sync"] = json!({"status": sync_status, "revision": REVISION});
    status["health"] = json!({"status": health});
    status["operationState"] = json!({"phase": phase, "message": message});
    status["resources"] = json!(resources);
    status["conditions"] = conditions;
    set_status(shared, apps, app, status);
}

/// Project checks, rendering, permission checks, then the apply.
fn sync(shared: &Shared, git: Option<&dyn GitSource>, app: &Value) -> Outcome {
    let spec = &app["spec"];
    let project_name = spec["project"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or("default");
    let Some(project) = project_of(shared, project_name) else {
        return Outcome::InvalidSpec(format!(
            "Application referencing project {project_name} which does not exist"
        ));
    };
    let sources = sources_of(spec);
    let repos: Vec<&str> = project["spec"]["sourceRepos"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for source in &sources {
        let url = source["repoURL"].as_str().unwrap_or_default();
        if !permitted(&repos, url) {
            return Outcome::InvalidSpec(format!(
                "application repo {url} is not permitted in project '{project_name}'"
            ));
        }
    }
    let server = spec["destination"]["server"].as_str().unwrap_or_default();
    let dest_ns = spec["destination"]["namespace"]
        .as_str()
        .unwrap_or_default();
    if !destination_permitted(&project, server, dest_ns) {
        return Outcome::InvalidSpec(format!(
            "application destination server '{server}' and namespace '{dest_ns}' do not match any of the allowed destinations in project '{project_name}'"
        ));
    }
    let objects = match render_sources(shared, git, app, &sources) {
        Ok(o) => o,
        Err(e) => return Outcome::Comparison(e),
    };
    let default_ns = if dest_ns.is_empty() {
        "default"
    } else {
        dest_ns
    };
    let mut refused = std::collections::BTreeSet::new();
    let mut planned = Vec::new();
    for object in objects {
        let (api_version, kind) = (
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        );
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(t) = shared.state().registry.by_kind(api_version, kind).cloned() else {
            return Outcome::SyncFailed(
                format!(
                    "one or more synchronization tasks are not valid: the server could not find the requested resource ({api_version} {kind} {name}): is its CRD installed?"
                ),
                Vec::new(),
            );
        };
        let obj_ns = if t.namespaced {
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_ns)
                .to_owned()
        } else {
            String::new()
        };
        if !kind_permitted(&project, &t.group, &t.kind, &name, t.namespaced) {
            refused.insert(format!(
                "resource {}:{} is not permitted in project {project_name}",
                t.group, t.kind
            ));
        } else if t.namespaced && !destination_permitted(&project, server, &obj_ns) {
            refused.insert(format!(
                "namespace {obj_ns} is not permitted in project '{project_name}'"
            ));
        }
        planned.push((t, obj_ns, name, object));
    }
    if !refused.is_empty() {
        return Outcome::SyncFailed(
            format!(
                "one or more synchronization tasks are not valid: {}",
                refused.into_iter().collect::<Vec<_>>().join("; ")
            ),
            Vec::new(),
        );
    }
    // `CreateNamespace=true` (Argo CD's sync options, "Create Namespace"): the destination
    // namespace is made before the resources, when there are any to put in it.
    let creates_namespace = spec["syncPolicy"]["syncOptions"]
        .as_array()
        .is_some_and(|o| o.iter().any(|x| x == "CreateNamespace=true"));
    if creates_namespace && !dest_ns.is_empty() && !planned.is_empty() {
        let namespaces = shared.state().registry.by_kind("v1", "Namespace").cloned();
        if let Some(t) = namespaces
            && shared.state().get(&t, "", dest_ns).is_err()
            && let Err(e) = apply(
                shared,
                &t,
                "",
                dest_ns,
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": dest_ns}}),
            )
        {
            return Outcome::SyncFailed(e, Vec::new());
        }
    }
    let mut resources = Vec::new();
    let mut failures = Vec::new();
    for (t, obj_ns, name, object) in planned {
        match apply(shared, &t, &obj_ns, &name, &object) {
            Ok(()) => resources.push(json!({"group": t.group, "version": t.version, "kind": t.kind, "namespace": obj_ns, "name": name, "status": "Synced"})),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Outcome::Synced(resources)
    } else {
        Outcome::SyncFailed(
            format!(
                "one or more objects failed to apply, reason: {}",
                failures.join(",")
            ),
            resources,
        )
    }
}

/// An Application's sources: `source`, or the list in `sources`.
fn sources_of(spec: &Value) -> Vec<Value> {
    match spec.get("source") {
        Some(source) => vec![source.clone()],
        None => spec["sources"].as_array().cloned().unwrap_or_default(),
    }
}

/// Create `object` or merge it into the live one, through admission, as an Argo CD sync does.
fn apply(
    shared: &Shared,
    t: &ResourceType,
    ns: &str,
    name: &str,
    object: &Value,
) -> Result<(), String> {
    let mut state = shared.state();
    let live = state.get(t, ns, name).ok();
    // Argo CD applies as field manager argocd-controller (ServerSideApply=true).
    let mut new = state.server_side_apply(
        t,
        ns,
        name,
        "argocd-controller",
        object.clone(),
        live.as_ref(),
        false,
    );
    if t.kind != "Namespace" && t.namespaced {
        let ns_type = state
            .resource("", "v1", "namespaces")
            .map_err(|e| e.message)?;
        if state.get(&ns_type, "", ns).is_err() {
            return Err(format!("namespaces \"{ns}\" not found"));
        }
    }
    let op = if live.is_some() {
        Op::Update
    } else {
        Op::Create
    };
    admission::admit(&state, t, ns, name, op, &mut new, live.as_ref()).map_err(|e| e.message)?;
    state.commit(t, ns, name, Some(new), false);
    Ok(())
}

/// The repo-server: every Git source's objects (directory sources read, Helm paths rendered when
/// kube-sim has a `helm`), after the repository, path and `$values` checks.
fn render_sources(
    shared: &Shared,
    git: Option<&dyn GitSource>,
    app: &Value,
    sources: &[Value],
) -> Result<Vec<Value>, String> {
    let is_git = |s: &Value| {
        s.get("chart").is_none() && !(s.get("ref").is_some() && s.get("path").is_none())
    };
    let mut objects = stand_in_charts(shared, git, app, sources)?;
    if sources.iter().all(|s| !is_git(s)) && !sources.iter().any(|s| s.get("ref").is_some()) {
        return Ok(objects);
    }
    let git =
        git.ok_or_else(|| "kube-sim has no Git source: repositories cannot be read".to_owned())?;
    git::check_value_files(git, sources)?;
    for source in sources.iter().filter(|s| is_git(s)) {
        match git::render_source(git, source)? {
            Rendered::Objects(o) => objects.extend(o),
            Rendered::NotRendered("Helm") => {
                let helm = shared.helm.lock().ok().and_then(|h| h.clone());
                if let Some(helm) = helm {
                    objects.extend(helm_template(shared, git, &helm, app, source, sources)?);
                }
            }
            Rendered::NotRendered("Kustomize") => {
                let kubectl = shared.kubectl.lock().ok().and_then(|k| k.clone());
                if let Some(kubectl) = kubectl {
                    objects.extend(kustomize_build(shared, git, &kubectl, source)?);
                }
            }
            Rendered::NotRendered(_) => {}
        }
    }
    Ok(objects)
}

/// Chart sources from remote repositories that the test gave a stand-in for (same chart name,
/// `version:` the source's `targetRevision`), rendered as the repo-server renders a pulled
/// chart: `helm template` with the source's release name, destination namespace and values.
fn stand_in_charts(
    shared: &Shared,
    git: Option<&dyn GitSource>,
    app: &Value,
    sources: &[Value],
) -> Result<Vec<Value>, String> {
    let dir = shared.chart_stand_ins.lock().ok().and_then(|d| d.clone());
    let helm = shared.helm.lock().ok().and_then(|h| h.clone());
    let (Some(dir), Some(helm)) = (dir, helm) else {
        return Ok(Vec::new());
    };
    let mut objects = Vec::new();
    for source in sources {
        let Some(name) = source["chart"].as_str() else {
            continue;
        };
        let version = source["targetRevision"].as_str().unwrap_or_default();
        let root = dir.join(name);
        let pinned = std::fs::read_to_string(root.join("Chart.yaml")).is_ok_and(|meta| {
            meta.lines()
                .any(|l| l.trim() == format!("version: {version}"))
        });
        if !pinned {
            continue;
        }
        let mut chart = Vec::new();
        read_tree(&root, &root, &mut chart).map_err(|e| format!("{}: {e}", root.display()))?;
        let values = value_documents(git, source, sources, &chart)?;
        let (release, namespace) = release_of(app, source);
        objects.extend(cached(
            shared,
            (&chart, &values, &release, &namespace),
            || run_helm(&helm, &chart, &values, &release, &namespace),
        )?);
    }
    Ok(objects)
}

/// The release name and namespace the repo-server renders a Helm source with: the source's
/// `releaseName` (else the Application's name) and the destination namespace.
fn release_of(app: &Value, source: &Value) -> (String, String) {
    let release = source["helm"]["releaseName"]
        .as_str()
        .or(app["metadata"]["name"].as_str())
        .unwrap_or("release");
    let namespace = app["spec"]["destination"]["namespace"]
        .as_str()
        .unwrap_or("default");
    (release.to_owned(), namespace.to_owned())
}

/// Every file under `dir`, by its path relative to `root`.
fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push((
                relative.to_string_lossy().into_owned(),
                std::fs::read(&path)?,
            ));
        }
    }
    Ok(())
}

/// `helm template` of a chart in Git with the source's values, as the repo-server runs it
/// (`reposerver/repository/repository.go`: release name, destination namespace, value files
/// from the chart's folder or a `$ref` source, `values` / `valuesObject`), cached by its inputs.
fn helm_template(
    shared: &Shared,
    git: &dyn GitSource,
    helm: &Path,
    app: &Value,
    source: &Value,
    sources: &[Value],
) -> Result<Vec<Value>, String> {
    let repo = source["repoURL"].as_str().unwrap_or_default();
    let files = git.files(repo, &revision_of(source)).unwrap_or_default();
    let dir = source["path"]
        .as_str()
        .unwrap_or(".")
        .trim_matches('/')
        .to_owned();
    let chart: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|(p, d)| Some((p.strip_prefix(&format!("{dir}/"))?.to_owned(), d.clone())))
        .collect();
    let values = value_documents(Some(git), source, sources, &chart)?;
    let (release, namespace) = release_of(app, source);
    cached(shared, (&chart, &values, &release, &namespace), || {
        run_helm(helm, &chart, &values, &release, &namespace)
    })
}

/// What the repo-server rendered for these inputs before, or `render`'s answer, kept.
fn cached(
    shared: &Shared,
    inputs: impl Hash,
    render: impl FnOnce() -> Result<Vec<Value>, String>,
) -> Result<Vec<Value>, String> {
    let mut hasher = DefaultHasher::new();
    inputs.hash(&mut hasher);
    let key = hasher.finish();
    if let Some(hit) = shared
        .helm_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&key).cloned())
    {
        return hit;
    }
    let rendered = render();
    if let Ok(mut cache) = shared.helm_cache.lock() {
        cache.insert(key, rendered.clone());
    }
    rendered
}

/// A Helm source's values, in the order Helm merges them: value files (`$ref/...` from a `ref`
/// source, others from the chart's folder), then `values`, then `valuesObject`
/// (`reposerver/repository/repository.go`).
fn value_documents(
    git: Option<&dyn GitSource>,
    source: &Value,
    sources: &[Value],
    chart: &[(String, Vec<u8>)],
) -> Result<Vec<Vec<u8>>, String> {
    let helm_spec = &source["helm"];
    let mut values: Vec<Vec<u8>> = Vec::new();
    for file in helm_spec["valueFiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let data = match file.strip_prefix('$') {
            Some(rest) => {
                let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
                let r = sources
                    .iter()
                    .find(|s| s["ref"] == name)
                    .ok_or_else(|| format!("{file}: no source with ref {name}"))?;
                let git = git.ok_or_else(|| {
                    "kube-sim has no Git source: repositories cannot be read".to_owned()
                })?;
                git.files(r["repoURL"].as_str().unwrap_or_default(), &revision_of(r))
                    .and_then(|f| f.get(path).cloned())
            }
            None => chart
                .iter()
                .find(|(p, _)| p == file)
                .map(|(_, d)| d.clone()),
        };
        values.push(data.ok_or_else(|| format!("{file}: no such file"))?);
    }
    if let Some(inline) = helm_spec["values"].as_str() {
        values.push(inline.as_bytes().to_vec());
    }
    if helm_spec["valuesObject"].is_object() {
        values.push(serde_json::to_vec(&helm_spec["valuesObject"]).unwrap_or_default());
    }
    Ok(values)
}

/// The chart values an Application's Helm chart source is rendered with, merged as Helm does
/// (maps deeply, later files winning); `None` when it has no chart source or they cannot be read.
pub(super) fn chart_values(git: Option<&dyn GitSource>, app: &Value, chart: &str) -> Option<Value> {
    let spec = &app["spec"];
    let sources = sources_of(spec);
    let source = sources.iter().find(|s| s["chart"] == chart)?;
    let documents = match git {
        Some(git) => value_documents(Some(git), source, &sources, &[]).ok()?,
        None if source["helm"]["valueFiles"]
            .as_array()
            .is_some_and(|f| !f.is_empty()) =>
        {
            return None;
        }
        None => Vec::new(),
    };
    let mut merged = json!({});
    for document in documents {
        let value: Value = serde_saphyr::from_str(&String::from_utf8_lossy(&document)).ok()?;
        merge_values(&mut merged, value);
    }
    Some(merged)
}

fn merge_values(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge_values(into.entry(k).or_insert(Value::Null), v);
            }
        }
        (into, from) => *into = from,
    }
}

fn revision_of(s: &Value) -> String {
    s["targetRevision"]
        .as_str()
        .filter(|r| !r.is_empty() && *r != "HEAD")
        .unwrap_or("main")
        .to_owned()
}

/// `kustomize build` of a Git path, as the repo-server runs it (`util/kustomize`), here with
/// the real `kubectl kustomize` on the repository's files, cached by its inputs. The
/// Application's inline `kustomize.patches` are added to the path's kustomization's `patches`
/// first, as Argo CD does ("any patches that target existing Kustomization file will be
/// merged": argo-cd docs user-guide/kustomize.md, Patches).
fn kustomize_build(
    shared: &Shared,
    git: &dyn GitSource,
    kubectl: &Path,
    source: &Value,
) -> Result<Vec<Value>, String> {
    let repo = source["repoURL"].as_str().unwrap_or_default();
    let files = git.files(repo, &revision_of(source)).unwrap_or_default();
    let path = source["path"].as_str().unwrap_or(".").trim_matches('/');
    let patches = source["kustomize"]["patches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let patches_key = Value::from(patches.clone()).to_string();
    cached(shared, (&files, path, "kustomize", patches_key), || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        write_tree(
            dir.path(),
            files.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
        )?;
        if !patches.is_empty() {
            add_patches(&dir.path().join(path), patches)?;
        }
        let out = std::process::Command::new(kubectl)
            .arg("kustomize")
            .arg(dir.path().join(path))
            .output()
            .map_err(|e| format!("kubectl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "rpc error: code = Unknown desc = `kustomize build {path}` failed exit status {}: {}",
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        parse_documents(&String::from_utf8_lossy(&out.stdout), "kustomize output")
    })
}

/// Append `patches` to the kustomization in `dir` (kustomize reads it as YAML, so JSON does).
fn add_patches(dir: &Path, patches: Vec<Value>) -> Result<(), String> {
    let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| "kustomize.patches on a path with no kustomization".to_owned())?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    let mut kustomization: Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    match kustomization["patches"].as_array_mut() {
        Some(list) => list.extend(patches),
        None => kustomization["patches"] = Value::from(patches),
    }
    std::fs::write(&file, kustomization.to_string()).map_err(|e| e.to_string())
}

fn write_tree<'a>(
    root: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), String> {
    for (path, data) in files {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&target, data).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn parse_documents(text: &str, what: &str) -> Result<Vec<Value>, String> {
    Ok(serde_saphyr::from_multiple::<Value>(text)
        .map_err(|e| format!("{what}: {e}"))?
        .into_iter()
        .filter(Value::is_object)
        .collect())
}

fn run_helm(
    helm: &Path,
    chart: &[(String, Vec<u8>)],
    values: &[Vec<u8>],
    release: &str,
    namespace: &str,
) -> Result<Vec<Value>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let chart_dir = dir.path().join("chart");
    write_tree(
        &chart_dir,
        chart.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
    )?;
    let mut command = std::process::Command::new(helm);
    command.args(["template", release]).arg(&chart_dir).args([
        "--namespace",
        namespace,
        "--include-crds",
    ]);
    for (i, v) in values.iter().enumerate() {
        let file = dir.path().join(format!("values-{i}.yaml"));
        std::fs::write(&file, v).map_err(|e| e.to_string())?;
        command.arg("--values").arg(file);
    }
    let out = command
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .map_err(|e| format!("helm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rpc error: code = Unknown desc = `helm template` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse_documents(&String::from_utf8_lossy(&out.stdout), "helm output")
}

/// The Application's health: the worst of its workloads', Ingresses' and `LoadBalancer`
/// Services' (others count as Healthy).
fn health_of(shared: &Shared, resources: &[Value]) -> &'static str {
    let rank = |h: &str| {
        ["Healthy", "Progressing", "Missing", "Degraded"]
            .iter()
            .position(|x| *x == h)
            .unwrap_or(0)
    };
    let mut worst = "Healthy";
    for r in resources {
        let (group, kind) = (
            r["group"].as_str().unwrap_or_default(),
            r["kind"].as_str().unwrap_or_default(),
        );
        let plural = match (group, kind) {
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet") => {
                format!("{}s", kind.to_lowercase())
            }
            ("networking.k8s.io", "Ingress") => "ingresses".to_owned(),
            ("", "Service") => "services".to_owned(),
            _ => continue,
        };
        let Some(t) = types(shared, group, &plural) else {
            continue;
        };
        let live = shared
            .state()
            .get(
                &t,
                r["namespace"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
            )
            .ok();
        let h = match live {
            None => "Missing",
            Some(o) if kind == "Ingress" => load_balancer_health(&o),
            Some(o) if kind == "Service" => {
                if o["spec"]["type"] == "LoadBalancer" {
                    load_balancer_health(&o)
                } else {
                    "Healthy"
                }
            }
            Some(o) => workload_health(&o),
        };
        if rank(h) > rank(worst) {
            worst = h;
        }
    }
    worst
}

/// An Ingress, or a `LoadBalancer` Service: Healthy once something published an address.
fn load_balancer_health(o: &Value) -> &'static str {
    let published = o["status"]["loadBalancer"]["ingress"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if published { "Healthy" } else { "Progressing" }
}

/// gitops-engine's rules for Deployments, StatefulSets and DaemonSets, as far as kube-sim's
/// controllers fill their status.
fn workload_health(o: &Value) -> &'static str {
    let status = &o["status"];
    let generation = o["metadata"]["generation"].as_u64().unwrap_or(1);
    if status["observedGeneration"].as_u64().unwrap_or(0) < generation {
        return "Progressing";
    }
    let deadline_passed = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    if deadline_passed {
        return "Degraded";
    }
    let (want, have) = if o["kind"] == "DaemonSet" {
        (
            status["desiredNumberScheduled"].as_u64().unwrap_or(0),
            status["numberAvailable"].as_u64().unwrap_or(0),
        )
    } else {
        (
            o["spec"]["replicas"].as_u64().unwrap_or(1),
            status["availableReplicas"].as_u64().unwrap_or(0),
        )
    };
    if have < want {
        "Progressing"
    } else {
        "Healthy"
    }
}
