//! The golden path's world for tests: the SIMULATED GitHub and Backstage with kube-sim, and the
//! request and clients service-creation tests share.

use std::time::Duration;

use slipway_core::backstage::Backstage;
use slipway_core::github::{GitHub, Owner};
use slipway_core::pipeline::Recorder;
use slipway_core::service::ServiceRequest;
use slipway_core::service::create::{self, CreateError, Services};

use crate::fakes::{FakeBackstage, FakeGitHub};
use crate::kube_sim::KubeSim;

/// The fake GitHub's token for the user `octo` (member of `acme`).
pub const TOKEN: &str = "ghp_FAKE0123456789abcdefTOKEN";
/// The fake Backstage's static token.
pub const BACKSTAGE_TOKEN: &str = "backstage-static-token";

/// The SIMULATED GitHub and Backstage (tests/src/fakes.rs) and a kube-sim with Argo CD's
/// workloads ApplicationSet: what service creation talks to.
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
        let client = sim.client().await.expect("client");
        // A workloads ApplicationSet (CRDs first). kube-sim cannot run the SCM-provider generator,
        // so a list generator stands in for what it would find: the repository shop-api.
        let crd =
            |kind: &str, plural: &str| -> String { crate::crd_yaml("argoproj.io", kind, plural) };
        let set = serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "workloads", "namespace": "argocd"}, "spec": {"generators": [{"list": {"elements": [{"repository": "shop-api"}]}}], "template": {"metadata": {"name": "{{ .repository }}"}, "spec": {"project": "workloads"}}}});
        let objects = slipway_core::k8s::apply::parse(&format!("{}\n---\n{}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: argocd}}\n---\n{}", crd("ApplicationSet", "applicationsets"), crd("Application", "applications"), serde_json::to_string(&set).expect("json"))).expect("parse");
        slipway_core::k8s::apply::apply(
            &client,
            &objects,
            "test",
            "argocd",
            Duration::from_secs(10),
        )
        .await
        .expect("apply");
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
