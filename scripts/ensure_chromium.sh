#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (Playwright's own
# browser downloads are not used).
set -euo pipefail
CHROMIUM=${PRM_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium from Debian's packages for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Browser tests need Chromium at $CHROMIUM: run 'sudo apt-get install chromium'" >&2
echo "or set PRM_CHROMIUM to a Chromium binary." >&2
exit 1
