"""Motor quote-to-issue throughput through the API, next to pgbench on the same server in the
same run (issue 4, performance).

    .venv/bin/python bench/motor_quote_to_issue.py                  # the full run
    .venv/bin/python bench/motor_quote_to_issue.py --seconds 5 --pgbench-seconds 5 \\
        --vehicles 2000                                              # a quick check
    .venv/bin/python bench/motor_quote_to_issue.py --in-process 100  # CPU cost per step

`--in-process N` measures cost, not throughput (it needs no idle CPUs): the same world, then
N quote-to-issue sequences one after another through the app in this process
(httpx.ASGITransport: no server, no sockets, no contention) after 20 unmeasured ones, and a
table of wall ms, CPU ms of this process (app and client) and SQL statements per step
(counted on each asyncpg connection of the app's engine, so statements sent through the ORM
and through `polis.db.raw` alike; BEGIN, COMMIT and ROLLBACK not counted; the session lookup,
audit context and idempotency statements included). `--statements` prints the SQL of the
last sequence, step by step.

Against the embedded PostgreSQL (or DATABASE_URL's server) it:
1. creates two fresh databases, `bench_motor` (migrated) and `bench_pgb`;
2. builds a bench world: an ADMIN user, --customers customers created through the API
   (national id encrypted, address checked) and --vehicles vehicles spread over them
   (inserted in one statement: one vehicle per issued policy is needed, since a vehicle has
   at most one ACTIVE policy);
3. serves the app with uvicorn on 127.0.0.1 (no reload, --server-workers processes, default
   one per CPU core as `polis serve --workers N` runs it) and runs --clients concurrent
   httpx clients for --seconds (after a --warmup), each taking its own vehicles in turn and
   doing one quote-to-issue transaction after another:
     POST /motor/quotes (--policy-type, 12 months from next week)
     POST /motor/policies (bind, payment_plan FULL)            -> DRAFT, one FULL payment
     POST /motor/payments/{id}/confirm (staff, PROMPTPAY)      -> SUCCESS, receipt, ACTIVE
     GET  /motor/policies/{number}                             -> status ACTIVE
   A transaction counts when all four answered as expected and the policy reads ACTIVE;
   latency is measured for the whole sequence and for each step;
4. samples the load average (/proc/loadavg) during the API window;
5. runs pgbench's tpcb-like script on bench_pgb (-i -s --pgbench-scale, then -c
   --pgbench-clients -j 2 -T --pgbench-seconds);
6. prints a markdown table, and drops both databases (unless --keep).

Nothing here is a test: the numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MOTOR = "/api/v1/motor"
STEPS = ("quote", "bind", "pay", "issue")


def _db_url(server_url: str, name: str) -> str:
    base, _, _ = server_url.partition("?")[0].rpartition("/")
    return f"{base}/{name}"


def _psql_admin(server_url: str, *sql: str) -> None:
    import psycopg

    with psycopg.connect(_db_url(server_url, "postgres"), autocommit=True) as conn:
        for statement in sql:
            conn.execute(statement.encode())


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# --- the bench world ----------------------------------------------------------------------


@dataclass
class World:
    username: str
    password: str
    vehicle_ids: list[str] = field(default_factory=list)


def thai_pin(rng: random.Random) -> str:
    """A valid Thai personal id (mod-11 check digit)."""
    digits = [rng.randint(1, 8)] + [rng.randint(0, 9) for _ in range(11)]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    return "".join(map(str, digits)) + str(check)


def customer_body(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "email": f"bench.{n}.{uuid.uuid4().hex[:8]}@example.co.th",
        "phone_number": "081-234-5678",
        "national_id": thai_pin(rng),
        "first_name": "สมชาย",
        "last_name": "ใจดี",
        "first_name_en": "Somchai",
        "last_name_en": "Jaidee",
        "date_of_birth": "1985-04-12",
        "gender": "MALE",
        "address": {
            "house_no": f"{n}/1",
            "road": "ราชดำเนินใน",
            "tambon": "พระบรมมหาราชวัง",
            "amphoe": "พระนคร",
            "province": "กรุงเทพมหานคร",
            "postal_code": "10200",
        },
        "preferred_language": "th",
    }


# The bench ADMIN's TOTP secret (an ADMIN signs in with a second factor, decision 0063): the
# server encrypts and decrypts it with the same development keyring (var/secrets.json) or
# ENCRYPTION_KEYS, which the bench process shares with the server it starts.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_last_step: list[int] = []


def create_user(url: str) -> tuple[str, str]:
    import psycopg

    from polis.iam.passwords import hash_password
    from polis.platform.crypto import get_keyring

    password = "bench " + uuid.uuid4().hex
    username = "bench_motor_admin"
    with psycopg.connect(_psycopg_url(url)) as conn, conn.transaction():
        conn.execute(
            """insert into iam.users (username, email, password_hash, first_name, last_name,
               role, two_factor_enabled, two_factor_secret)
               values (%s, 'bench.motor@example.test', %s, 'Bench', 'Admin', 'ADMIN', true, %s)""",
            (username, hash_password(password), get_keyring().encrypt_text(TOTP_SECRET)),
        )
    return username, password


def _totp_code() -> str:
    """A code for a time step not sent before (the server takes each step once)."""
    import pyotp

    totp = pyotp.TOTP(TOTP_SECRET)
    while True:
        now = totp.timecode(datetime.now(UTC))
        step = max([now, *(s + 1 for s in _last_step)])
        if step <= now + 1:
            _last_step.append(step)
            return totp.generate_otp(step)
        time.sleep(totp.interval - time.time() % totp.interval + 0.05)


async def _login(http: Any, world: World) -> dict[str, str]:
    login = await http.post(
        "/api/v1/auth/login", json={"username": world.username, "password": world.password}
    )
    login.raise_for_status()
    body = login.json()
    if body.get("two_factor_required"):
        second = await http.post(
            "/api/v1/auth/login/2fa",
            json={"challenge_token": body["challenge_token"], "code": _totp_code()},
        )
        second.raise_for_status()
        body = second.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def create_customers(
    base: str, world: World, customers: int, transport: Any = None
) -> list[str]:
    import httpx

    rng = random.Random(20260401)  # noqa: S311 - test data, not secrets
    async with httpx.AsyncClient(base_url=base, timeout=60, transport=transport) as http:
        headers = await _login(http, world)
        ids: list[str] = []
        for n in range(customers):
            r = await http.post(f"{MOTOR}/customers", json=customer_body(rng, n), headers=headers)
            if r.status_code == 409:  # a national id drawn twice: draw again
                r = await http.post(
                    f"{MOTOR}/customers", json=customer_body(rng, n), headers=headers
                )
            if r.status_code != 201:
                raise SystemExit(f"customer: {r.status_code} {r.text}")
            ids.append(r.json()["id"])
    return ids


def create_vehicles(url: str, customer_ids: list[str], vehicles: int) -> list[str]:
    """`vehicles` private SUVs (CMI class 1.10), round robin over the customers; plates
    '<1-9>กข <1000-9999>' and further letter pairs, unique per province."""
    import psycopg

    letters = ["กข", "กค", "ขค", "ฆง", "จฉ", "ชซ", "ญฎ", "ฐฑ"]
    plates = [
        f"{p}{pair} {num}" for pair in letters for p in range(1, 10) for num in range(1000, 10000)
    ]
    if vehicles > len(plates):
        raise SystemExit(f"at most {len(plates)} vehicles")
    rows = [
        (customer_ids[i % len(customer_ids)], plates[i], f"MR0FZ29G5{i:08d}")
        for i in range(vehicles)
    ]
    with psycopg.connect(_psycopg_url(url)) as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                """insert into motor.customer_vehicles (customer_id, registration_number,
                   province, make, model, year_of_manufacture, engine_size, vehicle_type,
                   fuel_type, color, chassis_number, usage_type, annual_mileage,
                   parking_location)
                   values (%s, %s, 'กรุงเทพมหานคร', 'TOYOTA', 'Corolla Cross', 2022, 1.8, 'SUV',
                   'HYBRID', 'WHITE', %s, 'PERSONAL', 15000, 'GARAGE')""",
                rows,
            )
        ids = [
            str(r[0])
            for r in conn.execute(
                "select id from motor.customer_vehicles order by registration_number"
            ).fetchall()
        ]
    return ids


# --- the API under load -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER_LOG = Path(tempfile.gettempdir()) / "bench_motor_server.log"


def start_server(url: str, workers: int, extra_env: dict[str, str]) -> tuple[Any, str]:
    """uvicorn in the background; its stderr goes to SERVER_LOG (a pipe nobody reads would
    fill up and block the workers on their next log line)."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, **extra_env}
    log = SERVER_LOG.open("wb")
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
        stdout=subprocess.DEVNULL,  # the app's one structured line per request
        stderr=log,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {SERVER_LOG.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("server did not become ready")


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # whole sequences, seconds
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    failures: dict[str, int] = field(default_factory=dict)  # "step status" -> count
    loadavg: list[tuple[float, float, float]] = field(default_factory=list)
    ran_out: int = 0
    issued: int | None = None  # counted by wrk (no per-sequence latencies then)
    request_percentiles: dict[int, float] = field(default_factory=dict)  # ms, wrk

    @property
    def ok(self) -> int:
        return self.issued if self.issued is not None else len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(self.failures.values())


def _loadavg() -> tuple[float, float, float]:
    try:
        a, b, c = Path("/proc/loadavg").read_text().split()[:3]
        return float(a), float(b), float(c)
    except OSError:
        return (float("nan"),) * 3


async def run_load(
    base: str,
    world: World,
    *,
    clients: int,
    seconds: float,
    warmup: float,
    policy_type: str,
) -> LoadResult:
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    start_date = (date.today() + timedelta(days=7)).isoformat()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        headers = await _login(http, world)
        result = LoadResult(seconds=seconds)
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + seconds

        def fail(step: str, code: int) -> None:
            key = f"{step} {code}"
            result.failures[key] = result.failures.get(key, 0) + 1

        async def post(path: str, body: dict[str, Any]) -> Any:
            return await http.post(
                path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
            )

        async def one(vehicle_id: str) -> None:
            times: dict[str, float] = {}
            t0 = time.perf_counter()
            try:
                r = await post(
                    f"{MOTOR}/quotes",
                    {
                        "policy_type": policy_type,
                        "vehicle_id": vehicle_id,
                        "start_date": start_date,
                        "policy_period_months": 12,
                    },
                )
                t1 = time.perf_counter()
                times["quote"] = t1 - t0
                if r.status_code != 201:
                    return fail("quote", r.status_code) if t1 >= measure_from else None
                r = await post(
                    f"{MOTOR}/policies",
                    {"quote_number": r.json()["quote_number"], "payment_plan": "FULL"},
                )
                t2 = time.perf_counter()
                times["bind"] = t2 - t1
                if r.status_code != 201:
                    return fail("bind", r.status_code) if t2 >= measure_from else None
                policy = r.json()
                payment = policy["payments"][0]
                r = await post(
                    f"{MOTOR}/payments/{payment['id']}/confirm",
                    {
                        "method": "PROMPTPAY",
                        "reference": f"BENCH-{uuid.uuid4().hex[:16]}",
                        "paid_at": datetime.now(UTC).isoformat(),
                        "amount": payment["total_amount"],
                    },
                )
                t3 = time.perf_counter()
                times["pay"] = t3 - t2
                if r.status_code != 200:
                    return fail("pay", r.status_code) if t3 >= measure_from else None
                r = await http.get(f"{MOTOR}/policies/{policy['policy_number']}", headers=headers)
                t4 = time.perf_counter()
                times["issue"] = t4 - t3
                if r.status_code != 200 or r.json().get("status") != "ACTIVE":
                    return fail("issue", r.status_code) if t4 >= measure_from else None
            except httpx.HTTPError:
                fail("transport", 0)
                return
            if t0 < measure_from or t4 > stop:
                return  # started in the warm-up, or finished after the window
            result.latencies.append(t4 - t0)
            for step, value in times.items():
                result.steps[step].append(value)

        async def client(k: int) -> None:
            mine = world.vehicle_ids[k::clients]
            for vehicle_id in mine:
                if time.perf_counter() >= stop:
                    return
                await one(vehicle_id)
            result.ran_out += 1

        async def sample_load() -> None:
            while time.perf_counter() < stop:
                await asyncio.sleep(1)
                if time.perf_counter() >= measure_from:
                    result.loadavg.append(_loadavg())

        await asyncio.gather(sample_load(), *(client(k) for k in range(clients)))
    return result


_WRK_SCRIPT = r"""
-- quote -> bind -> pay -> GET ACTIVE, one sequence at a time on each connection: one wrk
-- thread per connection, so a thread's state is its connection's. Thread k takes vehicles
-- k, k+C, ... of BENCH_VEHICLES (one vehicle per policy issued).
local env = os.getenv
local token, motor = env("BENCH_TOKEN"), "/api/v1/motor"
local threads, serial = {}, 0
function setup(thread)
  serial = serial + 1
  thread:set("tid", serial)
  table.insert(threads, thread)
end
function init(args)
  vehicles, done_count, failed, step, n = {}, 0, 0, 1, 0
  local all, i, c = {}, 0, tonumber(env("BENCH_CONNECTIONS"))
  for line in io.lines(env("BENCH_VEHICLES")) do
    if i % c == tid - 1 then table.insert(vehicles, line) end
    i = i + 1
  end
  next_vehicle, run = 1, env("BENCH_RUN") .. "-" .. tid .. "-"
end
local function post(path, body)
  n = n + 1
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json", ["Idempotency-Key"] = run .. n}, body)
end
function request()
  if step == 1 then
    local v = vehicles[next_vehicle]
    next_vehicle = next_vehicle + 1
    if v == nil then v = vehicles[1] end -- ran out: the bind will be refused (counted)
    return post(motor .. "/quotes", string.format('{"policy_type":"%s","vehicle_id":"%s",'
      .. '"start_date":"%s","policy_period_months":12}', env("BENCH_POLICY_TYPE"), v,
      env("BENCH_START_DATE")))
  elseif step == 2 then
    return post(motor .. "/policies", string.format(
      '{"quote_number":"%s","payment_plan":"FULL"}', quote))
  elseif step == 3 then
    return post(motor .. "/payments/" .. payment .. "/confirm", string.format(
      '{"method":"PROMPTPAY","reference":"BENCH-%s%d","paid_at":"%s","amount":"%s"}',
      run, n, env("BENCH_PAID_AT"), amount))
  else
    n = n + 1
    return wrk.format("GET", motor .. "/policies/" .. policy,
      {["Authorization"] = "Bearer " .. token})
  end
end
function response(status, headers, body)
  if step == 1 and status == 201 then
    quote = body:match('"quote_number":"([^"]+)"')
    step = 2
  elseif step == 2 and status == 201 then
    policy = body:match('"policy_number":"([^"]+)"')
    local at = body:find('"payments":', 1, true)
    payment = body:match('"id":"([^"]+)"', at)
    amount = body:match('"total_amount":"([^"]+)"', at)
    step = 3
  elseif step == 3 and status == 200 then
    step = 4
  elseif step == 4 and status == 200 and body:find('"status":"ACTIVE"', 1, true) then
    done_count = done_count + 1
    step = 1
  else
    failed = failed + 1
    step = 1
  end
end
function done(summary, latency, requests)
  local total, bad = 0, 0
  for _, t in ipairs(threads) do
    total = total + t:get("done_count")
    bad = bad + t:get("failed")
  end
  io.write(string.format("BENCH %d %d %.3f %.3f %.3f %.3f\n", total, bad,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def run_load_wrk(
    base: str,
    world: World,
    *,
    clients: int,
    seconds: float,
    warmup: float,
    policy_type: str,
) -> LoadResult:
    """The same sequences driven by wrk (C, like pgbench's client), so the client costs the
    two cores little: a warm-up run on the last vehicles, then the measured run on the
    others. wrk times requests, not sequences: `request_percentiles` are of every request
    of the four steps together."""

    async def token() -> dict[str, str]:
        import httpx

        async with httpx.AsyncClient(base_url=base) as http:
            return await _login(http, world)

    bearer = asyncio.run(token())["Authorization"].removeprefix("Bearer ")
    reserve = min(len(world.vehicle_ids) // 4, max(clients * 20, int(warmup * 60)))
    phases = (
        ("warmup", warmup, world.vehicle_ids[-reserve:]),
        ("measure", seconds, world.vehicle_ids[:-reserve]),
    )
    result = LoadResult(seconds=seconds)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "quote_to_issue.lua"
        script.write_text(_WRK_SCRIPT)
        for phase, length, vehicles in phases:
            if length <= 0:
                continue
            listing = Path(tmp) / f"{phase}.txt"
            listing.write_text("\n".join(vehicles) + "\n")
            env = {
                **os.environ,
                "BENCH_TOKEN": bearer,
                "BENCH_CONNECTIONS": str(clients),
                "BENCH_VEHICLES": str(listing),
                "BENCH_RUN": f"{phase}-{uuid.uuid4().hex[:12]}",
                "BENCH_POLICY_TYPE": policy_type,
                "BENCH_START_DATE": (date.today() + timedelta(days=7)).isoformat(),
                "BENCH_PAID_AT": datetime.now(UTC).isoformat(),
            }
            command = ["wrk", f"-t{clients}", f"-c{clients}", f"-d{length:g}s"]
            command += ["--timeout", "120s", "-s", str(script), base]
            if phase == "measure":
                sampler = subprocess.Popen(
                    [sys.executable, "-c", _LOADAVG_SAMPLER, str(length)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            if phase == "measure":
                samples, _ = sampler.communicate()
                result.loadavg = [
                    (float(a), float(a), float(a)) for a in samples.split() if a.strip()
                ]
                line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
                issued, failed, duration, p50, p95, p99 = line.split()[1:]
                result.seconds = float(duration)
                result.issued = int(issued)
                if int(failed):
                    result.failures["sequence"] = int(failed)
                result.request_percentiles = {50: float(p50), 95: float(p95), 99: float(p99)}
    return result


_LOADAVG_SAMPLER = (
    "import sys, time\n"
    "end = time.time() + float(sys.argv[1])\n"
    "while time.time() < end:\n"
    "    time.sleep(1)\n"
    "    print(open('/proc/loadavg').read().split()[0], flush=True)\n"
)


# --- CPU cost, sequential and in process --------------------------------------------------


@dataclass
class ProfileResult:
    transactions: int
    wall: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    statements: dict[str, list[int]] = field(default_factory=lambda: {s: [] for s in STEPS})
    cpu_seconds: float = 0.0  # this process (app + client), not PostgreSQL's
    wall_seconds: float = 0.0
    last_sql: dict[str, list[str]] = field(default_factory=dict)  # the last sequence's
    calls: dict[str, float] = field(default_factory=dict)  # Python calls per step (--calls)


_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK)\b", re.IGNORECASE)


async def run_in_process(
    url: str,
    world: World,
    *,
    transactions: int,
    customers: int,
    policy_type: str,
    calls: bool = False,
) -> ProfileResult:
    """`transactions` quote-to-issue sequences one after another through the app in this
    process (httpx.ASGITransport: no server, no network, no contention), counting the SQL
    statements each step sends (on the asyncpg connections of the app's engine)."""
    import httpx
    from asgi_lifespan import LifespanManager
    from sqlalchemy import event

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.recording import StatementRecorder

    app = create_app(Settings(database_url=url))
    transport = httpx.ASGITransport(app=app)
    base = "http://bench"
    async with LifespanManager(app):
        customer_ids = await create_customers(base, world, customers, transport=transport)
        vehicle_ids = create_vehicles(url, customer_ids, transactions + 20)
        seen: list[str] = []

        def watch(dbapi_connection: Any, record: Any, *_: Any) -> None:
            StatementRecorder.install(record.driver_connection, seen)

        event.listen(app.state.db.engine.sync_engine, "checkout", watch)
        result = ProfileResult(transactions=transactions)
        profilers = {name: cProfile.Profile() for name in STEPS} if calls else {}
        start_date = (date.today() + timedelta(days=7)).isoformat()
        async with httpx.AsyncClient(base_url=base, transport=transport, timeout=60) as http:
            headers = await _login(http, world)

            async def step(name: str, record: bool, call: Any) -> Any:
                seen.clear()
                profiler = profilers.get(name) if record else None
                if profiler is not None:
                    profiler.enable()
                t, c = time.perf_counter(), time.process_time()
                r = await call
                if profiler is not None:
                    profiler.disable()
                if record:
                    result.wall[name].append(time.perf_counter() - t)
                    result.cpu[name].append(time.process_time() - c)
                    sql = [q for q in seen if not _TRANSACTION_CONTROL.match(q)]
                    result.statements[name].append(len(sql))
                    result.last_sql[name] = sql
                return r

            def post(path: str, body: dict[str, Any]) -> Any:
                return http.post(
                    path, json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
                )

            warm = 20
            cpu0 = wall0 = 0.0
            for n, vehicle_id in enumerate(vehicle_ids[: transactions + warm]):
                record = n >= warm
                if n == warm:
                    cpu0, wall0 = time.process_time(), time.perf_counter()
                quote_body = {
                    "policy_type": policy_type,
                    "vehicle_id": vehicle_id,
                    "start_date": start_date,
                    "policy_period_months": 12,
                }
                r = await step("quote", record, post(f"{MOTOR}/quotes", quote_body))
                assert r.status_code == 201, r.text
                bind_body = {"quote_number": r.json()["quote_number"], "payment_plan": "FULL"}
                r = await step("bind", record, post(f"{MOTOR}/policies", bind_body))
                assert r.status_code == 201, r.text
                policy = r.json()
                payment = policy["payments"][0]
                pay_body = {
                    "method": "PROMPTPAY",
                    "reference": f"BENCH-{uuid.uuid4().hex[:16]}",
                    "paid_at": datetime.now(UTC).isoformat(),
                    "amount": payment["total_amount"],
                }
                path = f"{MOTOR}/payments/{payment['id']}/confirm"
                r = await step("pay", record, post(path, pay_body))
                assert r.status_code == 200, r.text
                path = f"{MOTOR}/policies/{policy['policy_number']}"
                r = await step("issue", record, http.get(path, headers=headers))
                assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
            result.cpu_seconds = time.process_time() - cpu0
            result.wall_seconds = time.perf_counter() - wall0
    for name, profiler in profilers.items():
        result.calls[name] = pstats.Stats(profiler).total_calls / transactions  # type: ignore[attr-defined]
    return result


def report_in_process(result: ProfileResult, *, statements: bool = False) -> None:
    n = result.transactions
    if statements:
        for name in STEPS:
            print(f"\n{name}:")
            for sql in result.last_sql.get(name, []):
                print("    " + " ".join(sql.split())[:160])
    print(
        f"\nIn process, sequential: {n} quote-to-issue transactions (after 20 unmeasured), "
        f"{result.wall_seconds:.2f} s wall, {result.cpu_seconds:.2f} s CPU of this process\n"
    )
    print("| Step | ms per call (mean) | p50 ms | CPU ms per call | SQL statements per call |")
    print("|---|---|---|---|---|")
    for name in STEPS:
        wall, cpu, stmts = result.wall[name], result.cpu[name], result.statements[name]
        print(
            f"| {name} | {sum(wall) / len(wall) * 1000:.1f} | {_pct(wall, 50):.1f} | "
            f"{sum(cpu) / len(cpu) * 1000:.1f} | "
            f"{sum(stmts) / len(stmts):.1f} (min {min(stmts)}, max {max(stmts)}) |"
        )
    total_stmts = sum(sum(v) for v in result.statements.values()) / n
    print(
        f"| whole transaction | {result.wall_seconds / n * 1000:.1f} "
        f"(CPU {result.cpu_seconds / n * 1000:.1f}) | | | {total_stmts:.1f} |"
    )
    if result.calls:
        per_step = ", ".join(f"{name} {result.calls[name]:,.0f}" for name in STEPS)
        total = sum(result.calls.values())
        print(f"\nPython function calls per sequence (cProfile): {total:,.0f} ({per_step})")


# --- pgbench ------------------------------------------------------------------------------


def _pgbench() -> str:
    for candidate in ("pgbench", "/usr/lib/postgresql/15/bin/pgbench"):
        path = subprocess.run(["which", candidate], capture_output=True, text=True).stdout.strip()
        if path or Path(candidate).exists():
            return path or candidate
    raise SystemExit("pgbench not found")


def run_pgbench(url: str, *, scale: int, clients: int, seconds: int) -> dict[str, float]:
    exe = _pgbench()
    url = _psycopg_url(url)
    subprocess.run([exe, "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    before = _loadavg()
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
        "load1_before": before[0],
        "load1_after": _loadavg()[0],
    }


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="API load window (default 30)")
    ap.add_argument("--warmup", type=float, default=3, help="unmeasured start (default 3)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--customers", type=int, default=200, help="customers (default 200)")
    ap.add_argument(
        "--vehicles",
        type=int,
        default=20000,
        help="vehicles, one per transaction at most (default 20000)",
    )
    ap.add_argument("--policy-type", default="CMI", choices=["CMI", "CLASS_3"])
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
        " httpx (Python, in this process: per-step latencies, but it takes CPU the server"
        " needs)",
    )
    ap.add_argument("--pgbench-scale", type=int, default=10)
    ap.add_argument("--pgbench-clients", type=int, default=32)
    ap.add_argument("--pgbench-seconds", type=int, default=30)
    ap.add_argument("--skip", action="append", default=[], choices=["api", "pgbench"])
    ap.add_argument("--keep", action="store_true", help="keep the bench databases")
    ap.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="instead of the load: N sequential transactions through the app in this process "
        "(ASGI transport), ms and SQL statements per step (CPU cost, not throughput)",
    )
    ap.add_argument(
        "--statements",
        action="store_true",
        help="with --in-process: print the SQL of the last sequence, step by step",
    )
    ap.add_argument(
        "--calls",
        action="store_true",
        help="with --in-process: Python function calls per step (cProfile, app and client;"
        " a count that does not drift with the machine's speed, but the run's ms are then"
        " cProfile's, not comparable)",
    )
    args = ap.parse_args()

    from polis.cli import database
    from polis.db import migrate

    with database() as server_url:
        motor_url = _db_url(server_url, "bench_motor")
        pgb_url = _db_url(server_url, "bench_motor_pgb")
        _psql_admin(
            server_url,
            "drop database if exists bench_motor with (force)",
            "create database bench_motor",
            "drop database if exists bench_motor_pgb with (force)",
            "create database bench_motor_pgb",
        )
        load = pgb = None
        try:
            t = time.perf_counter()
            migrate.upgrade(motor_url)
            world = World(*create_user(motor_url))
            if args.in_process:
                os.environ["DATABASE_URL"] = motor_url
                profile = asyncio.run(
                    run_in_process(
                        motor_url,
                        world,
                        transactions=args.in_process,
                        customers=min(args.customers, 20),
                        policy_type=args.policy_type,
                        calls=args.calls,
                    )
                )
                report_in_process(profile, statements=args.statements)
                return
            if "api" not in args.skip:
                proc, base = start_server(motor_url, args.server_workers, {})
                try:
                    customer_ids = asyncio.run(create_customers(base, world, args.customers))
                    world.vehicle_ids = create_vehicles(motor_url, customer_ids, args.vehicles)
                    print(
                        f"# world: {args.customers} customers, {args.vehicles} vehicles, "
                        f"migrated and loaded in {time.perf_counter() - t:.1f} s",
                        file=sys.stderr,
                    )
                    if args.client == "wrk":
                        load = run_load_wrk(
                            base,
                            world,
                            clients=args.clients,
                            seconds=args.seconds,
                            warmup=args.warmup,
                            policy_type=args.policy_type,
                        )
                    else:
                        load = asyncio.run(
                            run_load(
                                base,
                                world,
                                clients=args.clients,
                                seconds=args.seconds,
                                warmup=args.warmup,
                                policy_type=args.policy_type,
                            )
                        )
                finally:
                    stop_server(proc)
            if "pgbench" not in args.skip:
                pgb = run_pgbench(
                    pgb_url,
                    scale=args.pgbench_scale,
                    clients=args.pgbench_clients,
                    seconds=args.pgbench_seconds,
                )
        finally:
            if not args.keep:
                _psql_admin(
                    server_url,
                    "drop database if exists bench_motor with (force)",
                    "drop database if exists bench_motor_pgb with (force)",
                )
    report(args, load, pgb)


def report(args: argparse.Namespace, load: LoadResult | None, pgb: dict[str, float] | None) -> None:
    print(
        f"\nMotor quote-to-issue bench, {date.today().isoformat()}, {os.cpu_count()} CPUs: "
        f"{args.clients} clients, {args.policy_type}, FULL payment, API window "
        f"{args.seconds:g} s (+{args.warmup:g} s warm-up), uvicorn workers "
        f"{args.server_workers}, load from {args.client}\n"
    )
    print("| What | Rate | p50 | p95 | p99 | Errors |")
    print("|---|---|---|---|---|---|")
    if pgb is not None:
        print(
            f"| reference: pgbench tpcb-like -s {args.pgbench_scale} -c {args.pgbench_clients} "
            f"-j 2 -T {args.pgbench_seconds} | {pgb['tps']:.0f} TPS | "
            f"avg {pgb['latency_ms']:.1f} ms | | | |"
        )
    if load is not None and load.issued is not None:
        rate = load.ok / load.seconds
        pct = load.request_percentiles
        print(
            f"| quote -> bind -> pay -> GET ACTIVE, load from wrk | {rate:.1f} issued/s | "
            f"| | | {load.errors} {dict(sorted(load.failures.items()))} |"
        )
        print(
            f"| every request of the four steps (wrk) | {4 * rate:.0f} requests/s | "
            f"{pct[50]:.0f} ms | {pct[95]:.0f} ms | {pct[99]:.0f} ms | |"
        )
    elif load is not None:
        rate = load.ok / load.seconds
        print(
            f"| quote -> bind -> pay -> GET ACTIVE (whole sequence) | {rate:.1f} issued/s | "
            f"{_pct(load.latencies, 50):.0f} ms | {_pct(load.latencies, 95):.0f} ms | "
            f"{_pct(load.latencies, 99):.0f} ms | "
            f"{load.errors} {dict(sorted(load.failures.items()))} |"
        )
        paths = {
            "quote": "POST /motor/quotes",
            "bind": "POST /motor/policies",
            "pay": "POST /motor/payments/{id}/confirm",
            "issue": "GET /motor/policies/{number}",
        }
        for step in STEPS:
            v = load.steps[step]
            print(
                f"| step {step}: {paths[step]} | | {_pct(v, 50):.0f} ms | {_pct(v, 95):.0f} ms | "
                f"{_pct(v, 99):.0f} ms | |"
            )
        if load.loadavg:
            ones = [x[0] for x in load.loadavg]
            print(
                f"\nLoad average (1 min) during the API window: min {min(ones):.2f}, "
                f"max {max(ones):.2f}, last {load.loadavg[-1]}"
            )
        if load.ran_out:
            print(f"\nWARNING: {load.ran_out} clients ran out of vehicles (raise --vehicles)")
    if load is not None and pgb is not None and pgb["tps"] > 0:
        print(f"\nquote-to-issue/s / pgbench TPS = {load.ok / load.seconds / pgb['tps']:.3f}")
        print(
            f"anchor 190 quote-to-issue/s beaten: {'yes' if load.ok / load.seconds > 190 else 'no'}"
        )


if __name__ == "__main__":
    main()
