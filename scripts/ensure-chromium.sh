#!/bin/sh
# Install Debian's Chromium for the browser tests when it is missing and we can (root + apt).
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
    || echo "Could not install chromium; the browser tests will be skipped."
else
  echo "No /usr/bin/chromium: the browser tests will be skipped." \
       "Enable them with: sudo apt-get install -y chromium"
fi
exit 0
