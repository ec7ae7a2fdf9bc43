//! Watches: replay from a resourceVersion, live events, bookmarks, timeouts, dropped connections.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};

use std::convert::Infallible;

use super::{Body, Query, Target, full};
use crate::kube_sim::Shared;
use crate::kube_sim::store::{self, ApiError, fields_match, labels_match};

/// A watch: optional replay from `resourceVersion` (or the current state as ADDED), then live
/// events, bookmarks every second when asked, until `timeoutSeconds` or a dropped connection.
pub(super) fn watch(shared: Arc<Shared>, t: Target, query: Query) -> Response<Body> {
    let label = query.get("labelSelector").unwrap_or("").to_owned();
    let field = query.get("fieldSelector").unwrap_or("").to_owned();
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    // Streaming lists (kubectl wait, newer informers): initial state, then a bookmark saying so.
    let initial_events = query.flag("sendInitialEvents");
    let since: Option<u64> = query
        .get("resourceVersion")
        .and_then(|s| s.parse().ok())
        .filter(|rv| *rv > 0 && !initial_events);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1024);
    let mut live = shared.events.subscribe();
    let mut dropped = shared.drop_generation.subscribe();
    let matches = {
        let (t_group, t_plural, ns, all) = (
            t.rt.group.clone(),
            t.rt.plural.clone(),
            t.namespace.clone(),
            t.all_namespaces || !t.rt.namespaced,
        );
        move |e: &store::WatchEvent| {
            e.group == t_group
                && e.plural == t_plural
                && (all || e.namespace == ns)
                && labels_match(&label, &e.object["metadata"]["labels"])
                && fields_match(&field, &e.object)
        }
    };
    let initial: Vec<(u64, &'static str, Value)> = {
        let state = shared.state();
        match since {
            Some(rv) => {
                let oldest = state.events.front().map_or(0, |e| e.rv);
                if rv + 1 < oldest {
                    let gone = ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({oldest})"),
                    );
                    vec![(0, "ERROR", gone.status())]
                } else {
                    state
                        .events
                        .iter()
                        .filter(|e| e.rv > rv && matches(e))
                        .map(|e| (e.rv, e.kind, e.object.clone()))
                        .collect()
                }
            }
            None => state
                .list(
                    &t.rt,
                    (!t.all_namespaces && t.rt.namespaced).then_some(t.namespace.as_str()),
                )
                .into_iter()
                .map(|o| (0, "ADDED", o))
                .filter(|(_, _, o)| {
                    matches(&store::WatchEvent {
                        rv: 0,
                        group: t.rt.group.clone(),
                        plural: t.rt.plural.clone(),
                        namespace: o["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        kind: "ADDED",
                        object: o.clone(),
                    })
                })
                .collect(),
        }
    };
    let api_version = t.rt.api_version();
    let kind = t.rt.kind.clone();
    tokio::spawn(async move {
        let line = |kind: &str, object: &Value| {
            let mut s =
                serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
            s.push(b'\n');
            Ok(Frame::data(Bytes::from(s)))
        };
        let mut last_rv = since.unwrap_or(0);
        for (rv, kind, object) in initial {
            last_rv = last_rv.max(rv);
            if tx.send(line(kind, &object)).await.is_err() {
                return;
            }
        }
        if initial_events {
            let rv = shared.state().rv;
            last_rv = last_rv.max(rv);
            let end = json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
            if tx.send(line("BOOKMARK", &end)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = dropped.changed() => return,
                _ = tick.tick(), if bookmarks => {
                    let rv = shared.state().rv;
                    let bookmark = json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": rv.to_string()}});
                    if tx.send(line("BOOKMARK", &bookmark)).await.is_err() { return; }
                }
                event = live.recv() => match event {
                    Ok(e) if e.rv > last_rv && matches(&e) => {
                        last_rv = e.rv;
                        if tx.send(line(e.kind, &e.object)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(_) => return,
                },
            }
        }
    });
    let stream = tokio_stream_from(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
