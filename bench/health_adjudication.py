"""Health claim adjudication throughput, next to pgbench on the same server in the same run.

    .venv/bin/python bench/health_adjudication.py                # the full run (~2 minutes)
    .venv/bin/python bench/health_adjudication.py --seconds 5 --pgbench-seconds 5 \\
        --batch-claims 2000 --members 500                          # a quick check

Against the embedded PostgreSQL (or DATABASE_URL's server) it:
1. creates two fresh databases, `bench_health` (migrated) and `bench_pgb`;
2. builds a bench world: one plan with generous per-year limits on five outpatient benefits
   (deductible, copay and coinsurance on, so every rule step runs), a network hospital with
   an active contract, one group policy (full insured, no family deductible) and --members
   members covered by it, and a CLAIMS_PROCESSOR user;
3. serves the app with uvicorn on 127.0.0.1 (no reload, --server-workers processes, default
   one per CPU core as `polis serve --workers N` would run it; the production settings
   otherwise) and runs --clients concurrent HTTP clients, each posting
   claims of --items lines (OP-GP, OP-SPEC, LAB, RX, IMG) for --seconds (after a --warmup),
   cycling over the members so that claims contend on the server, not on one member's
   accumulator locks. The clients are wrk's (`--client wrk`, the default when wrk is
   installed: `apt-get install wrk`), a C load generator like pgbench's own client, so the
   load costs the two cores little; `--client httpx` runs them in this Python process
   instead (each client its own slice of the members), which takes a large share of the
   CPU the server needs (docs/benchmarks.md);
4. runs pgbench's tpcb-like script on bench_pgb (-i -s --pgbench-scale, then -c --clients
   -j 2 -T --pgbench-seconds);
5. runs `polis health adjudicate` over a generated claims.jsonl of --batch-claims claims of
   the same shape (fresh members' accumulators are not reused: it takes the members in turn);
6. prints a markdown table, and drops both databases (unless --keep).

Nothing here is a test: the numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVICE_DATE = "2025-06-15"
BENEFITS = (  # code, name, per-year limit, copay, coinsurance %, charge, diagnosis
    ("OP-GP", "GP consultation", "500000000.00", "10000.00", "10", "150000.00", "J06.9"),
    ("OP-SPEC", "Specialist consultation", "500000000.00", "25000.00", "10", "350000.00", "I10"),
    ("LAB", "Laboratory", "500000000.00", "0.00", "20", "220000.00", "E11.9"),
    ("RX", "Prescription drugs", "500000000.00", "5000.00", "0", "180000.00", "J06.9"),
    ("IMG", "Imaging", "500000000.00", "0.00", "10", "400000.00", "M54.5"),
)


def _db_url(server_url: str, name: str) -> str:
    base, _, _ = server_url.partition("?")[0].rpartition("/")
    return f"{base}/{name}"


def _psql_admin(server_url: str, *sql: str) -> None:
    import psycopg

    with psycopg.connect(_db_url(server_url, "postgres"), autocommit=True) as conn:
        for statement in sql:
            conn.execute(statement.encode())


# --- the bench world ----------------------------------------------------------------------


@dataclass
class World:
    provider_code: str
    member_numbers: list[str]
    username: str
    password: str


def build_world(url: str, members: int) -> World:
    """Plan, benefits, provider and contract, policy, members and coverages, a user."""
    import psycopg

    from polis.iam.passwords import hash_password

    password = "bench " + uuid.uuid4().hex
    username = "bench_processor"
    with psycopg.connect(url) as conn, conn.transaction():
        plan_id = conn.execute(
            """insert into benefit.plan (plan_code, plan_name, plan_type, annual_limit,
               individual_deductible, family_deductible, effective_date)
               values ('BENCH', 'Bench Gold', 'premium', 5000000000.00, 100000.00, 0,
               '2020-01-01') returning id"""
        ).fetchone()[0]  # type: ignore[index]
        for code, name, limit, copay, coins, _, _ in BENEFITS:
            conn.execute(
                """insert into benefit.plan_benefit (plan_id, benefit_code, benefit_name,
                   benefit_category, limit_type, limit_amount, limit_visits, copay_amount,
                   coinsurance_percentage)
                   values (%s, %s, %s, 'outpatient', 'per_year', %s, 100000, %s, %s)""",
                (plan_id, code, name, Decimal(limit), Decimal(copay), Decimal(coins)),
            )
        policy_id = conn.execute(
            """insert into policy.policy (policy_number, company_name, policy_type, plan_id,
               effective_date, renewal_date, funding_type)
               values ('POL-BENCH', 'PT Bench Sejahtera', 'group', %s, '2020-01-01',
               '2030-01-01', 'full_insured') returning id""",
            (plan_id,),
        ).fetchone()[0]  # type: ignore[index]
        provider_id = conn.execute(
            """insert into provider.provider (provider_code, provider_name, provider_type,
               provider_class) values ('RS-BENCH', 'RS Bench Jakarta', 'hospital', 'A')
               returning id"""
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            """insert into provider.provider_contract (provider_id, contract_number,
               effective_date, expiry_date, discount_percentage)
               values (%s, 'CTR-BENCH', '2020-01-01', '2030-12-31', 10)""",
            (provider_id,),
        )
        conn.execute(
            """insert into member.member (member_number, first_name, last_name, birth_date,
               gender, enrollment_date)
               select 'MBR-BENCH-' || lpad(n::text, 7, '0'), 'Bench', 'Member ' || n,
                      date '1980-01-01' + (n %% 9000), case when n %% 2 = 0 then 'female'
                      else 'male' end, date '2020-01-01'
               from generate_series(1, %s) n""",
            (members,),
        )
        conn.execute(
            """insert into member.member_coverage (member_id, policy_id, plan_id, relationship,
               coverage_start_date)
               select id, %s, %s, 'employee', date '2020-01-01' from member.member
               where member_number like 'MBR-BENCH-%%'""",
            (policy_id, plan_id),
        )
        conn.execute(
            """insert into iam.users (username, email, password_hash, first_name, last_name,
               role) values (%s, 'bench@example.test', %s, 'Bench', 'Processor',
               'CLAIMS_PROCESSOR')""",
            (username, hash_password(password)),
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("analyze")  # statistics, as a database in service has them
    numbers = [f"MBR-BENCH-{n:07d}" for n in range(1, members + 1)]
    return World("RS-BENCH", numbers, username, password)


def claim_body(world: World, member_number: str, items: int) -> dict[str, Any]:
    """A cashless outpatient claim with `items` lines (the benefits in turn)."""
    lines = []
    for i in range(items):
        code, _, _, _, _, charge, diagnosis = BENEFITS[i % len(BENEFITS)]
        lines.append(
            {
                "benefit_code": code,
                "service_code": f"SVC-{code}",
                "diagnosis_code": diagnosis,
                "quantity": 1,
                "unit_price": charge,
                "charged_amount": charge,
            }
        )
    return {
        "member_number": member_number,
        "provider_code": world.provider_code,
        "claim_type": "cashless",
        "service_type": "outpatient",
        "service_date": SERVICE_DATE,
        "items": lines,
    }


# --- the API under load -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER_LOG = Path(tempfile.gettempdir()) / "bench_health_server.log"


def start_server(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "polis.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        # The app logs one structured line per request; a pipe nobody reads fills up and
        # blocks the workers on their next line (the first runs measured that stall).
        stderr=SERVER_LOG.open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {SERVER_LOG.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("server did not become ready")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of 201 answers, seconds
    statuses: dict[int, int] = field(default_factory=dict)
    claim_statuses: dict[str, int] = field(default_factory=dict)
    percentiles: dict[int, float] = field(default_factory=dict)  # ms, when wrk measured
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request, when wrk

    @property
    def ok(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def errors(self) -> int:
        return sum(v for k, v in self.statuses.items() if k != 201)

    def pct(self, p: float) -> float:
        if p in self.percentiles:
            return self.percentiles[int(p)]
        if not self.latencies:
            return float("nan")
        s = sorted(self.latencies)
        return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


async def run_load(
    base: str, world: World, *, clients: int, items: int, seconds: float, warmup: float
) -> LoadResult:
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": world.username, "password": world.password}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        members = world.member_numbers
        result = LoadResult(seconds=seconds)
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + seconds

        async def client(k: int) -> None:
            mine = members[k::clients] or members
            n = 0
            while True:
                now = time.perf_counter()
                if now >= stop:
                    return
                body = claim_body(world, mine[n % len(mine)], items)
                n += 1
                sent = time.perf_counter()
                try:
                    r = await http.post(
                        "/api/v1/health/claims",
                        json=body,
                        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                    )
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0
                done = time.perf_counter()
                if done < measure_from or done > stop:
                    continue  # answered in the warm-up, or after the window
                result.statuses[code] = result.statuses.get(code, 0) + 1
                if code == 201:
                    result.latencies.append(done - sent)
                    st = r.json()["status"]
                    result.claim_statuses[st] = result.claim_statuses.get(st, 0) + 1

        await asyncio.gather(*(client(k) for k in range(clients)))
    return result


_WRK_SCRIPT = r"""
-- POST /api/v1/health/claims; connection k of the run cycles over members k, k+C, k+2C, ...
-- (C = connections), so no two connections post for the same member at once.
local token = os.getenv("BENCH_TOKEN")
local members = tonumber(os.getenv("BENCH_MEMBERS"))
local connections = tonumber(os.getenv("BENCH_CONNECTIONS"))
local body_head = os.getenv("BENCH_BODY_HEAD")
local body_tail = os.getenv("BENCH_BODY_TAIL")
local threads, serial = {}, 0
function setup(thread)
  serial = serial + 1
  thread:set("tid", serial)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  prefix = string.format("%s-%d-", os.getenv("BENCH_RUN"), tid)
end
function request()
  n = n + 1
  local m = ((n * 2 + tid) % members) + 1
  return wrk.format("POST", "/api/v1/health/claims", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. n,
  }, body_head .. string.format("MBR-BENCH-%07d", m) .. body_tail)
end
function done(summary, latency, requests)
  io.write(string.format("BENCH %d %d %.3f %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the server (the uvicorn process and its workers)
    and of every PostgreSQL process on this machine, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"server": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid, used = int(entry.name), int(fields[1]), int(fields[11]) + int(fields[12])
        if pid == server_pid or ppid == server_pid:
            totals["server"] += used / tick
        elif name == "postgres":
            totals["postgres"] += used / tick
    return totals


def run_load_wrk(
    base: str,
    world: World,
    *,
    clients: int,
    items: int,
    seconds: float,
    warmup: float,
    server_pid: int,
) -> LoadResult:
    """The same load from wrk (a C load generator, as pgbench's client is C), so that the
    client's own CPU stays out of the two cores' budget: a warm-up run, then the measured
    one. Members cycle per wrk thread rather than per connection; with 2 threads and a
    few thousand members two requests for one member rarely meet (they would only wait on
    the member's accumulator locks)."""
    import httpx

    login = httpx.post(
        base + "/api/v1/auth/login", json={"username": world.username, "password": world.password}
    )
    login.raise_for_status()
    body = json.dumps(claim_body(world, "@MEMBER@", items))
    head, tail = body.split("@MEMBER@")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "claims.lua"
        script.write_text(_WRK_SCRIPT)
        result = LoadResult(seconds=seconds)
        for phase, length in (("warmup", warmup), ("measure", seconds)):
            if length <= 0:
                continue
            env = {
                **os.environ,
                "BENCH_TOKEN": login.json()["access_token"],
                "BENCH_MEMBERS": str(len(world.member_numbers)),
                "BENCH_CONNECTIONS": str(clients),
                "BENCH_BODY_HEAD": head,
                "BENCH_BODY_TAIL": tail,
                "BENCH_RUN": f"{phase}-{uuid.uuid4().hex[:12]}",
            }
            cpu_before = cpu_seconds(server_pid)
            done = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{clients}",
                    f"-d{length:g}s",
                    "--timeout",
                    "60s",
                    "-s",
                    str(script),
                    base,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            if phase == "measure":
                cpu_after = cpu_seconds(server_pid)
                line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
                requests, bad, duration, p50, p95, p99 = line.split()[1:]
                non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
                failed = int(non2xx.group(1)) if non2xx else 0
                result.seconds = float(duration)
                answered = max(int(requests), 1)
                result.cpu_ms = {
                    k: (cpu_after[k] - cpu_before[k]) * 1000 / answered for k in cpu_after
                }
                result.statuses = {201: int(requests) - failed}
                if failed or int(bad):
                    result.statuses[0] = failed + int(bad)
                result.percentiles = {50: float(p50), 95: float(p95), 99: float(p99)}
    return result


# --- pgbench ------------------------------------------------------------------------------


def _pgbench() -> str:
    for candidate in ("pgbench", "/usr/lib/postgresql/15/bin/pgbench"):
        path = subprocess.run(["which", candidate], capture_output=True, text=True).stdout.strip()
        if path or Path(candidate).exists():
            return path or candidate
    raise SystemExit("pgbench not found")


def run_pgbench(url: str, *, scale: int, clients: int, seconds: int) -> dict[str, float]:
    exe = _pgbench()
    subprocess.run([exe, "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    out = subprocess.run(
        [exe, "-c", str(clients), "-j", "2", "-T", str(seconds), "-r", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    return {
        "tps": float(tps.group(1)) if tps else float("nan"),
        "latency_ms": float(latency.group(1)) if latency else float("nan"),
    }


# --- batch --------------------------------------------------------------------------------


def run_batch(
    url: str, world: World, *, claims: int, items: int, batch_size: int, workers: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "claims.jsonl"
        members = world.member_numbers
        with source.open("w", encoding="utf-8") as f:
            for n in range(claims):
                f.write(json.dumps(claim_body(world, members[n % len(members)], items)) + "\n")
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("polis")),
                "health",
                "adjudicate",
                "--file",
                str(source),
                "--out",
                str(Path(tmp) / "results.jsonl"),
                "--batch-size",
                str(batch_size),
                "--workers",
                str(workers),
            ],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"polis health adjudicate failed: {done.stderr}")
        summary = done.stderr.strip().splitlines()[-1]
        m = re.search(r"(\d+) ok, (\d+) errors in ([\d.]+) s \(([\d.]+) claims/s\)", summary)
        return {
            "summary": summary,
            "ok": int(m.group(1)) if m else 0,
            "errors": int(m.group(2)) if m else -1,
            "seconds": float(m.group(3)) if m else wall,
            "rate": float(m.group(4)) if m else claims / wall,
            "wall": wall,
        }


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="API load window (default 30)")
    ap.add_argument("--warmup", type=float, default=3, help="unmeasured start (default 3)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--items", type=int, default=5, help="lines per claim (default 5)")
    ap.add_argument("--members", type=int, default=5000, help="members (default 5000)")
    ap.add_argument(
        "--server-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn processes (default: one per CPU core, as `polis serve --workers`)",
    )
    ap.add_argument(
        "--client",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (C, like pgbench's client; default when installed) or"
        " httpx (Python, in this process, sharing the CPUs with the server)",
    )
    ap.add_argument("--pgbench-scale", type=int, default=10)
    ap.add_argument("--pgbench-seconds", type=int, default=30)
    ap.add_argument("--batch-claims", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--batch-workers", type=int, default=4)
    ap.add_argument("--skip", action="append", default=[], choices=["api", "pgbench", "batch"])
    ap.add_argument("--keep", action="store_true", help="keep the bench databases")
    args = ap.parse_args()

    from polis.cli import database
    from polis.db import migrate

    with database() as server_url:
        health_url = _db_url(server_url, "bench_health")
        pgb_url = _db_url(server_url, "bench_pgb")
        _psql_admin(
            server_url,
            "drop database if exists bench_health with (force)",
            "create database bench_health",
            "drop database if exists bench_pgb with (force)",
            "create database bench_pgb",
        )
        try:
            t = time.perf_counter()
            migrate.upgrade(health_url)
            world = build_world(health_url, args.members)
            print(
                f"# world: {args.members} members, migrated and loaded in "
                f"{time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
            load = pgb = batch = None
            if "api" not in args.skip:
                proc, base = start_server(health_url, args.server_workers)
                try:
                    if args.client == "wrk":
                        load = run_load_wrk(
                            base,
                            world,
                            clients=args.clients,
                            items=args.items,
                            seconds=args.seconds,
                            warmup=args.warmup,
                            server_pid=proc.pid,
                        )
                    else:
                        load = asyncio.run(
                            run_load(
                                base,
                                world,
                                clients=args.clients,
                                items=args.items,
                                seconds=args.seconds,
                                warmup=args.warmup,
                            )
                        )
                finally:
                    stop_server(proc)
            if "pgbench" not in args.skip:
                pgb = run_pgbench(
                    pgb_url,
                    scale=args.pgbench_scale,
                    clients=args.clients,
                    seconds=args.pgbench_seconds,
                )
            if "batch" not in args.skip:
                batch = run_batch(
                    health_url,
                    world,
                    claims=args.batch_claims,
                    items=args.items,
                    batch_size=args.batch_size,
                    workers=args.batch_workers,
                )
        finally:
            if not args.keep:
                _psql_admin(
                    server_url,
                    "drop database if exists bench_health with (force)",
                    "drop database if exists bench_pgb with (force)",
                )
    report(args, load, pgb, batch)


def report(
    args: argparse.Namespace,
    load: LoadResult | None,
    pgb: dict[str, float] | None,
    batch: dict[str, Any] | None,
) -> None:
    print(
        f"\nHealth adjudication bench, {date.today().isoformat()}, {os.cpu_count()} CPUs: "
        f"{args.clients} clients, {args.items} items per claim, {args.members} members, "
        f"API window {args.seconds:g} s (+{args.warmup:g} s warm-up), "
        f"uvicorn workers {args.server_workers}, load from {args.client}\n"
    )
    print("| What | Rate | p50 | p95 | p99 | Errors |")
    print("|---|---|---|---|---|---|")
    if pgb is not None:
        print(
            f"| reference: pgbench tpcb-like -s {args.pgbench_scale} -c {args.clients} -j 2 "
            f"-T {args.pgbench_seconds} | {pgb['tps']:.0f} TPS | "
            f"avg {pgb['latency_ms']:.1f} ms | | | |"
        )
    if load is not None:
        rate = load.ok / load.seconds
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(load.claim_statuses.items()))
        print(
            f"| POST /api/v1/health/claims{f' ({statuses})' if statuses else ''}, "
            f"load from {args.client} | {rate:.1f} claims/s | "
            f"{load.pct(50):.0f} ms | {load.pct(95):.0f} ms | {load.pct(99):.0f} ms | "
            f"{load.errors} ({dict(sorted(load.statuses.items()))}) |"
        )
    if batch is not None:
        print(
            f"| `polis health adjudicate` {args.batch_claims} claims, batch size "
            f"{args.batch_size}, {args.batch_workers} workers | {batch['rate']:.1f} claims/s | "
            f"| | | {batch['errors']} |"
        )
    if load is not None and load.cpu_ms:
        print(
            f"\nCPU per claim in the window (/proc): server {load.cpu_ms['server']:.1f} ms, "
            f"PostgreSQL {load.cpu_ms['postgres']:.1f} ms"
        )
    if load is not None and pgb is not None and pgb["tps"] > 0:
        print(f"\nAPI claims/s / pgbench TPS = {load.ok / load.seconds / pgb['tps']:.2f}")


if __name__ == "__main__":
    main()
