#!/usr/bin/env bash
# Back up the database the settings point at (PRM_DB_NAME, PRM_DB_HOST,
# PRM_DB_PORT, PRM_DB_USER, PRM_DB_PASSWORD; the defaults of prm/settings.py)
# into PRM_BACKUP_DIR (default: backups/ in the project):
#
#   <db>-<UTC time>.dump            pg_dump --format=custom of the database
#   <db>-<UTC time>.media.tar.gz    the uploaded files (MEDIA_ROOT), if any
#
# Each file is written under a temporary name, checked (pg_restore --list,
# tar --list) and only then renamed, so a file with its final name is a
# complete one. pg_dump reads one consistent snapshot while the application
# keeps running. Restore with scripts/restore.sh; see README, "Backups and
# restore".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Relative to where it is run from, before moving to the project.
BACKUP_DIR=$(realpath -m -- "${PRM_BACKUP_DIR:-$ROOT/backups}")
cd "$ROOT"
# shellcheck source=scripts/pg_tools.sh
. scripts/pg_tools.sh
# Dumps hold password hashes and customer data: readable by their owner only.
umask 077

[ -x "$PY" ] || die "$PY is missing: run make setup first."

# Uploaded files (MDF proof of performance) live under MEDIA_ROOT
# (PRM_MEDIA_ROOT); when the directory exists it is archived beside the dump.
# CSV imports are read in memory.
SETTINGS=${DJANGO_SETTINGS_MODULE:-prm.settings}
media_root=$(DJANGO_SETTINGS_MODULE=$SETTINGS "$PY" -c \
  'from django.conf import settings; print(settings.MEDIA_ROOT or "")') \
  || die "cannot read MEDIA_ROOT from the settings ($SETTINGS): run this with the application's environment."

major=$(server_major "$DB_NAME") || exit 1
PG_DUMP=$(client_for pg_dump "$major") || exit 1
PG_RESTORE=$(client_for pg_restore "$major") || exit 1

mkdir -p -- "$BACKUP_DIR" || die "cannot create the backup directory $BACKUP_DIR."
name="$DB_NAME-$(date -u +%Y%m%dT%H%M%SZ)"
dump="$BACKUP_DIR/$name.dump"
media="$BACKUP_DIR/$name.media.tar.gz"
[ ! -e "$dump" ] || die "$dump already exists: one backup per second at most."

partial_dump=$(mktemp -- "$BACKUP_DIR/.$name.dump.XXXXXX")
partial_media=""
cleanup() { rm -f -- "$partial_dump" ${partial_media:+"$partial_media"}; }
trap cleanup EXIT

echo "Dumping database $DB_NAME at $PGHOST:$PGPORT with $PG_DUMP..."
# --lock-wait-timeout: give up rather than queue behind a migration's
# exclusive lock (and make the application's queries queue behind us).
"$PG_DUMP" --format=custom --no-password --lock-wait-timeout=60s \
  --dbname "$DB_NAME" --file "$partial_dump" \
  || die "pg_dump of database $DB_NAME failed (see above); no backup was written."

contents=$("$PG_RESTORE" --list "$partial_dump") \
  || die "the dump of $DB_NAME cannot be read back with pg_restore --list; no backup was written."
grep -qE '^[0-9]+; [0-9]+ [0-9]+ TABLE DATA [^ ]+ django_migrations ' <<<"$contents" \
  || die "database $DB_NAME has no django_migrations table: is PRM_DB_NAME right, and is it migrated? No backup was written."
sync -- "$partial_dump"
mv -- "$partial_dump" "$dump"

size() { numfmt --to=iec --suffix=B "$(stat -c %s -- "$1")"; }
echo "Backup written: $dump ($(size "$dump"))"

# After the dump: a file is stored before the row that names it is
# committed, so every file the dump refers to is already there.
if [ -z "$media_root" ]; then
  echo "No MEDIA_ROOT in the settings: no uploaded files to copy."
elif [ ! -d "$media_root" ]; then
  echo "MEDIA_ROOT $media_root does not exist yet: no uploaded files to copy."
else
  partial_media=$(mktemp -- "$BACKUP_DIR/.$name.media.tar.gz.XXXXXX")
  tar -C "$media_root" -czf "$partial_media" . \
    || die "archiving the uploaded files in $media_root failed (the database dump $dump is complete)."
  tar -tzf "$partial_media" >/dev/null \
    || die "the archive of $media_root cannot be read back (the database dump $dump is complete)."
  sync -- "$partial_media"
  mv -- "$partial_media" "$media"
  echo "Uploaded files written: $media ($(size "$media"), from $media_root)"
fi
