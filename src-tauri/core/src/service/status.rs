//! Where a service stands: the chain from its latest commit to traffic, read where each link
//! lives (GitHub for the repository, CI and the image; Argo CD and the kubelet through the API
//! server; Traefik through the ingress port), with the first link that is not done named as the
//! broken one, its reason and what helps. `slipway service status`, the end of
//! `slipway service create` and the Services view all read this.

use std::net::SocketAddr;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::ServiceError;
use crate::github::actions::{WorkflowRun, deployed_image};
use crate::github::{GitHub, Owner};
use crate::k8s::wait;
use crate::pipeline::Deadline;
use crate::platform::install::ARGO_NAMESPACE;
use crate::platform::{ingress_url, routing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum LinkKind {
    Repository,
    Ci,
    Image,
    Application,
    Pods,
    Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum LinkState {
    Done,
    /// On its way: nothing to do but wait (CI running, pods starting).
    Waiting,
    /// Stuck until someone acts: `fix` says what helps.
    Failed,
    /// Not readable now (no cluster, a link before it missing, a scope lacking).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Link {
    pub kind: LinkKind,
    pub state: LinkState,
    /// One line: what this link is now.
    pub summary: String,
    /// Where to look (the CI run, the Argo CD app, the URL).
    pub url: Option<String>,
    /// What helps, when something does.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceStatus {
    pub name: String,
    pub team: Option<String>,
    /// Repository, CI, image, Application, pods, URL: always all six, in that order.
    pub links: Vec<Link>,
    /// The first link that is not done.
    pub broken: Option<LinkKind>,
}

impl ServiceStatus {
    /// The service answers through the ingress.
    pub fn answering(&self) -> bool {
        self.broken.is_none()
    }

    pub fn link(&self, kind: LinkKind) -> &Link {
        self.links
            .iter()
            .find(|l| l.kind == kind)
            .unwrap_or(&self.links[0])
    }

    /// The first link that is not done.
    pub fn broken_link(&self) -> Option<&Link> {
        self.broken.map(|k| self.link(k))
    }

    /// What changed between two readings, for printing: the links whose state or summary moved.
    pub fn changes_since<'a>(&'a self, before: Option<&ServiceStatus>) -> Vec<&'a Link> {
        self.links
            .iter()
            .filter(|l| before.is_none_or(|b| b.link(l.kind) != *l))
            .collect()
    }
}

/// What the chain is read through.
pub struct Sources<'a> {
    pub github: &'a GitHub,
    pub owner: &'a Owner,
    pub kube: Option<&'a kube::Client>,
    pub domain: &'a str,
    /// The published HTTP ingress (127.0.0.1:8880 by default); `None`: not known (an existing
    /// cluster whose Traefik has no address yet).
    pub ingress: Option<SocketAddr>,
    /// The domain is a DNS zone (an existing cluster, `ingress` its load balancer): the links
    /// are `https://<host>` and the hosts file plays no part.
    pub zone: bool,
}

impl Sources<'_> {
    /// `host`'s URL as a browser here opens it.
    fn url(&self, host: &str) -> String {
        if self.zone {
            crate::platform::Reach::ZONE.url(host)
        } else {
            ingress_url(host, self.ingress.map_or(80, |i| i.port()))
        }
    }
}

fn link(kind: LinkKind, state: LinkState, summary: impl Into<String>) -> Link {
    Link {
        kind,
        state,
        summary: summary.into(),
        url: None,
        fix: None,
    }
}

impl Link {
    fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Read the whole chain of `name` once. Only a failure to reach GitHub for the repository
/// itself is an error; every other link that cannot be read is `Unknown` with the reason.
pub async fn status(sources: &Sources<'_>, name: &str) -> Result<ServiceStatus, ServiceError> {
    use LinkKind as K;
    use LinkState as S;
    // The name goes into GitHub paths and label selectors: only a service name may.
    if let Some(p) = super::label_problem(name, super::MAX_NAME) {
        return Err(ServiceError::Invalid(vec![format!(
            "service name {name:?} {p}"
        )]));
    }
    let owner = &sources.owner.name;
    let domain = sources.domain.trim_start_matches('.');
    let after = |kind, what: &str| link(kind, S::Unknown, format!("waits for {what}"));
    let mut links = Vec::with_capacity(6);
    let Some(repo) = sources.github.repo(owner, name).await? else {
        links.push(
            link(
                K::Repository,
                S::Failed,
                format!("{owner}/{name} does not exist on GitHub"),
            )
            .fix(format!("slipway service create --name {name} --team TEAM")),
        );
        for kind in [K::Ci, K::Image, K::Application, K::Pods, K::Url] {
            links.push(after(kind, "the repository"));
        }
        return Ok(finish(name, None, links));
    };
    let topics = sources.github.topics(owner, name).await?;
    let team = topics
        .iter()
        .find_map(|t| t.strip_prefix("team-"))
        .map(str::to_owned);
    let branch = repo.default_branch.clone();
    let visibility = if repo.private { "private" } else { "public" };
    links.push(
        if topics.iter().any(|t| t == super::SERVICE_TOPIC) && team.is_some() {
            link(
                K::Repository,
                S::Done,
                format!("{owner}/{name}, {visibility}, default branch {branch}"),
            )
        } else {
            link(
                K::Repository,
                S::Failed,
                format!(
                    "{owner}/{name} lacks the {} or team-<team> topic, so Argo CD does not deploy it",
                    super::SERVICE_TOPIC
                ),
            )
            .fix(format!(
                "run `slipway service create --name {name} --team TEAM` again: it resumes and sets the topics"
            ))
        }
        .url(repo.html_url.clone()),
    );

    let run = sources.github.latest_push_run(owner, name, &branch).await;
    let ci_done = matches!(&run, Ok(Some(r)) if r.conclusion.as_deref() == Some("success"));
    links.push(ci_link(run, &branch));

    links.push(image_link(sources, name, ci_done).await);
    let image_pushed = links[2].state == LinkState::Done;

    let app_url = format!(
        "{}/applications/{ARGO_NAMESPACE}/{name}",
        sources.url(&format!("argocd.{domain}"))
    );
    match sources.kube {
        None => {
            let no_cluster = "no platform cluster: run `slipway up`";
            links.push(link(K::Application, S::Unknown, no_cluster).fix("slipway up"));
            links.push(after(K::Pods, "the cluster"));
        }
        Some(client) => {
            links.push(application_link(client, name).await.url(app_url));
            links.push(match &team {
                Some(team) => pods_link(client, name, team, image_pushed).await,
                None => after(K::Pods, "the team topic"),
            });
        }
    }

    let host = format!("{name}.{domain}");
    links.push(url_link(sources, &host).await);
    Ok(finish(name, team, links))
}

fn finish(name: &str, team: Option<String>, links: Vec<Link>) -> ServiceStatus {
    let broken = links
        .iter()
        .find(|l| l.state != LinkState::Done)
        .map(|l| l.kind);
    ServiceStatus {
        name: name.to_owned(),
        team,
        links,
        broken,
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn ci_link(run: Result<Option<WorkflowRun>, crate::github::GitHubError>, branch: &str) -> Link {
    use LinkKind::Ci;
    use LinkState as S;
    match run {
        Err(e) => link(Ci, S::Unknown, format!("CI runs cannot be read: {e}")),
        Ok(None) => link(
            Ci,
            S::Waiting,
            format!("no CI run on {branch} yet (GitHub starts one within seconds of a push)"),
        ),
        Ok(Some(run)) => {
            let sha = short(&run.head_sha);
            let l = match (run.status.as_str(), run.conclusion.as_deref()) {
                ("completed", Some("success")) => link(Ci, S::Done, format!("CI passed for {sha}")),
                ("completed", conclusion) => link(
                    Ci,
                    S::Failed,
                    format!(
                        "CI for {sha} ended: {}",
                        conclusion.unwrap_or("without a conclusion")
                    ),
                )
                .fix("open the CI run, fix what failed and push; the next run publishes the image"),
                (status, _) => link(
                    Ci,
                    S::Waiting,
                    format!("CI for {sha} is {}", status.replace('_', " ")),
                ),
            };
            l.url(run.html_url)
        }
    }
}

async fn image_link(sources: &Sources<'_>, name: &str, ci_done: bool) -> Link {
    use LinkKind::Image;
    use LinkState as S;
    let owner = &sources.owner.name;
    let kustomization = match sources
        .github
        .file(owner, name, "deploy/kustomization.yaml")
        .await
    {
        Ok(k) => k,
        Err(e) => return link(Image, S::Unknown, format!("deploy/ cannot be read: {e}")),
    };
    let Some((image, tag)) = kustomization.as_deref().and_then(deployed_image) else {
        return link(
            Image,
            S::Failed,
            "deploy/kustomization.yaml names no `app` image, so nothing says what runs",
        )
        .fix("restore the images entry the template wrote in deploy/kustomization.yaml");
    };
    let reference = format!("{image}:{}", short(&tag));
    let Some(package) = image
        .strip_prefix("ghcr.io/")
        .and_then(|p| p.split_once('/'))
        .map(|(_, p)| p.to_owned())
    else {
        return link(
            Image,
            S::Unknown,
            format!("{reference} is not on ghcr.io, so Slipway cannot check it"),
        );
    };
    match sources
        .github
        .container_tags(owner, sources.owner.org, &package)
        .await
    {
        Err(e) => link(Image, S::Unknown, format!("ghcr.io cannot be read: {e}"))
            .fix("the token needs read:packages: `slipway github connect`"),
        Ok(Some(tags)) if tags.contains(&tag) => {
            let recorded = if tag == "latest" {
                " (CI has not recorded a build in deploy/ yet)"
            } else {
                ""
            };
            link(Image, S::Done, format!("{reference} on ghcr.io{recorded}"))
        }
        Ok(_) if ci_done => link(
            Image,
            S::Failed,
            format!("CI passed but ghcr.io has no {reference}"),
        )
        .fix("open the CI run's publish job: it pushes the image and records its tag in deploy/"),
        Ok(_) => link(
            Image,
            S::Waiting,
            format!("{reference} is not on ghcr.io yet: CI builds and pushes it"),
        ),
    }
}

async fn application_link(client: &kube::Client, name: &str) -> Link {
    use LinkKind::Application;
    use LinkState as S;
    let apps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ARGO_NAMESPACE,
        &wait::application_resource(),
    );
    let app = match apps.get_opt(name).await {
        Ok(app) => app,
        Err(e) => {
            return link(
                Application,
                S::Unknown,
                format!("Argo CD cannot be read: {e}"),
            );
        }
    };
    let Some(app) = app else {
        let sets: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            ARGO_NAMESPACE,
            &wait::application_set_resource(),
        );
        if matches!(sets.get_opt("workloads").await, Ok(None)) {
            return link(
                Application,
                S::Failed,
                "the platform runs in local mode: Argo CD deploys no service from GitHub",
            )
            .fix("slipway up (with GitHub connected it switches the platform to GitHub mode)");
        }
        return link(
            Application,
            S::Waiting,
            "Argo CD has not made the Application yet (it looks for new repositories every few minutes)",
        );
    };
    let (sync, health) = wait::application_state(&app);
    let status = &app.data["status"];
    let errors: Vec<String> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"].as_str().is_some_and(|t| t.ends_with("Error")))
        .filter_map(|c| c["message"].as_str().map(str::to_owned))
        .chain(
            (status["operationState"]["phase"] == "Failed"
                || status["operationState"]["phase"] == "Error")
                .then(|| {
                    status["operationState"]["message"]
                        .as_str()
                        .map(str::to_owned)
                })
                .flatten(),
        )
        .collect();
    let state = format!("{sync}, {health}");
    if !errors.is_empty() {
        link(
            Application,
            S::Failed,
            format!("{state}: {}", errors.join("; ")),
        )
        .fix("open the Application in Argo CD; fix deploy/ in the repository and push")
    } else if health == "Degraded" {
        link(Application, S::Failed, state).fix("open the Application in Argo CD")
    } else if sync == "Synced" && health == "Healthy" {
        link(Application, S::Done, state)
    } else {
        link(Application, S::Waiting, state)
    }
}

/// `image_pushed`: ghcr.io has the image, so a failed pull is the pod's problem, not CI's.
async fn pods_link(client: &kube::Client, name: &str, team: &str, image_pushed: bool) -> Link {
    use LinkKind::Pods;
    use LinkState as S;
    let namespace = crate::teams::namespace(team);
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &namespace);
    let list = match pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={name}")))
        .await
    {
        Ok(l) => l.items,
        Err(e) => return link(Pods, S::Unknown, format!("pods cannot be read: {e}")),
    };
    if list.is_empty() {
        return link(Pods, S::Waiting, format!("no pod in {namespace} yet"));
    }
    let ready = list
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    let count = format!("{ready}/{} ready in {namespace}", list.len());
    let waiting = list
        .iter()
        .filter_map(|p| p.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            Some((
                w.reason.clone().unwrap_or_default(),
                w.message.clone().unwrap_or_default(),
                c.image.clone(),
            ))
        });
    match waiting {
        _ if ready == list.len() => link(Pods, S::Done, count),
        Some((reason, message, image))
            if matches!(
                reason.as_str(),
                "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName"
            ) =>
        {
            let lowered = message.to_lowercase();
            // Before the first push ghcr.io refuses the pull whatever the credentials.
            let fix = if !image_pushed {
                "the image is not on ghcr.io yet: wait for CI to push it".to_owned()
            } else if lowered.contains("401")
                || lowered.contains("unauthorized")
                || lowered.contains("denied")
            {
                format!(
                    "the image is private and {namespace} cannot pull it: `slipway up` refreshes the namespace's pull Secret (the GitHub token needs read:packages)"
                )
            } else if lowered.contains("not found") {
                "the kubelet retries with back-off; if it stays, check the tag in deploy/kustomization.yaml".to_owned()
            } else {
                "check the image name in deploy/kustomization.yaml".to_owned()
            };
            link(
                Pods,
                S::Failed,
                format!("{count}; {reason} for {image}: {message}"),
            )
            .fix(fix)
        }
        Some((reason, message, _)) if reason == "CrashLoopBackOff" => link(
            Pods,
            S::Failed,
            format!("{count}; CrashLoopBackOff: {message}"),
        )
        .fix(format!("kubectl logs -n {namespace} deploy/{name}")),
        Some((reason, _, _)) if !reason.is_empty() => {
            link(Pods, S::Waiting, format!("{count}; {reason}"))
        }
        _ => link(Pods, S::Waiting, count),
    }
}

async fn url_link(sources: &Sources<'_>, host: &str) -> Link {
    use LinkKind::Url;
    use LinkState as S;
    let url = sources.url(host);
    let Some(ingress) = sources.ingress else {
        return link(Url, S::Unknown, "Traefik has no address yet")
            .fix("slipway status --context NAME")
            .url(url);
    };
    let l = match routing::probe(ingress, host).await {
        Ok(code) if code < 400 => link(Url, S::Done, format!("{url} answers (HTTP {code})")),
        Ok(404) => link(
            Url,
            S::Waiting,
            format!("Traefik has no route for {host} yet (HTTP 404)"),
        ),
        Ok(code @ (502..=504)) => link(
            Url,
            S::Waiting,
            format!("the route exists, no ready pod answers behind it (HTTP {code})"),
        ),
        Ok(code) => link(Url, S::Failed, format!("{url} answers HTTP {code}"))
            .fix(format!("the service itself answers {code}: see its logs")),
        Err(e) => link(Url, S::Failed, format!("{e}")).fix("slipway up"),
    };
    let l = l.url(url);
    if l.state == S::Done
        && !sources.zone
        && !crate::hosts::listed(&crate::hosts::default_path(), host)
    {
        // Through Slipway it answers; the browser also needs the name to resolve.
        return l.fix(format!(
            "{host} is not in the hosts file yet: `slipway hosts apply`"
        ));
    }
    l
}

/// Readings in a row with the same failed (or unreadable) link after which a follow stops:
/// it needs someone to act, and waiting longer only delays saying so.
const STUCK_READINGS: u32 = 3;

/// Read the chain every `every` until the service answers, a link stays failed for
/// [`STUCK_READINGS`] readings, or `deadline` passes, calling `changed` with each reading that
/// differs from the one before; the last reading is returned.
pub async fn follow(
    sources: &Sources<'_>,
    name: &str,
    deadline: Deadline,
    every: Duration,
    changed: &mut (dyn FnMut(&ServiceStatus, Option<&ServiceStatus>) + Send),
) -> Result<ServiceStatus, ServiceError> {
    let mut last: Option<ServiceStatus> = None;
    let mut stuck = 0;
    loop {
        let now = status(sources, name).await?;
        let blocked = now
            .broken_link()
            .is_some_and(|l| matches!(l.state, LinkState::Failed | LinkState::Unknown));
        if last.as_ref() == Some(&now) {
            stuck = if blocked { stuck + 1 } else { 0 };
        } else {
            changed(&now, last.as_ref());
            stuck = u32::from(blocked);
        }
        if now.answering() || stuck >= STUCK_READINGS || deadline.remaining().is_zero() {
            return Ok(now);
        }
        last = Some(now);
        tokio::time::sleep(every.min(deadline.remaining())).await;
    }
}

/// [`status`] through the kept GitHub token and the platform cluster of `target`: one reading.
pub async fn service_status(
    name: &str,
    target: &super::connect::Target,
    keyring: &crate::secrets::Keyring,
) -> Result<ServiceStatus, ServiceError> {
    let once = Deadline::after(Duration::ZERO);
    follow_service(name, target, keyring, once, &mut |_, _| {}).await
}

/// [`follow`] through the kept GitHub token and the platform cluster of `target`.
pub async fn follow_service(
    name: &str,
    target: &super::connect::Target,
    keyring: &crate::secrets::Keyring,
    deadline: Deadline,
    changed: &mut (dyn FnMut(&ServiceStatus, Option<&ServiceStatus>) + Send),
) -> Result<ServiceStatus, ServiceError> {
    let github = super::connect::github(target, keyring).await?;
    let kube = super::connect::cluster(target).await;
    // On an existing cluster the services answer on Traefik's load balancer (its `web` port:
    // only the platform's own UIs are HTTPS-only there).
    let ingress = match (&target.existing, &kube) {
        (Some(_), Some(client)) => {
            let web = crate::platform::target::traefik_entrypoint(
                client,
                Deadline::after(Duration::ZERO),
                "web",
            )
            .await;
            match web {
                Ok(address) => address.resolve().await.ok(),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let sources = Sources {
        github: &github.github,
        owner: &github.owner,
        kube: kube.as_ref(),
        domain: &target.domain,
        ingress: match target.existing {
            Some(_) => ingress,
            None => Some(target.http_ingress),
        },
        zone: target.existing.is_some(),
    };
    follow(&sources, name, deadline, FOLLOW_EVERY, changed).await
}

/// How often a follow reads the chain: CI and Argo CD move in tens of seconds, and each reading
/// costs about six GitHub requests of the 5,000 an hour allows.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(5);
