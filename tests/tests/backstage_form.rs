//! Three doors, one golden path: a service made through the Backstage form (the bundle's
//! template.yaml run by the SIMULATED scaffolder, tests/src/scaffolder.rs, with the real
//! nunjucks) ends exactly where `slipway service create` and the window end (both run
//! core's `service::create`; tests/tests/gui.rs drives the window to it): the same files, topics,
//! visibility, branch rules, catalog entity and, for a personal account, the same listing in
//! the platform repository once its pull request is merged.

use serde_json::json;
use slipway_core::platform::publish::{self, PLATFORM_REPO};
use slipway_e2e::golden::{BACKSTAGE_TOKEN, EndState, GoldenWorld as World, TOKEN, request};
use slipway_e2e::scaffolder::Scaffolder;

const TEMPLATE: &str = "templates/nodejs-v24/template.yaml";

/// The Backstage form's door: the template as the platform repository holds it, with what the
/// form sends (the owner picker's entity ref, the repository picker's `host?owner=&repo=`).
async fn through_backstage(owner: &str, name: &str) -> (EndState, Vec<(String, &'static str)>) {
    let w = World::new().await;
    let clients = w.clients();
    if owner == "octo" {
        publish::publish(&clients.0, owner, false, &[], None, false)
            .await
            .expect("publish");
    }
    let scaffolder = Scaffolder {
        github: &w.github,
        github_token: TOKEN,
        catalog: w.backstage.url(),
        catalog_token: BACKSTAGE_TOKEN,
    };
    let platform = format!("{owner}/{PLATFORM_REPO}");
    let run = scaffolder
        .run(
            &platform,
            TEMPLATE,
            json!({
                "name": name,
                "team": "group:default/payments",
                "description": "Shop API",
                "domain": "local",
                "httpPort": 8880,
                "repoUrl": format!("github.test?owner={owner}&repo={name}"),
            }),
        )
        .await
        .expect("the template runs");
    if owner == "octo" {
        // The listing arrives as a pull request; someone merges it.
        let link = run.output["links"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|l| l["url"].as_str().filter(|u| u.contains("/pull/")))
            .expect("the form links the pull request")
            .to_owned();
        let number: u64 = link
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("number");
        w.github.merge_pull(&platform, number).expect("merge");
    }
    (
        EndState::of(&w.github, &w.backstage, owner, name).await,
        run.steps,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backstage_form_ends_where_slipway_ends_for_an_organisation_and_a_person() {
    for (owner, listed) in [("acme", false), ("octo", true)] {
        let name = "shop-api";
        let cli = EndState::expected(owner, &request(name)).await;
        let (form, steps) = through_backstage(owner, name).await;
        let ran = |id: &str| steps.iter().find(|(s, _)| s == id).map(|(_, r)| *r);
        let expected = if listed { "completed" } else { "skipped" };
        assert_eq!(
            (ran("registry"), ran("listing")),
            (Some(expected), Some(expected)),
            "{owner}: {steps:?}"
        );
        assert!(
            cli.entity.is_some() && cli.ci_queued && cli.listing.is_some() == listed,
            "{owner}: slipway's end state is the golden one: {cli:?}"
        );
        // Field by field first, so a difference names itself.
        assert_eq!(form.topics, cli.topics, "{owner}: topics");
        assert_eq!(form.private, cli.private, "{owner}: visibility");
        assert_eq!(form.protected, cli.protected, "{owner}: branch protection");
        assert_eq!(form.listing, cli.listing, "{owner}: the platform listing");
        assert_eq!(form.entity, cli.entity, "{owner}: the catalog entity");
        assert_eq!(
            form.ci_queued, cli.ci_queued,
            "{owner}: CI on the first push"
        );
        let paths = |s: &EndState| s.files.keys().cloned().collect::<Vec<_>>();
        assert_eq!(paths(&form), paths(&cli), "{owner}: the files");
        for (path, data) in &cli.files {
            assert_eq!(
                String::from_utf8_lossy(&form.files[path]),
                String::from_utf8_lossy(data),
                "{owner}: {path} as nunjucks renders it and as Slipway renders it"
            );
        }
        assert_eq!(form, cli, "{owner}");
    }
}
