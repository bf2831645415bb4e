#!/bin/sh
# Known vulnerabilities in the pinned runtime requirements (pip-audit, in a venv of its own
# so its packages never mix with the app's). The advisory database is online: where it
# cannot be reached, say so and go on, so that a machine without it can still run the tests.
set -u
cd "$(dirname "$0")/.."
AUDIT="${XDG_CACHE_HOME:-$HOME/.cache}/credential-tracker-audit"  # outside the checkout
if [ ! -x "$AUDIT/bin/pip-audit" ]; then
  python3 -m venv "$AUDIT" && "$AUDIT/bin/python" -m pip install -q --disable-pip-version-check \
    pip-audit==2.10.1 2>/dev/null || { echo "pip-audit could not be installed: dependencies not audited."; exit 0; }
fi
report=$("$AUDIT/bin/pip-audit" -r requirements.txt --no-deps --disable-pip \
  --progress-spinner off 2>&1)
status=$?
if echo "$report" | grep -q "known vulnerabilit" && ! echo "$report" | grep -q "No known vulnerabilities"; then
  echo "$report"
  echo "pip-audit found known vulnerabilities in requirements.txt: upgrade those pins."
  exit 1
fi
if [ $status -ne 0 ] || echo "$report" | grep -q "could not be audited"; then
  echo "pip-audit: the advisory database could not be reached for every package (offline?):"
  echo "$report" | grep -c "could not be audited" | sed 's/$/ packages not audited; going on./'
  exit 0
fi
echo "pip-audit: no known vulnerabilities in requirements.txt."
