//! The SIMULATED Backstage catalog API (locations, entities, refresh), reading
//! `catalog-info.yaml` from the fake GitHub's state.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use super::github::GitHubState;
use super::{Fault, Reply, reply, serve};

/// The SIMULATED Backstage catalog: locations whose target is a `catalog-info.yaml` in the fake
/// GitHub (read from its state, as Backstage reads it through its GitHub integration).
pub struct FakeBackstage {
    pub state: Arc<Mutex<BackstageState>>,
    pub addr: SocketAddr,
    github: Arc<Mutex<GitHubState>>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub struct BackstageState {
    pub token: String,
    /// id → target.
    pub locations: BTreeMap<String, String>,
    /// name → entity.
    pub components: BTreeMap<String, Value>,
    pub refreshes: Vec<String>,
    /// The `Host` header of every request (who Slipway thought it was talking to).
    pub hosts: Vec<String>,
    /// How long after a registration the catalog reads the file (Backstage processes new
    /// locations in the background).
    pub processing_delay: Duration,
    /// Registered locations not read yet: (due, target).
    pending: Vec<(std::time::Instant, String)>,
    /// The generated Location entities' processing errors, by entity name.
    pub location_errors: BTreeMap<String, String>,
    pub faults: Vec<Fault>,
    next: u64,
}

impl FakeBackstage {
    pub async fn start(token: &str, github: Arc<Mutex<GitHubState>>) -> Self {
        let state = Arc::new(Mutex::new(BackstageState {
            token: token.into(),
            processing_delay: Duration::from_millis(300),
            ..BackstageState::default()
        }));
        let shared = state.clone();
        let reader = github.clone();
        let (addr, task) = serve(move |method, path, headers, body| {
            let mut s = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (
                backstage(&mut s, &reader, &method, &path, &headers, &body),
                Duration::ZERO,
            )
        })
        .await;
        Self {
            state,
            addr,
            github,
            _task: task,
        }
    }

    /// The catalog's processing loop catches up: every registration due by now is read (as
    /// any request to it would do first).
    pub fn process(&self) {
        process_due(&mut self.state(), &self.github);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Backstage restarted: with the in-memory SQLite of the bundle's values, the catalog keeps
    /// nothing registered at run time (only the configured locations come back, read again).
    pub fn restart(&self) {
        let mut s = self.state();
        s.locations.clear();
        s.components.clear();
        s.pending.clear();
        s.location_errors.clear();
    }

    pub fn state(&self) -> MutexGuard<'_, BackstageState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn backstage(
    s: &mut BackstageState,
    github: &Mutex<GitHubState>,
    method: &Method,
    path: &str,
    headers: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    s.hosts
        .push(headers.get("host").cloned().unwrap_or_default());
    // The app itself (every path outside the API) is served to anyone, as Backstage's
    // app-backend serves the frontend.
    if method == Method::GET && !path.starts_with("/api/") {
        return reply(
            200,
            &json!("<!doctype html><title>Backstage (fake)</title>"),
        );
    }
    if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {}", s.token)) {
        return reply(
            401,
            &json!({"error": {"name": "AuthenticationError", "message": "Missing credentials"}}),
        );
    }
    if let Some(i) = s
        .faults
        .iter()
        .position(|f| f.method == method && path.contains(&f.path_contains))
    {
        let status = s.faults[i].status;
        s.faults[i].times -= 1;
        if s.faults[i].times == 0 {
            s.faults.remove(i);
        }
        return reply(
            status,
            &json!({"error": {"name": "Error", "message": format!("injected fault (fake Backstage): {status}")}}),
        );
    }
    let dry_run = path.contains("dryRun=true");
    let path = path.split('?').next().unwrap_or(path);
    process_due(s, github);
    match (method.as_str(), path) {
        // A dry run reads the file now and stores nothing: `exists` says whether the location
        // is registered, `entities` what it holds (catalog-backend's DefaultLocationService
        // dryRunCreateLocation; the scaffolder's catalog:register asks it for the entityRef).
        ("POST", "/api/catalog/locations") if dry_run => {
            let target = body["target"].as_str().unwrap_or_default().to_owned();
            match read_entity(github, &target) {
                Ok(entity) => reply(
                    201,
                    &json!({"exists": s.locations.values().any(|t| *t == target), "location": {"id": "", "type": "url", "target": target}, "entities": [entity]}),
                ),
                Err(e) => reply(400, &json!({"error": {"name": "InputError", "message": e}})),
            }
        }
        // The real catalog answers 201 with the location and no entities, and reads the file
        // later (DefaultLocationService.createLocation without dryRun); an unreadable or
        // invalid file does not fail the call but shows as an error on the location's entity.
        ("POST", "/api/catalog/locations") => {
            let target = body["target"].as_str().unwrap_or_default().to_owned();
            if s.locations.values().any(|t| *t == target) {
                return reply(
                    409,
                    &json!({"error": {"name": "ConflictError", "message": format!("Location url:{target} already exists")}}),
                );
            }
            s.next += 1;
            let id = format!("loc-{}", s.next);
            s.locations.insert(id.clone(), target.clone());
            let due = std::time::Instant::now() + s.processing_delay;
            s.pending.push((due, target.clone()));
            reply(
                201,
                &json!({"location": {"id": id, "type": "url", "target": target}, "entities": []}),
            )
        }
        ("GET", "/api/catalog/locations") => reply(
            200,
            &json!(
                s.locations
                    .iter()
                    .map(|(id, t)| json!({"data": {"id": id, "type": "url", "target": t}}))
                    .collect::<Vec<_>>()
            ),
        ),
        ("POST", "/api/catalog/refresh") => {
            s.refreshes
                .push(body["entityRef"].as_str().unwrap_or_default().to_owned());
            // A refresh schedules the entity's location to be read again.
            let due = std::time::Instant::now() + s.processing_delay;
            let targets: Vec<String> = s.locations.values().cloned().collect();
            s.pending.extend(targets.into_iter().map(|t| (due, t)));
            reply(200, &Value::Null)
        }
        ("GET", p) if p.starts_with("/api/catalog/entities/by-name/location/default/") => {
            let name = &p["/api/catalog/entities/by-name/location/default/".len()..];
            let target = s
                .locations
                .values()
                .find(|t| generated_name(t) == name)
                .cloned();
            match target {
                Some(target) => {
                    let items: Vec<Value> = s
                        .location_errors
                        .get(name)
                        .map(|m| json!({"type": "backstage.io/catalog-processing", "level": "error", "message": m, "error": {"name": "InputError", "message": m}}))
                        .into_iter()
                        .collect();
                    reply(
                        200,
                        &json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": name}, "spec": {"type": "url", "target": target}, "status": {"items": items}}),
                    )
                }
                None => reply(
                    404,
                    &json!({"error": {"name": "NotFoundError", "message": format!("No entity named '{name}' found")}}),
                ),
            }
        }
        ("GET", p) if p.starts_with("/api/catalog/entities/by-name/component/default/") => {
            let name = &p["/api/catalog/entities/by-name/component/default/".len()..];
            match s.components.get(name) {
                Some(e) => reply(200, e),
                None => reply(
                    404,
                    &json!({"error": {"name": "NotFoundError", "message": format!("No entity named '{name}' found")}}),
                ),
            }
        }
        ("DELETE", p) if p.starts_with("/api/catalog/locations/") => {
            let id = &p["/api/catalog/locations/".len()..];
            match s.locations.remove(id) {
                Some(target) => {
                    s.components.retain(|_, e| {
                        !target.contains(&format!(
                            "/{}/blob/",
                            e["metadata"]["name"].as_str().unwrap_or("?")
                        ))
                    });
                    reply(204, &Value::Null)
                }
                None => reply(
                    404,
                    &json!({"error": {"name": "NotFoundError", "message": "no such location"}}),
                ),
            }
        }
        _ => reply(
            404,
            &json!({"error": {"name": "NotFoundError", "message": format!("fake Backstage does not simulate {method} {path}")}}),
        ),
    }
}

/// The Location entity the catalog makes for a registered location: `generated-` and the
/// sha1 of `<type>:<target>` (catalog-backend's `locationSpecToLocationEntity`).
fn generated_name(target: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(format!("url:{target}").as_bytes());
    format!("generated-{}", sha.digest())
}

/// Read every registered location whose time has come, as the catalog's processing loop does:
/// https://github.test/<owner>/<repo>/blob/<branch>/<path> from the fake GitHub's state.
fn process_due(s: &mut BackstageState, github: &Mutex<GitHubState>) {
    let now = std::time::Instant::now();
    let (due, later): (Vec<_>, Vec<_>) = s.pending.drain(..).partition(|(at, _)| *at <= now);
    s.pending = later;
    for (_, target) in due {
        if !s.locations.values().any(|t| *t == target) {
            continue;
        }
        let name = generated_name(&target);
        match read_entity(github, &target) {
            Ok(entity) => {
                s.location_errors.remove(&name);
                if let Some(n) = entity["metadata"]["name"].as_str() {
                    s.components.insert(n.to_owned(), entity.clone());
                }
            }
            Err(e) => {
                s.location_errors.insert(name, e);
            }
        }
    }
}

/// The entity of a location's `catalog-info.yaml`, read from the fake GitHub's state as
/// Backstage's GitHub reader reads a file URL: https://github.test/<owner>/<repo>/(blob|tree)/
/// <branch>/<path> (the scaffolder's catalog:register makes the `tree` form).
fn read_entity(github: &Mutex<GitHubState>, target: &str) -> Result<Value, String> {
    let rest = target
        .strip_prefix("https://github.test/")
        .unwrap_or_default();
    let parts: Vec<&str> = rest.splitn(5, '/').collect();
    let file = match parts.as_slice() {
        [owner, repo, "blob" | "tree", _, file] => github.lock().ok().and_then(|g| {
            g.repos
                .get(&format!("{owner}/{repo}"))
                .and_then(|r| r.files.get(*file).cloned())
        }),
        _ => None,
    };
    match file.and_then(|f| serde_saphyr::from_str::<Value>(&String::from_utf8_lossy(&f)).ok()) {
        Some(entity) if entity["metadata"]["name"].is_string() => Ok(entity),
        Some(_) => Err("Policy check failed; caused by Error: Malformed envelope, /metadata must have required property 'name'".into()),
        None => Err(format!("NotFoundError: {target} could not be read")),
    }
}
