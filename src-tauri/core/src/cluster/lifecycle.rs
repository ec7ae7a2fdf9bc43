//! Stopping and deleting a cluster: the node containers (with their volumes) and the
//! kubeconfig entries; the shared `kind` network stays.

use bollard::query_parameters::{RemoveContainerOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::future::try_join_all;

use super::status::{NodeState, Observed};
use super::{Cluster, ClusterError, kubeconfig};
use crate::pipeline::{StepContext, StepOutcome};

type Result<T> = std::result::Result<T, ClusterError>;

impl Cluster {
    pub(crate) async fn remove_container(&self, name: &str) {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        if let Err(e) = self.docker.api().remove_container(name, Some(opts)).await {
            tracing::warn!("could not remove {name}: {e}");
        }
    }

    pub(crate) async fn remove_nodes(&self) -> Result<String> {
        let nodes = self.observe_all().await?;
        for node in &nodes {
            self.remove_container(&node.name).await;
        }
        Ok(nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    }

    /// Remove the nodes with their volumes and the kubeconfig entries. The network stays (it is
    /// shared by all kind clusters). A cluster that does not exist is not an error.
    pub async fn delete(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let removed = self.remove_nodes().await?;
        let context = self.spec.context_name();
        let mut cleaned = Vec::new();
        for path in kubeconfig::paths()? {
            let ctx = context.clone();
            let p = path.clone();
            let changed =
                tokio::task::spawn_blocking(move || kubeconfig::remove(&p, &ctx)).await??;
            if changed {
                cleaned.push(path.display().to_string());
            }
        }
        Ok(match (removed.is_empty(), cleaned.is_empty()) {
            (true, true) => StepOutcome::up_to_date(format!("no cluster named {}", self.spec.name)),
            _ => StepOutcome::changed(format!(
                "removed nodes [{removed}] and context {context} from [{}]",
                cleaned.join(", ")
            )),
        })
    }

    /// Stop the node containers (their state stays; `up` starts and re-verifies them).
    pub async fn stop(&self, _: StepContext<'_>) -> Result<StepOutcome> {
        let nodes = self.observe_all().await?;
        if nodes.is_empty() {
            return Err(ClusterError::Missing(self.spec.name.clone()));
        }
        let running: Vec<&Observed> = nodes
            .iter()
            .filter(|n| n.state == NodeState::Running)
            .collect();
        try_join_all(running.iter().map(|n| async move {
            let opts = StopContainerOptionsBuilder::default().t(30).build();
            self.docker
                .api()
                .stop_container(&n.name, Some(opts))
                .await
                .map_err(super::DockerError::api(format!("stop {}", n.name)))
        }))
        .await?;
        Ok(if running.is_empty() {
            StepOutcome::up_to_date("already stopped")
        } else {
            StepOutcome::changed(format!(
                "stopped {}",
                running
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}
