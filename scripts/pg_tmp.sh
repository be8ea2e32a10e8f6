#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on a loopback port and print its SQLAlchemy URL.
# Usage: eval "$(scripts/pg_tmp.sh start)"   -> exports SENTITRADE_TEST_PG_URL, PG_TMP_DIR
#        scripts/pg_tmp.sh stop "$PG_TMP_DIR"
# Needs Debian's postgresql package (`.ci/run` installs it). initdb refuses to run as
# root, so as root the cluster belongs to the `postgres` user the package creates.
set -euo pipefail
cmd=${1:-start}
find_bin() {
  local b
  b=$(command -v "$1" 2>/dev/null || true)
  [ -n "$b" ] || b=$(ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n1)
  [ -n "$b" ] || { echo "error: $1 not found: apt-get install postgresql" >&2; exit 1; }
  echo "$b"
}
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  dir=$(mktemp -d /tmp/sentitrade-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=${PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  as_pg "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export PG_TMP_DIR=$dir"
  echo "export SENTITRADE_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  dir=${2:?usage: pg_tmp.sh stop DIR}
  pg_ctl=$(find_bin pg_ctl)
  as_pg "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
