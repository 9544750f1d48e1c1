#!/usr/bin/env bash
# The living demo on the embedded default (SQLite + filesystem broker under ./data): migrate, make
# sure the demo staff user exists and print its API token, then run the API server, a Celery
# worker, the beat and a simulated field of loopback meters (manage.py run_demo) until Ctrl-C or
# SIGTERM, which stop every child process.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-1}
DATA_DIR=${UTILITARIAN_DATA_DIR:-data}
mkdir -p "$DATA_DIR"

# The demo password is generated once and kept beside the generated secret key, so every start
# can print the login; DEMO_PASSWORD wins.
if [ -z "${DEMO_PASSWORD:-}" ]; then
  if [ ! -s "$DATA_DIR/demo_password" ]; then
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DATA_DIR/demo_password")
  fi
  DEMO_PASSWORD=$(cat "$DATA_DIR/demo_password")
  export DEMO_PASSWORD
fi

"$BIN/python" manage.py migrate --noinput
# With DEBUG off, static files (admin, API docs) are served by whitenoise from STATIC_ROOT only.
case "${DEBUG,,}" in
  1 | true | yes | on) ;;
  *) "$BIN/python" manage.py collectstatic --noinput -v0 ;;
esac
"$BIN/python" manage.py ensure_demo_user
exec "$BIN/python" manage.py run_demo --host 127.0.0.1 --port "$PORT"
