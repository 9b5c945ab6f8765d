# A throw-away PostgreSQL server for the journal tests (tests/journal.rs),
# sourced by scripts/test: `start_test_postgres` installs Debian's
# postgresql package if it is missing, creates a cluster in a temporary
# directory, serves it on 127.0.0.1 (first free port from 54329; its socket
# in the same directory), creates a database and exports
# QUANTPRO_TEST_DATABASE_URL; `stop_test_postgres` stops it and deletes the
# directory. A URL already set in QUANTPRO_TEST_DATABASE_URL is used as it is.
# The cluster runs as the current user, or as `postgres` when that is root
# (PostgreSQL refuses to run as root). Trust authentication: it only listens
# on loopback and lives for one test run.

pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
  if [ -n "${QUANTPRO_TEST_DATABASE_URL:-}" ]; then
    echo "journal tests: PostgreSQL from QUANTPRO_TEST_DATABASE_URL"
    return 0
  fi
  if [ -z "$(pg_bin_dir)" ] || [ ! -x "$(pg_bin_dir)/initdb" ]; then
    echo "journal tests: installing Debian's postgresql"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql
  fi
  PG_BIN="$(pg_bin_dir)"
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/quantpro-pg.XXXXXX")"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  as_pg_user "$PG_BIN/initdb" -D "$PG_DIR/data" -U quantpro -A trust --no-sync -E UTF8 >"$PG_DIR/initdb.log"
  local port=54329 started=""
  for _ in $(seq 1 20); do
    if as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
      -o "-k $PG_DIR -p $port -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
      started=1
      break
    fi
    port=$((port + 1)) # taken (another test run on this machine): the next one
  done
  if [ -z "$started" ]; then
    echo "journal tests: the PostgreSQL test server did not start; its log:" >&2
    cat "$PG_DIR/server.log" >&2
    return 1
  fi
  as_pg_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U quantpro quantpro_test
  export QUANTPRO_TEST_DATABASE_URL="postgres://quantpro@127.0.0.1:$port/quantpro_test"
  echo "journal tests: PostgreSQL on 127.0.0.1:$port ($PG_DIR)"
}

stop_test_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$PG_DIR"
  fi
}
