#!/usr/bin/env bash
# Motor quote-to-issue transactions per second through the API (32 clients: quote, bind,
# confirm a FULL payment, GET the ACTIVE policy), next to pgbench tpcb-like TPS on the same
# server in the same run. Uses the embedded cluster (or DATABASE_URL). Extra arguments go to
# the script, e.g. a quick check: bash bench/motor_quote_to_issue.sh --seconds 5 \
#     --pgbench-seconds 5 --vehicles 3000
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/motor_quote_to_issue.py "$@"
