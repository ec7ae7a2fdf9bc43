# Shared helpers of the simulated node's stubs (sourced).
STATE=/var/lib/sim-kube
event() { echo "$(date +%s) $*" >> "$STATE/events"; }
# node-labels from a kubeadm config, v1beta3 (map) or v1beta4 (list of name/value).
config_labels() {
  awk '/node-labels:/ { sub(/.*node-labels: */, ""); gsub(/"/, ""); print; exit }
       /name: node-labels/ { want = 1; next }
       want && /value:/ { sub(/.*value: */, ""); gsub(/"/, ""); print; exit }' "$1"
}
register_node() { # name, comma-separated labels
  f="$STATE/nodes/$1"
  : > "$f"
  echo "$2" | tr ',' '\n' | grep . >> "$f"
  event "register $1"
}
