#!/usr/bin/env bash
# Smoke test of the test control plane with the real kubectl: everything podwall's tests
# rely on (see README.md). Builds on first use (long), starts a private control plane in
# its own state dir, checks, stops it. Ends with an "N passed, N failed" line.
#
#   tests/kube-apiserver/smoke.sh            # watch cache on (default)
#   PODWALL_KUBE_WATCH_CACHE=false tests/kube-apiserver/smoke.sh
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CP="$ROOT/scripts/test-control-plane"
export PODWALL_KUBE_STATE_DIR="${PODWALL_KUBE_STATE_DIR:-${TMPDIR:-/tmp}/podwall-kube-smoke.$$}"
WC="${PODWALL_KUBE_WATCH_CACHE:-true}"
passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

WATCH_PID=""
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
  "$CP" stop >/dev/null 2>&1
}
trap cleanup EXIT

command -v kubectl >/dev/null || { echo "kubectl not on PATH"; echo "0 passed, 1 failed"; exit 1; }
"$CP" start || { echo "0 passed, 1 failed"; exit 1; }
eval "$("$CP" env)"
api() { curl -sS --cacert "$PODWALL_KUBE_CA" -H "Authorization: Bearer $PODWALL_KUBE_TOKEN" "$@"; }
code() { curl -s -o "$TMP/body" -w '%{http_code}' --max-time 10 --cacert "$PODWALL_KUBE_CA" -H "Authorization: Bearer $PODWALL_KUBE_TOKEN" "$@"; }
TMP="$(mktemp -d)"

check "kubectl get ns" kubectl get ns default kube-system
WANT_VERSION="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$ROOT/tests/kube-apiserver/go.mod")"
check "server /version is the pinned $WANT_VERSION" sh -c "kubectl get --raw /version | grep -q '\"gitVersion\": \"$WANT_VERSION\"'"
check "create namespace" kubectl create namespace smoke
check "create a Node through the API" kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {kubernetes.io/hostname: node-a, node-role.kubernetes.io/worker: ""}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
EOF
check "patch Node status (Ready) via /status" kubectl patch node node-a --subresource=status --type=merge \
  -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"smoke","lastHeartbeatTime":"2026-01-01T00:00:00Z","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'

kubectl get pods -A -w --output-watch-events > "$TMP/watch" 2>&1 &
WATCH_PID=$!
sleep 1

check "create a Pod with spec.nodeName (no ServiceAccount needed)" kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: smoke, labels: {app: web}}
spec:
  nodeName: node-a
  containers: [{name: app, image: registry.invalid/app:1, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
EOF
check "new pod is Pending" sh -c "kubectl -n smoke get pod web-1 -o jsonpath='{.status.phase}' | grep -qx Pending"
check "patch Pod status through /status" kubectl -n smoke patch pod web-1 --subresource=status --type=merge -p \
  '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],"containerStatuses":[{"name":"app","image":"registry.invalid/app:1","imageID":"","ready":true,"restartCount":2,"started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}}'
check "pod status is Running, restarts 2" sh -c "kubectl -n smoke get pod web-1 --no-headers | grep -q 'Running *2'"

check "delete (graceful) returns" kubectl -n smoke delete pod web-1 --wait=false
sleep 3
check "without a kubelet the pod stays, Terminating (deletionTimestamp set)" sh -c \
  "kubectl -n smoke get pod web-1 -o jsonpath='{.metadata.deletionTimestamp}' | grep -q ."
check "force delete (--grace-period=0 --force) removes it" kubectl -n smoke delete pod web-1 --grace-period=0 --force
check "pod is gone" sh -c "! kubectl -n smoke get pod web-1 2>/dev/null"

check "unscheduled pod (no nodeName) is deleted at once by a plain delete" sh -c '
  kubectl -n smoke run pending-1 --image=registry.invalid/x --restart=Never >/dev/null &&
  kubectl -n smoke delete pod pending-1 --wait=false >/dev/null && sleep 1 &&
  ! kubectl -n smoke get pod pending-1 2>/dev/null'

sleep 1
kill "$WATCH_PID" 2>/dev/null; WATCH_PID=""
check "kubectl get pods -A -w saw ADDED web-1" grep -q 'ADDED.*smoke *web-1' "$TMP/watch"
check "... and MODIFIED Running" grep -q 'MODIFIED.*smoke *web-1 .*Running' "$TMP/watch"
check "... and DELETED" grep -q 'DELETED.*smoke *web-1' "$TMP/watch"

check "restart-apiserver" "$CP" restart-apiserver
check "data survives the apiserver restart (namespace, node)" kubectl get ns smoke
check "... node" kubectl get node node-a

# ---- compaction and 410 Gone -------------------------------------------------------
kubectl -n smoke run rv-probe --image=registry.invalid/x --restart=Never >/dev/null
OLD_RV="$(kubectl -n smoke get pod rv-probe -o jsonpath='{.metadata.resourceVersion}')"
for i in 1 2 3; do kubectl -n smoke label pod rv-probe "n=$i" --overwrite >/dev/null; done
check "exact-RV list at the old RV works before compaction" sh -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$PODWALL_KUBE_CA' -H 'Authorization: Bearer $PODWALL_KUBE_TOKEN' '$PODWALL_KUBE_SERVER/api/v1/pods?resourceVersion=$OLD_RV&resourceVersionMatch=Exact')\" = 200 ]"
COMPACTED="$("$CP" compact)"
echo "#    compacted etcd at revision $COMPACTED (old RV $OLD_RV, watch cache $WC)"

if [ "$WC" = true ]; then
  # The watch cache keeps its own event window (>= 75 s of history) and serves resumed
  # watches from it, etcd compaction or not: no 410 yet.
  c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?watch=1&resourceVersion=$OLD_RV&timeoutSeconds=1")"
  check "watch cache on: resumed watch inside the cache window is still served (HTTP $c)" [ "$c" = 200 ]
  # Exact-RV lists come from cache snapshots, dropped once the apiserver sees the
  # compaction (compact_rev_key watch + a 15 s poll in the cacher): 410 within ~20 s.
  t0=$SECONDS c=""
  while [ $((SECONDS - t0)) -lt 30 ]; do
    c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?resourceVersion=$OLD_RV&resourceVersionMatch=Exact")"
    [ "$c" = 410 ] && break
    sleep 1
  done
  check "exact-RV list at a compacted RV: 410 (after $((SECONDS - t0))s)" [ "$c" = 410 ]
  "$CP" restart-apiserver >/dev/null 2>&1
  c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?watch=1&resourceVersion=$OLD_RV&timeoutSeconds=2")"
  echo "#    resumed watch after restart: HTTP $c: $(head -c 300 "$TMP/body")"
  check "after an apiserver restart a resumed watch at the old RV gets 410" sh -c \
    "[ '$c' = 410 ] || grep -q '\"code\":410' '$TMP/body'"
else
  c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?watch=1&resourceVersion=$OLD_RV&timeoutSeconds=2")"
  echo "#    resumed watch: HTTP $c: $(head -c 300 "$TMP/body")"
  check "watch cache off: resumed watch at a compacted RV gets 410" sh -c \
    "[ '$c' = 410 ] || grep -q '\"code\":410' '$TMP/body'"
  c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?resourceVersion=$OLD_RV&resourceVersionMatch=Exact")"
  check "watch cache off: exact-RV list at a compacted RV gets 410 at once" [ "$c" = 410 ]
fi
c="$(code "$PODWALL_KUBE_SERVER/api/v1/pods?resourceVersion=$OLD_RV")"
check "list with an old RV but no resourceVersionMatch (NotOlderThan) is never 410 (HTTP $c)" [ "$c" = 200 ]

rm -rf "$TMP"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
