#!/bin/sh
# Entrypoint of the local PostgreSQL image, following the official image's conventions: started as root it prepares
# PGDATA and runs itself again as `postgres`; an empty PGDATA gets a cluster whose superuser is POSTGRES_USER with
# POSTGRES_PASSWORD (password authentication for every host), and the database POSTGRES_DB; then `postgres "$@"`.
set -eu

if [ "${1:-}" != "postgres" ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the superuser's password)}"
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  password_file="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
  initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$password_file"
  printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  if [ "$database" != postgres ]; then
    # Single-user mode: no server listens before the cluster is ready, so "ready to accept connections" is said once.
    echo "CREATE DATABASE \"$database\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "initialised PostgreSQL $(postgres --version | awk '{print $3}') in $PGDATA (superuser $user, database $database)"
fi

exec "$@"
