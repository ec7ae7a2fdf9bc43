//! The SIMULATED Backstage scaffolder: runs a Software Template's steps as Backstage's
//! NunjucksWorkflowRunner does (inputs and `if` rendered by the real nunjucks in
//! tests/scaffolder/render.mjs), with the actions the bundle's templates use, against the fake
//! GitHub and the fake catalog. Each action does what its Backstage source does (cited per
//! action; facts from backstage/backstage and gr2m/octokit-plugin-create-pull-request), through
//! the same REST endpoints, except the Git push, which the fake takes directly (it serves no Git
//! protocol).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value, json};

use crate::fakes::FakeGitHub;

type Result<T> = std::result::Result<T, String>;

/// What a task ended with: each step's id and whether it ran (`completed`) or its `if` was
/// false (`skipped`), and the template's rendered `output`.
#[derive(Debug)]
pub struct Run {
    pub steps: Vec<(String, &'static str)>,
    pub output: Value,
}

pub struct Scaffolder<'a> {
    pub github: &'a FakeGitHub,
    pub github_token: &'a str,
    /// The catalog's base URL and the scaffolder's token for it.
    pub catalog: String,
    pub catalog_token: &'a str,
}

/// A repository as the template's `repoUrl` names it (`host?owner=o&repo=r`, RepoUrlPicker).
struct RepoSpec {
    owner: String,
    repo: String,
}

fn parse_repo_url(url: &str) -> Result<RepoSpec> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let get = |key: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    Ok(RepoSpec {
        repo: get("repo").ok_or(format!(
            "Invalid repo URL passed to publisher: {url}, missing repo"
        ))?,
        owner: get("owner").ok_or(format!(
            "Invalid repo URL passed to publisher: {url}, missing owner"
        ))?,
    })
}

/// One request to the templating engine (render.mjs), answered with its `value`.
fn nunjucks(request: &Value) -> Result<Value> {
    let mut child = Command::new(crate::tools_dir().join("node"))
        .arg(crate::root().join("tests/scaffolder/render.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("node 24 (scripts/fetch-tools.sh): {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("stdin")?;
        stdin
            .write_all(request.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "nunjucks (npm ci in tests/scaffolder): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut answer: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(answer["value"].take())
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `a/./b/../c` → `a/c`, without a leading or trailing `/`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn under(dir: &str, path: &str) -> String {
    normalise(&format!("{dir}/{path}"))
}

impl Scaffolder<'_> {
    async fn call(
        &self,
        base: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| e.to_string())?;
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{method} {path}: {status} {value}"))
        }
    }

    async fn gh(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        self.call(&self.github.url(), self.github_token, method, path, body)
            .await
    }

    /// Run the template at `template` (a path in the repository `repo`, where the catalog read
    /// it) with the form's `parameters`.
    pub async fn run(&self, repo: &str, template: &str, parameters: Value) -> Result<Run> {
        let files = self
            .github
            .repo(repo)
            .ok_or("no template repository")?
            .files;
        let spec: Value = serde_saphyr::from_str(&String::from_utf8_lossy(
            files.get(template).ok_or("no template file")?,
        ))
        .map_err(|e| e.to_string())?;
        let template_dir = template.rsplit_once('/').map_or("", |(d, _)| d);
        let mut context = json!({"parameters": parameters, "steps": {}});
        let mut workspace: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut steps = Vec::new();
        for step in spec["spec"]["steps"].as_array().ok_or("no steps")? {
            let id = step["id"].as_str().unwrap_or_default().to_owned();
            if let Some(condition) = step.get("if")
                && nunjucks(&json!({"op": "if", "value": condition, "context": context}))? != true
            {
                steps.push((id, "skipped"));
                continue;
            }
            let input =
                nunjucks(&json!({"op": "input", "value": step["input"], "context": context}))?;
            let output = match step["action"].as_str().unwrap_or_default() {
                "fetch:template" => {
                    self.fetch_template(&files, template_dir, &input, &mut workspace)?;
                    json!({})
                }
                "publish:github" => self.publish_github(&input, &workspace).await?,
                "catalog:register" => self.catalog_register(&input).await?,
                "publish:github:pull-request" => self.pull_request(&input, &workspace).await?,
                other => return Err(format!("the simulated scaffolder has no action {other}")),
            };
            context["steps"][&id] = json!({"output": output});
            steps.push((id, "completed"));
        }
        let output =
            nunjucks(&json!({"op": "input", "value": spec["spec"]["output"], "context": context}))?;
        Ok(Run { steps, output })
    }

    /// fetch:template (plugins/scaffolder-backend/src/scaffolder/actions/builtin/fetch/
    /// template.ts): the files under `url` (relative to the template's file) rendered with
    /// `{ values }` into the workspace at `targetPath`.
    fn fetch_template(
        &self,
        repo_files: &BTreeMap<String, Vec<u8>>,
        template_dir: &str,
        input: &Value,
        workspace: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        let source = under(template_dir, input["url"].as_str().unwrap_or("."));
        let prefix = format!("{source}/");
        let files: Map<String, Value> = repo_files
            .iter()
            .filter_map(|(p, d)| {
                p.strip_prefix(&prefix)
                    .map(|rel| (rel.to_owned(), json!(b64(d))))
            })
            .collect();
        let rendered = nunjucks(&json!({
            "op": "files",
            "files": files,
            "values": input["values"],
            "copyWithoutTemplating": input["copyWithoutTemplating"].as_array().cloned().unwrap_or_default(),
        }))?;
        let target = normalise(input["targetPath"].as_str().unwrap_or("."));
        for (path, data) in rendered.as_object().ok_or("rendered files")? {
            let data = base64::engine::general_purpose::STANDARD
                .decode(data.as_str().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            workspace.insert(under(&target, path), data);
        }
        Ok(())
    }

    /// publish:github (plugins/scaffolder-backend-module-github/src/actions/github.ts and
    /// helpers.ts): GET /users/{owner} decides organisation or user; the repository is private
    /// unless `repoVisibility` says otherwise; topics lower-cased; the workspace pushed as
    /// "initial commit"; the default branch protected with one required review unless
    /// `protectDefaultBranch: false`. Outputs `remoteUrl` (clone_url), `repoContentsUrl`
    /// (html_url/blob/<branch>), `commitHash`.
    async fn publish_github(
        &self,
        input: &Value,
        workspace: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Value> {
        let spec = parse_repo_url(input["repoUrl"].as_str().unwrap_or_default())?;
        let branch = input["defaultBranch"].as_str().unwrap_or("main");
        let visibility = input["repoVisibility"].as_str().unwrap_or("private");
        let user = self
            .gh("GET", &format!("/users/{}", spec.owner), None)
            .await?;
        let mut body = json!({"name": spec.repo, "description": input["description"], "private": visibility == "private", "auto_init": false});
        let create = if user["type"] == "Organization" {
            body["visibility"] = json!(visibility);
            format!("/orgs/{}/repos", spec.owner)
        } else {
            "/user/repos".to_owned()
        };
        let repo = self.gh("POST", &create, Some(body)).await?;
        let full = format!("{}/{}", spec.owner, spec.repo);
        if let Some(topics) = input["topics"].as_array() {
            let names: Vec<String> = topics
                .iter()
                .filter_map(|t| t.as_str().map(str::to_lowercase))
                .collect();
            // A failure here only warns (`Skipping topics …`).
            let _ = self
                .gh(
                    "PUT",
                    &format!("/repos/{full}/topics"),
                    Some(json!({"names": names})),
                )
                .await;
        }
        let source = normalise(input["sourcePath"].as_str().unwrap_or("."));
        let files: BTreeMap<String, Vec<u8>> = workspace
            .iter()
            .filter_map(|(p, d)| {
                let rel = if source.is_empty() {
                    Some(p.as_str())
                } else {
                    p.strip_prefix(&format!("{source}/"))
                };
                rel.map(|r| (r.to_owned(), d.clone()))
            })
            .collect();
        let commit = self.github.push(&full, files, "initial commit")?;
        if input["protectDefaultBranch"] != false {
            let reviews = input["requiredApprovingReviewCount"].as_u64().unwrap_or(1);
            // A failure here only warns (`Skipping: default branch protection …`).
            let _ = self
                .gh(
                    "PUT",
                    &format!("/repos/{full}/branches/{branch}/protection"),
                    Some(json!({"required_status_checks": null, "enforce_admins": input["protectEnforceAdmins"] != false, "required_pull_request_reviews": {"required_approving_review_count": reviews}, "restrictions": null})),
                )
                .await;
        }
        Ok(json!({
            "remoteUrl": repo["clone_url"],
            "repoContentsUrl": format!("{}/blob/{branch}", repo["html_url"].as_str().unwrap_or_default()),
            "commitHash": commit,
        }))
    }

    /// catalog:register (plugins/scaffolder-backend/src/scaffolder/actions/builtin/catalog/
    /// register.ts): the location `<repoContentsUrl>` + `catalogInfoPath` in GitHub's `tree`
    /// form, added, then a dry run for the entities; `entityRef` is the first Component not
    /// named `generated-…` (none when the catalog names no entity).
    async fn catalog_register(&self, input: &Value) -> Result<Value> {
        let target = match input["catalogInfoUrl"].as_str() {
            Some(url) => url.to_owned(),
            None => {
                let base = input["repoContentsUrl"]
                    .as_str()
                    .unwrap_or_default()
                    .replacen("/blob/", "/tree/", 1);
                let path = input["catalogInfoPath"]
                    .as_str()
                    .unwrap_or("/catalog-info.yaml");
                format!("{base}/{}", path.trim_start_matches('/'))
            }
        };
        let location = json!({"type": "url", "target": target});
        self.call(
            &self.catalog,
            self.catalog_token,
            "POST",
            "/api/catalog/locations",
            Some(location.clone()),
        )
        .await?;
        let dry = self
            .call(
                &self.catalog,
                self.catalog_token,
                "POST",
                "/api/catalog/locations?dryRun=true",
                Some(location),
            )
            .await?;
        let entities = dry["entities"].as_array().cloned().unwrap_or_default();
        let named = |e: &&Value| {
            !e["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("generated-")
        };
        let chosen = entities
            .iter()
            .find(|e| e["kind"] == "Component" && named(e))
            .or_else(|| entities.iter().find(named))
            .or_else(|| entities.first());
        let mut output = json!({"catalogInfoUrl": target});
        if let Some(e) = chosen {
            output["entityRef"] = json!(
                format!(
                    "{}:{}/{}",
                    e["kind"].as_str().unwrap_or_default(),
                    e["metadata"]["namespace"].as_str().unwrap_or("default"),
                    e["metadata"]["name"].as_str().unwrap_or_default()
                )
                .to_lowercase()
            );
        }
        Ok(output)
    }

    /// publish:github:pull-request (plugins/scaffolder-backend-module-github/src/actions/
    /// githubPullRequest.ts, through octokit-plugin-create-pull-request): the workspace files
    /// under `sourcePath`, placed under `targetPath`, committed (message: the title) on a new
    /// branch `branchName` from `targetBranchName` (or the default branch), and a pull request
    /// into it. Outputs `remoteUrl` (the pull request's page), `pullRequestNumber`,
    /// `targetBranchName`.
    async fn pull_request(
        &self,
        input: &Value,
        workspace: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Value> {
        let spec = parse_repo_url(input["repoUrl"].as_str().unwrap_or_default())?;
        let full = format!("{}/{}", spec.owner, spec.repo);
        let repo = self.gh("GET", &format!("/repos/{full}"), None).await?;
        if repo["permissions"]["push"] != true {
            return Err("the simulated scaffolder does not fork: the token cannot push".into());
        }
        let base = input["targetBranchName"]
            .as_str()
            .or(repo["default_branch"].as_str())
            .unwrap_or("main")
            .to_owned();
        let latest = self
            .gh(
                "GET",
                &format!("/repos/{full}/commits?sha={base}&per_page=1"),
                None,
            )
            .await?;
        let (parent, base_tree) = (
            latest[0]["sha"]
                .as_str()
                .ok_or("no commit on the base")?
                .to_owned(),
            latest[0]["commit"]["tree"]["sha"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        let source = normalise(input["sourcePath"].as_str().unwrap_or("."));
        let target = normalise(input["targetPath"].as_str().unwrap_or("."));
        let mut tree = Vec::new();
        for (path, data) in workspace {
            let rel = if source.is_empty() {
                Some(path.as_str())
            } else {
                path.strip_prefix(&format!("{source}/"))
            };
            let Some(rel) = rel else { continue };
            let blob = self
                .gh(
                    "POST",
                    &format!("/repos/{full}/git/blobs"),
                    Some(json!({"content": b64(data), "encoding": "base64"})),
                )
                .await?;
            tree.push(json!({"path": under(&target, rel), "mode": "100644", "type": "blob", "sha": blob["sha"]}));
        }
        let tree = self
            .gh(
                "POST",
                &format!("/repos/{full}/git/trees"),
                Some(json!({"base_tree": base_tree, "tree": tree})),
            )
            .await?;
        let title = input["title"].as_str().unwrap_or_default();
        let commit = self
            .gh(
                "POST",
                &format!("/repos/{full}/git/commits"),
                Some(json!({"message": input["commitMessage"].as_str().unwrap_or(title), "tree": tree["sha"], "parents": [parent]})),
            )
            .await?;
        let branch = input["branchName"]
            .as_str()
            .ok_or("branchName is required")?;
        if self
            .gh(
                "GET",
                &format!("/repos/{full}/git/ref/heads/{branch}"),
                None,
            )
            .await
            .is_ok()
        {
            self.gh(
                "PATCH",
                &format!("/repos/{full}/git/refs/heads/{branch}"),
                Some(json!({"sha": commit["sha"], "force": true})),
            )
            .await?;
        } else {
            self.gh(
                "POST",
                &format!("/repos/{full}/git/refs"),
                Some(json!({"ref": format!("refs/heads/{branch}"), "sha": commit["sha"]})),
            )
            .await?;
        }
        let pull = self
            .gh(
                "POST",
                &format!("/repos/{full}/pulls"),
                Some(json!({"title": title, "body": input["description"], "head": format!("{}:{branch}", spec.owner), "base": base, "draft": input["draft"] == true})),
            )
            .await
            .map_err(|e| format!("Pull request creation failed: {e}"))?;
        Ok(
            json!({"remoteUrl": pull["html_url"], "pullRequestNumber": pull["number"], "targetBranchName": pull["base"]["ref"]}),
        )
    }
}
