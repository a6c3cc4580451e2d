#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer where the settings point. Start them
# when installed but stopped; install them from Debian's packages when
# missing and running as root; otherwise say exactly what to do.
set -uo pipefail
cd "$(dirname "$0")/.."
DB_HOST=${PRM_DB_HOST:-127.0.0.1}
DB_PORT=${PRM_DB_PORT:-5432}
REDIS_URL=${PRM_REDIS_URL:-redis://127.0.0.1:6379/0}
PY=.venv/bin/python

pg_up() {
  $PY -c "import sys, psycopg; psycopg.connect(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], password=sys.argv[4] or None, dbname='postgres', connect_timeout=3).close()" \
    "$DB_HOST" "$DB_PORT" "${PRM_DB_USER:-postgres}" "${PRM_DB_PASSWORD:-}" >/dev/null 2>&1
}
redis_up() {
  $PY -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()" "$REDIS_URL" >/dev/null 2>&1
}
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0;; *) return 1;; esac; }
as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  echo "Installing $* from Debian's packages..."
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -1)" ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if as_root && command -v apt-get >/dev/null 2>&1; then
      apt_install postgresql postgresql-contrib || return 1
      version=$(ls /etc/postgresql | sort -n | tail -1)
      # Local development and CI only: trust connections from this machine.
      sed -ri 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
        "/etc/postgresql/$version/main/pg_hba.conf"
    else
      return 1
    fi
  fi
  for version in $(ls /etc/postgresql 2>/dev/null); do
    if as_root; then
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
        || su postgres -c "pg_ctlcluster --skip-systemctl-redirect $version main start" 2>/dev/null
    else
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null
    fi
  done
  for _ in $(seq 1 20); do pg_up && return 0; sleep 0.5; done
  return 1
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    if as_root && command -v apt-get >/dev/null 2>&1; then
      apt_install redis-server || return 1
    else
      return 1
    fi
  fi
  mkdir -p /tmp/prm-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/prm-redis --logfile /tmp/prm-redis/redis.log >/dev/null 2>&1 || return 1
  for _ in $(seq 1 20); do redis_up && return 0; sleep 0.25; done
  return 1
}

if ! pg_up; then
  if is_local "$DB_HOST" && start_postgres; then
    echo "Started PostgreSQL."
  else
    echo "PostgreSQL does not answer at $DB_HOST:$DB_PORT." >&2
    echo "Start it (Debian: pg_ctlcluster <version> main start), or install it as root" >&2
    echo "(apt-get install postgresql) and allow trust or password login for user" >&2
    echo "${PRM_DB_USER:-postgres} from 127.0.0.1; or point PRM_DB_HOST/PRM_DB_PORT/PRM_DB_USER/" >&2
    echo "PRM_DB_PASSWORD at a server you have." >&2
    exit 1
  fi
fi
if ! redis_up; then
  if start_redis; then
    echo "Started Redis."
  else
    echo "Redis does not answer at $REDIS_URL." >&2
    echo "Start it (redis-server --daemonize yes), or install it as root" >&2
    echo "(apt-get install redis-server), or point PRM_REDIS_URL at a server you have." >&2
    exit 1
  fi
fi
# The application database (the test database is made by the test runner).
$PY - <<'PYEOF'
import os, psycopg
from psycopg import sql
name = os.environ.get("PRM_DB_NAME", "prm")
with psycopg.connect(
    host=os.environ.get("PRM_DB_HOST", "127.0.0.1"), port=os.environ.get("PRM_DB_PORT", "5432"),
    user=os.environ.get("PRM_DB_USER", "postgres"), password=os.environ.get("PRM_DB_PASSWORD") or None,
    dbname="postgres", autocommit=True,
) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"Created database {name}.")
PYEOF
