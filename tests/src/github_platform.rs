//! A platform in GitHub mode for tests: kube-sim whose SIMULATED Argo CD reads the fake GitHub
//! (in process) and renders Helm and Kustomize paths with the real helm and kubectl, the real
//! helm 4 installing the stand-in Argo CD chart, the fake Backstage standing in for the
//! platform's behind the simulated Traefik, and install options for an owner on that GitHub.

use slipway_core::helm::{ChartSource, KubeContext};
use slipway_core::platform::install::{InstallOptions, Source};
use slipway_core::secrets::{Keyring, accounts};
use slipway_core::teams::LocalTeams;

use crate::fakes::{FakeBackstage, FakeGitHub};
use crate::kube_sim::KubeSim;
use crate::{root, tools_dir};

/// The fake GitHub's token for `octo` (member of `acme`) in this world.
pub const TOKEN: &str = "ghp_FAKE0123456789abcdefGITOPS";
/// The platform's Backstage API token in this world (the keyring's, which `up` hands Backstage).
pub const BACKSTAGE_TOKEN: &str = "bs-token-github-platform";

/// Slipway's GitHub and Backstage clients and a journal folder, for [`GitHubPlatform::services`].
pub struct Clients {
    pub github: slipway_core::github::GitHub,
    pub backstage: slipway_core::backstage::Backstage,
    pub journal: tempfile::TempDir,
}

pub struct GitHubPlatform {
    pub sim: KubeSim,
    pub github: FakeGitHub,
    /// Reached as the platform's Backstage: `backstage.local` through the simulated Traefik.
    pub backstage: FakeBackstage,
    pub kube: KubeContext,
    pub options: InstallOptions,
    _dir: tempfile::TempDir,
}

impl GitHubPlatform {
    /// `owner`: the platform repository's owner (`None`: the token's user, `octo`).
    pub async fn new(owner: Option<&str>) -> Self {
        let sim = KubeSim::start().await.expect("sim");
        let github = FakeGitHub::start(TOKEN, "octo", &["acme"]).await;
        sim.set_git_source(github.git_remote());
        sim.set_helm(&tools_dir().join("helm"));
        sim.set_kubectl(&tools_dir().join("kubectl"));
        let dir = tempfile::tempdir().expect("tmp");
        let kube = KubeContext {
            kubeconfig: dir.path().join("kubeconfig"),
            context: "kube-sim".into(),
        };
        sim.write_kubeconfig(&kube.kubeconfig).expect("kubeconfig");
        let ingress = sim
            .serve_ingress("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("ingress");
        let keyring = Keyring::with_store(keyring_core::mock::Store::new().expect("mock keyring"));
        keyring
            .set(&accounts::github_token(&github.url()), TOKEN)
            .expect("GitHub token");
        keyring
            .set(&accounts::backstage_api_token("sim"), BACKSTAGE_TOKEN)
            .expect("Backstage token");
        let backstage = FakeBackstage::start(BACKSTAGE_TOKEN, github.state.clone()).await;
        sim.set_backend("backstage", "backstage", backstage.addr);
        let options = InstallOptions {
            source: Source::GitHub {
                api: github.url(),
                owner: owner.map(str::to_owned),
            },
            charts: ChartSource::Local(root().join("tests/tests/fixtures/charts")),
            helm: Some(tools_dir().join("helm")),
            keyring,
            teams: LocalTeams::in_dir(&dir.path().join("teams")),
            ..InstallOptions::new("sim", ingress)
        };
        Self {
            sim,
            github,
            backstage,
            kube,
            options,
            _dir: dir,
        }
    }

    /// Slipway's clients for creating services here, for the user `octo`.
    pub fn clients(&self) -> Clients {
        Clients {
            github: slipway_core::github::GitHub::new(&self.github.url(), TOKEN).expect("github"),
            backstage: slipway_core::backstage::Backstage::new(
                &self.backstage.url(),
                BACKSTAGE_TOKEN,
            )
            .expect("backstage"),
            journal: tempfile::tempdir().expect("journal"),
        }
    }

    /// What `service create` runs with in this world (`kube`: the cluster, if it is given one).
    pub fn services<'a>(
        &self,
        clients: &'a Clients,
        kube: Option<kube::Client>,
    ) -> slipway_core::service::create::Services<'a> {
        let journal = clients.journal.path();
        slipway_core::service::create::Services {
            github: &clients.github,
            backstage: &clients.backstage,
            kube,
            journal_dir: journal.to_owned(),
            owner: slipway_core::github::Owner {
                name: "octo".into(),
                org: false,
            },
            cluster: "sim".into(),
            lock_dir: journal.join("locks"),
            pull: Some(slipway_core::teams::PullCredentials::new("octo", TOKEN)),
            local_teams: LocalTeams::in_dir(&journal.join("teams")),
            helm: Some(tools_dir().join("helm")),
            reach: self.options.reach(),
            zone: self.options.existing.is_some(),
        }
    }

    /// A Node.js v24 service `name` of team `payments` at `local`, as the form would ask for it.
    pub fn request(name: &str) -> slipway_core::service::ServiceRequest {
        slipway_core::service::ServiceRequest {
            name: name.into(),
            team: "payments".into(),
            template: "nodejs-v24".into(),
            description: None,
            domain: "local".into(),
            template_repo: None,
        }
    }

    pub fn app(&self, name: &str) -> Option<serde_json::Value> {
        self.sim
            .object("argoproj.io", "applications", "argocd", name)
    }
}
