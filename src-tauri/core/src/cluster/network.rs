//! kind's shared Docker network: found by exact name, created with a ULA IPv6 /64 derived from
//! the name (IPv4-only fallback), never deleted.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptionsBuilder};

use super::docker::{Docker, DockerError};

/// What `ensure` did.
#[derive(Debug, PartialEq, Eq)]
pub enum NetworkOutcome {
    Existing,
    Created { ipv6: Option<String> },
}

/// kind's subnet choice: `fc00::/8` with address bytes 2..8 copied from the same positions of
/// `sha1(name || int32_le(attempt))`, /64.
pub fn ula_subnet(name: &str, attempt: i32) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(name.as_bytes());
    h.update(&attempt.to_le_bytes());
    let d = h.digest().bytes();
    format!(
        "fc00:{:x}:{:x}:{:x}::/64",
        u16::from_be_bytes([d[2], d[3]]),
        u16::from_be_bytes([d[4], d[5]]),
        u16::from_be_bytes([d[6], d[7]])
    )
}

/// Make sure the network exists; reuse it unchecked when it does (as kind does), after removing
/// duplicates an earlier race left (kind's `removeDuplicateNetworks` runs first too).
pub async fn ensure(docker: &Docker, name: &str) -> Result<NetworkOutcome, DockerError> {
    dedupe(docker, name).await?;
    if find(docker, name).await?.is_some() {
        return Ok(NetworkOutcome::Existing);
    }
    let mtu = default_bridge_mtu(docker).await;
    let mut ipv6 = true;
    let mut attempt = 0;
    loop {
        let subnet = ipv6.then(|| ula_subnet(name, attempt));
        match create(docker, name, subnet.as_deref(), mtu.as_deref()).await {
            Ok(()) => {
                dedupe(docker, name).await?;
                return Ok(NetworkOutcome::Created { ipv6: subnet });
            }
            Err(e) => {
                let text = e.to_string();
                if text.contains("already exists") {
                    return Ok(NetworkOutcome::Existing);
                }
                if ipv6 && (text.contains("IPv6") || text.contains("ip6tables")) {
                    ipv6 = false;
                    continue;
                }
                if text.contains("Pool overlaps") || text.contains("networks have overlapping") {
                    if find(docker, name).await?.is_some() {
                        return Ok(NetworkOutcome::Existing);
                    }
                    if attempt < 4 {
                        attempt += 1;
                        continue;
                    }
                }
                return Err(e);
            }
        }
    }
}

/// The network's IPAM subnets (they join the nodes' NO_PROXY); none if it does not exist.
pub async fn subnets(docker: &Docker, name: &str) -> Result<Vec<String>, DockerError> {
    let Some(id) = find(docker, name).await? else {
        return Ok(Vec::new());
    };
    let net = docker
        .api()
        .inspect_network(&id, None::<InspectNetworkOptions>)
        .await
        .map_err(DockerError::api(format!("inspect network {name}")))?;
    Ok(net
        .ipam
        .and_then(|i| i.config)
        .into_iter()
        .flatten()
        .filter_map(|c| c.subnet)
        .collect())
}

async fn find(docker: &Docker, name: &str) -> Result<Option<String>, DockerError> {
    let nets = list(docker, name).await?;
    Ok(nets.into_iter().next().map(|(id, _)| id))
}

/// Networks named exactly `name`: (id, attached containers).
async fn list(docker: &Docker, name: &str) -> Result<Vec<(String, usize)>, DockerError> {
    let filters = HashMap::from([("name", vec![format!("^{name}$")])]);
    let opts = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let nets = docker
        .api()
        .list_networks(Some(opts))
        .await
        .map_err(DockerError::api("list networks"))?;
    let mut found = Vec::new();
    for id in nets
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
    {
        let attached = docker
            .api()
            .inspect_network(&id, None::<InspectNetworkOptions>)
            .await
            .map_or(0, |n| n.containers.map_or(0, |c| c.len()));
        found.push((id, attached));
    }
    Ok(found)
}

/// Two concurrent creators can both succeed (Docker allows duplicate names): keep the one with
/// most containers, then the lowest id, and remove the rest, as kind does.
async fn dedupe(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let mut nets = list(docker, name).await?;
    if nets.len() < 2 {
        return Ok(());
    }
    nets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (id, _) in nets.into_iter().skip(1) {
        let _ = docker.api().remove_network(&id).await;
    }
    Ok(())
}

async fn create(
    docker: &Docker,
    name: &str,
    ipv6: Option<&str>,
    mtu: Option<&str>,
) -> Result<(), DockerError> {
    let mut options = HashMap::from([(
        "com.docker.network.bridge.enable_ip_masquerade".to_owned(),
        "true".to_owned(),
    )]);
    if let Some(mtu) = mtu {
        options.insert("com.docker.network.driver.mtu".into(), mtu.to_owned());
    }
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some("bridge".into()),
        options: Some(options),
        enable_ipv6: Some(ipv6.is_some()),
        ipam: ipv6.map(|subnet| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .api()
        .create_network(request)
        .await
        .map_err(DockerError::api(format!("create network {name}")))?;
    Ok(())
}

/// kind copies the MTU of Docker's default `bridge` network when it is set.
async fn default_bridge_mtu(docker: &Docker) -> Option<String> {
    let net = docker
        .api()
        .inspect_network("bridge", None::<InspectNetworkOptions>)
        .await
        .ok()?;
    net.options?.get("com.docker.network.driver.mtu").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_matches_kind_for_the_default_network() {
        // kind#2488 shows this subnet for network "kind", attempt 0.
        assert_eq!(ula_subnet("kind", 0), "fc00:f853:ccd:e793::/64");
        assert_ne!(ula_subnet("kind", 1), ula_subnet("kind", 0));
    }
}
