//! The golden path's world for tests: the SIMULATED GitHub and Backstage with kube-sim, and the
//! request and clients service-creation tests share.

use std::time::Duration;

use slipway_core::backstage::Backstage;
use slipway_core::github::{GitHub, Owner};
use slipway_core::pipeline::Recorder;
use slipway_core::platform::publish;
use slipway_core::service::ServiceRequest;
use slipway_core::service::create::{self, CreateError, Services};

use crate::fakes::{FakeBackstage, FakeGitHub};
use crate::kube_sim::KubeSim;

/// The fake GitHub's token for the user `octo` (member of `acme`).
pub const TOKEN: &str = "ghp_FAKE0123456789abcdefTOKEN";
/// The fake Backstage's static token.
pub const BACKSTAGE_TOKEN: &str = "backstage-static-token";
/// The golden world's platform listens on a port other than the default 8880, so a URL built
/// with a hard-coded port shows.
pub const GOLDEN_HTTP_PORT: u16 = 9880;

/// The SIMULATED GitHub and Backstage (tests/src/fakes.rs) and a kube-sim whose SIMULATED Argo CD
/// runs the organisation `acme`'s published platform repository (teams and workloads sets, SCM
/// provider over the fake GitHub): what service creation talks to.
pub struct GoldenWorld {
    pub github: FakeGitHub,
    pub backstage: FakeBackstage,
    pub sim: KubeSim,
    pub journal: tempfile::TempDir,
    /// This world's cluster name (its run lock is its own).
    pub cluster: String,
}

impl GoldenWorld {
    pub async fn new() -> Self {
        let github = FakeGitHub::start(TOKEN, "octo", &["acme"]).await;
        let backstage = FakeBackstage::start(BACKSTAGE_TOKEN, github.state.clone()).await;
        let sim = KubeSim::start().await.expect("sim");
        sim.set_git_source(github.git_remote());
        sim.set_helm(&crate::tools_dir().join("helm"));
        // The organisation's platform repository as `up` publishes it, and what Argo CD would
        // run from it: the projects, the teams set (each team file renders teams/chart with the
        // real helm) and the SCM workloads set, plus the guard rails Slipway applies itself.
        let gh = GitHub::new(&github.url(), TOKEN).expect("github");
        let published = publish::publish(&gh, "acme", true, &[], None, false)
            .await
            .expect("publish the platform repository");
        let files = publish::files(&published.site);
        let bundle_docs = |path: &str| {
            slipway_core::bundle::parse_documents(
                path,
                &String::from_utf8_lossy(files.get(path).expect("published file")),
            )
            .expect("published YAML")
        };
        let crd =
            |kind: &str, plural: &str| -> String { crate::crd_yaml("argoproj.io", kind, plural) };
        let client = sim.client().await.expect("client");
        let mut objects = slipway_core::k8s::apply::parse(&format!(
            "{}\n---\n{}\n---\n{}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: backstage}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: observability}}\n",
            crd("ApplicationSet", "applicationsets"),
            crd("Application", "applications"),
            crd("AppProject", "appprojects")
        ))
        .expect("parse");
        let mut docs = bundle_docs("bootstrap/projects.yaml");
        docs.extend(bundle_docs("bootstrap/teams-appset.yaml"));
        docs.extend(bundle_docs("bootstrap/workloads-appset.yaml"));
        docs.extend(slipway_core::platform::gitops::policies(&[]).expect("policies"));
        docs.push(slipway_core::platform::gitops::site_config("local", None));
        docs.push(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slipway-scm-token", "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "scm-creds"}}, "stringData": {"token": TOKEN}}));
        objects.extend(
            docs.into_iter()
                .map(|d| serde_json::from_value(d).expect("object")),
        );
        slipway_core::k8s::apply::apply(
            &client,
            &objects,
            "test",
            "argocd",
            Duration::from_secs(10),
        )
        .await
        .expect("apply");
        // What tests count starts after the setup.
        {
            let mut state = github.state();
            state.calls = 0;
            state.log.clear();
        }
        static WORLDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = WORLDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self {
            github,
            backstage,
            sim,
            journal: tempfile::tempdir().expect("tmp"),
            cluster: format!("golden-{}-{n}", std::process::id()),
        }
    }

    /// An Application as kube-sim holds it.
    pub fn app(&self, name: &str) -> Option<serde_json::Value> {
        self.sim
            .object("argoproj.io", "applications", "argocd", name)
    }

    /// Clients of the fakes as `owner` (an organisation unless it is the token's user, `octo`).
    pub fn clients(&self) -> (GitHub, Backstage) {
        (
            GitHub::new(&self.github.url(), TOKEN).expect("github"),
            Backstage::new(&self.backstage.url(), BACKSTAGE_TOKEN).expect("backstage"),
        )
    }

    /// What a creation for `owner` talks to.
    pub async fn services<'a>(
        &self,
        (gh, bs): &'a (GitHub, Backstage),
        owner: &str,
        kube: bool,
    ) -> Services<'a> {
        Services {
            github: gh,
            backstage: bs,
            kube: if kube {
                Some(self.sim.client().await.expect("client"))
            } else {
                None
            },
            journal_dir: self.journal.path().to_owned(),
            owner: Owner {
                name: owner.into(),
                org: owner != "octo",
            },
            cluster: self.cluster.clone(),
            lock_dir: self.journal.path().join("locks"),
            pull: Some(slipway_core::teams::PullCredentials::new("octo", TOKEN)),
            local_teams: slipway_core::teams::LocalTeams::in_dir(
                &self.journal.path().join("teams"),
            ),
            helm: Some(crate::tools_dir().join("helm")),
            reach: slipway_core::platform::Reach::http(GOLDEN_HTTP_PORT),
            zone: false,
        }
    }

    /// Create `name` for the organisation `acme`.
    pub async fn create(&self, name: &str) -> Result<create::Created, CreateError> {
        let clients = self.clients();
        let services = self.services(&clients, "acme", true).await;
        create::create(&request(name), &services, &Recorder::default()).await
    }

    /// Roll back `name` of `acme`.
    pub async fn rollback(&self, name: &str) -> Vec<String> {
        let clients = self.clients();
        let services = self.services(&clients, "acme", false).await;
        create::rollback(name, &services).await.expect("rollback")
    }

    pub fn repos_named(&self, name: &str) -> usize {
        self.github
            .state()
            .repos
            .keys()
            .filter(|k| k.ends_with(&format!("/{name}")))
            .count()
    }

    pub fn locations_for(&self, name: &str) -> usize {
        self.backstage
            .state()
            .locations
            .values()
            .filter(|t| t.contains(&format!("/{name}/blob/")))
            .count()
    }
}

/// A request for `name`, team `payments`, the Node.js template.
pub fn request(name: &str) -> ServiceRequest {
    ServiceRequest {
        name: name.into(),
        team: "payments".into(),
        template: "nodejs-v24".into(),
        description: Some("Shop API".into()),
        domain: "local".into(),
        template_repo: None,
    }
}

/// What a service's creation leaves behind, whichever door it came through (the window, the
/// CLI, the Backstage form): the golden path's one expected end state.
#[derive(Debug, PartialEq, Eq)]
pub struct EndState {
    /// The default branch's files.
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
    pub topics: Vec<String>,
    pub private: bool,
    /// The default branch takes changes only through reviewed pull requests (then CI cannot
    /// record the image it built).
    pub protected: bool,
    /// A push queued the template's CI.
    pub ci_queued: bool,
    /// The catalog's entity of that name.
    pub entity: Option<serde_json::Value>,
    /// `services/<name>.yaml` in the platform repository (a personal account's listing).
    pub listing: Option<String>,
}

impl EndState {
    /// The expected end state: `request` made for `owner` by core's `service::create` (what the
    /// CLI and the window both call) in a world of its own. A personal owner's platform
    /// repository is published first, as `up` does, so its listing has somewhere to go.
    pub async fn expected(owner: &str, request: &ServiceRequest) -> Self {
        let w = GoldenWorld::new().await;
        let clients = w.clients();
        if owner != "acme" {
            publish::publish(&clients.0, owner, false, &[], None, false)
                .await
                .expect("publish");
        }
        let services = w.services(&clients, owner, false).await;
        create::create(request, &services, &Recorder::default())
            .await
            .expect("create");
        Self::of(&w.github, &w.backstage, owner, &request.name).await
    }

    /// Read from the fakes once the catalog has read what was registered (bounded).
    pub async fn of(
        github: &FakeGitHub,
        backstage: &FakeBackstage,
        owner: &str,
        name: &str,
    ) -> Self {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let entity = loop {
            backstage.process();
            let entity = backstage.state().components.get(name).cloned();
            if entity.is_some() || std::time::Instant::now() > deadline {
                break entity;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let repo = github.repo(&format!("{owner}/{name}")).unwrap_or_default();
        let mut topics = repo.topics.clone();
        topics.sort();
        let listing = github
            .repo(&format!("{owner}/{}", publish::PLATFORM_REPO))
            .and_then(|p| p.files.get(&format!("services/{name}.yaml")).cloned())
            .map(|f| String::from_utf8_lossy(&f).into_owned());
        Self {
            files: repo.files,
            topics,
            private: repo.private,
            protected: repo.protection.is_some(),
            ci_queued: !repo.runs.is_empty(),
            entity,
            listing,
        }
    }
}
