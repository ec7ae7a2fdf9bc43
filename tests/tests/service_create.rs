//! Service creation against the SIMULATED GitHub and Backstage (tests/src/fakes.rs) and kube-sim:
//! the end state (repository with the rendered files in one commit, topics, catalog entity,
//! ApplicationSet refresh), a failure after each step followed by a re-run (exactly one
//! repository and one catalog entry), rollback, rate limits, and a token that never shows.
#![allow(clippy::print_stdout, reason = "figures are printed for the test log")]

use std::time::{Duration, Instant};

use http::Method;
use slipway_core::error::Classified;
use slipway_core::github::GitHub;
use slipway_core::pipeline::Recorder;
use slipway_core::service::create::{self, Journal, Loaded};
use slipway_core::service::template;
use slipway_e2e::fakes::Fault;
use slipway_e2e::golden::{GoldenWorld as World, TOKEN, request};
use slipway_e2e::kube_sim::HttpFault;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_created_with_its_repository_topics_catalog_entry_and_refresh() {
    let w = World::new().await;
    w.github.state().latency = Duration::from_millis(100);
    let started = Instant::now();
    let created = w.create("shop-api").await.expect("create");
    let calls = w.github.state().calls;
    println!(
        "service creation: {calls} GitHub calls, {:.2} s with 100 ms latency per GitHub call",
        started.elapsed().as_secs_f64()
    );
    w.github.state().latency = Duration::ZERO;

    let repo = w.github.repo("acme/shop-api").expect("repository");
    let rendered =
        template::render("nodejs-v24", &request("shop-api").values("acme")).expect("render");
    for (path, data) in &rendered {
        assert_eq!(
            repo.files.get(path),
            Some(data),
            "{path} committed as rendered"
        );
    }
    assert_eq!(
        repo.commits.len(),
        2,
        "the initial commit, then the whole template in one commit"
    );
    assert_eq!(repo.topics, ["idp-managed", "team-payments"]);
    let entity = w
        .backstage
        .state()
        .components
        .get("shop-api")
        .cloned()
        .expect("catalog entity");
    assert_eq!(
        entity["spec"]["owner"], "group:payments",
        "owned by the team's Group"
    );
    assert_eq!(
        entity["metadata"]["annotations"]["github.com/project-slug"],
        "acme/shop-api"
    );
    let refresh = created
        .steps
        .iter()
        .find(|s| s.id == "refresh")
        .expect("refresh step");
    assert!(
        format!("{:?}", refresh.outcome).contains("refresh requested on teams, workloads"),
        "{refresh:?}"
    );
    slipway_e2e::eventually(
        Duration::from_secs(10),
        "the (simulated) controller answers the refresh and removes its annotation",
        || {
            w.sim
                .object("argoproj.io", "applicationsets", "argocd", "workloads")
                .is_some_and(|set| {
                    set["metadata"]["annotations"]["argocd.argoproj.io/application-set-refresh"]
                        .is_null()
                })
        },
    )
    .await;
    assert_eq!(created.repo_url, "https://github.test/acme/shop-api");
    assert_eq!(
        created.service_url,
        format!(
            "http://shop-api.local:{}",
            slipway_e2e::golden::GOLDEN_HTTP_PORT
        ),
        "the configured ingress port"
    );
    assert_eq!(
        created.application,
        Some(("Synced".to_owned(), "Healthy".to_owned())),
        "the new Application's state is reported"
    );
    assert!(
        matches!(
            Journal::load(w.journal.path(), "acme", "shop-api"),
            Loaded::None
        ),
        "a finished creation leaves no journal"
    );

    // Creating it again is refused: the name is taken now (by a finished service).
    let writes = w.github.state().repos.len();
    let again = w.create("shop-api").await.expect_err("taken");
    assert!(
        again.to_string().contains("already exists on GitHub"),
        "{again}"
    );
    assert_eq!(w.github.state().repos.len(), writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_each_step_resumes_into_exactly_one_repository_and_one_catalog_entry() {
    let w = World::new().await;
    let gh_fault = |method: Method, path: &str| Fault {
        method,
        path_contains: path.into(),
        status: 422,
        times: 1,
    };
    // A transient API error outlasting the refresh step's own retries.
    let refresh_attempts = create::CREATE
        .steps
        .iter()
        .find(|s| s.key == "refresh")
        .map_or(1, |s| s.retries + 1);
    type Inject = Box<dyn Fn(&World)>;
    let cases: Vec<(&str, &str, Inject)> = vec![
        (
            "svc-files",
            "files",
            Box::new(move |w: &World| {
                w.github
                    .state()
                    .faults
                    .push(gh_fault(Method::POST, "/git/trees"))
            }),
        ),
        (
            "svc-topics",
            "topics",
            Box::new(move |w: &World| {
                w.github
                    .state()
                    .faults
                    .push(gh_fault(Method::PUT, "/topics"))
            }),
        ),
        (
            "svc-catalog",
            "catalog",
            Box::new(|w: &World| {
                w.backstage.state().faults.push(Fault {
                    method: Method::POST,
                    path_contains: "/api/catalog/locations".into(),
                    status: 500,
                    times: 1,
                })
            }),
        ),
        (
            "svc-refresh",
            "refresh",
            Box::new(move |w: &World| {
                w.sim.inject_http_fault(HttpFault {
                    method: Some("PATCH".into()),
                    path_contains: "/applicationsets/workloads".into(),
                    status: 500,
                    times: refresh_attempts,
                })
            }),
        ),
    ];
    for (name, step, inject) in cases {
        inject(&w);
        let err = w.create(name).await.expect_err("injected failure");
        assert_eq!(err.step(), Some(step), "{name}: {err}");
        assert!(
            Journal::load(w.journal.path(), "acme", name)
                .journal()
                .is_some_and(|j| j.created_repo),
            "{name}: the journal remembers the repository"
        );
        w.sim.drop_connections();
        w.create(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: the re-run resumes: {e}"));
        assert_eq!(
            (w.repos_named(name), w.locations_for(name)),
            (1, 1),
            "{name}: exactly one repository and one catalog entry"
        );
        assert!(w.backstage.state().components.contains_key(name));
        assert_eq!(
            w.github
                .repo(&format!("acme/{name}"))
                .expect("repo")
                .commits
                .len(),
            2,
            "{name}: the template committed once"
        );
    }

    // Rollback removes what the failed operation made, and only that.
    w.backstage.state().faults.push(Fault {
        method: Method::POST,
        path_contains: "/api/catalog/refresh".into(),
        status: 500,
        times: 1,
    });
    w.github
        .state()
        .faults
        .push(gh_fault(Method::PUT, "/topics"));
    w.create("svc-undo").await.expect_err("topics fail");
    // GitHub deletes a repository only with `delete_repo`, which the golden token lacks: the
    // rollback says so and removes nothing; with the scope added it goes through.
    let clients = w.clients();
    let err = create::rollback("svc-undo", &w.services(&clients, "acme", false).await)
        .await
        .expect_err("no delete_repo");
    assert!(
        err.to_string().contains("delete_repo") && err.to_string().contains("Nothing was removed"),
        "{err}"
    );
    assert_eq!(w.repos_named("svc-undo"), 1);
    w.github.state().scopes = Some("repo, read:org, workflow, read:packages, delete_repo".into());
    let undone = w.rollback("svc-undo").await;
    assert_eq!(undone, ["repository acme/svc-undo"]);
    assert_eq!(w.repos_named("svc-undo"), 0);
    assert_eq!(w.repos_named("svc-files"), 1, "other services untouched");
    w.create("svc-undo")
        .await
        .expect("a clean retry after the rollback");

    // Rollback after the catalog step removes the location too.
    w.sim.inject_http_fault(HttpFault {
        method: Some("PATCH".into()),
        path_contains: "/applicationsets/workloads".into(),
        status: 500,
        times: refresh_attempts,
    });
    w.create("svc-undo2").await.expect_err("refresh fails");
    let undone = w.rollback("svc-undo2").await;
    assert_eq!(undone.len(), 2, "{undone:?}");
    assert_eq!(
        (w.repos_named("svc-undo2"), w.locations_for("svc-undo2")),
        (0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_bad_tokens_and_rate_limits() {
    let w = World::new().await;
    let err = w.create("Bad_Name").await.expect_err("invalid");
    assert!(err.to_string().contains("lower-case letters"), "{err}");
    assert_eq!(
        w.github.state().calls,
        0,
        "invalid names are rejected before any call"
    );

    let wrong = GitHub::new(&w.github.url(), "ghp_wrong").expect("client");
    let err = wrong.identity().await.expect_err("401").to_string();
    assert!(
        err.contains("401") && err.contains("slipway github connect") && !err.contains("ghp_wrong"),
        "{err}"
    );

    // An exhausted budget: Slipway waits for the reset (the fake's is 2 s away) and carries on.
    w.github.state().exhausted = 1;
    let started = Instant::now();
    w.create("after-limit")
        .await
        .expect("created after the reset");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited for the reset"
    );
    let gh = GitHub::new(&w.github.url(), TOKEN).expect("client");
    gh.identity().await.expect("identity");
    assert!(
        gh.budget()
            .is_some_and(|b| b.limit == 5000 && b.remaining < 5000),
        "{:?}",
        gh.budget()
    );

    // A budget that would take longer than Slipway waits is an error naming the reset.
    let mut impatient = GitHub::new(&w.github.url(), TOKEN).expect("client");
    impatient.max_wait = Duration::ZERO;
    w.github.state().exhausted = 1;
    let err = impatient.identity().await.expect_err("limited").to_string();
    assert!(
        err.contains("rate limit") && err.contains("resets at"),
        "{err}"
    );

    // A fine-grained token without Administration: write cannot create the repository; the
    // error names the permission GitHub asked for, and nothing is left behind.
    {
        let mut s = w.github.state();
        s.scopes = None;
        s.lacking
            .push(("/orgs/acme/repos".into(), "administration=write".into()));
    }
    let err = w
        .create("no-admin")
        .await
        .expect_err("lacking permission")
        .to_string();
    assert!(
        err.contains("step `repository`")
            && err.contains("administration=write")
            && err.contains("connect again")
            && !err.contains(TOKEN),
        "{err}"
    );
    assert_eq!(w.repos_named("no-admin"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_github_template_repository_slipway_waits_for_the_copy_then_renders_in_place() {
    let w = World::new().await;
    // The template repository holds the skeleton as Backstage's template does, placeholders and all.
    let prefix = "templates/nodejs-v24/skeleton/";
    let skeleton: std::collections::BTreeMap<String, Vec<u8>> =
        slipway_core::bundle::Bundle::iter()
            .filter(|p| p.starts_with(prefix))
            .map(|p| {
                (
                    p[prefix.len()..].to_owned(),
                    slipway_core::bundle::Bundle::get(&p)
                        .map(|f| f.data.into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
    w.github
        .state()
        .add_template("acme/nodejs-template", skeleton);
    w.github.state().copy_delay = Duration::from_millis(1500);

    let clients = w.clients();
    let services = w.services(&clients, "acme", true).await;
    let mut req = request("tpl-svc");
    req.template_repo = Some("acme/nodejs-template".into());
    let started = Instant::now();
    create::create(&req, &services, &Recorder::default())
        .await
        .expect("create from the template repository");
    println!(
        "service from a template repository: {} GitHub calls, {:.2} s (copy takes 1.5 s)",
        w.github.state().calls,
        started.elapsed().as_secs_f64()
    );

    let log = w.github.state().log.clone();
    let waited = log
        .iter()
        .filter(|l| l.contains("/repos/acme/tpl-svc/git/ref/heads/main"))
        .count();
    assert!(waited >= 2, "it polled until the copy was done: {log:?}");
    let repo = w.github.repo("acme/tpl-svc").expect("repo");
    let expected = template::render("nodejs-v24", &req.values("acme")).expect("render");
    assert_eq!(
        repo.files, expected,
        "rendered in place, exactly as from the embedded template"
    );
    assert_eq!(
        repo.commits.len(),
        2,
        "GitHub's copy, then one render commit"
    );
    assert!(w.backstage.state().components.contains_key("tpl-svc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_bundle_is_published_privately_and_never_over_someone_else_s_work() {
    use slipway_core::platform::publish::{self, PLATFORM_REPO, PublishError, RECORD, Record};
    let w = World::new().await;
    let full = format!("acme/{PLATFORM_REPO}");
    // The world published the repository already; this test starts without it.
    w.github.state().repos.remove(&full);
    let gh = GitHub::new(&w.github.url(), TOKEN).expect("github");
    let commits = || w.github.repo(&full).expect("repo").commits.len();
    let write = |path: &str, data: Vec<u8>| {
        let files = std::collections::BTreeMap::from([(path.to_owned(), data)]);
        let gh = &gh;
        async move {
            gh.commit_files("acme", PLATFORM_REPO, "main", &files, "by hand")
                .await
                .expect("commit");
        }
    };
    let record = || -> Record {
        serde_json::from_slice(&w.github.repo(&full).expect("repo").files[RECORD]).expect("record")
    };

    let first = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("publish");
    assert!(first.created && !first.changed.is_empty());
    assert_eq!(
        (first.site.web.as_str(), first.site.repo_url()),
        (
            "https://github.test",
            "https://github.test/acme/slipway-platform.git".to_owned()
        ),
        "the web host comes from GitHub's answer"
    );
    let repo = w.github.repo(&full).expect("platform repo");
    assert!(
        repo.private,
        "the repository that steers every cluster is private"
    );
    let bundle = publish::files(&first.site);
    for (path, data) in &bundle {
        assert_eq!(repo.files.get(path), Some(data), "{path}");
    }
    assert_eq!(
        record().files.len(),
        bundle.len(),
        "every bundle file recorded"
    );
    assert_eq!(
        commits(),
        2,
        "the initial commit, then the bundle with its record"
    );

    let again = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("again");
    assert!(!again.created && again.changed.is_empty(), "{again:?}");
    assert_eq!(commits(), 2, "no commit when current");

    // A platform engineer edits a file: the same bundle publishes nothing and keeps the edit.
    let edited = "bootstrap/projects.yaml";
    write(edited, b"# the team's own projects\n".to_vec()).await;
    let kept = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("keeps");
    assert_eq!(
        (kept.changed.len(), kept.kept.as_slice()),
        (0, [edited.to_owned()].as_slice())
    );
    assert_eq!(commits(), 3, "nothing written over the edit");

    // An older Slipway had published another version of one file: this bundle differs from
    // the record, and so does the repository (the edit): stop and name the edited path.
    let upgraded = "bootstrap/root-app.yaml";
    let old = b"# the previous bundle's root\n".to_vec();
    let mut older = record();
    older.files.insert(upgraded.into(), publish::blob_id(&old));
    write(upgraded, old.clone()).await;
    write(RECORD, serde_json::to_vec(&older).expect("json")).await;
    let before = commits();
    let err = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect_err("both changed");
    assert!(
        matches!(&err, PublishError::ChangedByOthers { paths, .. } if paths == &[edited.to_owned()])
            && err.to_string().contains("--force"),
        "{err}"
    );
    assert_eq!(commits(), before, "nothing written");

    // --force writes the bundle over it.
    let forced = publish::publish(&gh, "acme", true, &[], None, true)
        .await
        .expect("force");
    assert_eq!(forced.changed, [edited.to_owned(), upgraded.to_owned()]);
    assert_eq!(
        w.github.repo(&full).expect("repo").files.get(edited),
        bundle.get(edited)
    );

    // Only the bundle changed since the last publish: it is published, no questions asked.
    write(upgraded, old.clone()).await;
    write(RECORD, serde_json::to_vec(&older).expect("json")).await;
    let upgrade = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("upgrade");
    assert_eq!(upgrade.changed, [upgraded.to_owned()]);
    assert_eq!(record().files, Record::of_bundle(&first.site).files);

    // A file the last publish wrote and this bundle no longer has (a retired component) is
    // removed, so Argo CD stops deploying it.
    let retired = "platform/components/retired.yaml";
    let retired_yaml = b"name: retired\n".to_vec();
    let mut with_retired = record();
    with_retired
        .files
        .insert(retired.into(), publish::blob_id(&retired_yaml));
    write(retired, retired_yaml).await;
    write(RECORD, serde_json::to_vec(&with_retired).expect("json")).await;
    let pruned = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("prune");
    assert_eq!(pruned.removed, [retired.to_owned()]);
    assert!(
        !w.github
            .repo(&full)
            .expect("repo")
            .files
            .contains_key(retired)
    );
    assert_eq!(record().files, Record::of_bundle(&first.site).files);

    // A newer Slipway published last: this one leaves the repository as it is.
    let mut newer = record();
    newer.version = "999.0.0".into();
    newer
        .files
        .insert(upgraded.into(), older.files[upgraded].clone());
    write(upgraded, old).await;
    write(RECORD, serde_json::to_vec(&newer).expect("json")).await;
    let before = commits();
    let left = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("newer");
    assert_eq!(left.newer.as_deref(), Some("999.0.0"));
    assert_eq!(commits(), before, "no downgrade");

    // A publish cut short after GitHub created the repository (only its initial README) is
    // completed by the next run.
    w.github.state().repos.remove(&full);
    gh.create_repo("acme", true, PLATFORM_REPO, "cut short", true)
        .await
        .expect("created, then interrupted");
    let resumed = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect("the next run completes it");
    assert!(!resumed.changed.is_empty());
    assert_eq!(record().files, Record::of_bundle(&first.site).files);

    // A repository of that name that Slipway never published is not taken over.
    w.github.state().repos.remove(&full);
    gh.create_repo("acme", true, PLATFORM_REPO, "someone's", false)
        .await
        .expect("someone's repository");
    write("plans.md", b"ours\n".to_vec()).await;
    let err = publish::publish(&gh, "acme", true, &[], None, false)
        .await
        .expect_err("not Slipway's");
    assert!(
        matches!(err, PublishError::Unrecorded { .. }) && err.to_string().contains("--force"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_account_lists_its_services_in_the_platform_repository() {
    use slipway_core::platform::publish::{self, PLATFORM_REPO};
    let w = World::new().await;
    let clients = w.clients();
    let gh = &clients.0;
    let services = w.services(&clients, "octo", false).await;
    let req = request("mine");

    // Without a platform repository the step says what to do first.
    let err = create::create(&req, &services, &Recorder::default())
        .await
        .expect_err("no platform repo");
    assert!(
        err.step() == Some("registry") && err.to_string().contains("slipway github publish"),
        "{err}"
    );
    publish::publish(gh, "octo", false, &[], None, false)
        .await
        .expect("publish");
    create::create(&req, &services, &Recorder::default())
        .await
        .expect("resumes once published");
    let platform = w
        .github
        .repo(&format!("octo/{PLATFORM_REPO}"))
        .expect("platform repo");
    let entry = String::from_utf8_lossy(
        platform
            .files
            .get("services/mine.yaml")
            .expect("registry entry"),
    )
    .into_owned();
    let entry: serde_json::Value = serde_saphyr::from_str(&entry).expect("yaml");
    assert_eq!(
        (
            entry["name"].as_str(),
            entry["team"].as_str(),
            entry["repo"].as_str()
        ),
        (
            Some("mine"),
            Some("payments"),
            Some("https://github.test/octo/mine.git")
        )
    );
    assert_eq!(
        entry["branch"], "main",
        "the repository's default branch, which Argo CD deploys"
    );
    assert!(
        w.github.repo("octo/mine").is_some(),
        "the repository is the user's"
    );

    // Rollback of a failed personal creation removes the registry entry too.
    let other = request("mine-too");
    w.backstage.state().faults.push(Fault {
        method: Method::POST,
        path_contains: "/api/catalog/locations".into(),
        status: 500,
        times: 1,
    });
    create::create(&other, &services, &Recorder::default())
        .await
        .expect_err("catalog fails");
    assert!(
        w.github
            .repo(&format!("octo/{PLATFORM_REPO}"))
            .expect("repo")
            .files
            .contains_key("services/mine-too.yaml")
    );
    // Deleting the repository needs the delete_repo scope (see the organisation case).
    w.github.state().scopes = Some("repo, read:org, workflow, read:packages, delete_repo".into());
    let undone = create::rollback("mine-too", &services)
        .await
        .expect("rollback");
    assert_eq!(
        undone,
        [
            "services/mine-too.yaml in octo/slipway-platform",
            "repository octo/mine-too"
        ]
    );
    let platform = w
        .github
        .repo(&format!("octo/{PLATFORM_REPO}"))
        .expect("repo");
    assert!(
        !platform.files.contains_key("services/mine-too.yaml")
            && platform.files.contains_key("services/mine.yaml")
    );
}

/// The fake GitHub refuses topics as GitHub does (over 50 characters, upper case, a leading
/// hyphen, anything but letters, digits and '-', more than 20), and the longest team Slipway
/// accepts makes a topic `team-<team>` GitHub takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_follow_github_s_rules_and_the_longest_team_fits_them() {
    let w = World::new().await;
    let gh = GitHub::new(&w.github.url(), TOKEN).expect("github");
    gh.create_repo("acme", true, "topics-probe", "probe", false)
        .await
        .expect("repo");
    for bad in [
        vec!["a".repeat(51)],
        vec!["Upper".into()],
        vec!["-lead".into()],
        vec!["under_score".into()],
        (0..21).map(|i| format!("t{i}")).collect(),
    ] {
        let err = gh
            .set_topics("acme", "topics-probe", &bad)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("422"), "{bad:?}: {err}");
    }
    gh.set_topics("acme", "topics-probe", &["a".repeat(50)])
        .await
        .expect("50 characters");

    let team = "t".repeat(slipway_core::service::MAX_TEAM);
    let mut req = request("long-team-svc");
    req.team.clone_from(&team);
    let clients = w.clients();
    let services = w.services(&clients, "acme", false).await;
    create::create(&req, &services, &Recorder::default())
        .await
        .expect("the longest team");
    assert_eq!(
        w.github.repo("acme/long-team-svc").expect("repo").topics,
        ["idp-managed".to_owned(), format!("team-{team}")]
    );
    let mut too_long = request("longer-team-svc");
    too_long.team = "t".repeat(slipway_core::service::MAX_TEAM + 1);
    assert!(too_long.validate().is_err());
}

/// Backstage answers a registration at once and reads the file later; a file it cannot read
/// is reported from the location's entity, not taken for success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_reads_a_registration_later_and_its_errors_are_reported() {
    use slipway_core::backstage::BackstageError;
    let w = World::new().await;
    let (_, backstage) = w.clients();
    let target = "https://github.test/acme/nowhere/blob/main/catalog-info.yaml";
    let registration = backstage
        .register(target, "component:default/nowhere")
        .await
        .expect("201, whatever the file");
    assert!(!registration.location_id.is_empty());
    assert!(
        backstage.component("nowhere").await.expect("get").is_none(),
        "not read yet"
    );
    let err = backstage
        .wait_for_component(
            target,
            "nowhere",
            slipway_core::pipeline::Deadline::after(Duration::from_secs(10)),
        )
        .await
        .expect_err("unreadable");
    assert!(
        matches!(err, BackstageError::Processing { .. })
            && err.to_string().contains("could not be read"),
        "{err}"
    );
}
