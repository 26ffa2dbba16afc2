#!/usr/bin/env bash
# Set up and run hfdatasets: web (daphne) and worker (django-q2) together, on embedded
# defaults unless DATABASE_URL / REDIS_URL are set. Ctrl-C stops both.
source "$(dirname "$0")/_venv.sh" requirements.txt
export DEBUG="${DEBUG:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
python manage.py migrate --no-input
python manage.py collectstatic --no-input --verbosity 0
python manage.py ensure_admin

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
python manage.py qcluster &
pids+=($!)
daphne -b "$HOST" -p "$PORT" hfdatasets.asgi:application &
pids+=($!)
echo "hfdatasets is running at http://$HOST:$PORT/  (Ctrl-C to stop)"
# Stop everything as soon as either process exits.
wait -n
