#!/usr/bin/env bash
# Builds Citus from a source mirror and starts a local 3-node cluster (coordinator + 2 workers) on
# loopback, for the Citus tests (OASYS_TEST_CITUS_URL) and `npm run bench -- --citus <url>`.
#
#   scripts/citus-cluster.sh <citus git dir or source tree> [start|stop|status]
#
# Environment: CITUS_TAG (v13.2.2, the newest that accepts PostgreSQL 15), CITUS_DIR (/tmp/oasys-citus:
# build tree and data directories), CITUS_PORT (9700: coordinator; workers on the next two ports),
# PG_MAJOR (the one server under /usr/lib/postgresql). Prints the coordinator URL last on stdout.
# Not run by .ci/run: the source cannot be fetched there and the build takes minutes.
set -euo pipefail

src=${1:?usage: scripts/citus-cluster.sh <citus git dir or source tree> [start|stop|status]}
action=${2:-start}
tag=${CITUS_TAG:-v13.2.2}
dir=${CITUS_DIR:-/tmp/oasys-citus}
port=${CITUS_PORT:-9700}
major=${PG_MAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -1)}
bin=/usr/lib/postgresql/$major/bin
ports=("$port" "$((port + 1))" "$((port + 2))")
say() { echo "citus-cluster: $*" >&2; }

# The server refuses to run as root: data directories and processes belong to `postgres` then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_at() { as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres "${@:2}"; }

stop() {
  for p in "${ports[@]}"; do
    if [ -f "$dir/node-$p/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$dir/node-$p" -m fast -w stop >&2 || true; fi
  done
}

case $action in
  stop) stop; exit 0 ;;
  status) for p in "${ports[@]}"; do as_pg "$bin/pg_ctl" -D "$dir/node-$p" status >&2 || true; done; exit 0 ;;
  start) ;;
  *) say "unknown action '$action' (start, stop or status)"; exit 2 ;;
esac

mkdir -p "$dir"
pg_config=/usr/lib/postgresql/$major/bin/pg_config
[ -x "$pg_config" ] || pg_config=$(command -v pg_config)
if [ ! -f "$("$pg_config" --pkglibdir)/citus.so" ]; then
  # The dev packages pinned to the installed server's version: unpinned, apt would upgrade the server too.
  version=$(dpkg-query -W -f='${Version}' "postgresql-$major")
  say "installing build dependencies for PostgreSQL $major ($version)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "postgresql-server-dev-$major=$version" "libpq-dev=$version" \
    liblz4-dev libzstd-dev libkrb5-dev build-essential >&2

  pg_config=/usr/lib/postgresql/$major/bin/pg_config # postgresql-server-dev's, for the server being built against
  say "building Citus $tag from $src"
  rm -rf "$dir/src" && mkdir -p "$dir/src"
  if [ -f "$src/configure" ]; then
    cp -a "$src/." "$dir/src/"
  else
    git --git-dir="$src" archive "$tag" | tar -x -C "$dir/src"
  fi
  (
    cd "$dir/src"
    PG_CONFIG=$pg_config ./configure --without-libcurl >&2
    make -j"$(nproc)" with_llvm=no >&2
    make install with_llvm=no >&2
  )
fi

stop
for p in "${ports[@]}"; do
  d=$dir/node-$p
  rm -rf "$d"
  mkdir -p "$d"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir" "$d"; fi
  as_pg "$bin/initdb" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$d/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $p
unix_socket_directories = '$d'
shared_preload_libraries = 'citus'
max_connections = 200
max_prepared_transactions = 100
wal_level = logical
fsync = off
CONF
  as_pg "$bin/pg_ctl" -D "$d" -l "$d/server.log" -w start >&2
  psql_at "$p" -c 'CREATE EXTENSION citus' >&2
done

psql_at "$port" -c "SELECT citus_set_coordinator_host('127.0.0.1', $port)" >/dev/null
for p in "${ports[@]:1}"; do psql_at "$port" -c "SELECT citus_add_node('127.0.0.1', $p)" >/dev/null; done
say "$(psql_at "$port" -At -c "SELECT string_agg(nodename || ':' || nodeport || ' ' || noderole::text, ', ' ORDER BY nodeport) FROM pg_dist_node")"
say "stop with: $0 $src stop"
echo "postgres://postgres@127.0.0.1:$port/postgres"
