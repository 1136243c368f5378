#!/usr/bin/env bash
# Run the whole test suite (unit, metrics, pages with AppTest, importers, browser tests).
# Installs the locked dependencies and, when missing, Debian's Chromium (browser tests) and PostgreSQL (programme store tests).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests …" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "warning: /usr/bin/chromium is missing; install Debian's chromium package for the browser tests" >&2
  fi
fi
# The programme store's tests run against a real PostgreSQL server started from Debian's binaries.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's postgresql for the programme store tests …" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
  else
    echo "warning: no PostgreSQL in /usr/lib/postgresql; install Debian's postgresql package for the programme store tests" >&2
  fi
fi
exec "$UV" run --frozen pytest "$@"
