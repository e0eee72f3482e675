#!/usr/bin/env bash
# One command runs the tests: installs what they need, then pytest (arguments are passed on).
# SQLite by default; TINGKE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres runs
# the same suite on PostgreSQL (a throwaway database is created and dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
