#!/usr/bin/env bash
# Run the test suite. Uses DATABASE_URL / REDIS_URL when set, else embedded SQLite.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -m "not slow" -k api
source "$(dirname "$0")/_venv.sh" requirements-dev.txt
exec python -m pytest "$@"
