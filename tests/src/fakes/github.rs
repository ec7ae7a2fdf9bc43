//! The SIMULATED GitHub REST API (repositories, contents, the Git data API, topics, template
//! generation, rate limits, Actions workflow runs, container packages), as the state tests
//! assert on; and ghcr.io as the kubelet pulls from it ([`FakeGitHub::registry`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use super::{Fault, Reply, reply, serve};
use crate::kube_sim::git::ScmRepository;

/// A repository as the fake keeps it.
#[derive(Debug, Clone, Default)]
pub struct FakeRepo {
    pub description: String,
    pub topics: Vec<String>,
    /// The default branch's files, path → content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Commits on the default branch, newest last.
    pub commits: Vec<String>,
    /// A template copy still in progress: contents answer 409 until it is done.
    pub empty: bool,
    /// Marked as a template repository (`POST …/generate` allowed).
    pub is_template: bool,
    /// Created private (`private` of POST /user/repos, /orgs/{org}/repos and …/generate; GitHub
    /// defaults it to false: docs.github.com/en/rest/repos/repos#create-a-repository-for-the-authenticated-user).
    pub private: bool,
    /// A generation in progress: the template it copies and when the copy is done.
    pub copying: Option<(String, std::time::Instant)>,
    /// Workflow runs, oldest first.
    pub runs: Vec<FakeRun>,
    /// Branches other than the default one: name → (head commit, the default branch's commit
    /// it was created from).
    pub branches: BTreeMap<String, (String, String)>,
    /// Pull requests, by number − 1.
    pub pulls: Vec<FakePull>,
    /// The default branch's protection (PUT …/branches/main/protection), as sent.
    pub protection: Option<Value>,
}

/// A pull request (docs.github.com/en/rest/pulls/pulls): `head` branch into the default branch.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub merged: bool,
}

/// A GitHub Actions workflow run (docs.github.com/en/rest/actions/workflow-runs): `status`
/// `queued` → `in_progress` → `completed`, then `conclusion` `success`, `failure`, …
#[derive(Debug, Clone)]
pub struct FakeRun {
    pub id: u64,
    pub head_sha: String,
    pub status: &'static str,
    pub conclusion: Option<&'static str>,
}

/// A container package version: its tags (docs.github.com/en/rest/packages/packages, "List
/// package versions for a package owned by a user": `metadata.container.tags`).
#[derive(Debug, Clone)]
pub struct FakePackage {
    /// Linked to this repository (`owner/name`); its visibility follows the repository's
    /// ("When you first publish a package that is linked to a repository, the package inherits
    /// the visibility and access permissions of the linked repository",
    /// docs.github.com/en/packages/learn-github-packages/configuring-a-packages-access-control-and-visibility).
    pub repository: String,
    pub tags: Vec<String>,
}

#[derive(Default)]
pub struct GitHubState {
    pub token: String,
    pub login: String,
    pub orgs: Vec<String>,
    /// `X-OAuth-Scopes`; `None` answers like a fine-grained token.
    pub scopes: Option<String>,
    /// A fine-grained token without these permissions: requests whose path contains the first
    /// part get 403 "Resource not accessible by personal access token" and
    /// `X-Accepted-GitHub-Permissions` naming the second (e.g. `administration=write`).
    pub lacking: Vec<(String, String)>,
    pub repos: BTreeMap<String, FakeRepo>,
    blobs: HashMap<String, Vec<u8>>,
    trees: HashMap<String, BTreeMap<String, Vec<u8>>>,
    commits: HashMap<String, String>,
    pub calls: u64,
    pub remaining: u64,
    /// Answer 403 with `x-ratelimit-remaining: 0` for this many requests.
    pub exhausted: u32,
    pub faults: Vec<Fault>,
    pub latency: Duration,
    /// Every request's method and path, in order.
    pub log: Vec<String>,
    /// How long GitHub takes to copy a template into a generated repository.
    pub copy_delay: Duration,
    /// Container packages by `owner/package` (lower case, as ghcr.io names them), one entry per
    /// version.
    pub packages: BTreeMap<String, Vec<FakePackage>>,
    next: u64,
}

impl GitHubState {
    /// A template repository holding `files` in one commit.
    pub fn add_template(&mut self, full: &str, files: BTreeMap<String, Vec<u8>>) {
        self.repos.insert(
            full.to_owned(),
            FakeRepo {
                is_template: true,
                empty: true,
                ..FakeRepo::default()
            },
        );
        self.commit(full, files, "template");
    }

    /// Finish the template copies whose time has come (GitHub does them in the background).
    fn finish_copies(&mut self) {
        let now = std::time::Instant::now();
        let done: Vec<(String, String)> = self
            .repos
            .iter()
            .filter_map(|(k, r)| {
                r.copying
                    .as_ref()
                    .filter(|(_, at)| *at <= now)
                    .map(|(t, _)| (k.clone(), t.clone()))
            })
            .collect();
        for (full, template) in done {
            let files = self
                .repos
                .get(&template)
                .map(|t| t.files.clone())
                .unwrap_or_default();
            if let Some(r) = self.repos.get_mut(&full) {
                r.copying = None;
            }
            self.commit(&full, files, "Initial commit");
        }
    }

    fn blob_sha(&mut self, data: &[u8]) -> String {
        let sha = format!(
            "{:040x}",
            data.iter()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b))
                    .wrapping_mul(0x100_0000_01b3))
        );
        self.blobs.insert(sha.clone(), data.to_vec());
        sha
    }

    /// A fresh object id that looks like Git's (hex letters and digits, so a test also sees
    /// what a SHA of digits alone would hide).
    fn sha(&mut self) -> String {
        self.next += 1;
        let mixed = self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!("{mixed:016x}{:024x}", self.next)
    }

    fn commit(&mut self, full: &str, files: BTreeMap<String, Vec<u8>>, message: &str) -> String {
        let tree = self.sha();
        self.trees.insert(tree.clone(), files.clone());
        let sha = self.sha();
        self.commits.insert(sha.clone(), tree);
        let _ = message;
        if let Some(r) = self.repos.get_mut(full) {
            r.files = files;
            r.commits.push(sha.clone());
            r.empty = false;
        }
        sha
    }
}

/// The SIMULATED GitHub REST API.
pub struct FakeGitHub {
    pub state: Arc<Mutex<GitHubState>>,
    pub addr: SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeGitHub {
    /// A GitHub where `token` belongs to `login`, member of `orgs`, with classic scopes.
    pub async fn start(token: &str, login: &str, orgs: &[&str]) -> Self {
        let state = Arc::new(Mutex::new(GitHubState {
            token: token.into(),
            login: login.into(),
            orgs: orgs.iter().map(|o| (*o).to_owned()).collect(),
            scopes: Some("repo, read:org, workflow, read:packages".into()),
            remaining: 5000,
            ..GitHubState::default()
        }));
        let shared = state.clone();
        let (addr, task) = serve(move |method, path, headers, body| {
            let mut s = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let delay = s.latency;
            (github(&mut s, &method, &path, &headers, &body), delay)
        })
        .await;
        Self {
            state,
            addr,
            _task: task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, GitHubState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn repo(&self, full: &str) -> Option<FakeRepo> {
        self.state().repos.get(full).cloned()
    }

    /// The repository's latest workflow run goes to `in_progress`.
    pub fn start_run(&self, full: &str) {
        if let Some(run) = self
            .state()
            .repos
            .get_mut(full)
            .and_then(|r| r.runs.last_mut())
        {
            run.status = "in_progress";
        }
    }

    /// The repository's latest workflow run completes with `conclusion`. On `success` it did what
    /// the template's ci.yaml does on a push to the default branch: the image is pushed to
    /// ghcr.io as `latest` and the commit's SHA, and that tag is committed into
    /// deploy/kustomization.yaml (with GITHUB_TOKEN, which starts no new run).
    pub fn finish_run(&self, full: &str, conclusion: &'static str) {
        let mut s = self.state();
        let Some(run) = s.repos.get_mut(full).and_then(|r| r.runs.last_mut()) else {
            return;
        };
        run.status = "completed";
        run.conclusion = Some(conclusion);
        let sha = run.head_sha.clone();
        if conclusion != "success" {
            return;
        }
        let package = full.to_lowercase();
        let versions = s.packages.entry(package.clone()).or_default();
        for v in versions.iter_mut() {
            v.tags.retain(|t| t != "latest");
        }
        versions.push(FakePackage {
            repository: full.to_owned(),
            tags: vec!["latest".into(), sha.clone()],
        });
        // The workflow's `git push` of the tag is refused on a branch that requires reviews.
        let Some(mut files) = s
            .repos
            .get(full)
            .filter(|r| !requires_reviews(r))
            .map(|r| r.files.clone())
        else {
            return;
        };
        if let Some(k) = files.get_mut("deploy/kustomization.yaml") {
            let text = String::from_utf8_lossy(k)
                .lines()
                .map(|l| {
                    if l.starts_with("    newName: ") {
                        format!("    newName: ghcr.io/{package}")
                    } else if l.starts_with("    newTag: ") {
                        format!("    newTag: \"{sha}\"")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            *k = format!("{text}\n").into_bytes();
            s.commit(full, files, "Deploy");
        }
    }

    /// A `git push` of `files` as one commit onto the default branch (how Backstage's
    /// publish:github pushes, with isomorphic-git over HTTPS: the fake serves no Git protocol).
    /// Refused like GitHub refuses it when the branch requires reviews and already has commits.
    pub fn push(
        &self,
        full: &str,
        files: BTreeMap<String, Vec<u8>>,
        message: &str,
    ) -> Result<String, String> {
        let mut s = self.state();
        let repo = s.repos.get(full).ok_or("repository not found")?;
        if requires_reviews(repo) && !repo.commits.is_empty() {
            return Err("protected branch hook declined".into());
        }
        let queue = has_workflow(&files);
        let sha = s.commit(full, files, message);
        s.next += 1;
        let id = s.next;
        if let Some(r) = s.repos.get_mut(full).filter(|_| queue) {
            r.runs.push(FakeRun {
                id,
                head_sha: sha.clone(),
                status: "queued",
                conclusion: None,
            });
        }
        Ok(sha)
    }

    /// Someone merges pull request `number` on github.com: the changes of its branch since it
    /// left the default branch land there in one commit (a merge without conflicts).
    pub fn merge_pull(&self, full: &str, number: u64) -> Result<(), String> {
        let mut s = self.state();
        let repo = s.repos.get(full).cloned().ok_or("no such repository")?;
        let pull = repo
            .pulls
            .get((number as usize).wrapping_sub(1))
            .filter(|p| !p.merged)
            .ok_or("no open pull request of that number")?;
        let (head, fork) = repo.branches.get(&pull.head).ok_or("its branch is gone")?;
        let files_at = |s: &GitHubState, sha: &str| {
            s.commits
                .get(sha)
                .and_then(|t| s.trees.get(t))
                .cloned()
                .unwrap_or_default()
        };
        let (before, after) = (files_at(&s, fork), files_at(&s, head));
        let mut files = repo.files.clone();
        for path in before.keys().chain(after.keys()) {
            match after.get(path) {
                Some(data) if before.get(path) != Some(data) => {
                    files.insert(path.clone(), data.clone());
                }
                None => {
                    files.remove(path);
                }
                Some(_) => {}
            }
        }
        s.commit(full, files, &format!("Merge pull request #{number}"));
        if let Some(p) = s
            .repos
            .get_mut(full)
            .and_then(|r| r.pulls.get_mut(number as usize - 1))
        {
            p.merged = true;
        }
        Ok(())
    }

    /// ghcr.io as the SIMULATED kubelet pulls from it: the packages above.
    pub fn registry(&self) -> Arc<dyn crate::kube_sim::ImageRegistry> {
        Arc::new(FakeGhcr(self.state.clone()))
    }

    /// This GitHub as the Git remote of the SIMULATED Argo CD in kube-sim.
    pub fn git_remote(&self) -> Arc<dyn crate::kube_sim::git::GitSource> {
        Arc::new(FakeGitRemote(self.state.clone()))
    }
}

/// ghcr.io over the registry protocol, as far as a pull's outcome: a tag of a package, anonymously
/// when its repository is public, else with a token of this GitHub that has `read:packages`
/// ("To authenticate to the Container registry … a personal access token (classic) with at least
/// read:packages scope", docs.github.com/en/packages/working-with-a-github-packages-registry/
/// working-with-the-container-registry). Messages as containerd reports them.
struct FakeGhcr(Arc<Mutex<GitHubState>>);

impl crate::kube_sim::ImageRegistry for FakeGhcr {
    fn pull(&self, image: &str, auth: Option<(&str, &str)>) -> Option<Result<(), String>> {
        let rest = image.strip_prefix("ghcr.io/")?;
        let (path, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
        let s = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reference = format!(
            "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\""
        );
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Some(Err(format!(
                "failed to pull and unpack image \"{image}\": invalid reference format: repository name must be lowercase"
            )));
        }
        let versions = s.packages.get(path);
        let private = versions
            .and_then(|v| v.first())
            .and_then(|v| s.repos.get(&v.repository))
            .is_some_and(|r| r.private);
        let authorised = auth.is_some_and(|(_, password)| {
            password == s.token
                && s.scopes
                    .as_deref()
                    .is_none_or(|sc| sc.split(',').any(|x| x.trim() == "read:packages"))
        });
        if private && !authorised {
            return Some(Err(format!(
                "{reference}: failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3A{}%3Apull&service=ghcr.io: 401 Unauthorized",
                path.replace('/', "%2F")
            )));
        }
        if versions.is_some_and(|v| v.iter().any(|v| v.tags.iter().any(|t| t == tag))) {
            Some(Ok(()))
        } else if versions.is_none() && !authorised {
            // An unknown package answers like a private one to an anonymous pull.
            Some(Err(format!(
                "{reference}: failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3A{}%3Apull&service=ghcr.io: 401 Unauthorized",
                path.replace('/', "%2F")
            )))
        } else {
            Some(Err(format!("{reference}: {image}: not found")))
        }
    }
}

/// The fake's repositories over "Git": `https://github.test/OWNER/REPO[.git]` at the default
/// branch, as a clone would see them (an empty repository or another branch is not found).
struct FakeGitRemote(Arc<Mutex<GitHubState>>);

impl crate::kube_sim::git::GitSource for FakeGitRemote {
    fn files(&self, repo_url: &str, revision: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        let full = repo_url
            .strip_prefix(WEB)?
            .trim_end_matches('/')
            .trim_end_matches(".git");
        let mut s = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.finish_copies();
        let repo = s
            .repos
            .get(full)
            .filter(|r| !r.empty && revision == "main")?;
        Some(repo.files.clone())
    }

    fn organization_repositories(&self, org: &str) -> Option<Vec<ScmRepository>> {
        let mut s = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.finish_copies();
        if !s.orgs.iter().any(|o| o == org) {
            return None;
        }
        Some(
            s.repos
                .iter()
                .filter(|(k, r)| k.split('/').next() == Some(org) && r.copying.is_none())
                .map(|(k, r)| ScmRepository {
                    organization: org.to_owned(),
                    repository: k.split('/').nth(1).unwrap_or_default().to_owned(),
                    url: format!("{WEB}{k}.git"),
                    branch: "main".to_owned(),
                    sha: r.commits.last().cloned().unwrap_or_default(),
                    labels: r.topics.clone(),
                })
                .collect(),
        )
    }
}

/// The fake's web address (`html_url`s).
const WEB: &str = "https://github.test/";

fn github(
    s: &mut GitHubState,
    method: &Method,
    path: &str,
    headers: &HashMap<String, String>,
    body: &Value,
) -> Reply {
    s.calls += 1;
    s.log.push(format!("{method} {path}"));
    s.finish_copies();
    let reset = jiff::Timestamp::now().as_second() + 2;
    let with_limits = |mut r: Reply, remaining: u64| {
        let h = r.headers_mut();
        for (k, v) in [
            ("x-ratelimit-limit", "5000".to_owned()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ] {
            h.insert(k, v.parse().expect("header"));
        }
        r
    };
    if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {}", s.token)) {
        return with_limits(
            reply(
                401,
                &json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            ),
            s.remaining,
        );
    }
    if s.exhausted > 0 {
        s.exhausted -= 1;
        return with_limits(
            reply(
                403,
                &json!({"message": "API rate limit exceeded for user."}),
            ),
            0,
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
        return with_limits(
            reply(
                status,
                &json!({"message": format!("injected fault (fake GitHub): {status}")}),
            ),
            s.remaining,
        );
    }
    if let Some((_, permission)) = s
        .lacking
        .iter()
        .find(|(p, _)| s.scopes.is_none() && path.contains(p.as_str()))
    {
        let mut r = reply(
            403,
            &json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest"}),
        );
        r.headers_mut().insert(
            "x-accepted-github-permissions",
            permission.parse().expect("header"),
        );
        return with_limits(r, s.remaining);
    }
    s.remaining = s.remaining.saturating_sub(1);
    let remaining = s.remaining;
    let mut r = route(s, method, path.split('?').next().unwrap_or(path), body);
    if path == "/user"
        && let Some(scopes) = &s.scopes
    {
        r.headers_mut()
            .insert("x-oauth-scopes", scopes.parse().expect("header"));
    }
    with_limits(r, remaining)
}

/// Whether the default branch takes changes only through reviewed pull requests.
fn requires_reviews(repo: &FakeRepo) -> bool {
    repo.protection.as_ref().is_some_and(|p| {
        p["required_pull_request_reviews"]["required_approving_review_count"]
            .as_u64()
            .is_some_and(|n| n > 0)
    })
}

fn has_workflow(files: &BTreeMap<String, Vec<u8>>) -> bool {
    files.keys().any(|p| {
        p.starts_with(".github/workflows/") && (p.ends_with(".yaml") || p.ends_with(".yml"))
    })
}

fn repo_json(full: &str, r: &FakeRepo) -> Value {
    // The token's user owns or administers every repository the fake holds.
    json!({"full_name": full, "name": full.split('/').nth(1), "html_url": format!("{WEB}{full}"), "clone_url": format!("{WEB}{full}.git"), "permissions": {"admin": true, "push": true, "pull": true}, "default_branch": "main", "description": r.description, "topics": r.topics, "private": r.private, "visibility": if r.private { "private" } else { "public" }})
}

/// An owner's repositories as the list endpoints give them (one page: the fake holds few).
fn repo_list(s: &GitHubState, owner: &str) -> Value {
    json!(
        s.repos
            .iter()
            .filter(|(k, r)| k.split('/').next() == Some(owner) && r.copying.is_none())
            .map(|(k, r)| repo_json(k, r))
            .collect::<Vec<_>>()
    )
}

fn route(s: &mut GitHubState, method: &Method, path: &str, body: &Value) -> Reply {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["user"]) => reply(200, &json!({"login": s.login, "type": "User"})),
        ("GET", ["user", "orgs"]) => reply(
            200,
            &json!(
                s.orgs
                    .iter()
                    .map(|o| json!({"login": o}))
                    .collect::<Vec<_>>()
            ),
        ),
        ("GET", ["orgs", org, "repos"]) if s.orgs.iter().any(|o| o == org) => {
            reply(200, &repo_list(s, org))
        }
        // "OAuth app tokens and personal access tokens (classic) need the read:packages scope
        // to use this endpoint"; an unknown package is 404 "Package not found."
        // (docs.github.com/en/rest/packages/packages#list-package-versions-for-a-package-owned-by-a-user).
        (
            "GET",
            [
                "users" | "orgs",
                owner,
                "packages",
                "container",
                package,
                "versions",
            ],
        ) => {
            if s.scopes
                .as_deref()
                .is_some_and(|scopes| !scopes.split(',').any(|x| x.trim() == "read:packages"))
            {
                return reply(
                    403,
                    &json!({"message": "You need at least read:packages scope to list packages."}),
                );
            }
            match s.packages.get(&format!("{owner}/{package}").to_lowercase()) {
                Some(versions) => reply(
                    200,
                    &json!(versions.iter().enumerate().rev().map(|(i, v)| json!({"id": i + 1, "name": format!("sha256:{:064x}", i + 1), "package_html_url": format!("{WEB}{owner}/{package}/pkgs/container/{package}"), "metadata": {"package_type": "container", "container": {"tags": v.tags}}})).collect::<Vec<_>>()),
                ),
                None => reply(404, &json!({"message": "Package not found."})),
            }
        }
        // "Get a user": `type` is `User` or `Organization`; unknown is 404
        // (docs.github.com/en/rest/users/users#get-a-user).
        ("GET", ["users", name]) => {
            let kind = if *name == s.login {
                "User"
            } else if s.orgs.iter().any(|o| o == name) {
                "Organization"
            } else {
                return reply(404, &json!({"message": "Not Found"}));
            };
            reply(200, &json!({"login": name, "type": kind}))
        }
        ("GET", ["user", "repos"]) => {
            let login = s.login.clone();
            reply(200, &repo_list(s, &login))
        }
        ("GET", ["rate_limit"]) => reply(
            200,
            &json!({"resources": {"core": {"limit": 5000, "remaining": s.remaining, "reset": jiff::Timestamp::now().as_second() + 3600}}}),
        ),
        ("POST", ["user", "repos"]) | ("POST", ["orgs", _, "repos"]) => {
            let owner = if parts[0] == "orgs" {
                parts[1].to_owned()
            } else {
                s.login.clone()
            };
            if parts[0] == "orgs" && !s.orgs.contains(&owner) {
                return reply(404, &json!({"message": "Not Found"}));
            }
            let name = body["name"].as_str().unwrap_or_default();
            let full = format!("{owner}/{name}");
            if s.repos.contains_key(&full) {
                return reply(
                    422,
                    &json!({"message": "Repository creation failed.", "errors": [{"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}]}),
                );
            }
            s.repos.insert(
                full.clone(),
                FakeRepo {
                    description: body["description"].as_str().unwrap_or_default().to_owned(),
                    empty: true,
                    private: body["private"] == true,
                    ..FakeRepo::default()
                },
            );
            // `auto_init`: "an initial commit with empty README" (docs.github.com/en/rest/repos/
            // repos#create-an-organization-repository); GitHub titles it with the name and puts
            // the description under it.
            if body["auto_init"] == true {
                let description = body["description"].as_str().unwrap_or_default();
                let readme = if description.is_empty() {
                    format!("# {name}\n")
                } else {
                    format!("# {name}\n{description}\n")
                };
                s.commit(
                    &full,
                    BTreeMap::from([("README.md".to_owned(), readme.into_bytes())]),
                    "Initial commit",
                );
            }
            let r = s.repos[&full].clone();
            reply(201, &repo_json(&full, &r))
        }
        ("POST", ["repos", t_owner, t_name, "generate"]) => {
            let template = format!("{t_owner}/{t_name}");
            if !s.repos.get(&template).is_some_and(|r| r.is_template) {
                return reply(404, &json!({"message": "Not Found"}));
            }
            let owner = body["owner"].as_str().unwrap_or(&s.login).to_owned();
            let name = body["name"].as_str().unwrap_or_default();
            let full = format!("{owner}/{name}");
            if s.repos.contains_key(&full) {
                return reply(
                    422,
                    &json!({"message": "Unprocessable Entity", "errors": ["Could not clone: Name already exists on this account"]}),
                );
            }
            let ready = std::time::Instant::now() + s.copy_delay;
            s.repos.insert(
                full.clone(),
                FakeRepo {
                    description: body["description"].as_str().unwrap_or_default().to_owned(),
                    empty: true,
                    private: body["private"] == true,
                    copying: Some((template, ready)),
                    ..FakeRepo::default()
                },
            );
            let r = s.repos[&full].clone();
            reply(201, &repo_json(&full, &r))
        }
        (m, ["repos", owner, name, rest @ ..]) => {
            let full = format!("{owner}/{name}");
            let Some(repo) = s.repos.get(&full).cloned() else {
                return reply(404, &json!({"message": "Not Found"}));
            };
            match (m, rest) {
                ("GET", []) => reply(200, &repo_json(&full, &repo)),
                // "OAuth app tokens and personal access tokens (classic) need the delete_repo
                // scope to use this endpoint" (docs.github.com/en/rest/repos/repos#delete-a-
                // repository); without it GitHub answers 403.
                ("DELETE", []) => {
                    if s.scopes
                        .as_deref()
                        .is_some_and(|scopes| !scopes.split(',').any(|x| x.trim() == "delete_repo"))
                    {
                        return reply(
                            403,
                            &json!({"message": "Must have admin rights to Repository.", "documentation_url": "https://docs.github.com/rest/repos/repos#delete-a-repository", "status": "403"}),
                        );
                    }
                    s.repos.remove(&full);
                    reply(204, &Value::Null)
                }
                // Newest first (docs.github.com/en/rest/actions/workflow-runs#list-workflow-
                // runs-for-a-repository). Every fake run is a push on the default branch, so the
                // `branch` and `event` filters Slipway passes select them all.
                ("GET", ["actions", "runs"]) => {
                    let runs: Vec<Value> = repo
                        .runs
                        .iter()
                        .rev()
                        .map(|r| json!({"id": r.id, "name": "ci", "event": "push", "head_branch": "main", "head_sha": r.head_sha, "status": r.status, "conclusion": r.conclusion, "html_url": format!("{WEB}{full}/actions/runs/{}", r.id)}))
                        .collect();
                    reply(
                        200,
                        &json!({"total_count": runs.len(), "workflow_runs": runs}),
                    )
                }
                // "List commits" from the default branch, newest first (docs.github.com/en/
                // rest/commits/commits#list-commits); the fake keeps one branch's history.
                ("GET", ["commits"]) => {
                    let list: Vec<Value> = repo
                        .commits
                        .iter()
                        .rev()
                        .map(|sha| json!({"sha": sha, "commit": {"tree": {"sha": s.commits.get(sha)}}}))
                        .collect();
                    reply(200, &json!(list))
                }
                ("GET", ["topics"]) => reply(200, &json!({"names": repo.topics})),
                ("PUT", ["topics"]) => {
                    let names: Vec<String> = body["names"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect();
                    // "Topics must start with a lowercase letter or number, consist of 50
                    // characters or less, and can include hyphens"; at most 20 per repository
                    // (docs.github.com/en/repositories/managing-your-repositorys-settings-and-
                    // features/customizing-your-repository/classifying-your-repository-with-topics).
                    let valid = |t: &str| {
                        !t.is_empty()
                            && t.len() <= 50
                            && t.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                            && t.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    };
                    if names.len() > 20 || !names.iter().all(|t| valid(t)) {
                        return reply(
                            422,
                            &json!({"message": "Validation Failed", "errors": [{"resource": "Repository", "field": "topics", "code": "invalid", "message": "Topics must start with a lowercase letter or number, consist of 50 characters or less, and can include hyphens."}], "status": "422"}),
                        );
                    }
                    if let Some(r) = s.repos.get_mut(&full) {
                        r.topics.clone_from(&names);
                    }
                    reply(200, &json!({"names": names}))
                }
                ("GET", ["contents", file @ ..]) => {
                    if repo.empty {
                        return reply(409, &json!({"message": "Git Repository is empty."}));
                    }
                    match repo.files.get(&file.join("/")) {
                        Some(data) => reply(
                            200,
                            &json!({"type": "file", "path": file.join("/"), "encoding": "base64", "content": b64(data)}),
                        ),
                        None => reply(404, &json!({"message": "Not Found"})),
                    }
                }
                (_, ["git", ..]) if repo.empty => {
                    reply(409, &json!({"message": "Git Repository is empty."}))
                }
                ("GET", ["git", "ref", "heads", branch @ ..]) => {
                    let branch = branch.join("/");
                    let head = if branch == "main" {
                        repo.commits.last().cloned()
                    } else {
                        repo.branches.get(&branch).map(|(head, _)| head.clone())
                    };
                    match head {
                        Some(sha) => reply(
                            200,
                            &json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
                        ),
                        None => reply(404, &json!({"message": "Not Found"})),
                    }
                }
                // "Create a reference": 422 "Reference already exists" for an existing one
                // (docs.github.com/en/rest/git/refs#create-a-reference).
                ("POST", ["git", "refs"]) => {
                    let name = body["ref"].as_str().unwrap_or_default();
                    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
                    let Some(branch) = name.strip_prefix("refs/heads/") else {
                        return reply(
                            422,
                            &json!({"message": "Reference name must start with 'refs/'."}),
                        );
                    };
                    if branch == "main" || repo.branches.contains_key(branch) {
                        return reply(422, &json!({"message": "Reference already exists"}));
                    }
                    if !s.commits.contains_key(&sha) {
                        return reply(422, &json!({"message": "Object does not exist"}));
                    }
                    let fork = repo.commits.last().cloned().unwrap_or_default();
                    if let Some(r) = s.repos.get_mut(&full) {
                        r.branches.insert(branch.to_owned(), (sha.clone(), fork));
                    }
                    reply(
                        201,
                        &json!({"ref": name, "object": {"sha": sha, "type": "commit"}}),
                    )
                }
                ("PATCH", ["git", "refs", "heads", branch @ ..]) if branch.join("/") != "main" => {
                    let branch = branch.join("/");
                    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
                    if !s.commits.contains_key(&sha) {
                        return reply(422, &json!({"message": "Object does not exist"}));
                    }
                    match s
                        .repos
                        .get_mut(&full)
                        .and_then(|r| r.branches.get_mut(&branch))
                    {
                        Some((head, _)) => {
                            head.clone_from(&sha);
                            reply(
                                200,
                                &json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha}}),
                            )
                        }
                        None => reply(422, &json!({"message": "Reference does not exist"})),
                    }
                }
                // "Create a pull request" (docs.github.com/en/rest/pulls/pulls#create-a-pull-
                // request): `head` as `branch` or `owner:branch`, into `base`; 422 "Validation
                // Failed" for a head or base that does not exist, one already open for the
                // head, or no change between them.
                ("POST", ["pulls"]) => {
                    let head = body["head"].as_str().unwrap_or_default();
                    let head = head.split_once(':').map_or(head, |(_, b)| b).to_owned();
                    let base = body["base"].as_str().unwrap_or_default().to_owned();
                    let invalid = |field: &str| {
                        reply(
                            422,
                            &json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": field, "code": "invalid"}]}),
                        )
                    };
                    let Some((head_sha, _)) = repo.branches.get(&head) else {
                        return invalid("head");
                    };
                    if base != "main" {
                        return invalid("base");
                    }
                    if repo.pulls.iter().any(|p| p.head == head && !p.merged) {
                        return reply(
                            422,
                            &json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}]}),
                        );
                    }
                    let head_files = s.commits.get(head_sha).and_then(|t| s.trees.get(t));
                    if head_files == Some(&repo.files) {
                        return reply(
                            422,
                            &json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base} and {head}")}]}),
                        );
                    }
                    let number = repo.pulls.len() as u64 + 1;
                    let pull = FakePull {
                        number,
                        title: body["title"].as_str().unwrap_or_default().to_owned(),
                        body: body["body"].as_str().unwrap_or_default().to_owned(),
                        head: head.clone(),
                        base: base.clone(),
                        merged: false,
                    };
                    if let Some(r) = s.repos.get_mut(&full) {
                        r.pulls.push(pull);
                    }
                    reply(
                        201,
                        &json!({"number": number, "state": "open", "html_url": format!("{WEB}{full}/pull/{number}"), "head": {"ref": head}, "base": {"ref": base}}),
                    )
                }
                ("GET", ["git", "trees", sha]) => {
                    let Some(files) = s.trees.get(*sha).cloned() else {
                        return reply(404, &json!({"message": "Not Found"}));
                    };
                    let entries: Vec<Value> = files.iter().map(|(p, d)| { let sha = s.blob_sha(d); json!({"path": p, "mode": "100644", "type": "blob", "sha": sha, "size": d.len()}) }).collect();
                    reply(
                        200,
                        &json!({"sha": sha, "tree": entries, "truncated": false}),
                    )
                }
                ("GET", ["git", "blobs", sha]) => match s.blobs.get(*sha) {
                    Some(data) => reply(
                        200,
                        &json!({"sha": sha, "encoding": "base64", "content": b64(data), "size": data.len()}),
                    ),
                    None => reply(404, &json!({"message": "Not Found"})),
                },
                ("GET", ["git", "commits", sha]) => match s.commits.get(*sha) {
                    Some(tree) => reply(200, &json!({"sha": sha, "tree": {"sha": tree}})),
                    None => reply(404, &json!({"message": "Not Found"})),
                },
                ("POST", ["git", "blobs"]) => {
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(body["content"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    let sha = s.sha();
                    s.blobs.insert(sha.clone(), data);
                    reply(201, &json!({"sha": sha}))
                }
                ("POST", ["git", "trees"]) => {
                    let mut files = body["base_tree"]
                        .as_str()
                        .and_then(|b| s.trees.get(b))
                        .cloned()
                        .unwrap_or_default();
                    for entry in body["tree"].as_array().into_iter().flatten() {
                        if entry.get("sha").is_some_and(Value::is_null)
                            && entry.get("content").is_none()
                        {
                            files.remove(entry["path"].as_str().unwrap_or_default());
                            continue;
                        }
                        let data = match entry["content"].as_str() {
                            Some(text) => text.as_bytes().to_vec(),
                            None => entry["sha"]
                                .as_str()
                                .and_then(|b| s.blobs.get(b))
                                .cloned()
                                .unwrap_or_default(),
                        };
                        files.insert(entry["path"].as_str().unwrap_or_default().to_owned(), data);
                    }
                    let sha = s.sha();
                    s.trees.insert(sha.clone(), files);
                    reply(201, &json!({"sha": sha}))
                }
                ("POST", ["git", "commits"]) => {
                    let sha = s.sha();
                    s.commits.insert(
                        sha.clone(),
                        body["tree"].as_str().unwrap_or_default().to_owned(),
                    );
                    reply(201, &json!({"sha": sha}))
                }
                // "Protected branch update failed": with required reviews, the default branch
                // changes only through a pull request
                // (docs.github.com/en/repositories/configuring-branches-and-merges-in-your-
                // repository/managing-protected-branches/about-protected-branches).
                ("PATCH", ["git", "refs", "heads", _]) if requires_reviews(&repo) => reply(
                    422,
                    &json!({"message": "Protected branch update failed for refs/heads/main. At least 1 approving review is required by reviewers with write access."}),
                ),
                ("PUT", ["branches", "main", "protection"]) => {
                    if let Some(r) = s.repos.get_mut(&full) {
                        r.protection = Some(body.clone());
                    }
                    reply(
                        200,
                        &json!({"url": format!("{WEB}{full}/branches/main/protection")}),
                    )
                }
                ("PATCH", ["git", "refs", "heads", _]) => {
                    let sha = body["sha"].as_str().unwrap_or_default().to_owned();
                    let files = s.commits.get(&sha).and_then(|t| s.trees.get(t)).cloned();
                    match files {
                        Some(files) => {
                            let next_run = s.next + 1;
                            if let Some(r) = s.repos.get_mut(&full) {
                                // A push to a repository with a workflow on `push` queues a
                                // run (the template's ci.yaml runs on every push).
                                if has_workflow(&files) {
                                    r.runs.push(FakeRun {
                                        id: next_run,
                                        head_sha: sha.clone(),
                                        status: "queued",
                                        conclusion: None,
                                    });
                                }
                                r.files = files;
                                r.commits.push(sha.clone());
                            }
                            s.next = next_run;
                            reply(
                                200,
                                &json!({"ref": "refs/heads/main", "object": {"sha": sha}}),
                            )
                        }
                        None => reply(422, &json!({"message": "Object does not exist"})),
                    }
                }
                _ => reply(
                    404,
                    &json!({"message": format!("fake GitHub does not simulate {m} /repos/{full}/{}", rest.join("/"))}),
                ),
            }
        }
        _ => reply(
            404,
            &json!({"message": format!("fake GitHub does not simulate {method} {path}")}),
        ),
    }
}
