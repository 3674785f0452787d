#!/usr/bin/env bash
# Install Debian packages the project needs when they are missing and apt is available.
# Usage: system-packages.sh [gettext] [browser]
set -euo pipefail
want=()
for need in "$@"; do
  case "$need" in
    gettext) command -v msgfmt >/dev/null || want+=(gettext) ;;
    wrk) command -v wrk >/dev/null || want+=(wrk) ;;
    browser)
      [ -x /usr/bin/chromium ] || want+=(chromium)
      dpkg -s fonts-noto-cjk >/dev/null 2>&1 || want+=(fonts-noto-cjk) ;;
  esac
done
[ ${#want[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages: ${want[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
else
  echo "missing Debian packages (install them yourself): ${want[*]}" >&2
  exit 1
fi
