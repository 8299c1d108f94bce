#!/usr/bin/env bash
# npm run temporal:postgres [-- --port 7233]: a Temporal server stored in PostgreSQL, the
# production path (the CLI's dev server keeps everything in one SQLite file). Builds the server
# and its SQL tool from the Go module proxy into .tools/temporal-postgres on first use (about
# 3 minutes on 2 idle cores), then: a PostgreSQL 15 cluster of its own in .data/temporal-postgres
# (or TEMPORAL_POSTGRES_URL's server), the temporal and temporal_visibility schemas created and
# migrated, 16 history shards, the default namespace and Tempered's search attributes. Ctrl-C stops it.
# Never used by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_SERVER_VERSION=v1.29.1   # later releases need a module the Go proxy here refuses
GO_TOOLCHAIN=go1.27.3
bin=.tools/temporal-postgres/bin
if [ ! -x "$bin/server" ] || [ ! -x "$bin/sql" ]; then
  command -v go >/dev/null || { echo "temporal:postgres needs Go (https://go.dev/dl/) to build the Temporal server" >&2; exit 1; }
  echo "==> building Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool into $bin (a few minutes)"
  mkdir -p "$bin"
  export GOTOOLCHAIN=$GO_TOOLCHAIN GOBIN="$(cd "$bin" && pwd)"
  go install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION"
  go install "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
fi
module="$(GOTOOLCHAIN=$GO_TOOLCHAIN go env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
[ -d "$module/schema/postgresql/v12" ] || GOTOOLCHAIN=$GO_TOOLCHAIN go mod download "go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
bash scripts/install-tools.sh
exec node --import tsx src/cli/index.ts temporal-postgres --server "$bin/server" --sql-tool "$bin/sql" --module "$module" "$@"
