#!/usr/bin/env bash
# docker-compose.yml brought up for real with podman-compose and the local images (containers/compose.local.yml), a
# move and a report run through it, results checked exactly (test/containers/compose.test.ts); also validated with
# docker-compose 1.29. Needs containers/install-tools.sh's tools.
set -euo pipefail
cd "$(dirname "$0")/.."
source containers/env.sh
for tool in podman-compose docker-compose; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: bash containers/install-tools.sh" >&2; exit 2; }
done
bash containers/build-images.sh
npx vitest run --config vitest.containers.config.ts "$@"
