#!/usr/bin/env bash
# Extract UI strings and update the catalogs (msgids are English; zh_CN is the primary translation).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F babel.cfg -k lazy_gettext -k N_ -o lti_tool/translations/messages.pot . 2>/dev/null
for loc in zh_CN en; do
  po=lti_tool/translations/$loc/LC_MESSAGES/messages.po
  if [[ -f $po ]]; then
    .venv/bin/pybabel update -i lti_tool/translations/messages.pot -d lti_tool/translations -l "$loc" --no-fuzzy-matching 2>/dev/null
  else
    .venv/bin/pybabel init -i lti_tool/translations/messages.pot -d lti_tool/translations -l "$loc" 2>/dev/null
  fi
done
