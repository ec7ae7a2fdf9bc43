//! Publishing the embedded bundle as the owner's platform repository (what Argo CD reads in
//! GitHub mode): owner, host and API filled in, everything in one commit.
//!
//! Whoever can write this repository controls every member's cluster, and several members run
//! `up` against it, so a publish never undoes someone else's work: the repository records what
//! Slipway last published (`.slipway/published.json`: Slipway's version and each bundle file's
//! Git blob id) and a later run writes only when its bundle differs from that record *and* nobody
//! changed those files since. Edits by others are kept while the bundle is unchanged; when both
//! changed, the run stops and names the paths. Nothing of one developer's (domain, ports) is in
//! the repository: those reach each cluster directly (see `gitops::backstage_config`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle;
use crate::github::{DEFAULT_API, GitHub, GitHubError};

/// The platform repository's name under the owner.
pub const PLATFORM_REPO: &str = "slipway-platform";

/// Where the platform repository lives and what the bundle is filled in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub owner: String,
    /// The owner is an organisation (Argo CD's SCM generator lists its repositories), else a
    /// user (the registry ApplicationSet reads `services/*.yaml` instead).
    pub org: bool,
    /// GitHub's web address: `https://github.com`, or a GitHub Enterprise host.
    pub web: String,
    /// GitHub's API, for the SCM generator.
    pub api: String,
    /// The platform repository's default branch (`PLATFORM_BRANCH` in the bundle): whatever
    /// the user's or organisation's setting made it, not necessarily `main`.
    pub branch: String,
    /// The optional parts the platform goes without: their component files are not published
    /// (one published earlier is removed, so Argo CD prunes it).
    pub without: Vec<super::gitops::Part>,
    /// An existing cluster (`up --context`): each component's values file for it is published
    /// under `targets/cluster/values/` and the platform ApplicationSet reads it after the base.
    pub target: Option<super::target::Shape>,
}

impl Site {
    /// github.com for `owner`, with the default domain.
    pub fn github_com(owner: &str, org: bool) -> Self {
        Self {
            owner: owner.into(),
            org,
            web: "https://github.com".into(),
            api: DEFAULT_API.into(),
            branch: "main".into(),
            without: Vec::new(),
            target: None,
        }
    }

    /// The platform repository's clone URL, as Argo CD's Applications name it.
    pub fn repo_url(&self) -> String {
        format!("{}/{}/{PLATFORM_REPO}.git", self.web, self.owner)
    }

    /// The prefix Argo CD's repository credentials match: every repository of the owner.
    pub fn owner_url(&self) -> String {
        format!("{}/{}", self.web, self.owner)
    }

    /// GitHub's host name (Backstage's integration and allowed hosts).
    pub fn host(&self) -> &str {
        self.web
            .split_once("://")
            .map_or(self.web.as_str(), |(_, h)| h)
            .trim_end_matches('/')
    }

    /// The workloads ApplicationSet this owner needs; the other is left out of the root's sync.
    fn unused_workloads_appset(&self) -> &'static str {
        if self.org {
            "workloads-registry-appset.yaml"
        } else {
            "workloads-appset.yaml"
        }
    }
}

/// The bundle as the repository holds it for `site` (service templates' skeletons are copied
/// as they are: Backstage renders them).
pub fn files(site: &Site) -> BTreeMap<String, Vec<u8>> {
    let slug = format!("{}/{PLATFORM_REPO}", site.owner);
    let left_out = super::gitops::components()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.part.is_some_and(|p| site.without.contains(&p)))
        .flat_map(|c| {
            [
                format!("platform/components/{}.yaml", c.name),
                format!("platform/values/{}.yaml", c.name),
            ]
        })
        .collect::<Vec<_>>();
    let workload_nodes = super::target::workload_patch(site.target.as_ref()).to_string();
    let mut files: BTreeMap<String, Vec<u8>> = bundle::Bundle::iter()
        .filter(|path| !left_out.iter().any(|p| p == path.as_ref()))
        .filter_map(|path| {
            let data = bundle::Bundle::get(&path)?.data.into_owned();
            let data = match String::from_utf8(data) {
                Ok(text) if !path.contains("/skeleton/") => {
                    // The API first: its URL contains the host.
                    let text = text
                        .replace(DEFAULT_API, &site.api)
                        .replace("https://github.com/", &format!("{}/", site.web))
                        .replace("github.com", site.host())
                        .replace("${SLIPWAY_PLATFORM_REPO}", &slug)
                        .replace("OWNER", &site.owner)
                        .replace("WORKLOAD_NODES", &workload_nodes)
                        .replace("PLATFORM_BRANCH", &site.branch)
                        .replace("UNUSED_WORKLOADS_APPSET", site.unused_workloads_appset())
                        .replace("PERSONAL_ACCOUNT", if site.org { "false" } else { "true" });
                    text.into_bytes()
                }
                Ok(text) => text.into_bytes(),
                Err(e) => e.into_bytes(),
            };
            Some((path.to_string(), data))
        })
        .collect();
    if let Some(shape) = &site.target {
        for_target(&mut files, shape, &site.without);
    }
    files
}

/// An existing cluster's files: every component's values for it, as the values file Argo CD
/// merges after the base one (the platform ApplicationSet lists it second).
fn for_target(
    files: &mut BTreeMap<String, Vec<u8>>,
    shape: &super::target::Shape,
    without: &[super::gitops::Part],
) {
    const BASE: &str = "              - $values/platform/values/{{ .name }}.yaml\n";
    const SET: &str = "bootstrap/platform-appset.yaml";
    if let Some(set) = files.get_mut(SET) {
        let text = String::from_utf8_lossy(set).replace(
            BASE,
            &format!("{BASE}              - $values/targets/cluster/values/{{{{ .name }}}}.yaml\n"),
        );
        *set = text.into_bytes();
    }
    for c in super::gitops::components_without(without).unwrap_or_default() {
        let base: Option<serde_json::Value> =
            bundle::yaml(&format!("platform/values/{}.yaml", c.name)).ok();
        let overlay = base.and_then(|b| shape.overlay(&c.name, &b).ok());
        let text = overlay.and_then(|o| serde_saphyr::to_string(&o).ok());
        if let Some(text) = text {
            let header = format!(
                "# {}'s values on this existing cluster (`slipway up --context`), merged over\n# platform/values/{}.yaml; written by Slipway from targets/cluster/ in its bundle.\n",
                c.name, c.name
            );
            files.insert(
                format!("targets/cluster/values/{}.yaml", c.name),
                format!("{header}{text}").into_bytes(),
            );
        }
    }
}

/// Where the repository records Slipway's last publish.
pub const RECORD: &str = ".slipway/published.json";

/// What Slipway last published: its version and every bundle file's Git blob id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub version: String,
    pub files: BTreeMap<String, String>,
}

impl Record {
    /// The record a publish of this bundle for `site` writes.
    pub fn of_bundle(site: &Site) -> Self {
        Self::of(&files(site))
    }

    fn of(files: &BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").into(),
            files: files.iter().map(|(p, d)| (p.clone(), blob_id(d))).collect(),
        }
    }

    /// Paths of the record whose content in `repo` is no longer what was published.
    fn changed_in(&self, repo: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
        self.files
            .iter()
            .filter(|(path, id)| repo.get(*path).map(|d| blob_id(d)).as_ref() != Some(*id))
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// Git's blob id of `data` (what `git hash-object` prints), so a record can be checked by hand.
pub fn blob_id(data: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(format!("blob {}\0", data.len()).as_bytes());
    sha.update(data);
    sha.digest().to_string()
}

/// `a` is an older version than `b` (`major.minor.patch`, pre-release tags ignored).
fn older(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['-', '+'])
            .next()
            .unwrap_or_default()
            .split('.')
            .map(|n| n.parse().unwrap_or(0))
            .collect()
    };
    parse(a) < parse(b)
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// GitHub refused or failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// The bundle changed and so did the repository since Slipway's last publish.
    #[error(
        "{repo} was changed by someone else since Slipway last published it ({}), and this Slipway's bundle differs too; \
         Slipway left it as it is. Merge the new bundle by hand, or overwrite those files with `slipway github publish --force`",
        paths.join(", ")
    )]
    ChangedByOthers { repo: String, paths: Vec<String> },
    /// The repository exists but Slipway never published it (no record), and it differs.
    #[error(
        "{repo} exists but holds no record of a Slipway publish ({RECORD}) and differs from the bundle in {}; \
         Slipway left it as it is. Publish over it with `slipway github publish --force`, or choose another owner",
        paths.join(", ")
    )]
    Unrecorded { repo: String, paths: Vec<String> },
    /// The record is not Slipway's format.
    #[error("{repo}'s {RECORD} is unreadable ({source}); fix or delete it, then run again")]
    BadRecord {
        repo: String,
        #[source]
        source: serde_json::Error,
    },
}

impl PublishError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::GitHub(e) if e.is_transient())
    }
}

impl crate::error::Classified for PublishError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::GitHub(e) => e.kind(),
            _ => crate::error::ErrorKind::Conflict,
        }
    }
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub repo_url: String,
    pub site: Site,
    /// The repository was created now (private).
    pub created: bool,
    /// Files written in this run's commit (empty: nothing to publish).
    pub changed: Vec<String>,
    /// Files the last publish wrote that this bundle no longer has, removed (untouched since).
    pub removed: Vec<String>,
    /// Bundle files others changed since Slipway's last publish, kept because this bundle is
    /// the one published then.
    pub kept: Vec<String>,
    /// A newer Slipway published the repository: this older one left it as it is.
    pub newer: Option<String>,
}

/// The repository holds nothing but the README GitHub's `auto_init` commits (`# <name>`, then
/// the description): a publish cut short after creating it, which the next run completes.
fn only_initial_readme(current: &BTreeMap<String, Vec<u8>>) -> bool {
    current.len() == 1
        && current
            .get("README.md")
            .is_some_and(|readme| readme.starts_with(format!("# {PLATFORM_REPO}").as_bytes()))
}

/// Create or update `<owner>/slipway-platform` from the bundle under the rules above. `org`:
/// the owner is an organisation (else the token's user). `force` writes the bundle over
/// others' changes (and over a newer Slipway's publish).
pub async fn publish(
    github: &GitHub,
    owner: &str,
    org: bool,
    without: &[super::gitops::Part],
    target: Option<&super::target::Shape>,
    force: bool,
) -> Result<Published, PublishError> {
    let (repo, created) = match github.repo(owner, PLATFORM_REPO).await? {
        Some(repo) => (repo, false),
        // Private: the repository steers every member's cluster, and Argo CD reads it with the
        // owner's repository credentials anyway.
        None => (github.create_repo(owner, org, PLATFORM_REPO, "Slipway's platform: Argo CD App-of-Apps, platform components, service templates", true).await?, true),
    };
    // The web host comes from GitHub itself, so GitHub Enterprise needs no second setting.
    let web = repo
        .html_url
        .strip_suffix(&format!("/{owner}/{PLATFORM_REPO}"))
        .unwrap_or("https://github.com")
        .to_owned();
    let site = Site {
        owner: owner.into(),
        org,
        web,
        api: github.api().trim_end_matches('/').to_owned(),
        branch: repo.default_branch.clone(),
        without: without.to_vec(),
        target: target.cloned(),
    };
    let mut published = Published {
        repo_url: repo.html_url.clone(),
        site,
        created,
        changed: Vec::new(),
        removed: Vec::new(),
        kept: Vec::new(),
        newer: None,
    };
    let current = github
        .read_files(owner, PLATFORM_REPO, &repo.default_branch)
        .await?;
    let desired = files(&published.site);
    let ours = Record::of(&desired);
    let record = match current.get(RECORD) {
        Some(data) => Some(serde_json::from_slice::<Record>(data).map_err(|source| {
            PublishError::BadRecord {
                repo: repo.html_url.clone(),
                source,
            }
        })?),
        None => None,
    };
    let mut write: BTreeMap<String, Vec<u8>> = desired
        .into_iter()
        .filter(|(path, data)| current.get(path) != Some(data))
        .collect();
    if !force {
        match &record {
            Some(r) if older(env!("CARGO_PKG_VERSION"), &r.version) => {
                published.newer = Some(r.version.clone());
                return Ok(published);
            }
            // The bundle is the one last published: what differs is others' work, theirs to keep.
            Some(r) if r.files == ours.files => {
                published.kept = r.changed_in(&current);
                write.clear();
            }
            Some(r) => {
                let paths = r.changed_in(&current);
                if !paths.is_empty() && !write.is_empty() {
                    return Err(PublishError::ChangedByOthers {
                        repo: repo.html_url,
                        paths,
                    });
                }
            }
            None if !created && !only_initial_readme(&current) && !write.is_empty() => {
                return Err(PublishError::Unrecorded {
                    repo: repo.html_url,
                    paths: write.into_keys().collect(),
                });
            }
            None => {}
        }
    }
    // What the last publish wrote and this bundle dropped goes too (a component taken out of
    // the bundle must stop deploying), unless someone changed it since (kept, then reported).
    let dropped: Vec<String> = record
        .iter()
        .flat_map(|r| &r.files)
        .filter(|(path, id)| {
            !ours.files.contains_key(*path)
                && current
                    .get(*path)
                    .is_some_and(|d| force || blob_id(d) == **id)
        })
        .map(|(path, _)| path.clone())
        .collect();
    let stale_record = record.as_ref().is_none_or(|r| r.files != ours.files);
    if write.is_empty() && !stale_record {
        return Ok(published);
    }
    published.changed = write.keys().cloned().collect();
    let mut record =
        serde_json::to_vec_pretty(&ours).map_err(|source| PublishError::BadRecord {
            repo: repo.html_url.clone(),
            source,
        })?;
    record.push(b'\n');
    write.insert(RECORD.into(), record);
    github
        .commit_files(
            owner,
            PLATFORM_REPO,
            &repo.default_branch,
            &write,
            "Publish the platform bundle (Slipway)",
        )
        .await?;
    if !dropped.is_empty() {
        github
            .delete_files(
                owner,
                PLATFORM_REPO,
                &repo.default_branch,
                &dropped,
                "Remove what the platform bundle no longer has (Slipway)",
            )
            .await?;
        published.removed = dropped;
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_and_repository_are_filled_in_except_in_skeletons() {
        let f = files(&Site::github_com("acme", true));
        let root = String::from_utf8_lossy(&f["bootstrap/root-app.yaml"]);
        assert!(
            root.contains("https://github.com/acme/slipway-platform.git")
                && !root.contains("OWNER"),
            "{root}"
        );
        assert!(
            root.contains("{root-app.yaml,workloads-registry-appset.yaml}"),
            "an organisation uses the SCM generator: {root}"
        );
        let backstage = String::from_utf8_lossy(&f["platform/values/backstage.yaml"]);
        assert!(backstage.contains("https://github.com/acme/slipway-platform/blob/main/templates/nodejs-v24/template.yaml"), "{backstage}");
        let skeleton =
            String::from_utf8_lossy(&f["templates/nodejs-v24/skeleton/catalog-info.yaml"]);
        assert!(
            skeleton.contains("${{ values.name }}"),
            "skeletons are Backstage's to render"
        );
        assert!(
            f.keys()
                .all(|p| !f[p].is_empty() || p.ends_with(".gitkeep")),
            "no empty files"
        );
    }

    /// The Backstage form lists a personal account's service as the CLI does: the published
    /// template proposes the template's registry entry (the file `slipway service create`
    /// writes) into the platform repository's services/, filling every placeholder it has; an
    /// organisation's template skips both steps.
    #[test]
    fn the_backstage_form_lists_a_personal_account_s_service_like_the_cli() {
        let step = |f: &BTreeMap<String, Vec<u8>>, id: &str| -> serde_json::Value {
            let t: serde_json::Value = serde_saphyr::from_str(&String::from_utf8_lossy(
                &f["templates/nodejs-v24/template.yaml"],
            ))
            .expect("template");
            t["spec"]["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .find(|s| s["id"] == id)
                .cloned()
                .expect(id)
        };
        let user = files(&Site::github_com("jo", false));
        let (registry, listing) = (step(&user, "registry"), step(&user, "listing"));
        assert_eq!(
            (registry["if"].clone(), listing["if"].clone()),
            (true.into(), true.into())
        );
        assert_eq!(listing["action"], "publish:github:pull-request");
        assert_eq!(
            listing["input"]["repoUrl"],
            "github.com?owner=jo&repo=slipway-platform"
        );
        assert_eq!(listing["input"]["targetPath"], "services");
        assert_eq!(
            listing["input"]["sourcePath"],
            registry["input"]["targetPath"]
        );
        assert_eq!(registry["input"]["url"], "./registry");
        // Every placeholder of the entry (name and content) has a value in the form's step,
        // and the CLI's entry is that file rendered.
        let keys: Vec<&str> = registry["input"]["values"]
            .as_object()
            .expect("values")
            .keys()
            .map(String::as_str)
            .collect();
        let (path, entry) = user
            .iter()
            .find(|(p, _)| p.starts_with("templates/nodejs-v24/registry/"))
            .expect("registry entry");
        let text = format!("{path}\n{}", String::from_utf8_lossy(entry));
        for used in text.split("${{ values.").skip(1) {
            let key = used.split_whitespace().next().unwrap_or_default();
            assert!(
                keys.contains(&key),
                "{key} has no value in the form: {keys:?}"
            );
        }
        let (cli_path, cli_entry) = crate::service::template::registry_entry(
            "nodejs-v24",
            "shop-api",
            "https://github.com/jo/shop-api.git",
            "main",
            "payments",
        )
        .expect("entry");
        assert_eq!(cli_path, "services/shop-api.yaml");
        let cli_entry = String::from_utf8_lossy(&cli_entry);
        assert!(
            cli_entry.contains("name: shop-api\nrepo: https://github.com/jo/shop-api.git\nbranch: main\nteam: payments\n"),
            "{cli_entry}"
        );
        let org = files(&Site::github_com("acme", true));
        assert_eq!(step(&org, "registry")["if"], false);
        assert_eq!(step(&org, "listing")["if"], false);
    }

    #[test]
    fn github_enterprise_and_a_user_reach_every_file() {
        let site = Site {
            owner: "jo".into(),
            org: false,
            web: "https://ghe.corp".into(),
            api: "https://ghe.corp/api/v3".into(),
            without: Vec::new(),
            branch: "trunk".into(),
            target: None,
        };
        let f = files(&site);
        let all: String = f
            .iter()
            .filter(|(p, _)| !p.contains("/skeleton/"))
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
            .collect();
        assert!(
            !all.contains("github.com")
                && !all.contains("OWNER")
                && !all.contains("PLATFORM_BRANCH")
                && !all.contains("UNUSED_WORKLOADS_APPSET")
                && !all.contains("PERSONAL_ACCOUNT"),
            "every placeholder filled"
        );
        // The repository's own default branch wherever Argo CD and Backstage read it.
        for file in [
            "bootstrap/root-app.yaml",
            "bootstrap/platform-appset.yaml",
            "bootstrap/teams-appset.yaml",
            "bootstrap/workloads-registry-appset.yaml",
        ] {
            let text = String::from_utf8_lossy(&f[file]);
            assert!(
                text.contains("trunk") && !text.contains(": main"),
                "{file}: {text}"
            );
        }
        assert!(
            String::from_utf8_lossy(&f["platform/values/backstage.yaml"]).contains("/blob/trunk/")
        );
        assert!(
            String::from_utf8_lossy(&f["bootstrap/root-app.yaml"])
                .contains("{root-app.yaml,workloads-appset.yaml}"),
            "a user lists services in the registry"
        );
        assert!(
            String::from_utf8_lossy(&f["bootstrap/workloads-appset.yaml"])
                .contains("api: https://ghe.corp/api/v3")
        );
        assert_eq!(site.repo_url(), "https://ghe.corp/jo/slipway-platform.git");
    }

    #[test]
    fn an_existing_cluster_s_values_are_published_and_read_second() {
        let shape = super::super::target::Shape {
            platform_nodes: Some("node-pool=platform".parse().expect("selector")),
            ..Default::default()
        };
        let site = Site {
            target: Some(shape.clone()),
            ..Site::github_com("acme", true)
        };
        let f = files(&site);
        let set: serde_json::Value = serde_saphyr::from_str(&String::from_utf8_lossy(
            &f["bootstrap/platform-appset.yaml"],
        ))
        .expect("set");
        assert_eq!(
            set["spec"]["template"]["spec"]["sources"][0]["helm"]["valueFiles"],
            serde_json::json!([
                "$values/platform/values/{{ .name }}.yaml",
                "$values/targets/cluster/values/{{ .name }}.yaml"
            ])
        );
        for c in super::super::gitops::components().expect("components") {
            let path = format!("targets/cluster/values/{}.yaml", c.name);
            let overlay: serde_json::Value =
                serde_saphyr::from_str(&String::from_utf8_lossy(&f[&path])).expect(&path);
            let base: serde_json::Value =
                bundle::yaml(&format!("platform/values/{}.yaml", c.name)).expect("base");
            let mut merged = base.clone();
            json_patch::merge(&mut merged, &overlay);
            assert_eq!(
                merged,
                shape.values(&c.name, base).expect("values"),
                "{path}"
            );
        }
        // Slipway's own cluster reads the base values only.
        let kind = files(&Site::github_com("acme", true));
        assert!(
            !String::from_utf8_lossy(&kind["bootstrap/platform-appset.yaml"])
                .contains("targets/cluster")
        );
    }

    #[test]
    fn the_workloads_sets_place_services_where_the_cluster_says() {
        let selector = |site: &Site, set: &str| {
            let f = files(site);
            let set: serde_json::Value =
                serde_saphyr::from_str(&String::from_utf8_lossy(&f[set])).expect("set");
            let patch = &set["spec"]["template"]["spec"]["source"]["kustomize"]["patches"][0];
            assert_eq!(patch["target"]["kind"], "^(Deployment|StatefulSet)$");
            let patch: serde_json::Value =
                serde_json::from_str(patch["patch"].as_str().expect("patch")).expect("json");
            patch["spec"]["template"]["spec"]["nodeSelector"].clone()
        };
        for set in [
            "bootstrap/workloads-appset.yaml",
            "bootstrap/workloads-registry-appset.yaml",
        ] {
            let kind = Site::github_com("acme", true);
            assert_eq!(
                selector(&kind, set),
                serde_json::json!({"slipway.dev/pool": "workloads"})
            );
            let named = Site {
                target: Some(super::super::target::Shape {
                    workload_nodes: Some("node-pool=apps".parse().expect("selector")),
                    ..Default::default()
                }),
                ..Site::github_com("acme", true)
            };
            assert_eq!(
                selector(&named, set),
                serde_json::json!({"slipway.dev/pool": null, "node-pool": "apps"})
            );
            let anywhere = Site {
                target: Some(Default::default()),
                ..Site::github_com("acme", true)
            };
            assert_eq!(
                selector(&anywhere, set),
                serde_json::json!({"slipway.dev/pool": null})
            );
        }
    }

    #[test]
    fn a_part_left_out_is_not_published() {
        let all = files(&Site::github_com("acme", true));
        let site = Site {
            without: vec![super::super::gitops::Part::Observability],
            ..Site::github_com("acme", true)
        };
        let without = files(&site);
        let gone: Vec<&String> = all.keys().filter(|p| !without.contains_key(*p)).collect();
        let mut expected = Vec::new();
        for c in ["grafana", "loki", "otel-collector", "prometheus", "tempo"] {
            expected.push(format!("platform/components/{c}.yaml"));
            expected.push(format!("platform/values/{c}.yaml"));
        }
        expected.sort();
        assert_eq!(gone, expected.iter().collect::<Vec<_>>());
    }

    #[test]
    fn no_developer_s_domain_or_port_is_published() {
        // What Argo CD reads from the repository (Slipway applies ingress/ itself, per domain;
        // skeletons are rendered per service).
        let all: String = files(&Site::github_com("acme", true))
            .into_iter()
            .filter(|(p, _)| {
                !p.starts_with("ingress/") && !p.contains("/skeleton/") && !p.ends_with(".md")
            })
            .map(|(_, d)| String::from_utf8_lossy(&d).into_owned())
            .collect();
        for personal in [
            "backstage.local",
            ":8880",
            "baseUrl",
            "dangerouslyAllowOutsideDevelopment",
        ] {
            assert!(
                !all.contains(personal),
                "{personal} is one developer's setting"
            );
        }
    }

    #[test]
    fn records_name_git_blobs_and_versions_compare_by_number() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert!(older("0.9.0", "0.10.0") && older("1.2.3-rc.1", "1.2.4"));
        assert!(!older("1.2.3", "1.2.3") && !older("2.0.0", "1.9.9"));
    }
}
