#!/usr/bin/env bash
# npm test: install what is missing, type-check, lint, check formatting, then run every test against real services
# (a PostgreSQL cluster and a Temporal dev server started for the run, and stopped after it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh --test
echo "==> type-check"
npx tsc -p tsconfig.test.json
echo "==> lint (layer rules)"
npx eslint src bench test
echo "==> format (prettier --check; npm run format fixes)"
npx prettier --check --log-level warn .
exec node --import tsx test/run.ts "$@"
