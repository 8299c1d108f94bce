#!/usr/bin/env bash
# npm run bench:<name> -- [options]: install, build (benchmarks run the compiled worker and API), run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
npm run --silent build
script=$1; shift
exec node --import tsx "$script" "$@"
