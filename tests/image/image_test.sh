#!/usr/bin/env bash
# Builds the container image (tests/image/build_image.sh) and checks it for real:
#   - its config: user 65532:65532, the binary as entrypoint, OCI labels;
#   - its contents: the binary, its libraries and loader, CA certificates,
#     passwd/group; no shell, no headers, no compiler, no package manager;
#     under 40 MB;
#   - inside the image as UID 65532: --version, and the Deployment's own
#     container args from manifests/ under --check-config, certificates mounted;
#   - the webhook started inside the image as 65532 with dev certificates and
#     a ServiceAccounts file mounted read-only, serving on 127.0.0.1, answers a
#     review posted from outside over TLS (verified for the Service's DNS
#     name) with the expected patch, and exits 0 on SIGTERM.
# Where no image can be built or run here (no Docker daemon, and buildah
# cannot run: no user namespaces, no container storage), it prints why and
# SKIPPED and exits 0. Every wait is bounded.
#
#   IMAGE=irsa-webhook:test tests/image/image_test.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PROJECT_VERSION=$(sed -n 's/^project(irsa-webhook VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
VERSION=${VERSION:-$PROJECT_VERSION}
REVISION=${REVISION:-$(git describe --always --dirty --tags 2>/dev/null || echo unknown)}
export VERSION REVISION
IMAGE=${IMAGE:-irsa-webhook:$VERSION}
BINARY_PATH=/usr/local/bin/irsa-webhook
SIZE_LIMIT=$((40 * 1000 * 1000))
BUILD_TIMEOUT=${IMAGE_BUILD_TIMEOUT:-3600}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "image-test: ok   $*"; }
fail() { failed=$((failed + 1)); echo "image-test: FAIL $*"; }
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
skip() {
  echo "image-test: SKIPPED: $*"
  exit 0
}

work=$(mktemp -d)
chmod 755 "$work"
containers=()
server_pid=
webhook_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    [ -n "$webhook_pid" ] && kill -KILL "$webhook_pid" 2>/dev/null
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  local c
  for c in "${containers[@]}"; do
    if [ "$builder" = buildah ]; then
      buildah umount "$c" >/dev/null 2>&1
      buildah rm "$c" >/dev/null 2>&1
    else
      docker rm -f "$c" >/dev/null 2>&1
    fi
  done
  rm -rf "$work"
}
builder=
trap cleanup EXIT

# --- which engine, and can it run here? ----------------------------------
if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  builder=docker
else
  builder=buildah
  export BUILDAH_ISOLATION=chroot
  if ! command -v buildah >/dev/null; then
    # Installed by the image targets only, never by `make deps`.
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
        --no-install-recommends buildah debootstrap; } >"$work/apt.log" 2>&1 ||
      skip "no Docker daemon, and buildah could not be installed: $(tail -1 "$work/apt.log")"
  fi
  if ! why=$(timeout 60 buildah info 2>&1 >/dev/null); then
    skip "no Docker daemon, and buildah cannot run here: ${why##*$'\n'}"
  fi
  if ! probe=$(timeout 60 buildah from --pull=never scratch 2>"$work/probe.err"); then
    skip "no Docker daemon, and buildah has no usable container storage: $(tail -1 "$work/probe.err")"
  fi
  buildah rm "$probe" >/dev/null 2>&1
fi
echo "image-test: engine $builder; image $IMAGE ($VERSION, $REVISION)"

# --- build -------------------------------------------------------------------
started=$SECONDS
timeout "$BUILD_TIMEOUT" bash tests/image/build_image.sh "$IMAGE" >"$work/build.log" 2>&1
status=$?
took=$((SECONDS - started))
if [ "$status" = 3 ]; then
  skip "$(grep 'cannot build images here' "$work/build.log" | tail -1)"
fi
if [ "$status" != 0 ]; then
  tail -40 "$work/build.log"
  fail "image build (exit $status after ${took} s; timeout ${BUILD_TIMEOUT} s)"
  echo "image-test: $passed passed, $failed failed"
  exit 1
fi
pass "image build (${took} s)"
sed -n '/^image: /,$p' "$work/build.log"

# --- engine helpers ---------------------------------------------------------
# The image config as lines: user=..., entrypoint=<JSON>, label.KEY=VALUE.
image_config() {
  if [ "$builder" = docker ]; then
    docker image inspect "$IMAGE"
  else
    buildah inspect --type image "$IMAGE"
  fi | $PYTHON -c 'import json, sys
data = json.load(sys.stdin)
config = data[0]["Config"] if isinstance(data, list) else data["OCIv1"]["config"]
print("user=" + (config.get("User") or ""))
print("entrypoint=" + json.dumps(config.get("Entrypoint")))
for key, value in sorted((config.get("Labels") or {}).items()):
    print(f"label.{key}={value}")'
}
# run_in_image [--background] [-v HOST:CTR:ro]... -- ARGS...: the binary as
# 65532:65532. Not in a subshell: the container must be recorded for cleanup.
ctr=
if [ "$builder" = buildah ]; then
  ctr=$(buildah from --pull=never "$IMAGE") && containers+=("$ctr") || fail "buildah from $IMAGE"
fi
run_in_image() {
  local volumes=() background=0
  while [ "$1" != -- ]; do
    case "$1" in
      --background) background=1 ;;
      -v) volumes+=(-v "$2"); shift ;;
    esac
    shift
  done
  shift
  if [ "$builder" = docker ]; then
    local name=irsa-image-test-$$-$RANDOM
    [ "$background" = 1 ] && containers+=("$name")
    set -- docker run --rm --name "$name" --network host --user 65532:65532 "${volumes[@]}" "$IMAGE" "$@"
  else
    set -- buildah run --user 65532:65532 "${volumes[@]}" "$ctr" -- "$BINARY_PATH" "$@"
  fi
  if [ "$background" = 1 ]; then
    "$@" &
  else
    timeout 60 "$@"
  fi
}

# --- the image config ---------------------------------------------------
image_config >"$work/config" || fail "inspect the image config"
config() { sed -n "s/^$1=//p" "$work/config"; }
user=$(config user)
check "config user is 65532:65532 (got $user)" [ "$user" = 65532:65532 ]
entrypoint=$(config entrypoint)
check "entrypoint is the binary (got $entrypoint)" [ "$entrypoint" = "[\"$BINARY_PATH\"]" ]
for key in source version revision licenses; do
  value=$(config "label.org.opencontainers.image.$key")
  check "OCI label org.opencontainers.image.$key ($value)" [ -n "$value" ]
done
check "OCI label version is $VERSION" [ "$(config label.org.opencontainers.image.version)" = "$VERSION" ]
check "OCI label revision is $REVISION" [ "$(config label.org.opencontainers.image.revision)" = "$REVISION" ]

# --- the image contents --------------------------------------------------
rootfs=$work/rootfs
mkdir -p "$rootfs"
if [ "$builder" = docker ]; then
  c=$(docker create "$IMAGE") && containers+=("$c") && docker export "$c" | tar -x -C "$rootfs"
else
  c=$(buildah from --pull=never "$IMAGE") && containers+=("$c") && cp -a "$(buildah mount "$c")"/. "$rootfs"/
fi
(cd "$rootfs" && find . -mindepth 1 \( -type f -o -type l \) -printf '%s\t%p\n' | sort -k2) >"$work/files"
echo "image-test: runtime files:"
sed 's/^/    /' "$work/files"
check "the binary is at $BINARY_PATH" test -x "$rootfs$BINARY_PATH"
check "the dynamic loader is there" test -e "$rootfs/lib64/ld-linux-x86-64.so.2"
check "CA certificates are there" test -s "$rootfs/etc/ssl/certs/ca-certificates.crt"
check "passwd names UID 65532" grep -q '^[^:]*:x:65532:65532:' "$rootfs/etc/passwd"
check "group names GID 65532" grep -q '^[^:]*:x:65532:' "$rootfs/etc/group"
for absent in /bin/sh /usr/bin/sh /bin/bash /usr/bin/bash /bin/busybox /usr/include /usr/bin/apt \
  /usr/bin/apt-get /usr/bin/dpkg /var/lib/dpkg /usr/bin/g++ /usr/bin/gcc /usr/bin/cc; do
  check "no $absent" test ! -e "$rootfs$absent" -a ! -L "$rootfs$absent"
done
check "no compiler anywhere (g++, gcc, cc1plus, clang)" \
  test -z "$(find "$rootfs" \( -name 'g++*' -o -name 'gcc*' -o -name 'cc1*' -o -name 'clang*' \) -print -quit)"
check "no headers anywhere" test -z "$(find "$rootfs" -name '*.h' -print -quit)"
# Every file is the binary, a shared library, or one of the few config files.
extra=$(awk -F'\t' '{print $2}' "$work/files" | grep -vE \
  '^\./(usr/local/bin/irsa-webhook|lib64/ld-linux-x86-64\.so\.2|(usr/)?lib/x86_64-linux-gnu/[^/]+\.so[.0-9]*|etc/(passwd|group|ssl/certs/ca-certificates\.crt))$')
check "nothing else in the image${extra:+ (found: $(echo $extra))}" test -z "$extra"
size=$(awk -F'\t' '{s += $1} END {print s}' "$work/files")
echo "image-test: runtime files total $((size / 1000)) kB"
check "the image is under 40 MB ($((size / 1000000)) MB)" [ "$size" -lt "$SIZE_LIMIT" ]

# --- the binary inside the image, as 65532 -------------------------------
run_in_image -- --version >"$work/out" 2>&1
version=$(cat "$work/out")
check "--version inside the image: $version" [ "$version" = "irsa-webhook $PROJECT_VERSION ($REVISION)" ]

# Dev certificates, readable by UID 65532 as a Secret volume makes them.
certs=$work/certs
bash certs/gen-dev-certs.sh "$certs" irsa-webhook irsa-system >/dev/null
chmod 755 "$certs"
chmod 644 "$certs"/tls.crt "$certs"/tls.key "$certs"/ca.crt
cp examples/service-accounts.yaml "$work/service-accounts.yaml"
chmod 644 "$work/service-accounts.yaml"

# The Deployment's container args as manifests/ renders them.
$PYTHON - "$ROOT" >"$work/args" <<'EOF' || fail "read the Deployment's args from manifests/"
import sys
sys.path.insert(0, sys.argv[1] + "/tests/deploy")
import render
objects = render.render(sys.argv[1] + "/manifests/overlays/cert-manager")
(deployment,) = [o for o in objects if o["kind"] == "Deployment"]
print("\n".join(deployment["spec"]["template"]["spec"]["containers"][0]["args"]))
EOF
mapfile -t deploy_args <"$work/args"
echo "image-test: Deployment args: ${deploy_args[*]}"
# --check-config checks the ServiceAccount source a start would use: in a Pod
# the in-cluster config, which exists only there; --kube-api (read, never
# connected to) stands in for it.
run_in_image -v "$certs:/etc/webhook/certs:ro" -- "${deploy_args[@]}" \
  --kube-api=https://kubernetes.default.svc --check-config >"$work/out" 2>&1
out=$(cat "$work/out")
check "the Deployment's args pass --check-config inside the image ($out)" [ "$out" = "configuration OK" ]
run_in_image -- "${deploy_args[@]}" --check-config >"$work/out" 2>&1
status=$?
check "without the certificates mounted, --check-config fails (exit $status)" [ "$status" = 2 ]

# --- serving inside the image ------------------------------------------------
port=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve_args=()
for arg in "${deploy_args[@]}"; do
  case "$arg" in --port=* | --metrics-port=*) ;; *) serve_args+=("$arg") ;; esac
done
serve_args+=(--port="$port" --bind-address=127.0.0.1 --metrics-port=0 -v=3
  --service-accounts-file=/etc/webhook/service-accounts.yaml)
run_in_image --background -v "$certs:/etc/webhook/certs:ro" \
  -v "$work/service-accounts.yaml:/etc/webhook/service-accounts.yaml:ro" -- "${serve_args[@]}" \
  >"$work/server.log" 2>&1
server_pid=$!
svc_name=irsa-webhook.irsa-system.svc
curl_tls=(curl -sS -m 5 --cacert "$certs/ca.crt" --resolve "$svc_name:$port:127.0.0.1")
ready=0
for _ in $(seq 300); do  # 30 s
  if "${curl_tls[@]}" -f "https://$svc_name:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
check "the webhook in the image is ready on 127.0.0.1:$port (TLS verified for $svc_name)" [ "$ready" = 1 ]
if [ "$ready" = 1 ]; then
  "${curl_tls[@]}" -H 'Content-Type: application/json' --data @examples/admission-review.json \
    "https://$svc_name:$port/mutate" >"$work/answer.json" 2>"$work/curl.err"
  check "POST /mutate answers" test -s "$work/answer.json"
  $PYTHON - "$work/answer.json" examples/admission-review.json >"$work/patch.txt" 2>&1 <<'EOF'
import base64, json, sys
answer = json.load(open(sys.argv[1]))
review = json.load(open(sys.argv[2]))
response = answer["response"]
assert answer["apiVersion"] == review["apiVersion"], answer["apiVersion"]
assert response["uid"] == review["request"]["uid"], response["uid"]
assert response["allowed"] is True and response["patchType"] == "JSONPatch"
patch = json.loads(base64.b64decode(response["patch"]))
for op in patch:
    print(json.dumps(op))
env = [op["value"] for op in patch if op["path"] == "/spec/containers/0/env/-"]
assert {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/s3-reader"} in env, env
assert {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
        "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"} in env, env
volumes = [op for op in patch if op["path"] == "/spec/volumes"]
assert volumes and volumes[0]["value"][0]["name"] == "aws-iam-token", volumes
EOF
  status=$?
  sed 's/^/    /' "$work/patch.txt"
  check "the answer carries the expected patch" [ "$status" = 0 ]
fi

# SIGTERM to the webhook process itself, as the kubelet's runtime sends it
# to a container's first process.
# buildah run -> its chroot helpers -> the binary: walk down from our own pid.
descendants() {
  local child
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}
webhook_pid=
for _ in $(seq 50); do
  for p in $(descendants "$server_pid"); do
    if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = irsa-webhook ]; then webhook_pid=$p; fi
  done
  [ -n "$webhook_pid" ] && break
  sleep 0.1
done
if [ "$builder" = docker ]; then
  docker kill --signal TERM "${containers[-1]}" >/dev/null 2>&1
elif [ -n "$webhook_pid" ]; then
  owner=$(stat -c %u "/proc/$webhook_pid")
  check "the webhook process runs as UID 65532 (got $owner)" [ "$owner" = 65532 ]
  kill -TERM "$webhook_pid"
else
  fail "found the webhook process under buildah run (pid $server_pid)"
  kill -TERM "$server_pid" 2>/dev/null
fi
stopped=0
for _ in $(seq 150); do  # 15 s
  kill -0 "$server_pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.1
done
if [ "$stopped" = 1 ]; then
  wait "$server_pid"
  status=$?
  server_pid=
  check "the webhook exits 0 on SIGTERM (exit $status)" [ "$status" = 0 ]
else
  fail "the webhook did not stop within 15 s of SIGTERM"
fi
check "the server logged the review and its shutdown" \
  grep -qE 'decision(=|":")mutated' "$work/server.log"
if [ "$failed" != 0 ]; then
  echo "image-test: server log:"
  sed 's/^/    /' "$work/server.log"
fi

echo "image-test: $IMAGE $(awk -v b="$size" 'BEGIN {printf "%.1f MB", b / 1e6}') of files; build ${took} s"
echo "image-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
