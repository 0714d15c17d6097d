#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing (Playwright drives
# it with executable_path=/usr/bin/chromium; `playwright install` is neither needed nor
# possible here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "Chromium is not installed; installing it (apt-get)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
