//! Kubernetes' protobuf wire format, only as far as clients send it to kube-sim: client-go
//! (helm's release storage) writes Secrets and ConfigMaps as protobuf, and `kubectl auth can-i`
//! sends its SelfSubjectAccessReview so. Decoded into the JSON
//! the rest of the simulator works with; answers stay JSON (clients accept it).

use std::collections::BTreeMap;

use base64::Engine;
use prost::Message;
use serde_json::{Value, json};

/// `k8s\0`: the envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\x00";

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", optional, tag = "2")]
    raw: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    generate_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    namespace: Option<String>,
    #[prost(string, optional, tag = "5")]
    uid: Option<String>,
    #[prost(string, optional, tag = "6")]
    resource_version: Option<String>,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    r#type: Option<String>,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

/// `k8s.io/api/authorization/v1` (generated.proto): what `kubectl auth can-i` sends.
#[derive(Clone, PartialEq, Message)]
struct ResourceAttributes {
    #[prost(string, optional, tag = "1")]
    namespace: Option<String>,
    #[prost(string, optional, tag = "2")]
    verb: Option<String>,
    #[prost(string, optional, tag = "3")]
    group: Option<String>,
    #[prost(string, optional, tag = "4")]
    version: Option<String>,
    #[prost(string, optional, tag = "5")]
    resource: Option<String>,
    #[prost(string, optional, tag = "6")]
    subresource: Option<String>,
    #[prost(string, optional, tag = "7")]
    name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct NonResourceAttributes {
    #[prost(string, optional, tag = "1")]
    path: Option<String>,
    #[prost(string, optional, tag = "2")]
    verb: Option<String>,
}

/// Both review specs: SelfSubjectAccessReviewSpec has fields 1 and 2 only; SubjectAccessReviewSpec
/// adds the subject (3 user, 4 groups; 5 extra and 6 uid are not read).
#[derive(Clone, PartialEq, Message)]
struct ReviewSpec {
    #[prost(message, optional, tag = "1")]
    resource_attributes: Option<ResourceAttributes>,
    #[prost(message, optional, tag = "2")]
    non_resource_attributes: Option<NonResourceAttributes>,
    #[prost(string, optional, tag = "3")]
    user: Option<String>,
    #[prost(string, repeated, tag = "4")]
    groups: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Review {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<ReviewSpec>,
}

fn review_json(kind: &str, r: Review) -> Value {
    let spec = r.spec.unwrap_or_default();
    let mut v = json!({"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": meta_json(r.metadata), "spec": {}});
    if let Some(a) = spec.resource_attributes {
        v["spec"]["resourceAttributes"] = json!({
            "namespace": a.namespace.unwrap_or_default(), "verb": a.verb.unwrap_or_default(),
            "group": a.group.unwrap_or_default(), "version": a.version.unwrap_or_default(),
            "resource": a.resource.unwrap_or_default(), "subresource": a.subresource.unwrap_or_default(),
            "name": a.name.unwrap_or_default(),
        });
    }
    if let Some(a) = spec.non_resource_attributes {
        v["spec"]["nonResourceAttributes"] =
            json!({"path": a.path.unwrap_or_default(), "verb": a.verb.unwrap_or_default()});
    }
    if let Some(user) = spec.user {
        v["spec"]["user"] = json!(user);
        v["spec"]["groups"] = json!(spec.groups);
    }
    v
}

fn meta_json(m: Option<ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let mut v = json!({});
    let mut set = |k: &str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.is_empty()) {
            v[k] = json!(val);
        }
    };
    set("name", m.name);
    set("generateName", m.generate_name);
    set("namespace", m.namespace);
    set("uid", m.uid);
    set("resourceVersion", m.resource_version);
    if !m.labels.is_empty() {
        v["labels"] = json!(m.labels);
    }
    if !m.annotations.is_empty() {
        v["annotations"] = json!(m.annotations);
    }
    if !m.finalizers.is_empty() {
        v["finalizers"] = json!(m.finalizers);
    }
    v
}

/// Decode a protobuf-encoded Secret, ConfigMap or access review into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("protobuf body without the k8s envelope")?;
    let unknown = Unknown::decode(envelope).map_err(|e| e.to_string())?;
    let kind = unknown
        .type_meta
        .as_ref()
        .and_then(|t| t.kind.clone())
        .unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let b64 = |b: &Vec<u8>| json!(base64::engine::general_purpose::STANDARD.encode(b));
    match kind.as_str() {
        "Secret" => {
            let s = Secret::decode(raw.as_slice()).map_err(|e| e.to_string())?;
            let mut v =
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta_json(s.metadata)});
            if !s.data.is_empty() {
                v["data"] =
                    Value::Object(s.data.iter().map(|(k, d)| (k.clone(), b64(d))).collect());
            }
            if !s.string_data.is_empty() {
                v["stringData"] = json!(s.string_data);
            }
            if let Some(t) = s.r#type {
                v["type"] = json!(t);
            }
            if let Some(i) = s.immutable {
                v["immutable"] = json!(i);
            }
            Ok(v)
        }
        "ConfigMap" => {
            let c = ConfigMap::decode(raw.as_slice()).map_err(|e| e.to_string())?;
            let mut v =
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta_json(c.metadata)});
            if !c.data.is_empty() {
                v["data"] = json!(c.data);
            }
            if !c.binary_data.is_empty() {
                v["binaryData"] = Value::Object(
                    c.binary_data
                        .iter()
                        .map(|(k, d)| (k.clone(), b64(d)))
                        .collect(),
                );
            }
            Ok(v)
        }
        "SelfSubjectAccessReview" | "SubjectAccessReview" => Ok(review_json(
            &kind,
            Review::decode(raw.as_slice()).map_err(|e| e.to_string())?,
        )),
        other => Err(format!(
            "kube-sim decodes protobuf only for Secret, ConfigMap and access reviews, not {other:?}; send JSON"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trip_through_the_envelope() {
        let secret = Secret {
            metadata: Some(ObjectMeta {
                name: Some("sh.helm.release.v1.rel.v1".into()),
                labels: BTreeMap::from([("owner".into(), "helm".into())]),
                ..Default::default()
            }),
            data: BTreeMap::from([("release".into(), b"\x00\x01binary".to_vec())]),
            r#type: Some("helm.sh/release.v1".into()),
            ..Default::default()
        };
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some("v1".into()),
                kind: Some("Secret".into()),
            }),
            raw: Some(secret.encode_to_vec()),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        let v = decode(&body).expect("decode");
        assert_eq!(v["metadata"]["name"], "sh.helm.release.v1.rel.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["type"], "helm.sh/release.v1");
        assert_eq!(
            v["data"]["release"],
            base64::engine::general_purpose::STANDARD.encode(b"\x00\x01binary")
        );
        assert!(decode(b"{}").is_err());
    }
}
