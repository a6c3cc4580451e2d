#!/usr/bin/env bash
# Restore a dump of scripts/backup.sh into a new database and verify it:
#
#   scripts/restore.sh [--replace] DUMP [TARGET_DB]
#
# TARGET_DB defaults to "<PRM_DB_NAME>_restored" on the server the PRM_DB_*
# variables point at. The dump goes into a scratch database
# "<TARGET_DB>_restoring" first (pg_restore --no-owner --exit-on-error), which
# must then pass `manage.py migrate --check` (the code's migrations are all
# applied, none missing) and `manage.py check_ledger` (the incentives ledger
# is intact); only then does it take TARGET_DB's name. An existing, non-empty
# TARGET_DB is never touched without --replace, and with it only after the
# restored copy has passed both checks (stop the application first: a
# database with connections cannot be dropped).
set -euo pipefail
usage="usage: $0 [--replace] DUMP [TARGET_DB]"
replace=0
args=()
for arg in "$@"; do
  case "$arg" in
    --replace) replace=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) args+=("$arg") ;;
  esac
done
if [ "${#args[@]}" -lt 1 ] || [ "${#args[@]}" -gt 2 ]; then
  echo "$usage" >&2
  exit 2
fi
# Relative to where it is run from, before moving to the project.
DUMP=$(realpath -m -- "${args[0]}")
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg_tools.sh
. scripts/pg_tools.sh
TARGET=${args[1]:-${DB_NAME}_restored}
SCRATCH=${TARGET}_restoring
JOBS=${PRM_RESTORE_JOBS:-2}

[ -x "$PY" ] || die "$PY is missing: run make setup first."
[ -f "$DUMP" ] && [ -r "$DUMP" ] || die "no readable dump at $DUMP."
case "$TARGET" in
  postgres|template0|template1) die "refusing to restore into the system database $TARGET." ;;
esac
# PostgreSQL cuts names at 63 bytes; the scratch name must stay distinct.
[ "$(printf %s "$SCRATCH" | wc -c)" -le 63 ] || die "database name $TARGET is too long (at most 53 bytes)."

major=$(server_major postgres) || exit 1
PG_RESTORE=$(client_for pg_restore "$major") || exit 1
"$PG_RESTORE" --list "$DUMP" >/dev/null || die "$DUMP is not an archive $PG_RESTORE can read."

# sql DB STATEMENT NAME...: run STATEMENT on DB with :'name', :'name2'...
# bound to the names (quoted by psql: no name is pasted into SQL).
sql() {
  local db=$1 statement=$2
  shift 2
  local vars=() i=1
  for value in "$@"; do
    if [ "$i" = 1 ]; then vars+=(-v "name=$value"); else vars+=(-v "name$i=$value"); fi
    i=$((i + 1))
  done
  psql_on "$db" "${vars[@]}" <<<"$statement"
}
exists() { [ -n "$(sql postgres "SELECT 1 FROM pg_database WHERE datname = :'name'" "$1")" ]; }
# Tables, views, sequences... outside PostgreSQL's own schemas.
relations() {
  sql "$1" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'"
}
drop() { sql postgres "SELECT format('DROP DATABASE %I', :'name') \\gexec" "$1"; }

if exists "$TARGET" && [ "$(relations "$TARGET")" != 0 ] && [ "$replace" = 0 ]; then
  die "database $TARGET exists and is not empty: refusing to overwrite it.
Restore into another database (scripts/restore.sh $DUMP NEW_NAME), or give --replace
to replace $TARGET once the restored copy has passed its checks."
fi
if exists "$SCRATCH"; then
  die "database $SCRATCH exists (left by an interrupted or failed restore?).
Look into it or drop it (dropdb -h $PGHOST -p $PGPORT -U $PGUSER $SCRATCH), then run this again."
fi

sql postgres "SELECT format('CREATE DATABASE %I TEMPLATE template0', :'name') \\gexec" "$SCRATCH" \
  || die "cannot create database $SCRATCH (does $PGUSER have CREATEDB?)."
echo "Restoring $DUMP into the new database $SCRATCH with $PG_RESTORE..."
if ! "$PG_RESTORE" --no-owner --exit-on-error --jobs "$JOBS" --no-password \
  --dbname "$SCRATCH" "$DUMP"; then
  drop "$SCRATCH" || true
  die "pg_restore failed (see above); the incomplete database $SCRATCH was dropped, $TARGET is untouched."
fi
# pg_restore brings no planner statistics: gather them before anyone queries.
psql_on "$SCRATCH" -c "ANALYZE" || die "ANALYZE of $SCRATCH failed."

failed() {
  die "$1
The restored data stays in database $SCRATCH for inspection; $TARGET was not touched.
Drop it when done: dropdb -h $PGHOST -p $PGPORT -U $PGUSER $SCRATCH"
}
echo "Checking migrations..."
if ! PRM_DB_NAME=$SCRATCH "$PY" manage.py migrate --check; then
  PRM_DB_NAME=$SCRATCH "$PY" manage.py showmigrations --plan | grep -F '[ ]' >&2 || true
  failed "the restored database does not match this code's migrations (unapplied ones listed above): restore with the code of the backup's time, or run migrate on it."
fi
echo "Checking the ledger..."
if ! ledger=$(PRM_DB_NAME=$SCRATCH "$PY" manage.py check_ledger 2>&1); then
  echo "$ledger" >&2
  failed "check_ledger found differences in the restored database (listed above)."
fi
echo "$ledger"

if exists "$TARGET"; then
  # Empty, or --replace was given.
  drop "$TARGET" \
    || failed "cannot drop database $TARGET: stop what is connected to it (the web server, Celery worker and beat) and run this again."
fi
sql postgres "SELECT format('ALTER DATABASE %I RENAME TO %I', :'name', :'name2') \\gexec" \
  "$SCRATCH" "$TARGET" \
  || die "cannot rename $SCRATCH to $TARGET: the checked, restored data is in $SCRATCH (rename it with ALTER DATABASE once nothing is connected to it)."

echo "Restored $DUMP into database $TARGET: migrations applied, ledger checked."
echo "Run the application on it with PRM_DB_NAME=$TARGET."
media=${DUMP%.dump}.media.tar.gz
if [ "$media" != "$DUMP" ] && [ -f "$media" ]; then
  echo "Uploaded files of this backup: $media; put them back with: tar -xzf $media -C <MEDIA_ROOT>"
fi
