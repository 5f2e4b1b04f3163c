# Sourced by the container scripts. Podman with this repository's settings (containers.conf: runc, cgroupfs, limits a
# host without systemd accepts), leaving the machine's own configuration alone (a CONTAINERS_CONF already set wins),
# and podman-compose from the tool cache (containers/install-tools.sh puts it there) on PATH.
CONTAINERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$CONTAINERS_DIR/containers.conf}"
DUCKTIER_TOOL_CACHE="${DUCKTIER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ducktier}"
PODMAN_COMPOSE_VERSION=1.6.0
PODMAN_COMPOSE_VENV="$DUCKTIER_TOOL_CACHE/podman-compose-$PODMAN_COMPOSE_VERSION"
export PATH="$PODMAN_COMPOSE_VENV/bin:$PATH"

if ! command -v podman >/dev/null; then
  echo "podman is not installed: bash containers/install-tools.sh installs what the container scripts need" >&2
  exit 2
fi
