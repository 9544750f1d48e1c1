#!/usr/bin/env bash
# The whole test suite. Lint first, then pytest on SQLite, then pytest again on PostgreSQL with
# Redis as the Celery broker when those services answer. With CI=true a missing service fails the
# run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

echo "== ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .

echo "== pytest on SQLite"
env -u DATABASE_URL -u CELERY_BROKER_URL UTILITARIAN_TESTING=1 \
  UTILITARIAN_DATA_DIR="$(mktemp -d)" "$BIN/pytest" "$@"

services_up() {
  "$BIN/python" - "$POSTGRES_URL" "$REDIS_URL" <<'PY'
import sys
import psycopg
import redis
try:
    psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
    redis.Redis.from_url(sys.argv[2], socket_connect_timeout=3).ping()
except Exception as exc:
    print(f"services unavailable: {exc}")
    sys.exit(1)
PY
}

if services_up; then
  echo "== pytest on PostgreSQL + Redis"
  DATABASE_URL="$POSTGRES_URL" CELERY_BROKER_URL="$REDIS_URL" UTILITARIAN_TESTING=1 \
    UTILITARIAN_DATA_DIR="$(mktemp -d)" "$BIN/pytest" "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true but PostgreSQL ($POSTGRES_URL) or Redis ($REDIS_URL) is not reachable: failing." >&2
  exit 1
else
  echo "== PostgreSQL/Redis run skipped: services not reachable on this machine (set TEST_POSTGRES_URL/TEST_REDIS_URL)"
fi
