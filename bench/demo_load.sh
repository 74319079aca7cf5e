#!/usr/bin/env bash
# Time `polis demo --members 100000` into a fresh database, next to pgbench -i -s 10 on the
# same server as the reference. Usage: bash bench/demo_load.sh  (uses the embedded cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
URL=$(.venv/bin/polis db url)
BASE=${URL%/*}
psql "$URL" -qAtc "drop database if exists bench_demo" -c "create database bench_demo" \
    -c "drop database if exists bench_pgb" -c "create database bench_pgb"
echo "== reference: pgbench -i -s 10 (1,000,000 rows in pgbench_accounts)"
/usr/bin/time -f "wall %e s" pgbench -i -q -s 10 "$BASE/bench_pgb"
echo "== polis demo --members 100000 --customers 10000"
/usr/bin/time -f "wall %e s" env DATABASE_URL="$BASE/bench_demo" \
    .venv/bin/polis demo --members 100000 --customers 10000 --no-serve | grep loaded
psql "$URL" -qAtc "drop database bench_demo" -c "drop database bench_pgb"
