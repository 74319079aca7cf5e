"""Table and index sizes at scale (docs/scaling.md): what grows, measured at --claims claims.

    .venv/bin/python bench/scale_sizes.py --claims 1000000          # the docs' figures
    .venv/bin/python bench/scale_sizes.py --claims 20000 --template 200   # a quick check

Against the embedded PostgreSQL (or DATABASE_URL's server) it:
1. creates a fresh database `bench_scale`, migrated;
2. builds the health bench world of bench/health_adjudication.py (--members members);
3. adjudicates --template real claims of --items lines through `polis health adjudicate`
   (every row the product writes for a claim: claim, items with their trace, accumulators,
   EOB, audit rows) and pays them with a payment run (billing.payment);
4. clones those claims with their items, EOBs and payments in SQL until there are --claims
   claims (new ids and numbers, service dates spread over 2024-2026 so every yearly partition
   fills), in chunks of --chunk claims, each a transaction; the audit trigger writes its rows
   for every clone as it would for real traffic;
5. ANALYZEs and prints, as markdown, each table's rows, heap, index and total size (the
   partitions summed under their parent), the per-claim bytes, and the run's timings.

Nothing here is a test: the numbers go to docs/scaling.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLES = (  # what grows with claims; the parent of partitioned tables
    "claims.claim",
    "claims.claim_item",
    "claims.claim_registry",
    "billing.eob",
    "billing.payment",
    "audit.audit_log",
    "member.accumulator",
)
CLONED = ("claims.claim", "claims.claim_item", "billing.eob", "billing.payment")


def _bench_health() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_health", ROOT / "bench" / "health_adjudication.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_health"] = module
    spec.loader.exec_module(module)
    return module


def _columns(conn: Any, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = conn.execute(
        """select column_name from information_schema.columns
           where table_schema = %s and table_name = %s and is_generated = 'NEVER'
             and identity_generation is null
           order by ordinal_position""",
        (schema, name),
    ).fetchall()
    return [r[0] for r in rows]


def _unique_text_columns(conn: Any, table: str) -> set[str]:
    """Text columns under a unique index of the table (they get a suffix per clone)."""
    rows = conn.execute(
        """select a.attname
           from pg_index i
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
           where i.indrelid = %s::regclass and i.indisunique
             and a.atttypid in ('text'::regtype, 'varchar'::regtype)""",
        (table,),
    ).fetchall()
    return {r[0] for r in rows}


def _clone_sql(conn: Any, table: str, key: str) -> str:
    """INSERT ... SELECT that copies `table`'s template rows once per row of the mapping
    table `m` (old_id -> new_id, n), joined on `key` (the claim id column)."""
    cols = _columns(conn, table)
    # Business numbers are unique through registries on partitioned tables, not an index.
    uniques = _unique_text_columns(conn, table) | {"claim_number", "payment_number", "eob_number"}
    exprs = []
    for col in cols:
        if col == "id" and table == "claims.claim":
            exprs.append("m.new_id")
        elif col == "id":
            exprs.append("gen_random_uuid()")
        elif col == key and table != "claims.claim":
            exprs.append("m.new_id")
        elif col in uniques:
            exprs.append(f"left(t.{col}, 30) || '-' || m.n")
        elif col == "service_date":
            exprs.append("m.service_date")
        elif col in ("payment_id", "eob_id") and table != "billing.payment":
            exprs.append("null")
        else:
            exprs.append(f"t.{col}")
    join = "t.id" if table == "claims.claim" else f"t.{key}"
    return (
        f"insert into {table} ({', '.join(cols)}) select {', '.join(exprs)}"
        f" from {table} t join m on m.old_id = {join}"
    )


AUDIT_COLUMNS = (
    "table_name, record_id, operation, old_values, new_values, changed_fields, user_id,"
    " user_role, ip_address, user_agent, business_context, request_id, timestamp"
)


def clone(url: str, target: int, chunk: int, since: Any) -> float:
    """Clone the template claims (and their items, EOBs, payments) up to `target` claims.

    The audit rows are cloned too, not written by the trigger: real traffic writes about
    twenty audit rows per claim (the claim and its lines inserted and then updated by
    adjudication and payment, accumulators updated, the EOB and the payment), and a cloning
    INSERT would only fire the eight INSERT rows. So the audit triggers of the cloned tables
    are disabled while cloning, and every audit row written since `since` (the template's
    adjudication and payment) is copied once per clone, with a fresh record id."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        template = [r[0] for r in conn.execute("select id from claims.claim order by claim_number")]
        have = len(template)
        conn.execute("create table public.scale_template (old_id uuid primary key)")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into public.scale_template values (%s)", [(t,) for t in template]
            )
        statements = [
            _clone_sql(conn, "claims.claim", "id"),
            _clone_sql(conn, "claims.claim_item", "claim_id"),
            _clone_sql(conn, "billing.eob", "claim_id"),
            _clone_sql(conn, "billing.payment", "claim_id"),
        ]
        conn.execute(
            "create table public.scale_audit as select "
            + AUDIT_COLUMNS
            + " from audit.audit_log where timestamp >= %s",
            (since,),
        )
        per_claim = conn.execute("select count(*) from public.scale_audit").fetchone()
        assert per_claim is not None
        print(f"# {per_claim[0] / len(template):.1f} audit rows per real claim", file=sys.stderr)
        for table in CLONED:
            conn.execute(f"alter table {table} disable trigger audit_change")
        conn.commit()
        round_no = 0
        try:
            while have < target:
                rounds = max(1, min(chunk, target - have) // len(template))
                conn.execute(
                    """create temp table m on commit drop as
                       select gen_random_uuid() as new_id, s.old_id,
                              %s::bigint * 100000 + g as n,
                              date '2024-01-01' + ((g * 37 + %s) %% 1050) as service_date
                       from public.scale_template s cross join generate_series(1, %s) g""",
                    (round_no, round_no, rounds),
                )
                for sql in statements:
                    conn.execute(sql.encode())
                conn.execute(
                    (
                        "insert into audit.audit_log (" + AUDIT_COLUMNS + ") select"
                        " a.table_name, gen_random_uuid(), a.operation, a.old_values,"
                        " a.new_values, a.changed_fields, a.user_id, a.user_role,"
                        " a.ip_address, a.user_agent, a.business_context, a.request_id,"
                        " a.timestamp from public.scale_audit a"
                        " cross join generate_series(1, %s) g"
                    ).encode(),
                    (rounds,),
                )
                conn.commit()
                have += rounds * len(template)
                round_no += 1
                rate = (have - len(template)) / (time.perf_counter() - started)
                print(f"# {have} claims ({rate:.0f} cloned claims/s)", file=sys.stderr)
        finally:
            conn.rollback()
            for table in CLONED:
                conn.execute(f"alter table {table} enable trigger audit_change")
            conn.execute("drop table public.scale_template")
            conn.execute("drop table public.scale_audit")
            conn.commit()
    return time.perf_counter() - started


def sizes(url: str) -> list[dict[str, Any]]:
    """Rows and sizes of each table of TABLES, partitions summed under their parent."""
    import psycopg

    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("analyze")
        for table in TABLES:
            row = conn.execute(
                """with parts as (
                       select c.oid, c.reltuples from pg_class c where c.oid = %s::regclass
                       union all
                       select c.oid, c.reltuples from pg_inherits i
                       join pg_class c on c.oid = i.inhrelid
                       where i.inhparent = %s::regclass)
                   select sum(greatest(reltuples, 0))::bigint,
                          sum(pg_table_size(oid)), sum(pg_indexes_size(oid)),
                          sum(pg_total_relation_size(oid)), count(*) - 1
                   from parts""",
                (table, table),
            ).fetchone()
            exact = conn.execute(f"select count(*) from {table}").fetchone()
            assert row is not None and exact is not None
            out.append(
                {
                    "table": table,
                    "rows": int(exact[0]),
                    "heap": int(row[1]),
                    "indexes": int(row[2]),
                    "total": int(row[3]),
                    "partitions": int(row[4]),
                }
            )
    return out


def _pretty(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _now(url: str) -> Any:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("select clock_timestamp()").fetchone()
        assert row is not None
        return row[0]


async def _pay_all(url: str) -> int:
    from polis.db.session import Database, one_off_engine
    from polis.health.payments import create_payment_run

    async with one_off_engine(url) as engine, Database.from_engine(engine).transaction() as s:
        run = await create_payment_run(s, user="bench")
        return len(run.payments)


@contextlib.contextmanager
def _server() -> Iterator[str]:
    """DATABASE_URL's server; else a scratch embedded cluster in a temporary directory whose
    WAL is not archived (the checkout's cluster archives every segment, and a bulk load of
    tens of GB would fill the disk twice), removed afterwards."""
    import os
    import shutil
    import tempfile

    import psycopg

    from polis.cli import database
    from polis.db.embedded import EmbeddedPostgres

    if os.environ.get("DATABASE_URL"):
        with database() as url:
            yield url
        return
    base = Path(tempfile.mkdtemp(prefix="polis-scale-"))
    os.chmod(base, 0o755)  # noqa: S103 - the cluster runs as an unprivileged user under root
    pg = EmbeddedPostgres(base / "pg")
    pg.start()
    try:
        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET archive_command = 'true'")
            conn.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
            conn.execute("SELECT pg_reload_conf()")
        yield pg.url("postgres")
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(pg.base_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--claims", type=int, default=1_000_000, help="claims in the end")
    ap.add_argument("--template", type=int, default=1000, help="claims adjudicated for real")
    ap.add_argument("--items", type=int, default=5, help="lines per claim (default 5)")
    ap.add_argument("--members", type=int, default=5000)
    ap.add_argument("--chunk", type=int, default=50_000, help="claims per cloning transaction")
    ap.add_argument("--keep", action="store_true", help="keep the bench database")
    args = ap.parse_args()

    from polis.db import migrate

    health = _bench_health()
    with _server() as server_url:
        url = health._db_url(server_url, "bench_scale")
        health._psql_admin(
            server_url,
            "drop database if exists bench_scale with (force)",
            "create database bench_scale",
        )
        try:
            t0 = time.perf_counter()
            migrate.upgrade(url)
            world = health.build_world(url, args.members)
            since = _now(url)
            batch = health.run_batch(
                url, world, claims=args.template, items=args.items, batch_size=100, workers=2
            )
            paid = asyncio.run(_pay_all(url))
            t_real = time.perf_counter() - t0
            print(
                f"# {args.template} claims adjudicated for real ({batch['rate']:.1f}/s),"
                f" {paid} payments, in {t_real:.0f} s",
                file=sys.stderr,
            )
            t_clone = clone(url, args.claims, args.chunk, since)
            table = sizes(url)
        finally:
            if not args.keep:
                health._psql_admin(server_url, "drop database if exists bench_scale with (force)")
    claims = next(r["rows"] for r in table if r["table"] == "claims.claim")
    print(f"\n{claims:,} claims, {args.items} lines each; cloning took {t_clone:.0f} s\n")
    print("| table | rows | heap | indexes | total | partitions | bytes per claim |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(
            f"| {r['table']} | {r['rows']:,} | {_pretty(r['heap'])} | {_pretty(r['indexes'])}"
            f" | {_pretty(r['total'])} | {r['partitions']} | {r['total'] / max(claims, 1):.0f} |"
        )
    total = sum(r["total"] for r in table)
    print(f"| **all of the above** | | | | **{_pretty(total)}** | | {total / max(claims, 1):.0f} |")


if __name__ == "__main__":
    main()
