#!/usr/bin/env bash
# Installs the system packages the test-suite needs when they are missing.
# PostgreSQL server binaries (the tests start their own throw-away cluster with initdb).
set -euo pipefail

need=()
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then need+=(postgresql); fi
# A Java runtime for PySpark 4 (--engine spark and its tests): Java 17 or newer.
if ! command -v java >/dev/null 2>&1; then need+=(default-jre-headless); fi
# Debian's Chromium for the workbench's browser tests (driven by Playwright; never `playwright install`),
# and a CJK font so that the pages and their screenshots show Chinese text.
if [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi
if ! fc-list 2>/dev/null | grep -qiE 'wqy|noto (sans|serif) cjk'; then need+=(fonts-wqy-microhei); fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${need[*]} (run as root or install them)" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian package starts a cluster of its own; the tests never use it.
  service postgresql stop >/dev/null 2>&1 || true
fi
echo "system deps ok: postgres at $(pg_bin), $(java -version 2>&1 | head -n 1)"
