#!/usr/bin/env bash
# The whole system in the foreground: web server, Celery worker and Celery
# beat. Ctrl-C stops all three. The worker and beat are started again if
# they stop (a Celery worker can exit when Redis goes away under it; the
# work itself is safe in PostgreSQL, see README "What happens when something
# fails"); if the web server dies, everything stops.
set -uo pipefail
cd "$(dirname "$0")/.."
ADDR=${PRM_RUN_ADDR:-127.0.0.1:8000}
mkdir -p .run
pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT INT TERM
supervise() {  # name command...: run it, and again 2 s after it stops
  local name=$1 child status
  shift
  trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    "$@" & child=$!
    wait "$child"; status=$?
    echo "$name stopped (exit status $status); starting it again in 2 s." >&2
    sleep 2
  done
}
.venv/bin/python manage.py runserver "$ADDR" & pids+=($!)
supervise "The Celery worker" .venv/bin/celery -A prm worker --concurrency 2 & pids+=($!)
supervise "Celery beat" .venv/bin/celery -A prm beat --schedule .run/celerybeat-schedule & pids+=($!)
echo "PRM is starting: http://acme.localhost:${ADDR##*:}/ and http://globex.localhost:${ADDR##*:}/"
echo "Platform admin: http://localhost:${ADDR##*:}/admin/  (Ctrl-C stops everything)"
wait -n
echo "A process stopped; stopping the others." >&2
exit 1
