#!/usr/bin/env bash
# Set up and run hfdatasets: web (daphne) and worker (django-q2) together, on embedded
# defaults unless DATABASE_URL / REDIS_URL are set. Ctrl-C stops both.
source "$(dirname "$0")/_venv.sh" requirements.txt
export DEBUG="${DEBUG:-1}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

# A busy port would only show up later as a daphne traceback: say so now, before anything starts.
if ! python - "$HOST" "$PORT" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    with socket.create_server((host, port)):
        pass
except OSError as exc:
    sys.exit(f"Port {port} on {host} is in use ({exc.strerror}). Stop what uses it, or start on another port: PORT=8001 bash scripts/run.sh")
PY
then
  exit 1
fi

python manage.py migrate --no-input
python manage.py collectstatic --no-input --verbosity 0
python manage.py ensure_admin

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
python manage.py qcluster &
pids+=($!)
daphne -b "$HOST" -p "$PORT" hfdatasets.asgi:application &
daphne_pid=$!
pids+=($daphne_pid)

# "running" only once the web server answers HTTP; if daphne dies first (or never answers), say so and stop.
if ! python - "$HOST" "$PORT" "$daphne_pid" <<'PY'
import os, sys, time, urllib.error, urllib.request
host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
url = f"http://{f'[{host}]' if ':' in host else host}:{port}/accounts/login/"
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"The web server stopped before it answered on {host}:{port}; see the messages above.")
    try:
        urllib.request.urlopen(url, timeout=10).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # An HTTP error is still an answer.
    except OSError:
        time.sleep(0.2)
sys.exit(f"The web server did not answer on {host}:{port} within 120 seconds; see the messages above.")
PY
then
  exit 1
fi
echo "hfdatasets is running at http://$HOST:$PORT/  (Ctrl-C to stop)"
# Stop everything as soon as either process exits.
wait -n
