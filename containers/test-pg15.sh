#!/usr/bin/env bash
# The integration tests that exercise PostgreSQL itself (moves, late writes, faults, reports, the DEFAULT sweep, any
# table) against PostgreSQL 15 in a container, through testcontainers and Podman's Docker-compatible API. The rest of
# the stack (Temporal dev server, DuckDB) is what `npm test` uses. Arguments replace the list of test files.
#   DUCKTIER_TEST_PG_IMAGE   default: localhost/ducktier/postgres:15, built here by containers/build-images.sh;
#                            with a registry, `postgres:15` (the official image) works the same way.
#   DUCKTIER_TEST_PG_MAJOR   default: 15, the major version the server must report.
set -euo pipefail
cd "$(dirname "$0")/.."
source containers/env.sh

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(
  test/integration/migration.test.ts
  test/integration/late-write.test.ts
  test/integration/gentle-moves.test.ts
  test/integration/fault-matrix.test.ts
  test/integration/concurrent-triggers.test.ts
  test/integration/default-sweep.test.ts
  test/integration/any-table.test.ts
  test/integration/reports.test.ts
  test/integration/reports-during-moves.test.ts
  test/integration/report-routing.test.ts
  test/integration/pushdown-cost.test.ts
  test/integration/analyzed-parent.test.ts
)

export DUCKTIER_TEST_PG_IMAGE="${DUCKTIER_TEST_PG_IMAGE:-localhost/ducktier/postgres:15}"
# The global setup checks the server it got is this major version (an image's tag is only a name).
export DUCKTIER_TEST_PG_MAJOR="${DUCKTIER_TEST_PG_MAJOR:-15}"
case "$DUCKTIER_TEST_PG_IMAGE" in
  localhost/ducktier/*) bash containers/build-images.sh postgres ;;
esac

# testcontainers speaks the Docker API: Podman serves it on a socket of this run's own. Without a reaper container
# (Ryuk needs the Docker socket mounted), the tests' global teardown removes what they started.
run_dir=$(mktemp -d)
podman system service --time=0 "unix://$run_dir/podman.sock" &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; rm -rf "$run_dir"' EXIT
for _ in $(seq 1 100); do [ -S "$run_dir/podman.sock" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$run_dir/podman.sock" TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1

echo "[pg15] ${#files[@]} test files against $DUCKTIER_TEST_PG_IMAGE" >&2
npx vitest run --project integration "${files[@]}"
