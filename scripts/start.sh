#!/usr/bin/env bash
# npm start [-- --lab N]: install what is missing, build, and run everything locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
echo "==> build"
npm run --silent build
exec node dist/cli/index.js up "$@"
