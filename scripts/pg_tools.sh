# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this
# Shared by scripts/backup.sh and scripts/restore.sh (sourced, not run):
# where the database is, and PostgreSQL client programs that can work with
# its server.
#
# The connection comes from the same PRM_DB_* variables, with the same
# defaults, as DATABASES in prm/settings.py, handed to the client programs
# as libpq's PG* variables (the password never appears on a command line).

DB_NAME=${PRM_DB_NAME:-prm}
export PGHOST=${PRM_DB_HOST:-127.0.0.1}
export PGPORT=${PRM_DB_PORT:-5432}
export PGUSER=${PRM_DB_USER:-postgres}
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
if [ -n "${PRM_DB_PASSWORD:-}" ]; then
  export PGPASSWORD=$PRM_DB_PASSWORD
fi
PY=.venv/bin/python

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# The major version a client program reports ("pg_dump (PostgreSQL) 15.20
# (Debian ...)" -> 15).
client_major() {
  "$1" --version 2>/dev/null | awk '{print $3}' | grep -oE '^[0-9]+' || true
}

# client_for TOOL SERVER_MAJOR: the path of TOOL (pg_dump, pg_restore) of the
# server's major version or newer: pg_dump refuses a newer server than its
# own, and an older pg_restore cannot read a newer pg_dump's archive.
# PRM_PG_BIN names the directory to take it from; otherwise the server's
# version under /usr/lib/postgresql (Debian) or /usr/pgsql-N (RHEL), then
# the one on PATH, then any newer one installed.
client_for() {
  local tool=$1 major=$2 candidate found seen=""
  local candidates=()
  if [ -n "${PRM_PG_BIN:-}" ]; then
    candidates=("$PRM_PG_BIN/$tool")
  else
    candidates=("/usr/lib/postgresql/$major/bin/$tool" "/usr/pgsql-$major/bin/$tool")
    if found=$(command -v "$tool"); then candidates+=("$found"); fi
    for candidate in /usr/lib/postgresql/*/bin/"$tool" /usr/pgsql-*/bin/"$tool"; do
      candidates+=("$candidate")
    done
  fi
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate" ] || continue
    found=$(client_major "$candidate")
    seen+=" $candidate (${found:-unknown version})"
    if [ -n "$found" ] && [ "$found" -ge "$major" ]; then
      echo "$candidate"
      return 0
    fi
  done
  echo "$(basename "$0"): no $tool for PostgreSQL $major at $PGHOST:$PGPORT (found:${seen:- none})." >&2
  echo "Install the PostgreSQL $major client (Debian: apt-get install postgresql-client-$major)," >&2
  echo "or set PRM_PG_BIN to the directory of a $tool of version $major or newer." >&2
  return 1
}

# psql for the few statements the scripts run themselves; any version will do.
PSQL=psql
if [ -n "${PRM_PG_BIN:-}" ]; then
  PSQL=$PRM_PG_BIN/psql
fi
command -v "$PSQL" >/dev/null 2>&1 \
  || die "psql not found: install the PostgreSQL client (Debian: apt-get install postgresql-client) or set PRM_PG_BIN."

# psql_on DB [psql args...]: quiet, unaligned, stops at the first error,
# ignores ~/.psqlrc, never prompts for a password.
psql_on() {
  local db=$1
  shift
  "$PSQL" -X -q -A -t -w -v ON_ERROR_STOP=1 --dbname "$db" "$@"
}

# server_major DB: the server's major version (15 for 15.20), asked
# through database DB; a clear message if it does not answer.
server_major() {
  local num
  if ! num=$(psql_on "$1" -c "SHOW server_version_num" 2>&1); then
    echo "$(basename "$0"): cannot connect to database $1 at $PGHOST:$PGPORT as $PGUSER:" >&2
    echo "$num" >&2
    echo "Check PRM_DB_HOST, PRM_DB_PORT, PRM_DB_USER and PRM_DB_PASSWORD (scripts/ensure_services.sh starts a local server)." >&2
    return 1
  fi
  echo $((num / 10000))
}
