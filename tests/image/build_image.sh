#!/usr/bin/env bash
# Builds the irsa-webhook container image from the project's Dockerfile.
#
#   tests/image/build_image.sh [IMAGE]      (default: irsa-webhook:$VERSION)
#   tests/image/build_image.sh --base-only  (only make the buildah base image)
#
# With a Docker daemon that answers (`docker info`), `docker build`. Otherwise
# buildah (BUILDAH_ISOLATION=chroot) with the same Dockerfile and --pull=never,
# on a debian:bookworm base image made locally, once, with debootstrap from the
# Debian mirror apt already uses, and kept in local container storage.
#
# Environment: VERSION, REVISION (default: from CMakeLists.txt and git),
# BUILDER=docker|buildah (default: auto), IMAGE_SOURCE (OCI source label).
# Exit status: 0 built; 1 the build failed; 3 no way to build images here
# (no Docker daemon, and buildah cannot run), with the reason on stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE_IMAGE=docker.io/library/debian:bookworm
VERSION=${VERSION:-$(sed -n 's/^project(irsa-webhook VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
REVISION=${REVISION:-$(git describe --always --dirty --tags 2>/dev/null || echo unknown)}
IMAGE=${1:-irsa-webhook:${VERSION:-dev}}
# The OCI source label: IMAGE_SOURCE, else the git remote "origin" (as an
# https URL), else the project's placeholder home.
origin_url() {
  local url
  url=$(git remote get-url origin 2>/dev/null) || return 0
  case $url in
    git@*:*) url=${url#git@}; url="https://${url/://}" ;;
    ssh://git@*) url="https://${url#ssh://git@}" ;;
  esac
  echo "${url%.git}"
}
IMAGE_SOURCE=${IMAGE_SOURCE:-$(origin_url)}
IMAGE_SOURCE=${IMAGE_SOURCE:-https://github.com/irsa-webhook/irsa-webhook}
BUILD_ARGS=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION"
  --build-arg "SOURCE=$IMAGE_SOURCE")

say() { echo "image: $*" >&2; }
cannot() { say "cannot build images here: $*"; exit 3; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian packages only where missing (image targets only; not in `make deps`).
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root apt-get update -q >/dev/null &&
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror apt uses on this machine (deb822 sources first, then the
# one-line format); never written into the repository.
debian_mirror() {
  local mirror
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
    grep -E '/debian/?$' | head -1 || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "$mirror"
}

have_image() { buildah images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep -qx "$1"; }

# debian:bookworm in local container storage: debootstrap --variant=minbase, once.
ensure_base_image() {
  have_image "$BASE_IMAGE" && return 0
  local mirror root c m started
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || cannot "no Debian mirror in apt's sources to debootstrap the base image from"
  root=$(mktemp -d)
  started=$SECONDS
  say "making $BASE_IMAGE with debootstrap --variant=minbase (once; a few minutes)"
  if ! timeout 1200 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -5 "$root.log" >&2
    rm -rf "$root" "$root.log"
    say "debootstrap failed"
    exit 1
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  c=$(buildah from scratch)
  m=$(buildah mount "$c")
  cp -a "$root"/. "$m"/
  buildah umount "$c" >/dev/null
  buildah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  buildah commit -q "$c" "$BASE_IMAGE" >/dev/null
  buildah rm "$c" >/dev/null
  rm -rf "$root" "$root.log"
  say "made $BASE_IMAGE in $((SECONDS - started)) s"
}

image_size() {  # bytes of the image, as its storage counts them
  if [ "$builder" = docker ]; then
    docker image inspect --format '{{.Size}}' "$IMAGE"
  else
    buildah inspect --type image --format '{{.Size}}' "$IMAGE" 2>/dev/null ||
      buildah images --format '{{.Size}}' "$IMAGE" | head -1
  fi
}

builder=${BUILDER:-}
if [ -z "$builder" ]; then
  if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    builder=docker
  else
    builder=buildah
  fi
fi

if [ "${1:-}" = --base-only ]; then
  export BUILDAH_ISOLATION=chroot
  ensure_packages buildah debootstrap || cannot "buildah and debootstrap could not be installed"
  ensure_base_image
  exit 0
fi

started=$SECONDS
if [ "$builder" = docker ]; then
  say "building $IMAGE with docker build"
  docker build "${BUILD_ARGS[@]}" -t "$IMAGE" .
else
  export BUILDAH_ISOLATION=chroot
  command -v buildah >/dev/null && command -v debootstrap >/dev/null ||
    ensure_packages buildah debootstrap || cannot "buildah and debootstrap could not be installed"
  buildah info >/dev/null 2>&1 || cannot "buildah does not run here: $(buildah info 2>&1 | tail -1)"
  ensure_base_image
  say "building $IMAGE with buildah bud (BUILDAH_ISOLATION=chroot)"
  buildah bud --pull=never --layers --force-rm "${BUILD_ARGS[@]}" -t "$IMAGE" -f Dockerfile .
fi
took=$((SECONDS - started))

size=$(image_size)
if [[ "$size" =~ ^[0-9]+$ ]]; then
  human="$(awk -v b="$size" 'BEGIN {printf "%.1f MB", b / 1e6}')"
else
  human=$size
fi
echo
echo "image:    $IMAGE ($builder, built in ${took} s)"
echo "size:     $human"
echo "version:  $VERSION ($REVISION)"
echo "push it:  $builder tag $IMAGE REGISTRY/irsa-webhook:$VERSION && $builder push REGISTRY/irsa-webhook:$VERSION"
echo "          then set the image in your overlay: kustomize edit set image irsa-webhook=REGISTRY/irsa-webhook:$VERSION"
