#!/bin/sh
# oidc-provider-mock for the single sign-on tests, in .venv/oidc-mock: it needs Python 3.12 or
# newer (pyenv's, or python3.12/3.13 on PATH). Without one, the SSO tests skip.
VERSION=0.4.8
if [ -x .venv/oidc-mock/bin/oidc-provider-mock ]; then exit 0; fi
for candidate in python3.13 python3.12 "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python 2>/dev/null | tail -1)"; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "Installing oidc-provider-mock $VERSION for the single sign-on tests…"
    "$candidate" -m venv .venv/oidc-mock \
      && .venv/oidc-mock/bin/python -m pip install -q --disable-pip-version-check \
           "oidc-provider-mock==$VERSION" \
      || { rm -rf .venv/oidc-mock; echo "Could not install oidc-provider-mock; the SSO tests will be skipped."; }
    exit 0
  fi
done
echo "No Python 3.12+: the single sign-on tests will be skipped." \
     "Enable them with pyenv install 3.12, then make oidc-mock."
exit 0
