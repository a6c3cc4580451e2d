#!/usr/bin/env bash
# The whole system in the foreground: web server, Celery worker and Celery
# beat. Ctrl-C stops all three; if one dies, the others are stopped too.
set -uo pipefail
cd "$(dirname "$0")/.."
ADDR=${PRM_RUN_ADDR:-127.0.0.1:8000}
mkdir -p .run
pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT INT TERM
.venv/bin/python manage.py runserver "$ADDR" & pids+=($!)
.venv/bin/celery -A prm worker --loglevel INFO --concurrency 2 & pids+=($!)
.venv/bin/celery -A prm beat --loglevel INFO --schedule .run/celerybeat-schedule & pids+=($!)
echo "PRM is starting: http://acme.localhost:${ADDR##*:}/ and http://globex.localhost:${ADDR##*:}/"
echo "Platform admin: http://localhost:${ADDR##*:}/admin/  (Ctrl-C stops everything)"
wait -n
echo "A process stopped; stopping the others." >&2
exit 1
