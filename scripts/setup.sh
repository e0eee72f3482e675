#!/usr/bin/env bash
# Installs what Tingke needs on a Debian machine (system packages when missing) and the Python venv.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

apt_packages=(redis-server fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
# The scale-out test (tests/ops/test_scale_out.py) runs hosts in network namespaces behind nginx.
[[ $want_test == 1 ]] && apt_packages+=(chromium iproute2 nginx-light libnginx-mod-stream postgresql-client)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  # Another apt or dpkg (unattended-upgrades on a fresh machine, a second terminal) holds the locks for a
  # while: wait for it instead of failing (up to 15 minutes), then let apt itself wait on the dpkg lock.
  waited=0
  while pgrep -x 'apt|apt-get|aptitude|dpkg|unattended-upgr' >/dev/null 2>&1 && ((waited < 900)); do
    ((waited == 0)) && echo "==> another apt/dpkg process is running; waiting for it to finish"
    sleep 5; waited=$((waited + 5))
  done
  apt_wait=(-o DPkg::Lock::Timeout=900)
  $SUDO apt-get "${apt_wait[@]}" update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.tingke-installed
extras=""; [[ $want_test == 1 ]] && extras="[test]"
if [[ ! -f $stamp || pyproject.toml -nt $stamp || "$(cat $stamp 2>/dev/null)" != "$extras" && $want_test == 1 ]]; then
  echo "==> installing Python packages"
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -e ".$extras"
  echo "$extras" > $stamp
fi
