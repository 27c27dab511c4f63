#!/usr/bin/env bash
# The console in a real browser (scripts/browser_test.py): Debian's Chromium and chromedriver, driven by Selenium
# from PyPI, against a fresh `policyhub serve` on a free loopback port. Fails on a broken flow, a console error or
# a Content-Security-Policy violation; saves screenshots of every page at desktop and phone widths.
#
#   scripts/browser-test.sh BINARY          e.g. scripts/browser-test.sh .build/debug/policyhub
#
# Environment (all optional):
#   SCREENSHOTS       where the screenshots go (default ci-artifacts/screenshots/, gitignored)
#   BROWSER_VENV      where Selenium's venv lives (default .build-browser-venv/, gitignored, reused)
#   BROWSER_KEEP      1 keeps the temporary directory (data directory and server log)
set -euo pipefail

SELENIUM_VERSION=4.51.0

if [ $# -ne 1 ] || ! [ -x "$1" ]; then
    echo "usage: $0 BINARY   (the policyhub executable to serve)" >&2
    exit 2
fi
BINARY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
VENV=${BROWSER_VENV:-$PWD/.build-browser-venv}
SCREENSHOTS=${SCREENSHOTS:-$PWD/ci-artifacts/screenshots}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/policyhub-browser.XXXXXX")
# shellcheck source=scripts/lib/live-server.sh
. scripts/lib/live-server.sh

cleanup() {
    live_stop
    if [ "${BROWSER_KEEP:-0}" = 1 ]; then echo "browser-test: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
pinned() {
    [ "$("$VENV/bin/python" -c 'import selenium; print(selenium.__version__)')" = "$SELENIUM_VERSION" ]
}
live_venv "$VENV" pinned "selenium==$SELENIUM_VERSION"
live_start browser-test "$BINARY" "$WORK" ""

rm -rf "$SCREENSHOTS"
status=0
"$VENV/bin/python" scripts/browser_test.py "$BASE" "$TOKEN" "$SCREENSHOTS" || status=$?

live_log_ok browser-test "$WORK" || status=1
exit "$status"
