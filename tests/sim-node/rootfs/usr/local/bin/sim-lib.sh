# Shared helpers of the simulated node's stubs (sourced).
STATE=/var/lib/sim-kube
event() { echo "$(date +%s) $*" >> "$STATE/events"; }
# node-labels from a kubeadm config, v1beta3 (map) or v1beta4 (list of name/value).
config_labels() {
  awk '/node-labels:/ { sub(/.*node-labels: */, ""); gsub(/"/, ""); print; exit }
       /name: node-labels/ { want = 1; next }
       want && /value:/ { sub(/.*value: */, ""); gsub(/"/, ""); print; exit }' "$1"
}
# Register a Node with the API server (as its kubelet would): name, comma-separated labels,
# kubeconfig. An existing Node is kept.
register_node() {
  labels=$(printf '"kubernetes.io/hostname":"%s"' "$1")
  for kv in $(echo "$2" | tr ',' ' '); do labels=$(printf '%s,"%s":"%s"' "$labels" "${kv%%=*}" "${kv#*=}"); done
  out=$(printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{%s}}}' "$1" "$labels" \
    | kubectl --kubeconfig "$3" create -f - 2>&1) || case "$out" in *AlreadyExists*) ;; *) echo "$out" >&2; return 1 ;; esac
  event "register $1"
}
# Bootstrap tokens as kubeadm keeps them: a Secret `bootstrap-token-<id>` in kube-system of type
# bootstrap.kubernetes.io/token (Kubernetes docs, "Authenticating with Bootstrap Tokens"; kubeadm
# `token create` and `init`'s bootstrap-token phase write it, `token delete` deletes it).
# Arguments: token (id.secret), TTL (`1h`, `15m`, `0` = never), kubeconfig.
create_token() {
  id=${1%%.*}; secret=${1#*.}
  case "$2" in *h) ttl=$(( ${2%h} * 3600 ));; *m) ttl=$(( ${2%m} * 60 ));; *s) ttl=${2%s};; *) ttl=${2:-86400};; esac
  expiry=""; [ "$ttl" -gt 0 ] && expiry="--from-literal=expiration=$(date -u -d "@$(( $(date +%s) + ttl ))" +%Y-%m-%dT%H:%M:%SZ)"
  kubectl --kubeconfig "$3" -n kube-system create secret generic "bootstrap-token-$id" \
    --type=bootstrap.kubernetes.io/token --from-literal=token-id="$id" --from-literal=token-secret="$secret" \
    --from-literal=usage-bootstrap-authentication=true --from-literal=usage-bootstrap-signing=true \
    --from-literal=auth-extra-groups=system:bootstrappers:kubeadm:default-node-token $expiry >/dev/null
}
# Whether a token would authenticate (the API server's bootstrap authenticator: the Secret exists,
# its secret matches, it allows authentication and has not expired). Arguments: token, kubeconfig.
token_valid() {
  id=${1%%.*}; secret=${1#*.}
  json=$(kubectl --kubeconfig "$2" -n kube-system get secret "bootstrap-token-$id" \
    -o 'jsonpath={.data.token-secret} {.data.usage-bootstrap-authentication} {.data.expiration}' 2>/dev/null) || return 1
  set -- $json
  [ "$(echo "$1" | base64 -d)" = "$secret" ] && [ "$(echo "$2" | base64 -d)" = "true" ] || return 1
  [ -z "$3" ] || [ "$(echo "$3" | base64 -d)" \> "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ]
}
# The first `token:` value of a kubeadm config and the `ttl:` of its bootstrapTokens.
config_token() { awk '$1 == "token:" { gsub(/"/, "", $2); print $2; exit }' "$1"; }
config_ttl() { awk '$1 == "ttl:" { gsub(/"/, "", $2); print $2; exit }' "$1"; }
