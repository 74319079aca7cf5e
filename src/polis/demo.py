"""`polis demo`: migrate, load realistic demo data, create demo logins, serve.

Data is generated deterministically (a fixed seed) and loaded with COPY, so
`--members 100000` loads in well under a minute. Passwords are generated at each run,
printed once, and never written to disk.
"""

from __future__ import annotations

import fcntl
import os
import random
import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import typer

from polis.config import get_settings

DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("admin", "ADMIN", "Admin", "Polis"),
    ("processor", "CLAIMS_PROCESSOR", "Siti", "Rahayu"),
    ("reviewer", "MEDICAL_REVIEWER", "dr. Budi", "Santoso"),
    ("finance", "FINANCE", "Dewi", "Lestari"),
    ("underwriter", "UNDERWRITER", "Somchai", "Rattanakorn"),
    ("agent", "AGENT", "Malee", "Srisuk"),
    ("adjuster", "ADJUSTER", "Anan", "Chaiyaporn"),
    ("surveyor", "SURVEYOR", "Prasert", "Wongsawat"),
    ("auditor", "AUDITOR", "Audit", "Reader"),
    # Self-service logins, linked to the first member and customer (ensure_demo_users).
    ("member", "MEMBER", "Member", "Demo"),
    ("customer", "CUSTOMER", "Customer", "Demo"),
)

# The self-service logins' mobile numbers (sign-in by SMS code; the codes arrive at the SMS
# sandbox the demo starts: GET http://127.0.0.1:8092/messages?to=<number>).
DEMO_PHONES = {"member": "0810000001", "customer": "0810000002"}

# Link the self-service demo logins to a person (the first by number / creation) once.
_LINK_DEMO_LOGINS = (
    "update member.member set user_id = u.id from iam.users u"
    " where u.username = 'member' and member.member.id ="
    " (select id from member.member where user_id is null order by member_number limit 1)"
    " and not exists (select 1 from member.member m where m.user_id = u.id)",
    "update motor.customers set user_id = u.id from iam.users u"
    " where u.username = 'customer' and motor.customers.id ="
    " (select id from motor.customers where user_id is null and deleted_at is null"
    " order by created_at, id limit 1)"
    " and not exists (select 1 from motor.customers c where c.user_id = u.id)",
)

TWO = Decimal("0.01")
PLATE_LETTERS = ("กข", "กค", "ขง", "ฆช", "งฉ", "ฌญ", "ฒณ", "ทน", "บป", "ผพ")


@dataclass
class Volumes:
    """How much demo data to make."""

    members: int
    customers: int
    providers: int = 60
    companies: int = 25


@contextmanager
def single_instance() -> Iterator[None]:
    """Refuse a second `polis demo` while one runs (an exclusive lock on var/demo.lock)."""
    var = get_settings().var_dir
    var.mkdir(parents=True, exist_ok=True)
    fh = open(var / "demo.lock", "a+")  # noqa: SIM115 - held for the whole demo
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        fh.close()
        from polis.cli import CliError

        raise CliError(f"another `polis demo` is running (pid {pid})") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def thai_pin(rng: random.Random) -> str:
    """A valid Thai personal id (checksum per THAI_MOTOR.md)."""
    digits = [rng.randint(1, 8)] + [rng.randint(0, 9) for _ in range(11)]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    return "".join(map(str, digits)) + str(check)


# Kabupaten/kota codes (Dukcapil) of the cities the demo members live in.
NIK_REGIONS = (
    "317101", "317102", "317103", "317104", "317201", "317202", "317301", "317401",
    "317501", "327301", "327302", "327501", "327601", "357801", "357802", "347101",
    "347102", "517101", "517102", "127101", "127102", "167101", "737101", "647101",
)  # fmt: skip


def indonesian_nik(rng: random.Random, birth: date, female: bool, seq: int) -> str:
    """A well-formed NIK: region code, DDMMYY (+40 for women), 4-digit sequence.

    The region follows `seq` in blocks of 10,000, so (region, sequence) and hence the NIK is
    unique for the first 240,000 members whatever their birth dates; callers still check.
    """
    region = NIK_REGIONS[(seq // 10_000) % len(NIK_REGIONS)]
    day = birth.day + (40 if female else 0)
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{seq % 10_000:04d}"


def already_loaded(url: str) -> bool:
    """Whether demo data is present (the demo plan exists)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) from benefit.plan where plan_code like 'DEMO-%'"
        ).fetchone()
        return bool(row and row[0])


def load_demo(url: str, volumes: Volumes, seed: int = 20261123) -> dict[str, int]:
    """Generate and COPY the demo data in one transaction; returns row counts per table."""
    from faker import Faker

    from polis.platform.crypto import get_keyring, mask

    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    fake_id = Faker("id_ID")
    fake_th = Faker("th_TH")
    Faker.seed(seed)
    ring = get_keyring()
    counts: dict[str, int] = {}
    today = date.today()
    year_start = date(today.year, 1, 1)

    first_id = [fake_id.first_name() for _ in range(400)]
    last_id = [fake_id.last_name() for _ in range(400)]
    cities_id = [
        ("Jakarta Selatan", "DKI Jakarta"),
        ("Jakarta Pusat", "DKI Jakarta"),
        ("Bandung", "Jawa Barat"),
        ("Surabaya", "Jawa Timur"),
        ("Yogyakarta", "DI Yogyakarta"),
        ("Denpasar", "Bali"),
        ("Medan", "Sumatera Utara"),
        ("Makassar", "Sulawesi Selatan"),
    ]

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select set_config('app.business_context', 'DEMO_LOAD', true)")

        # -- health: plans and benefits ------------------------------------------------------
        plans = []
        for code, name, ptype, annual_text, ded in (
            ("DEMO-BASIC", "Askes Dasar", "basic", "100000000.00", "0.00"),
            ("DEMO-STD", "Askes Standar", "standard", "250000000.00", "500000.00"),
            ("DEMO-PREM", "Askes Premium", "premium", "1000000000.00", "0.00"),
        ):
            pid = uuid.uuid4()
            annual = Decimal(annual_text)
            plans.append((pid, code, ptype, annual))
            cur.execute(
                "insert into benefit.plan (id, plan_code, plan_name, plan_type, annual_limit,"
                " lifetime_limit, individual_deductible, family_deductible, individual_oop_max,"
                " family_oop_max, effective_date) values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    pid,
                    code,
                    name,
                    ptype,
                    annual,
                    annual * 5,
                    Decimal(ded),
                    Decimal(ded) * 3,
                    Decimal("25000000.00"),
                    Decimal("75000000.00"),
                    date(today.year - 1, 1, 1),
                ),
            )
        benefit_rows = []
        for pid, _code, _ptype, plan_annual in plans:
            factor = plan_annual / Decimal("100000000")
            for bcode, bname, cat, ltype, amount, days, visits, coins, copay, auth in (
                (
                    "IP-ROOM",
                    "Kamar dan makan (rawat inap)",
                    "inpatient",
                    "per_day",
                    "1000000",
                    180,
                    None,
                    "0",
                    "0",
                    False,
                ),
                (
                    "IP-SURG",
                    "Pembedahan",
                    "inpatient",
                    "per_incident",
                    "50000000",
                    None,
                    None,
                    "0",
                    "0",
                    True,
                ),
                ("IP-ICU", "ICU", "inpatient", "per_day", "3000000", 30, None, "0", "0", True),
                (
                    "OP-GP",
                    "Dokter umum",
                    "outpatient",
                    "per_year",
                    "5000000",
                    None,
                    24,
                    "10",
                    "0",
                    False,
                ),
                (
                    "OP-SPEC",
                    "Dokter spesialis",
                    "outpatient",
                    "per_year",
                    "10000000",
                    None,
                    12,
                    "10",
                    "50000",
                    False,
                ),
                (
                    "OP-DRUG",
                    "Obat rawat jalan",
                    "outpatient",
                    "per_year",
                    "7500000",
                    None,
                    None,
                    "20",
                    "0",
                    False,
                ),
                (
                    "DEN-BASIC",
                    "Perawatan gigi dasar",
                    "dental",
                    "per_year",
                    "3000000",
                    None,
                    4,
                    "20",
                    "0",
                    False,
                ),
                (
                    "OPT-GLASS",
                    "Kacamata",
                    "optical",
                    "per_year",
                    "1500000",
                    None,
                    1,
                    "0",
                    "0",
                    False,
                ),
                (
                    "MAT-NORMAL",
                    "Persalinan normal",
                    "maternity",
                    "per_incident",
                    "10000000",
                    None,
                    None,
                    "0",
                    "0",
                    True,
                ),
            ):
                benefit_rows.append(
                    (
                        uuid.uuid4(),
                        pid,
                        bcode,
                        bname,
                        cat,
                        "covered",
                        ltype,
                        (Decimal(amount) * factor).quantize(TWO),
                        days,
                        visits,
                        Decimal(coins),
                        Decimal(copay),
                        auth,
                        30 if cat == "maternity" else 0,
                        True,
                        bcode.startswith("IP"),
                    )
                )
        counts["benefit.plan_benefit"] = _copy(
            cur,
            "benefit.plan_benefit",
            (
                "id",
                "plan_id",
                "benefit_code",
                "benefit_name",
                "benefit_category",
                "coverage_type",
                "limit_type",
                "limit_amount",
                "limit_days",
                "limit_visits",
                "coinsurance_percentage",
                "copay_amount",
                "requires_authorization",
                "waiting_period_days",
                "in_network_covered",
                "out_network_covered",
            ),
            benefit_rows,
        )
        for pid, _c, _t, _a in plans:
            for ex_code, desc, etype, icd in (
                ("EX-COSM", "Bedah kosmetik", "procedure", None),
                ("EX-HIV", "HIV/AIDS", "diagnosis", "B20"),
                ("EX-SELF", "Cedera yang disengaja", "condition", "X84"),
            ):
                cur.execute(
                    "insert into benefit.exclusion (plan_id, exclusion_code, exclusion_description,"
                    " exclusion_type, icd_code, effective_date) values (%s,%s,%s,%s,%s,%s)",
                    (pid, ex_code, desc, etype, icd, date(today.year - 1, 1, 1)),
                )
        counts["benefit.plan"] = len(plans)

        # -- health: providers and contracts -------------------------------------------------
        provider_rows, contract_rows = [], []
        providers = []
        for i in range(volumes.providers):
            city, prov = cities_id[i % len(cities_id)]
            ptype = ("hospital", "clinic", "lab", "pharmacy")[0 if i % 3 == 0 else (i % 4)]
            name = {
                "hospital": f"RS {fake_id.last_name()} {city}",
                "clinic": f"Klinik {fake_id.last_name()}",
                "lab": f"Laboratorium {fake_id.last_name()}",
                "pharmacy": f"Apotek {fake_id.last_name()}",
            }[ptype]
            prid = uuid.uuid4()
            providers.append(prid)
            account = "".join(str(rng.randint(0, 9)) for _ in range(10))
            provider_rows.append(
                (
                    prid,
                    f"PRV-{i + 1:05d}",
                    name,
                    ptype,
                    rng.choice("ABCD"),
                    i % 10 != 9,
                    fake_id.street_address(),
                    city,
                    prov,
                    fake_id.phone_number()[:50],
                    f"billing{i + 1}@provider.example",
                    rng.choice(["BCA", "Mandiri", "BNI", "BRI"]),
                    mask(account),
                    ring.encrypt(account),
                    f"{rng.randint(10**14, 10**15 - 1)}",
                    "active",
                    date(today.year - 2, 1, 1),
                    date(today.year + 2, 12, 31),
                )
            )
            contract_rows.append(
                (
                    uuid.uuid4(),
                    prid,
                    f"PKS-{today.year - 2}-{i + 1:05d}",
                    date(today.year - 2, 1, 1),
                    date(today.year + 2, 12, 31),
                    "fee_for_service",
                    Decimal(rng.choice(["0.00", "5.00", "10.00", "12.50"])),
                    True,
                    True,
                    "active",
                )
            )
        counts["provider.provider"] = _copy(
            cur,
            "provider.provider",
            (
                "id",
                "provider_code",
                "provider_name",
                "provider_type",
                "provider_class",
                "is_network",
                "address",
                "city",
                "province",
                "phone",
                "email",
                "bank_name",
                "bank_account",
                "bank_account_encrypted",
                "tax_id",
                "status",
                "contract_start_date",
                "contract_end_date",
            ),
            provider_rows,
        )
        counts["provider.provider_contract"] = _copy(
            cur,
            "provider.provider_contract",
            (
                "id",
                "provider_id",
                "contract_number",
                "effective_date",
                "expiry_date",
                "payment_method",
                "discount_percentage",
                "cashless_enabled",
                "reimbursement_enabled",
                "status",
            ),
            contract_rows,
        )

        # -- health: group policies, members, coverages --------------------------------------
        policies = []
        policy_rows = []
        for i in range(volumes.companies):
            plid, _pc, _pt, _a = plans[i % len(plans)]
            poid = uuid.uuid4()
            aso = i % 3 == 0
            policies.append((poid, plid))
            policy_rows.append(
                (
                    poid,
                    f"GRP-{today.year}-{i + 1:04d}",
                    fake_id.company(),
                    f"NPWP{i:08d}",
                    "group",
                    plid,
                    year_start,
                    date(today.year + 1, 1, 1),
                    Decimal(rng.randint(500, 5000) * 1_000_000).quantize(TWO),
                    "aso" if aso else "full_insured",
                    Decimal(rng.randint(500, 3000) * 1_000_000 if aso else 0).quantize(TWO),
                    Decimal(rng.randint(50, 300) * 1_000_000 if aso else 0).quantize(TWO),
                    "active",
                )
            )
        counts["policy.policy"] = _copy(
            cur,
            "policy.policy",
            (
                "id",
                "policy_number",
                "company_name",
                "company_id",
                "policy_type",
                "plan_id",
                "effective_date",
                "renewal_date",
                "total_premium",
                "funding_type",
                "aso_fund_balance",
                "buffer_fund_balance",
                "status",
            ),
            policy_rows,
        )

        member_cols = (
            "id",
            "member_number",
            "first_name",
            "last_name",
            "birth_date",
            "gender",
            "national_id",
            "national_id_encrypted",
            "national_id_hash",
            "encryption_key_id",
            "email",
            "phone",
            "address_line1",
            "city",
            "province",
            "postal_code",
            "status",
            "enrollment_date",
        )
        coverage_cols = (
            "id",
            "member_id",
            "policy_id",
            "plan_id",
            "relationship",
            "coverage_start_date",
            "coverage_end_date",
            "inner_limit_applicable",
            "annual_cap_applicable",
            "status",
        )
        members: list[tuple[uuid.UUID, uuid.UUID]] = []

        def member_rows() -> Iterator[tuple[Any, ...]]:
            family = 0
            emp_policy: tuple[uuid.UUID, uuid.UUID] = policies[0]
            rel = "employee"
            seen_nik: set[str] = set()
            for n in range(volumes.members):
                if n == 0 or rng.random() < 0.45:
                    rel, family = "employee", family + 1
                    emp_policy = policies[rng.randrange(len(policies))]
                else:
                    rel = "spouse" if rel == "employee" else "child"
                female = rng.random() < 0.5
                age = rng.randint(25, 58) if rel != "child" else rng.randint(0, 22)
                birth = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
                nik = indonesian_nik(rng, birth, female, n)
                while nik in seen_nik:  # beyond 240,000 members: move to the next sequence
                    nik = nik[:12] + f"{(int(nik[12:]) + 1) % 10_000:04d}"
                seen_nik.add(nik)
                city, prov = rng.choice(cities_id)
                mid = uuid.uuid4()
                members.append((mid, emp_policy[0]))
                yield (
                    mid,
                    f"MBR-{n + 1:08d}",
                    rng.choice(first_id),
                    rng.choice(last_id),
                    birth,
                    "female" if female else "male",
                    *astuple(ring.seal(nik)),  # masked, ciphertext, blind index, key id
                    f"member{n + 1}@mail.example",
                    f"+62 8{rng.randint(100000000, 999999999)}",
                    fake_id.street_address(),
                    city,
                    prov,
                    f"{rng.randint(10110, 99999)}",
                    "active",
                    year_start,
                )
                coverages.append(
                    (
                        uuid.uuid4(),
                        mid,
                        emp_policy[0],
                        emp_policy[1],
                        rel,
                        year_start,
                        None,
                        True,
                        rng.random() < 0.3,
                        "active",
                    )
                )

        coverages: list[tuple[Any, ...]] = []
        counts["member.member"] = _copy(cur, "member.member", member_cols, member_rows())
        counts["member.member_coverage"] = _copy(
            cur, "member.member_coverage", coverage_cols, coverages
        )
        cur.execute(
            "update policy.policy p set total_members = c.n from (select policy_id, count(*) n"
            " from member.member_coverage group by policy_id) c where c.policy_id = p.id"
        )

        # -- motor: customers, vehicles, policies ------------------------------------------------
        counts.update(_load_motor(cur, rng, fake_th, ring, volumes.customers, today))
        conn.commit()
    return counts


def _load_motor(
    cur: psycopg.Cursor[Any], rng: random.Random, fake: Any, ring: Any, n: int, today: date
) -> dict[str, int]:

    makes = [
        ("TOYOTA", ["Yaris Ativ", "Corolla Cross", "Hilux Revo", "Fortuner"]),
        ("HONDA", ["City", "Civic", "HR-V", "Jazz"]),
        ("ISUZU", ["D-Max", "MU-X"]),
        ("MAZDA", ["Mazda2", "CX-3", "BT-50"]),
        ("NISSAN", ["Almera", "Navara", "Kicks"]),
        ("MITSUBISHI", ["Triton", "Xpander", "Pajero Sport"]),
    ]
    provinces = [
        ("กรุงเทพมหานคร", "Bangkok", "พระนคร", "พระบรมมหาราชวัง", "10200"),
        ("เชียงใหม่", "Chiang Mai", "เมืองเชียงใหม่", "ศรีภูมิ", "50200"),
        ("ชลบุรี", "Chon Buri", "เมืองชลบุรี", "บางปลาสร้อย", "20000"),
        ("ขอนแก่น", "Khon Kaen", "เมืองขอนแก่น", "ในเมือง", "40000"),
        ("ภูเก็ต", "Phuket", "เมืองภูเก็ต", "ตลาดใหญ่", "83000"),
    ]
    cust_rows, veh_rows, pol_rows = [], [], []
    seen_pin: set[str] = set()
    for i in range(n):
        cid, vid = uuid.uuid4(), uuid.uuid4()
        pin = thai_pin(rng)
        while pin in seen_pin:
            pin = thai_pin(rng)
        seen_pin.add(pin)
        prov = rng.choice(provinces)
        female = rng.random() < 0.5
        first = fake.first_name_female() if female else fake.first_name_male()
        address = {
            "house_no": str(rng.randint(1, 999)),
            "road": fake.street_name(),
            "tambon": prov[3],
            "amphoe": prov[2],
            "province": prov[0],
            "postal_code": prov[4],
        }
        cust_rows.append(
            (
                cid,
                f"customer{i + 1}@mail.example",
                f"08{rng.randint(10000000, 99999999)}",
                *astuple(ring.seal(pin)),  # masked, ciphertext, blind index, key id
                first,
                fake.last_name(),
                None,
                None,
                date(today.year - rng.randint(20, 70), rng.randint(1, 12), rng.randint(1, 28)),
                "FEMALE" if female else "MALE",
                psycopg.types.json.Jsonb(address),
                "ACTIVE",
                "VERIFIED",
                "th",
            )
        )
        make, models = rng.choice(makes)
        model = rng.choice(models)
        pickup = model in ("Hilux Revo", "D-Max", "BT-50", "Navara", "Triton")
        veh_rows.append(
            (
                vid,
                cid,
                # unique by construction: digit and letter pair from i, number 1000-9999
                f"{1 + i // 9000 % 9}{PLATE_LETTERS[i // 81_000 % len(PLATE_LETTERS)]}"
                f" {1000 + i % 9000}",
                prov[0],
                make,
                model,
                rng.randint(today.year - 12, today.year),
                Decimal(rng.choice(["1.2", "1.5", "1.8", "2.4", "2.8"])),
                "PICKUP" if pickup else rng.choice(["SEDAN", "HATCHBACK", "SUV"]),
                "DIESEL" if pickup else rng.choice(["GASOLINE", "HYBRID"]),
                rng.choice(["WHITE", "BLACK", "GREY", "RED", "SILVER"]),
                f"MR0{rng.randint(10**12, 10**13 - 1)}",
                "PERSONAL",
                rng.randint(8000, 30000),
                rng.choice(["GARAGE", "COVERED", "STREET", "PARKING_LOT"]),
            )
        )
        start = today - timedelta(days=rng.randint(0, 300))
        base = Decimal(rng.randint(9000, 28000)).quantize(TWO)
        ncd_pct = Decimal(rng.choice([0, 20, 30, 40, 50]))
        discount = (base * ncd_pct / 100).quantize(TWO)
        net = base - discount
        stamp = Decimal(-(-net * Decimal("0.004") // 1))  # rounded up to a whole baht
        vat = ((net + stamp) * Decimal("0.07")).quantize(TWO)
        pol_rows.append(
            (
                uuid.uuid4(),
                f"VMI-{start.year}-{i + 1:07d}",
                cid,
                vid,
                "CLASS_1",
                psycopg.types.json.Jsonb(
                    {
                        "sum_insured": str(rng.randint(3, 12) * 100000),
                        "own_damage": True,
                        "fire_theft": True,
                        "flood": True,
                        "third_party_property": "2500000",
                        "third_party_injury_per_person": "1000000",
                        "deductible": "0",
                    }
                ),
                base,
                discount,
                stamp + vat,
                base - discount + stamp + vat,
                start,
                start.replace(year=start.year + 1)
                if not (start.month == 2 and start.day == 29)
                else start + timedelta(days=365),
                12,
                "ACTIVE",
                ncd_pct,
                rng.random() < 0.4,
                "FULL",
                "ANNUAL",
            )
        )
    out = {
        "motor.customers": _copy(
            cur,
            "motor.customers",
            (
                "id",
                "email",
                "phone_number",
                "national_id",
                "national_id_encrypted",
                "national_id_hash",
                "encryption_key_id",
                "first_name",
                "last_name",
                "first_name_en",
                "last_name_en",
                "date_of_birth",
                "gender",
                "address",
                "account_status",
                "kyc_status",
                "preferred_language",
            ),
            cust_rows,
        ),
        "motor.customer_vehicles": _copy(
            cur,
            "motor.customer_vehicles",
            (
                "id",
                "customer_id",
                "registration_number",
                "province",
                "make",
                "model",
                "year_of_manufacture",
                "engine_size",
                "vehicle_type",
                "fuel_type",
                "color",
                "chassis_number",
                "usage_type",
                "annual_mileage",
                "parking_location",
            ),
            veh_rows,
        ),
        "motor.policies": _copy(
            cur,
            "motor.policies",
            (
                "id",
                "policy_number",
                "customer_id",
                "vehicle_id",
                "policy_type",
                "coverage_details",
                "base_premium",
                "discounts",
                "fees",
                "total_premium",
                "start_date",
                "end_date",
                "policy_period_months",
                "status",
                "no_claim_discount",
                "auto_renewal",
                "payment_plan",
                "payment_frequency",
            ),
            pol_rows,
        ),
    }
    return out


def ensure_demo_users(url: str) -> list[tuple[str, str, str]]:
    """Create (or reset) the demo logins with fresh random passwords; returns them."""
    from polis.iam.passwords import hash_password

    out = []
    with psycopg.connect(url) as conn:
        for username, role, first, last in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            conn.execute(
                "insert into iam.users (username, email, password_hash, first_name, last_name,"
                " role, phone_number, account_status)"
                " values (%s, %s, %s, %s, %s, %s, %s, 'ACTIVE')"
                " on conflict (username) do update set password_hash = excluded.password_hash,"
                " phone_number = excluded.phone_number,"
                " account_status = 'ACTIVE', failed_login_attempts = 0, locked_until = null",
                (
                    username,
                    f"{username}@demo.polis.local",
                    hash_password(password),
                    first,
                    last,
                    role,
                    DEMO_PHONES.get(username),
                ),
            )
            out.append((username, role, password))
        for statement in _LINK_DEMO_LOGINS:
            conn.execute(statement)
    return out


def demo(
    members: int = typer.Option(1000, help="Health members to generate"),
    customers: int = typer.Option(300, help="Motor customers (each with a vehicle and policy)"),
    host: str = typer.Option("127.0.0.1", help="Listen address"),
    port: int = typer.Option(8000, help="Port"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the server afterwards"),
) -> None:
    """Start Polis with demo data: embedded PostgreSQL, migrations, data, logins, server."""
    import time

    from rich.console import Console
    from rich.table import Table

    from polis.cli import database, run_server
    from polis.db import migrate

    if members < 1 or customers < 0:
        raise ValueError("--members must be at least 1 and --customers at least 0")
    console = Console()
    with single_instance(), database() as url:
        migrate.upgrade(url)
        if already_loaded(url):
            console.print("demo data already loaded (drop var/ to start afresh)")
        else:
            t0 = time.monotonic()
            counts = load_demo(url, Volumes(members=members, customers=customers))
            took = time.monotonic() - t0
            console.print(
                f"loaded {sum(counts.values()):,} rows in {took:.1f}s: "
                + ", ".join(f"{k} {v:,}" for k, v in counts.items())
            )
        table = Table(title="Demo logins (passwords are new at every start)")
        for col in ("username", "role", "password"):
            table.add_column(col)
        for row in ensure_demo_users(url):
            table.add_row(*row)
        console.print(table)
        # Decision 0063: these roles need a second factor.
        console.print(
            "admin, underwriter and adjuster need two-factor authentication: their first"
            " sign-in gives a token that only enrols (POST /api/v1/auth/2fa/totp: scan the QR"
            " code with an authenticator app, then POST /api/v1/auth/2fa/totp/confirm with a"
            " code; keep the recovery codes). Later sign-ins answer the challenge at POST"
            " /api/v1/auth/login/2fa."
        )
        if serve:
            from polis.config import get_settings
            from polis.integrations.dlt_sandbox import start_for_demo

            dlt = get_settings()
            console.print(start_for_demo(dlt.dlt_base_url, dlt.dlt_api_key)[0])
            from polis.integrations.sms_sandbox import start_for_demo as start_sms

            console.print(start_sms(dlt.sms_base_url, dlt.sms_api_key)[0])
            console.print(f"Polis on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
            run_server(url, host, port)
