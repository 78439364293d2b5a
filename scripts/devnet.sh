#!/usr/bin/env bash
# npm run devnet -- [--dir .devnet] [--participants 4] [--base-port 22000] [--nats-port 24222] [--reset]
# Installs/starts what is missing (scripts/ensure-deps.sh), builds, then runs the local network in the
# foreground. Ctrl-C stops every process cleanly; the next run resumes from .devnet/ and Postgres.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
exec node --enable-source-maps dist/cli/devnet.js "$@"
