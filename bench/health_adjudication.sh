#!/usr/bin/env bash
# Health claims adjudicated per second through the API (32 clients, 5 items per claim) and
# through `polis health adjudicate`, next to pgbench tpcb-like TPS on the same server in the
# same run. Uses the embedded cluster (or DATABASE_URL). Extra arguments go to the script,
# e.g. a quick check: bash bench/health_adjudication.sh --seconds 5 --pgbench-seconds 5 \
#     --batch-claims 1000 --members 500
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/health_adjudication.py "$@"
