//! The embedded GitOps bundle (`embedded-manifests/`).

use rust_embed::Embed;

/// Files of `embedded-manifests/`, compiled into the binary.
#[derive(Embed)]
#[folder = "../../embedded-manifests/"]
pub struct Bundle;

/// The text of one bundle file, if present.
pub fn text(path: &str) -> Option<String> {
    Bundle::get(path).and_then(|f| String::from_utf8(f.data.into_owned()).ok())
}

/// Path of the cluster definition inside the bundle.
pub const CLUSTER_CONFIG: &str = "cluster/kind-config.yaml";
