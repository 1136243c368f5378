#!/usr/bin/env bash
# Run the whole test suite (unit, metrics, pages with AppTest, importers, browser tests).
# Installs the locked dependencies and, for the browser tests, Debian's Chromium when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests …" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing; install Debian's chromium package for the browser tests" >&2
  fi
fi
exec "$UV" run --frozen pytest "$@"
