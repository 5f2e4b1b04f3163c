#!/usr/bin/env bash
# Installs what the container scripts need, where it is missing: Podman (with runc and, for its CNI networks, the
# dnsname plugin that lets compose's services find each other by name), mmdebstrap and Debian's archive
# keyring (the local base image), docker-compose 1.29 (validates docker-compose.yml offline) from apt, and
# podman-compose from PyPI into the tool cache. Needs root (or sudo) for apt. Prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
PODMAN_COMPOSE_VERSION=1.6.0
PODMAN_COMPOSE_VENV="${DUCKTIER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ducktier}/podman-compose-$PODMAN_COMPOSE_VERSION"

packages=()
command -v podman >/dev/null || packages+=(podman runc slirp4netns uidmap containernetworking-plugins catatonit)
# Compose's services reach each other by name: with Podman's CNI network backend that takes the dnsname plugin, which
# Debian only recommends (without it the worker fails with "getaddrinfo ENOTFOUND postgres" and never gets healthy).
if [ ! -e /usr/lib/cni/dnsname ] && { ! command -v podman >/dev/null ||
  [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ]; }; then
  packages+=(golang-github-containernetworking-plugin-dnsname)
fi
command -v mmdebstrap >/dev/null || packages+=(mmdebstrap debian-archive-keyring)
command -v docker-compose >/dev/null || packages+=(docker-compose)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  echo "[tools] apt-get install ${packages[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! "$PODMAN_COMPOSE_VENV/bin/podman-compose" --version >/dev/null 2>&1; then
  echo "[tools] podman-compose $PODMAN_COMPOSE_VERSION from PyPI into $PODMAN_COMPOSE_VENV"
  rm -rf "$PODMAN_COMPOSE_VENV"
  python3 -m venv "$PODMAN_COMPOSE_VENV"
  "$PODMAN_COMPOSE_VENV/bin/pip" install --quiet --disable-pip-version-check "podman-compose==$PODMAN_COMPOSE_VERSION"
fi
echo "[tools] ready in $((SECONDS - started))s: $(podman --version), $("$PODMAN_COMPOSE_VENV/bin/podman-compose" --version 2>/dev/null | head -n1), $(docker-compose --version)"
