//! kube-rs against kube-sim: discovery, apply, watches, waits, port-forward, faults.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_applies_through_discovery_watches_and_awaits() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");

    // Server-side apply of arbitrary objects via discovery, CRD first.
    let docs: Vec<DynamicObject> = serde_saphyr::from_multiple(BUNDLE).expect("bundle");
    let pp = PatchParams::apply("slipway-test").force();
    for pass in 0..2 {
        let discovery = Discovery::new(client.clone())
            .run()
            .await
            .expect("discovery");
        for obj in docs.iter().filter(|o| {
            (pass == 0)
                == (o
                    .types
                    .as_ref()
                    .is_some_and(|t| t.kind == "CustomResourceDefinition" || t.kind == "Namespace"))
        }) {
            let gvk = kube::core::GroupVersionKind::try_from(obj.types.as_ref().expect("types"))
                .expect("gvk");
            let (ar, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{gvk:?} not discovered"));
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Cluster => Api::all_with(client.clone(), &ar),
                Scope::Namespaced => Api::namespaced_with(
                    client.clone(),
                    obj.metadata.namespace.as_deref().unwrap_or("default"),
                    &ar,
                ),
            };
            api.patch(
                obj.metadata.name.as_deref().expect("name"),
                &pp,
                &Patch::Apply(obj),
            )
            .await
            .expect("apply");
        }
    }
    let widget = e
        .sim
        .object("example.slipway.dev", "widgets", "demo", "w1")
        .expect("custom resource");
    assert_eq!(widget["spec"]["size"], 3);

    // A watcher sees create, update and delete.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "demo");
    let mut events = Box::pin(watcher(cms.clone(), watcher::Config::default()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            let (kind, obj) = match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => ("apply", o),
                watcher::Event::Delete(o) => ("delete", o),
                watcher::Event::Init => continue,
                watcher::Event::InitDone => {
                    let _ = tx.send(("ready", None));
                    continue;
                }
            };
            let v = obj.data.as_ref().and_then(|d| d.get("v")).cloned();
            if tx.send((kind, v)).is_err() {
                return;
            }
        }
    });
    while next_event(&mut rx).await.0 != "ready" {}
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"v": "1"}})).expect("cm");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert_eq!(next_event(&mut rx).await, ("apply", Some("1".into())));
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .expect("update");
    assert_eq!(next_event(&mut rx).await, ("apply", Some("2".into())));
    cms.delete("c", &Default::default()).await.expect("delete");
    assert_eq!(next_event(&mut rx).await, ("delete", Some("2".into())));
    collector.abort();

    // await_condition: the simulated controller makes the Deployment available.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
            })
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(deploys, "web", available),
    )
    .await
    .expect("available in time")
    .expect("watch");
}

type Events = tokio::sync::mpsc::UnboundedReceiver<(&'static str, Option<String>)>;

async fn next_event(rx: &mut Events) -> (&'static str, Option<String>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("watch event in time")
        .expect("stream open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_port_forward_round_trips_bytes() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");
    let pods = forwarding_pod(&client, "echo", 8080, echo_server().await).await;

    let mut pf = pods
        .portforward("echo", &[8080])
        .await
        .expect("portforward");
    let mut stream = pf.take_stream(8080).expect("stream");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = tokio::io::split(&mut stream);
    let send = async {
        w.write_all(&payload).await.expect("write");
    };
    let mut back = vec![0u8; payload.len()];
    let recv = async {
        r.read_exact(&mut back).await.expect("read back");
    };
    tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(send, recv) })
        .await
        .expect("round trip in time");
    assert_eq!(back, payload);
    drop(stream);
    let _ = pf.join().await;

    // No target for a port: the error channel says so, as the kubelet would.
    let mut pf = pods
        .portforward("echo", &[9999])
        .await
        .expect("portforward");
    let err = pf.take_error(9999).expect("error channel");
    let message = tokio::time::timeout(Duration::from_secs(5), err)
        .await
        .expect("error in time")
        .expect("an error message");
    assert!(message.contains("9999"), "{message}");

    // A pod that does not exist is a 404, not a hang.
    assert!(pods.portforward("missing", &[8080]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_faults_latency_and_dropped_watches() {
    let e = env().await;
    let client = e.sim.client().await.expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    e.sim.inject_http_fault(HttpFault {
        method: Some("GET".into()),
        path_contains: "/configmaps".into(),
        status: 500,
        times: 1,
    });
    let err = cms
        .list(&Default::default())
        .await
        .expect_err("injected 500");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 500),
        "{err:?}"
    );
    cms.list(&Default::default())
        .await
        .expect("the fault was used up");

    e.sim.set_latency(Duration::from_millis(200));
    let started = std::time::Instant::now();
    cms.list(&Default::default()).await.expect("slow list");
    let slow = started.elapsed();
    e.sim.set_latency(Duration::ZERO);
    assert!(
        slow >= Duration::from_millis(200),
        "latency injected: {slow:?}"
    );

    // A dropped watch connection: kube-rs's watcher reconnects and keeps delivering.
    let mut events = Box::pin(
        watcher(cms.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects(),
    );
    let cm = |n: &str| {
        serde_json::from_value::<ConfigMap>(json!({"metadata": {"name": n}})).expect("cm")
    };
    cms.create(&PostParams::default(), &cm("before"))
        .await
        .expect("create");
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("event")
        .expect("item")
        .expect("ok");
    assert_eq!(first.metadata.name.as_deref(), Some("before"));
    e.sim.drop_connections();
    cms.create(&PostParams::default(), &cm("after"))
        .await
        .expect("create");
    let recovered = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = events.next().await {
            if let Ok(c) = ev
                && c.metadata.name.as_deref() == Some("after")
            {
                return true;
            }
        }
        false
    })
    .await
    .expect("recovered in time");
    assert!(recovered);
}
