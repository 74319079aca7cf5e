"""`polis keys status | rotate | new`: field-encryption key rotation (decision 0060).

`rotate` re-encrypts every value of `ENCRYPTED_TABLES` (polis.platform.crypto) that is still
under an old key id into the current key (the first of ENCRYPTION_KEYS). It walks each table
in primary-key order, one short transaction per batch: `SELECT ... FOR UPDATE SKIP LOCKED`,
decrypt, encrypt, UPDATE, COMMIT. Rows that a running request holds are skipped, never waited
for, so the service keeps serving; a value already under the current key is not selected, so
a second run picks up exactly what the first left (idempotent, resumable after a crash or ^C).
Blind indexes do not change (their key never rotates). Plaintext and keys are never printed.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import typer
from psycopg import Connection, sql

from polis.platform.crypto import (
    ENCRYPTED_TABLES,
    KEY_ID,
    CryptoError,
    EncryptedColumn,
    EncryptedTable,
    Keyring,
)

BUSINESS_CONTEXT = "key rotation"
MALFORMED = "(malformed)"

keys_app = typer.Typer(help="Field-encryption keys: status, rotation, new keys.")


@dataclass
class RotationReport:
    """What one pass of rotate() did."""

    rows: dict[str, int] = field(default_factory=dict)  # table -> rows re-encrypted
    values: int = 0  # column values re-encrypted
    failed: int = 0  # values no configured key opens (left as they were)
    remaining: int = 0  # values still under an old key after the pass (locked or failed)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _prefix(ring: Keyring) -> str:
    return ring.current + "$"


def _old_key(col: EncryptedColumn, ring: Keyring) -> sql.Composable:
    """SQL: the column holds a value that is not under the current key."""
    prefix = _prefix(ring)
    if col.text:
        return sql.SQL("({c} IS NOT NULL AND left({c}, {n}) IS DISTINCT FROM {p})").format(
            c=sql.Identifier(col.name), n=sql.Literal(len(prefix)), p=sql.Literal(prefix)
        )
    return sql.SQL(
        "({c} IS NOT NULL AND substring({c} from 1 for {n}) IS DISTINCT FROM {p}::bytea)"
    ).format(
        c=sql.Identifier(col.name),
        n=sql.Literal(len(prefix.encode())),
        p=sql.Literal(prefix.encode()),
    )


def _any_old(table: EncryptedTable, ring: Keyring) -> sql.Composable:
    return sql.SQL(" OR ").join(_old_key(col, ring) for col in table.columns)


def _key_id_expr(col: EncryptedColumn) -> sql.Composable:
    """SQL: the key id of a value, or MALFORMED; a non-blob value is never shown."""
    c = sql.Identifier(col.name)
    if col.text:
        kid = sql.SQL("split_part({c}, '$', 1)").format(c=c)
        has_sep = sql.SQL("position('$' in {c}) > 0").format(c=c)
    else:
        kid = sql.SQL(
            "encode(substring({c} from 1 for greatest(position('\\x24'::bytea in {c}) - 1, 0)),"
            " 'escape')"
        ).format(c=c)
        has_sep = sql.SQL("position('\\x24'::bytea in {c}) > 0").format(c=c)
    return sql.SQL("CASE WHEN {has} AND {kid} ~ {rx} THEN {kid} ELSE {bad} END").format(
        has=has_sep, kid=kid, rx=sql.Literal(KEY_ID.pattern), bad=sql.Literal(MALFORMED)
    )


def select_tables(names: Iterable[str] | None) -> tuple[EncryptedTable, ...]:
    """The registry entries named (all when none); ValueError for an unknown name."""
    wanted = list(names or [])
    if not wanted:
        return ENCRYPTED_TABLES
    known = {t.table: t for t in ENCRYPTED_TABLES}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(
            f"no encrypted table {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return tuple(known[n] for n in dict.fromkeys(wanted))


def key_status(
    conn: Connection[Any], tables: Sequence[EncryptedTable] = ENCRYPTED_TABLES
) -> list[tuple[str, str, str, int]]:
    """(table, column, key id, values) for every non-NULL encrypted value."""
    rows: list[tuple[str, str, str, int]] = []
    for table in tables:
        for col in table.columns:
            query = sql.SQL(
                "SELECT {kid} AS kid, count(*) FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).format(kid=_key_id_expr(col), t=_ident(table.table), c=sql.Identifier(col.name))
            for kid, count in conn.execute(query).fetchall():
                rows.append((table.table, col.name, str(kid), int(count)))
    return rows


def count_old(
    conn: Connection[Any], ring: Keyring, tables: Sequence[EncryptedTable] = ENCRYPTED_TABLES
) -> int:
    """Values still under a key other than the current one."""
    total = 0
    for table in tables:
        for col in table.columns:
            query = sql.SQL("SELECT count(*) FROM {t} WHERE {cond}").format(
                t=_ident(table.table), cond=_old_key(col, ring)
            )
            row = conn.execute(query).fetchone()
            total += int(row[0]) if row else 0
    return total


def _reencrypt(col: EncryptedColumn, value: Any, ring: Keyring) -> tuple[Any, str]:
    """(value to store, "same" | "new" | "failed"): unchanged when it is NULL, already under
    the current key, or no configured key opens it."""
    if value is None:
        return None, "same"
    try:
        if col.text:
            text = str(value)
            if text.startswith(_prefix(ring)):
                return text, "same"
            return ring.reencrypt_text(text), "new"
        blob = bytes(value)
        if blob.startswith(_prefix(ring).encode()):
            return blob, "same"
        return ring.reencrypt(blob), "new"
    except CryptoError:
        return value, "failed"


def _rotate_batch(
    conn: Connection[Any],
    table: EncryptedTable,
    ring: Keyring,
    after: tuple[Any, ...] | None,
    batch: int,
    report: RotationReport,
) -> tuple[tuple[Any, ...] | None, int]:
    """One transaction: lock, re-encrypt and update up to `batch` rows after `after`.
    Returns (last key seen or None when the table is done, rows updated)."""
    key_cols = sql.SQL(", ").join(sql.Identifier(k) for k in table.key)
    enc_cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    keyset: sql.Composable = sql.SQL("")
    params: list[Any] = []
    if after is not None:
        keyset = sql.SQL(" AND ({k}) > ({v})").format(
            k=key_cols, v=sql.SQL(", ").join(sql.Placeholder() for _ in table.key)
        )
        params.extend(after)
    select = sql.SQL(
        "SELECT {k}, {e} FROM {t} WHERE ({cond}){keyset} ORDER BY {k} LIMIT {n}"
        " FOR UPDATE SKIP LOCKED"
    ).format(
        k=key_cols,
        e=enc_cols,
        t=_ident(table.table),
        cond=_any_old(table, ring),
        keyset=keyset,
        n=sql.Literal(batch),
    )
    sets = [sql.SQL("{c} = %s").format(c=sql.Identifier(c.name)) for c in table.columns]
    if table.key_id_column:
        sets.append(
            sql.SQL("{c} = CASE WHEN %s THEN {cur} ELSE {c} END").format(
                c=sql.Identifier(table.key_id_column), cur=sql.Literal(ring.current)
            )
        )
    update = sql.SQL("UPDATE {t} SET {sets} WHERE {where}").format(
        t=_ident(table.table),
        sets=sql.SQL(", ").join(sets),
        where=sql.SQL(" AND ").join(
            sql.SQL("{k} = %s").format(k=sql.Identifier(k)) for k in table.key
        ),
    )
    nkey = len(table.key)
    with conn.transaction():
        conn.execute("SELECT set_config('app.business_context', %s, true)", (BUSINESS_CONTEXT,))
        rows = conn.execute(select, params).fetchall()
        if not rows:
            return None, 0
        updates = []
        for row in rows:
            key, values = tuple(row[:nkey]), row[nkey:]
            new_values = []
            all_ok = True
            for col, value in zip(table.columns, values, strict=True):
                new, outcome = _reencrypt(col, value, ring)
                new_values.append(new)
                if outcome == "failed":
                    all_ok = False
                    report.failed += 1
                elif outcome == "new":
                    report.values += 1
            args: list[Any] = list(new_values)
            if table.key_id_column:
                has_value = any(v is not None for v in new_values)
                args.append(all_ok and has_value)
            updates.append((*args, *key))
        with conn.cursor() as cur:
            cur.executemany(update, updates)
    return tuple(rows[-1][:nkey]), len(rows)


def rotate(
    conn: Connection[Any],
    ring: Keyring,
    *,
    batch: int = 500,
    tables: Sequence[EncryptedTable] = ENCRYPTED_TABLES,
    progress: Callable[[str, int, int], None] | None = None,
) -> RotationReport:
    """One pass over `tables` (see the module docstring); `conn` must be in autocommit mode.
    `progress(table, rows in this batch, rows so far)` is called after each batch."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = RotationReport()
    for table in tables:
        done = 0
        after: tuple[Any, ...] | None = None
        while True:
            after, count = _rotate_batch(conn, table, ring, after, batch, report)
            if after is None:
                break
            done += count
            if progress is not None:
                progress(table.table, count, done)
        report.rows[table.table] = done
    report.remaining = count_old(conn, ring, tables)
    return report


# --- commands -------------------------------------------------------------------------------


def _connect(url: str) -> Connection[Any]:
    import psycopg

    return psycopg.connect(url, autocommit=True)


@keys_app.command("status")
def status_command(
    table: list[str] | None = typer.Option(None, "--table", help="Only this table (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Count the encrypted values per table, column and key id."""
    from polis.cli import database, friendly
    from polis.platform.crypto import get_keyring

    @friendly
    def run() -> None:
        ring = get_keyring()
        tables = select_tables(table)
        with database() as url, _connect(url) as conn:
            rows = key_status(conn, tables)
        if as_json:
            out = [
                {"table": t, "column": c, "key_id": k, "values": n, "current": k == ring.current}
                for t, c, k, n in rows
            ]
            typer.echo(json.dumps({"current_key_id": ring.current, "columns": out}, indent=2))
            return
        typer.echo(f"current key id: {ring.current}")
        if not rows:
            typer.echo("no encrypted values")
        for t, c, k, n in rows:
            marker = "current" if k == ring.current else "old, rotate"
            if k == MALFORMED:
                marker = "not a ciphertext"
            elif k != ring.current and k not in ring.keys:
                marker = "old, key not configured"
            typer.echo(f"{t}.{c}\t{k}\t{n}\t{marker}")
        old = sum(n for _, _, k, n in rows if k != ring.current)
        typer.echo(f"{old} values under other keys")

    run()


@keys_app.command("rotate")
def rotate_command(
    batch: int = typer.Option(500, "--batch", min=1, help="Rows per transaction."),
    table: list[str] | None = typer.Option(None, "--table", help="Only this table (repeat)."),
) -> None:
    """Re-encrypt every value under an old key into the current key (first of
    ENCRYPTION_KEYS), in batches, while the service runs. Exit 0 when none is left, 2 when
    some remain (rows locked by running transactions, or values no key opens): run again."""
    from polis.cli import database, friendly
    from polis.platform.crypto import get_keyring

    @friendly
    def run() -> int:
        ring = get_keyring()
        tables = select_tables(table)

        def progress(name: str, count: int, done: int) -> None:
            typer.echo(f"{name}: {count} rows re-encrypted ({done} so far)")

        with database() as url, _connect(url) as conn:
            before = count_old(conn, ring, tables)
            typer.echo(f"current key id: {ring.current}; {before} values under other keys")
            report = rotate(conn, ring, batch=batch, tables=tables, progress=progress)
        rows = sum(report.rows.values())
        typer.echo(f"re-encrypted {report.values} values in {rows} rows")
        if report.failed:
            typer.echo(
                f"{report.failed} values could not be decrypted with ENCRYPTION_KEYS (left as"
                " they were): see `polis keys status`",
                err=True,
            )
        if report.remaining:
            typer.echo(
                f"{report.remaining} values are still under other keys (rows locked by running"
                " transactions are skipped): run `polis keys rotate` again",
                err=True,
            )
            return 2
        typer.echo("every encrypted value is under the current key")
        return 0

    code = run()
    if code:
        raise typer.Exit(code)


@keys_app.command("new")
def new_command(kid: str = typer.Argument(..., help="Key id, e.g. 2027a")) -> None:
    """Print a new random key as `kid:base64` (put it first in ENCRYPTION_KEYS)."""
    if not KEY_ID.match(kid):
        typer.echo("polis: error: a key id is 1-50 letters, digits, '.', '_' or '-'", err=True)
        raise typer.Exit(1)
    typer.echo(f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}")


def register(app: typer.Typer) -> None:
    """Attach `polis keys ...` to the `polis` command."""
    app.add_typer(keys_app, name="keys")
