//! SIMULATED Argo CD repo-server and Git generators. Real Argo CD clones the repository; here the
//! test hands kube-sim a [`GitSource`] (the fake GitHub, in process) that answers with a branch's
//! files. What is simulated: directory Applications (plain YAML/JSON in `path`, `directory.exclude`
//! / `include` globs with `{a,b}` alternatives, `recurse`), the repository and path checks of
//! every Git source (a missing repository, path or `$values` file is a ComparisonError as in Argo
//! CD), and the Git files generator of ApplicationSets. Kustomize and Helm paths are rendered by
//! [`super::argocd`] when kube-sim has a real `kubectl` and `helm`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Where the simulated repo-server reads Git content from.
pub trait GitSource: Send + Sync {
    /// The files of the repository at `repo_url` on `revision` (a branch), or `None` when no such
    /// repository is reachable.
    fn files(&self, repo_url: &str, revision: &str) -> Option<BTreeMap<String, Vec<u8>>>;

    /// An organisation's repositories as the GitHub SCM provider lists them
    /// (`GET /orgs/{org}/repos`), or `None` when the organisation cannot be listed.
    fn organization_repositories(&self, org: &str) -> Option<Vec<ScmRepository>> {
        let _ = org;
        None
    }
}

/// One repository as the SCM provider sees it (`services/scm_provider/github.go` ListRepos):
/// the https clone URL, the default branch and its head commit, the topics as labels.
#[derive(Debug, Clone)]
pub struct ScmRepository {
    pub organization: String,
    pub repository: String,
    pub url: String,
    pub branch: String,
    pub sha: String,
    pub labels: Vec<String>,
}

/// A path glob as Argo CD matches them: `*` stays inside one path segment, `{a,b}` alternatives.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::default()
    };
    expand_braces(pattern)
        .iter()
        .any(|p| glob::Pattern::new(p).is_ok_and(|p| p.matches_with(path, options)))
}

fn expand_braces(pattern: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (pattern.find('{'), pattern.find('}')) else {
        return vec![pattern.to_owned()];
    };
    if close < open {
        return vec![pattern.to_owned()];
    }
    let (head, alternatives, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    alternatives
        .split(',')
        .flat_map(|a| expand_braces(&format!("{head}{a}{tail}")))
        .collect()
}

/// The objects a directory source deploys, or why Argo CD could not compare it.
pub enum Rendered {
    Objects(Vec<Value>),
    /// A Kustomize or Helm source: it exists, rendering it is not simulated.
    NotRendered(&'static str),
}

/// Read `source` (an Application's `spec.source`) through `git`, as the repo-server would.
pub fn render_source(git: &dyn GitSource, source: &Value) -> Result<Rendered, String> {
    let repo = source["repoURL"].as_str().unwrap_or_default();
    let revision = source["targetRevision"]
        .as_str()
        .filter(|r| !r.is_empty() && *r != "HEAD")
        .unwrap_or("main");
    let files = git
        .files(repo, revision)
        .ok_or_else(|| format!("rpc error: code = Unknown desc = repository not found: {repo}"))?;
    let dir = source["path"].as_str().unwrap_or(".").trim_matches('/');
    let prefix = if dir.is_empty() || dir == "." {
        String::new()
    } else {
        format!("{dir}/")
    };
    let inside: Vec<(&String, &Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .collect();
    if inside.is_empty() {
        return Err(format!("{dir}: app path does not exist"));
    }
    if inside
        .iter()
        .any(|(p, _)| p.as_str() == format!("{prefix}kustomization.yaml"))
    {
        return Ok(Rendered::NotRendered("Kustomize"));
    }
    if inside
        .iter()
        .any(|(p, _)| p.as_str() == format!("{prefix}Chart.yaml"))
    {
        return Ok(Rendered::NotRendered("Helm"));
    }
    let directory = &source["directory"];
    let recurse = directory["recurse"].as_bool().unwrap_or(false);
    let mut objects = Vec::new();
    for (path, data) in inside {
        let relative = &path[prefix.len()..];
        let known = [".yaml", ".yml", ".json"]
            .iter()
            .any(|e| relative.ends_with(e));
        let excluded = directory["exclude"]
            .as_str()
            .is_some_and(|g| !g.is_empty() && glob_matches(g, relative));
        let included = directory["include"]
            .as_str()
            .is_none_or(|g| g.is_empty() || glob_matches(g, relative));
        if !known || excluded || !included || (!recurse && relative.contains('/')) {
            continue;
        }
        let text = String::from_utf8_lossy(data);
        for doc in
            serde_saphyr::from_multiple::<Value>(&text).map_err(|e| format!("{path}: {e}"))?
        {
            if doc.is_object() {
                objects.push(doc);
            }
        }
    }
    Ok(Rendered::Objects(objects))
}

/// The `ref` sources of a multi-source Application, and the `$ref/...` value files others read:
/// each must exist, as Argo CD fails the comparison otherwise.
pub fn check_value_files(git: &dyn GitSource, sources: &[Value]) -> Result<(), String> {
    let refs: BTreeMap<&str, &Value> = sources
        .iter()
        .filter_map(|s| Some((s["ref"].as_str()?, s)))
        .collect();
    for source in sources {
        for file in source["helm"]["valueFiles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let Some(rest) = file.strip_prefix('$') else {
                continue;
            };
            let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
            let r = refs
                .get(name)
                .ok_or_else(|| format!("{file}: no source with ref {name}"))?;
            let repo = r["repoURL"].as_str().unwrap_or_default();
            let files = git
                .files(repo, r["targetRevision"].as_str().unwrap_or("main"))
                .ok_or_else(|| format!("repository not found: {repo}"))?;
            if !files.contains_key(path) {
                return Err(format!("{file}: no such file in {repo}"));
            }
        }
    }
    Ok(())
}

/// The Git files generator: one parameter set per matching YAML/JSON file, its keys plus `path`
/// (`path`, `basename`, `filename`, `basenameNormalized`, `filenameNormalized`, `segments`).
pub fn files_generator(git: &dyn GitSource, generator: &Value) -> Result<Vec<Value>, String> {
    let repo = generator["repoURL"].as_str().unwrap_or_default();
    let files = git
        .files(repo, generator["revision"].as_str().unwrap_or("main"))
        .ok_or_else(|| format!("repository not found: {repo}"))?;
    let globs: Vec<&str> = generator["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect();
    let mut elements = Vec::new();
    for (path, data) in files
        .iter()
        .filter(|(p, _)| globs.iter().any(|g| glob_matches(g, p)))
    {
        let mut element: Value = serde_saphyr::from_str(&String::from_utf8_lossy(data))
            .map_err(|e| format!("unable to process file '{path}': {e}"))?;
        if !element.is_object() {
            return Err(format!("unable to process file '{path}': not a map"));
        }
        let (dir, filename) = path.rsplit_once('/').unwrap_or(("", path));
        let basename = dir.rsplit('/').next().unwrap_or_default();
        let normalize = |s: &str| s.replace(['_', '.'], "-").to_lowercase();
        element["path"] = json!({
            "path": dir, "basename": basename, "filename": filename,
            "basenameNormalized": normalize(basename), "filenameNormalized": normalize(filename),
            "segments": dir.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        });
        elements.push(element);
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_argo_cd() {
        assert!(glob_matches(
            "platform/components/*.yaml",
            "platform/components/traefik.yaml"
        ));
        assert!(
            !glob_matches("platform/*.yaml", "platform/components/traefik.yaml"),
            "* stays in a segment"
        );
        assert!(glob_matches(
            "{root-app.yaml,workloads-appset.yaml}",
            "workloads-appset.yaml"
        ));
        assert!(!glob_matches(
            "{root-app.yaml,workloads-appset.yaml}",
            "projects.yaml"
        ));
    }
}
