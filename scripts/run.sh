#!/usr/bin/env bash
# One command for a newcomer: set up, create the demo college, start Redis (if none is configured), the
# RQ worker and the web app, and print what an LMS administrator pastes into Moodle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export TINGKE_INSTANCE_PATH=${TINGKE_INSTANCE_PATH:-$PWD/instance}
PORT=${PORT:-5000}
export TINGKE_BASE_URL=${TINGKE_BASE_URL:-http://localhost:$PORT}
mkdir -p "$TINGKE_INSTANCE_PATH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
            [[ -n "${REDIS_PORT:-}" ]] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

if [[ -z "${TINGKE_REDIS_URL:-}" ]]; then
  REDIS_PORT=${REDIS_PORT:-6390}
  echo "==> starting a private Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$TINGKE_INSTANCE_PATH" \
    --maxmemory-policy noeviction --daemonize yes --pidfile "$TINGKE_INSTANCE_PATH/redis.pid" \
    --logfile "$TINGKE_INSTANCE_PATH/redis.log"
  until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
  export TINGKE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
fi

.venv/bin/tingke init --institution "${TINGKE_DEMO_INSTITUTION:-DEMO}" --name "${TINGKE_DEMO_NAME:-吉林交通职业技术学院（演示）}"
if .venv/bin/tingke --help | grep -q "^  demo"; then
  .venv/bin/tingke demo --institution "${TINGKE_DEMO_INSTITUTION:-DEMO}"
fi

.venv/bin/tingke worker > "$TINGKE_INSTANCE_PATH/worker.log" 2>&1 &
pids+=($!)
echo "==> worker started (log: $TINGKE_INSTANCE_PATH/worker.log)"
# The demo LMS (a real LTI 1.3 platform on 127.0.0.1, demo only: it signs in anyone who clicks).
if [[ "${TINGKE_ENV:-development}" != "production" && "${TINGKE_DEMO_LMS:-1}" != "0" ]]; then
  DEMO_LMS_PORT=${DEMO_LMS_PORT:-5001}
  export TINGKE_DEMO_LMS_URL="http://127.0.0.1:$DEMO_LMS_PORT/"
  .venv/bin/tingke demo-lms --institution "${TINGKE_DEMO_INSTITUTION:-DEMO}" --port "$DEMO_LMS_PORT" \
    > "$TINGKE_INSTANCE_PATH/demo-lms.log" 2>&1 &
  pids+=($!)
  echo "==> demo LMS at $TINGKE_DEMO_LMS_URL   (open it: a course page with Tingke inside; pick a person)"
fi
echo "==> Tingke at $TINGKE_BASE_URL   (configuration for Moodle: $TINGKE_BASE_URL/lti/config)"
.venv/bin/tingke serve --host "${HOST:-127.0.0.1}" --port "$PORT" &
pids+=($!)
wait "${pids[-1]}"
