//! Service templates from the bundle (`templates/<id>/`): the same skeleton Backstage renders as a
//! Software Template (`template.yaml`), rendered here with the same `${{ values.<key> }}`
//! placeholders, so a service made by Slipway and one made in Backstage are the same files.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::ServiceError;
use crate::bundle;

/// The templates Slipway offers (`--template`).
pub const TEMPLATES: &[(&str, &str)] = &[("nodejs-v24", "Node.js v24 service")];

/// What a template is rendered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    pub name: String,
    pub team: String,
    pub description: String,
    /// The platform domain (`local` → the service answers at `<name>.local`).
    pub domain: String,
    /// `owner/name` on GitHub, as typed (GitHub's names are case-insensitive).
    pub repo_slug: String,
}

/// The platform's default HTTP ingress port (the host port of the platform node's port 80 in
/// `cluster/kind-config.yaml`): links a service's repository keeps are the same for every
/// teammate on the default setup, as its `<name>.<domain>` host is.
pub const DEFAULT_HTTP_PORT: u16 = 8880;

impl Values {
    /// The service's image: ghcr.io and the kubelet take only lower-case repository names.
    pub fn image(&self) -> String {
        format!("ghcr.io/{}", self.repo_slug.to_lowercase())
    }

    /// The platform's Grafana, where the catalog entry's links to the service's signals go.
    pub fn grafana_url(&self) -> String {
        crate::platform::ingress_url(&format!("grafana.{}", self.domain), DEFAULT_HTTP_PORT)
    }
}

impl Values {
    fn get(&self, key: &str) -> Option<std::borrow::Cow<'_, str>> {
        Some(match key {
            "name" => self.name.as_str().into(),
            "team" => self.team.as_str().into(),
            "description" => self.description.as_str().into(),
            "domain" => self.domain.as_str().into(),
            "repoSlug" => self.repo_slug.as_str().into(),
            "image" => self.image().into(),
            "grafanaUrl" => self.grafana_url().into(),
            _ => return None,
        })
    }
}

/// A placeholder key a template uses that [`Values`] has no value for.
type UnknownKey = String;

/// A rendered service: relative path → file content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Render `template`'s skeleton with `values`. Files matching the template's
/// `copyWithoutTemplating` globs (GitHub workflow files, whose `${{ github.* }}` belong to
/// Actions) are copied as they are; anywhere else an unknown `${{ values.x }}` is an error.
pub fn render(template: &str, values: &Values) -> Result<Files, ServiceError> {
    let prefix = format!("templates/{template}/skeleton/");
    let skeleton: Files = bundle::Bundle::iter()
        .filter(|p| p.starts_with(&prefix))
        .map(|p| {
            (
                p[prefix.len()..].to_owned(),
                bundle::Bundle::get(&p)
                    .map(|f| f.data.into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    render_files(template, &skeleton, values)
}

/// Render any skeleton (the embedded one, or a GitHub template repository's files) with
/// `template`'s rules.
pub fn render_files(
    template: &str,
    skeleton: &Files,
    values: &Values,
) -> Result<Files, ServiceError> {
    if !TEMPLATES.iter().any(|(id, _)| *id == template) {
        let known: Vec<&str> = TEMPLATES.iter().map(|(id, _)| *id).collect();
        return Err(ServiceError::Invalid(vec![format!(
            "unknown template {template:?}; available: {}",
            known.join(", ")
        )]));
    }
    let definition: Value = bundle::yaml(&format!("templates/{template}/template.yaml"))?;
    let verbatim: Vec<String> = definition["spec"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["action"] == "fetch:template")
        .flat_map(|s| {
            s["input"]["copyWithoutTemplating"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    let mut files = Files::new();
    for (relative, data) in skeleton {
        let rendered = match std::str::from_utf8(data) {
            Ok(text) if !verbatim.iter().any(|g| glob_match(g, relative)) => {
                substitute(text, &|key| values.get(key))
                    .map_err(|key| ServiceError::Placeholder {
                        file: relative.clone(),
                        key,
                    })?
                    .into_bytes()
            }
            // Workflows keep their Actions expressions; binary files are copied as they are.
            _ => data.clone(),
        };
        files.insert(relative.clone(), rendered);
    }
    Ok(files)
}

/// A personal account's entry in the platform repository's `services/` (what the workloads
/// ApplicationSet makes an Application of), from the template's `registry/` folder: the same
/// file the Backstage form's pull request adds. Path and content.
pub fn registry_entry(
    template: &str,
    name: &str,
    repo_url: &str,
    branch: &str,
    team: &str,
) -> Result<(String, Vec<u8>), ServiceError> {
    let prefix = format!("templates/{template}/registry/");
    let path = bundle::Bundle::iter()
        .find(|p| p.starts_with(&prefix))
        .ok_or_else(|| {
            ServiceError::Invalid(vec![format!("template {template:?} has no registry entry")])
        })?;
    let lookup = |key: &str| -> Option<std::borrow::Cow<'_, str>> {
        Some(match key {
            "name" => name.into(),
            "repoUrl" => repo_url.into(),
            "branch" => branch.into(),
            "team" => team.into(),
            _ => return None,
        })
    };
    let placeholder = |key: UnknownKey| ServiceError::Placeholder {
        file: path.to_string(),
        key,
    };
    let file = substitute(&path[prefix.len()..], &lookup).map_err(placeholder)?;
    let data = bundle::Bundle::get(&path)
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default();
    let text = substitute(&data, &lookup).map_err(placeholder)?;
    Ok((format!("services/{file}"), text.into_bytes()))
}

/// Replace every `${{ values.key }}` with what `lookup` gives; the unknown key on failure.
fn substitute<'a>(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<std::borrow::Cow<'a, str>>,
) -> Result<String, UnknownKey> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let expression = after[..end].trim();
        match expression.strip_prefix("values.") {
            Some(key) => out.push_str(&lookup(key).ok_or_else(|| key.to_owned())?),
            // Not ours (e.g. GitHub Actions' own expressions): keep it.
            None => out.push_str(&rest[start..start + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `*` within one path segment, as the scaffolder's globs in `copyWithoutTemplating`.
fn glob_match(glob: &str, path: &str) -> bool {
    let (g, p): (Vec<&str>, Vec<&str>) = (glob.split('/').collect(), path.split('/').collect());
    g.len() == p.len()
        && g.iter().zip(&p).all(|(g, p)| match g.split_once('*') {
            None => g == p,
            Some((head, tail)) => {
                p.len() >= head.len() + tail.len() && p.starts_with(head) && p.ends_with(tail)
            }
        })
}

/// Write rendered files under `dir` (created), keeping the executable bit off and paths inside.
pub fn write(files: &Files, dir: &Path) -> Result<(), ServiceError> {
    for (relative, data) in files {
        if relative.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(ServiceError::PathEscapes(relative.clone()));
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ServiceError::Io {
                action: "create",
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, data).map_err(|source| ServiceError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            name: "shop-api".into(),
            team: "payments".into(),
            description: "Shop API".into(),
            domain: "local".into(),
            repo_slug: "acme/shop-api".into(),
        }
    }

    /// The template's CI runs other people's actions with the repository's token: every action
    /// is pinned by a full commit SHA, the workflow reads by default, and the one job that may
    /// write packages runs only for pushes to the default branch, after the tests.
    #[test]
    fn the_ci_workflow_pins_actions_and_writes_packages_only_when_publishing() {
        let files = render("nodejs-v24", &values()).expect("render");
        let workflow: Value = serde_saphyr::from_str(&String::from_utf8_lossy(
            &files[".github/workflows/ci.yaml"],
        ))
        .expect("workflow YAML");
        assert_eq!(
            workflow["permissions"],
            serde_json::json!({"contents": "read"})
        );
        let jobs = workflow["jobs"].as_object().expect("jobs");
        let mut writers = Vec::new();
        for (name, job) in jobs {
            for step in job["steps"].as_array().expect("steps") {
                if let Some(uses) = step["uses"].as_str() {
                    let (_, rev) = uses.split_once('@').expect("a pinned revision");
                    assert!(
                        rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
                        "{name}: {uses} is not pinned by commit SHA"
                    );
                }
            }
            if job["permissions"]["packages"] == "write" {
                writers.push(name.as_str());
                let condition = job["if"].as_str().unwrap_or_default();
                assert!(
                    condition.contains("github.event_name == 'push'")
                        && condition.contains("github.event.repository.default_branch"),
                    "{name} writes packages without being limited to the default branch: {condition:?}"
                );
                assert!(
                    job["needs"].as_str().is_some(),
                    "{name} runs after the tests"
                );
            }
        }
        assert_eq!(writers, ["publish"]);

        // Images for Apple silicon too, under a lower-case name, recorded in deploy/ after
        // the push so Argo CD rolls each build out; any default branch publishes.
        let publish = &jobs["publish"];
        let steps = publish["steps"].as_array().expect("steps");
        let build = steps
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("docker/build-push-action@"))
            })
            .expect("build");
        assert_eq!(build["with"]["platforms"], "linux/amd64,linux/arm64");
        assert!(steps.iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/setup-qemu-action@"))
        }));
        let text = serde_json::to_string(&workflow).expect("json");
        assert!(
            text.contains("${GITHUB_REPOSITORY,,}")
                && !text.contains("ghcr.io/${{ github.repository }}"),
            "the image name is lower-cased"
        );
        let record = steps
            .iter()
            .find(|s| s["name"] == "Record the image in deploy/")
            .expect("the record step");
        assert!(
            record["run"]
                .as_str()
                .is_some_and(|r| r.contains("newTag") && r.contains("git push"))
        );
        assert_eq!(publish["permissions"]["contents"], "write");
        assert!(
            workflow["on"]["push"].get("branches").is_none(),
            "no branch name is assumed"
        );
    }

    #[test]
    fn upper_case_owners_get_a_lower_case_image_and_the_pod_fits_its_request() {
        let values = Values {
            repo_slug: "Acme-Corp/Shop-API".into(),
            ..values()
        };
        let files = render("nodejs-v24", &values).expect("render");
        let kustomization: Value = serde_saphyr::from_str(&String::from_utf8_lossy(
            &files["deploy/kustomization.yaml"],
        ))
        .expect("kustomization");
        assert_eq!(
            kustomization["images"][0]["newName"],
            "ghcr.io/acme-corp/shop-api"
        );
        let catalog = String::from_utf8_lossy(&files["catalog-info.yaml"]);
        assert!(
            catalog.contains("github.com/project-slug: Acme-Corp/Shop-API"),
            "{catalog}"
        );
        let deployment: Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&files["deploy/deployment.yaml"]))
                .expect("deployment");
        // The measured RSS of the template's server is about 109 MiB.
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"],
            "128Mi"
        );
    }

    #[test]
    fn renders_every_placeholder_and_keeps_actions_expressions() {
        let files = render("nodejs-v24", &values()).expect("render");
        for (path, data) in &files {
            let text = String::from_utf8_lossy(data);
            assert!(
                !text.contains("${{ values."),
                "{path} still has a placeholder"
            );
        }
        let workflow = String::from_utf8_lossy(&files[".github/workflows/ci.yaml"]);
        assert!(
            workflow.contains("${{ steps.image.outputs.name }}"),
            "workflow expressions are Actions'"
        );
        let catalog: Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&files["catalog-info.yaml"]))
                .expect("catalog-info YAML");
        assert_eq!(catalog["metadata"]["name"], "shop-api");
        assert_eq!(
            catalog["metadata"]["annotations"]["github.com/project-slug"],
            "acme/shop-api"
        );
        assert_eq!(
            catalog["metadata"]["annotations"]["argocd/app-name"],
            "shop-api"
        );
        assert_eq!(
            (
                catalog["spec"]["type"].as_str(),
                catalog["spec"]["lifecycle"].as_str(),
                catalog["spec"]["owner"].as_str()
            ),
            (
                Some("service"),
                Some("experimental"),
                Some("group:payments")
            )
        );
        let package: Value = serde_json::from_slice(&files["package.json"]).expect("package.json");
        assert_eq!(package["name"], "shop-api");
        assert_eq!(package["engines"]["node"], ">=24");
        let lock: Value = serde_json::from_slice(&files["package-lock.json"]).expect("lockfile");
        assert_eq!(
            lock["packages"][""]["dependencies"], package["dependencies"],
            "the lockfile matches package.json"
        );
        let ingress: Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&files["deploy/ingress.yaml"]))
                .expect("ingress");
        assert_eq!(ingress["spec"]["rules"][0]["host"], "shop-api.local");
    }

    #[test]
    fn unknown_placeholders_and_templates_are_errors() {
        assert_eq!(
            substitute("a ${{ values.nope }} b", &|k| values()
                .get(k)
                .map(|v| v.into_owned().into())),
            Err("nope".into())
        );
        assert_eq!(
            substitute("${{values.name}}-x ${{ github.sha }}", &|k| values()
                .get(k)
                .map(|v| v.into_owned().into()))
            .as_deref(),
            Ok("shop-api-x ${{ github.sha }}")
        );
        assert!(
            render("java-21", &values())
                .expect_err("unknown")
                .to_string()
                .contains("nodejs-v24")
        );
    }

    #[test]
    fn globs_match_within_one_segment() {
        assert!(glob_match(
            ".github/workflows/*",
            ".github/workflows/ci.yaml"
        ));
        assert!(!glob_match(
            ".github/workflows/*",
            ".github/workflows/sub/ci.yaml"
        ));
        assert!(!glob_match(".github/workflows/*", "src/app.js"));
    }
}
