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
