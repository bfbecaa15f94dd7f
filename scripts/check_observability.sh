#!/usr/bin/env bash
# Validate the observability kit with promtool: syntax of the alert rules and their unit tests
# (tests/contrib/alerts_test.yml). CI calls this. promtool comes from PATH, $PROMTOOL, or
# is extracted (not installed: no service is started) from Debian's prometheus package.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PROMTOOL="${PROMTOOL:-$(command -v promtool || true)}"
if [ -z "$PROMTOOL" ]; then
  TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
  (cd "$TMP" && apt-get download prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb x) \
    || { echo "promtool not found: install prometheus (Debian) or set PROMTOOL" >&2; exit 1; }
  PROMTOOL="$TMP/x/usr/bin/promtool"
fi
"$PROMTOOL" check rules "$SRC/django_ratelimit_guard/contrib/observability/prometheus-alerts.yml"
cd "$SRC/tests/contrib" && "$PROMTOOL" test rules alerts_test.yml
