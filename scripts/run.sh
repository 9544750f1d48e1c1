#!/usr/bin/env bash
# Start Utilitarian on the embedded default (SQLite + filesystem broker under ./data): migrate,
# make sure a demo staff user exists and print its API token, then serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
PORT=${PORT:-8000}
export DEBUG=${DEBUG:-1}

"$BIN/python" manage.py migrate --noinput
"$BIN/python" manage.py ensure_demo_user
echo "API:    http://127.0.0.1:${PORT}/api/v1/"
echo "Docs:   http://127.0.0.1:${PORT}/api/docs/"
echo "Admin:  http://127.0.0.1:${PORT}/admin/"
echo "Health: http://127.0.0.1:${PORT}/_health/"
exec "$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload
