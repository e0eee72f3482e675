#!/usr/bin/env bash
# Extract UI strings and update the catalogs (msgids are English; Simplified Chinese,
# the default locale zh_CN, is the primary translation).
#
# Keywords: Babel's defaults (_, gettext, ngettext, pgettext, N_ …) plus Flask-Babel's lazy variants,
# and the domain error classes of lti_tool/errors.py: their first argument is a msgid that
# TingkeError.translated() looks up at render time, so `raise NotFound("No session %(id)s.", id=x)`
# must land in the catalog like any `_()` call.
set -euo pipefail
cd "$(dirname "$0")/.."
keywords=(
  -k _ -k gettext -k ngettext:1,2 -k N_ -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2
  -k TingkeError -k TooLarge -k BadRequest -k Forbidden -k NotFound -k Conflict -k ValidationFailed
  -k LaunchRefused -k NotAuthenticated -k LaunchStateMissing -k ServiceUnavailable
  -k _msg  # lti_tool/policy/views.py wraps gettext in a local helper of this name
)
.venv/bin/pybabel -q extract -F babel.cfg "${keywords[@]}" --add-comments=TRANSLATORS: \
  --project=Tingke --version="$(sed -n "s/^version = \"\(.*\)\"/\1/p" pyproject.toml)" \
  --copyright-holder="Tingke" \
  -o lti_tool/translations/messages.pot .
# The Chinese catalog lives in translations/zh: Babel parses the app's locale "zh_CN" as zh_Hans_CN and
# gettext then looks for zh_Hans_CN or zh (never zh_CN), while Translations.load(..., ["zh_CN"]) (the
# PDF worker) looks for zh_CN or zh. "zh" is the one directory both find.
for loc in zh en; do
  po=lti_tool/translations/$loc/LC_MESSAGES/messages.po
  if [[ -f $po ]]; then
    .venv/bin/pybabel -q update -i lti_tool/translations/messages.pot -d lti_tool/translations -l "$loc" \
      --no-fuzzy-matching --ignore-obsolete
  else
    .venv/bin/pybabel -q init -i lti_tool/translations/messages.pot -d lti_tool/translations -l "$loc"
  fi
done
# A msgid whose first argument is not a literal (f-strings, variables) cannot be extracted; list them
# so they can be fixed at the call site.
grep -rnE --include='*.py' '(raise|=) *(TingkeError|BadRequest|Forbidden|NotFound|Conflict|ValidationFailed|LaunchRefused|NotAuthenticated|LaunchStateMissing)\((f"|f'"'"'|[a-z_]+[,)])' \
  lti_tool worker >&2 && echo "^ error messages that are not literal msgids" >&2 || true
# Count what the translator still has to do (fill with scripts/i18n_fill.py).
.venv/bin/python scripts/i18n_fill.py --locale zh >/dev/null || true
