"""Field encryption (AES-256-GCM with key ids) and blind indexes (HMAC-SHA256).

Keys come from settings (`ENCRYPTION_KEYS` as `kid:base64key,...`, the first is current;
`BLIND_INDEX_KEY` as base64). With neither set, a development key pair is generated once
into `var/secrets.json` (mode 600, never committed) so a fresh checkout works.
Ciphertext layout: `kid` (utf-8) + b"$" + 12-byte nonce + AES-GCM ciphertext||tag; the
kid is also the associated data, so a blob cannot be relabelled to another key. Text
columns (`card_token`, `two_factor_secret`) hold the same blob as `kid$base64(nonce||ct)`.
`ENCRYPTED_TABLES` lists every encrypted column for `polis keys rotate` (decision 0060).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from polis.config import Settings, get_settings


class CryptoError(ValueError):
    """A ciphertext that cannot be decrypted with the keys we have."""


@dataclass(frozen=True)
class Sealed:
    """A sensitive value as the schema stores it: mask, ciphertext, blind index, key id."""

    masked: str
    ciphertext: bytes
    blind_index: str
    key_id: str


@dataclass(frozen=True)
class Keyring:
    """Encryption keys by id (the first is used to encrypt) and the blind-index key."""

    keys: dict[str, bytes]
    current: str
    blind_key: bytes

    def encrypt(self, plaintext: str) -> bytes:
        """AES-GCM encrypt under the current key."""
        kid = self.current.encode()
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), kid)
        return kid + b"$" + nonce + sealed

    def decrypt(self, blob: bytes) -> str:
        """Decrypt a blob written by encrypt(), under whichever key id it names."""
        kid, sep, rest = bytes(blob).partition(b"$")
        key = self.keys.get(kid.decode(errors="replace"))
        if not sep or key is None or len(rest) < 13:
            raise CryptoError("unknown key id or malformed ciphertext")
        try:
            return AESGCM(key).decrypt(rest[:12], rest[12:], kid).decode()
        except Exception as exc:  # cryptography raises InvalidTag
            raise CryptoError("ciphertext failed authentication") from exc

    def key_id(self, blob: bytes) -> str:
        """The key id a blob was encrypted under."""
        return bytes(blob).partition(b"$")[0].decode()

    def encrypt_text(self, plaintext: str) -> str:
        """encrypt() for a text column: `kid$base64(nonce||ciphertext)`."""
        kid, _, rest = self.encrypt(plaintext).partition(b"$")
        return kid.decode() + "$" + base64.b64encode(rest).decode()

    def decrypt_text(self, value: str) -> str:
        """Decrypt a text column value written by encrypt_text()."""
        kid, sep, rest = value.partition("$")
        try:
            raw = base64.b64decode(rest, validate=True)
        except ValueError as exc:
            raise CryptoError("malformed ciphertext") from exc
        if not sep:
            raise CryptoError("malformed ciphertext")
        return self.decrypt(kid.encode() + b"$" + raw)

    def reencrypt(self, blob: bytes) -> bytes:
        """The same plaintext under the current key (rotation); CryptoError if unreadable."""
        return self.encrypt(self.decrypt(blob))

    def reencrypt_text(self, value: str) -> str:
        """reencrypt() for a text column value."""
        return self.encrypt_text(self.decrypt_text(value))

    def seal(self, value: str) -> Sealed:
        """Everything the `<col>`, `<col>_encrypted`, `<col>_hash` and key id columns hold."""
        return Sealed(mask(value) or "", self.encrypt(value), self.blind_index(value), self.current)

    def blind_index(self, value: str, *, normalise: bool = True) -> str:
        """Keyed hash for lookups and uniqueness; normalises spacing, dashes and case."""
        if normalise:
            value = "".join(ch for ch in value if ch.isalnum()).upper()
        return hmac.new(self.blind_key, value.encode(), hashlib.sha256).hexdigest()


def mask(value: str | None, visible: int = 4, fill: str = "*") -> str | None:
    """Show only the last `visible` characters (for display, logs and the seed's columns)."""
    if value is None:
        return None
    return fill * max(len(value) - visible, 0) + value[-visible:]


def _dev_secrets(settings: Settings) -> dict[str, str]:
    path = settings.var_dir / "secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "encryption_keys": "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return data


KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,50}$")


def keyring_from(encryption_keys: str, blind_index_key: str) -> Keyring:
    """Parse `kid:base64,...` and a base64 blind-index key."""
    keys: dict[str, bytes] = {}
    for part in encryption_keys.split(","):
        kid, _, b64 = part.strip().partition(":")
        key = base64.b64decode(b64)
        if not KEY_ID.match(kid) or len(key) != 32:
            raise ValueError(
                "ENCRYPTION_KEYS entries must be kid:base64(32 bytes), kid of letters, digits,"
                " '.', '_' or '-' (at most 50)"
            )
        if kid in keys:
            raise ValueError(f"ENCRYPTION_KEYS names key id {kid!r} twice")
        keys[kid] = key
    blind = base64.b64decode(blind_index_key)
    if len(blind) < 32:
        raise ValueError("BLIND_INDEX_KEY must be at least 32 bytes, base64")
    return Keyring(keys=keys, current=next(iter(keys)), blind_key=blind)


@lru_cache
def get_keyring() -> Keyring:
    """The process keyring, from settings or the development secrets file."""
    settings = get_settings()
    enc, blind = settings.encryption_keys, settings.blind_index_key
    if not enc or not blind:
        dev = _dev_secrets(settings)
        enc, blind = enc or dev["encryption_keys"], blind or dev["blind_index_key"]
    return keyring_from(enc, blind)


# --- the encrypted columns (key rotation, `polis keys`) ---------------------------------------


@dataclass(frozen=True)
class EncryptedColumn:
    """One column holding ciphertext: bytea `kid$nonce||ct`, or text `kid$base64(...)`."""

    name: str
    text: bool = False


@dataclass(frozen=True)
class EncryptedTable:
    """A table with encrypted columns, its primary key and its optional key-id column."""

    table: str
    key: tuple[str, ...]
    columns: tuple[EncryptedColumn, ...]
    key_id_column: str | None = None


# Every encrypted column of the schema (decisions 0007, 0012, 0032). Blind indexes (`*_hash`)
# are not here: their key never rotates. tests/platform/test_keys.py checks this list
# against the database, so a new `*_encrypted` column cannot be forgotten.
ENCRYPTED_TABLES: tuple[EncryptedTable, ...] = (
    EncryptedTable("iam.users", ("id",), (EncryptedColumn("two_factor_secret", text=True),)),
    EncryptedTable(
        "member.member",
        ("id",),
        (EncryptedColumn("national_id_encrypted"), EncryptedColumn("passport_number_encrypted")),
        "encryption_key_id",
    ),
    EncryptedTable(
        "provider.provider",
        ("id",),
        (EncryptedColumn("bank_account_encrypted"),),
        "encryption_key_id",
    ),
    EncryptedTable(
        "billing.payment",
        ("id",),
        (EncryptedColumn("account_number_encrypted"),),
        "encryption_key_id",
    ),
    EncryptedTable(
        "motor.customers",
        ("id",),
        (EncryptedColumn("national_id_encrypted"),),
        "encryption_key_id",
    ),
    EncryptedTable(
        "motor.customer_documents", ("id",), (EncryptedColumn("document_number_encrypted"),)
    ),
    EncryptedTable(
        "motor.payments",
        ("id", "created_at"),
        (
            EncryptedColumn("card_token", text=True),
            EncryptedColumn("bank_account_number_encrypted"),
        ),
    ),
    EncryptedTable(
        "motor.claim_settlements", ("id",), (EncryptedColumn("bank_account_number_encrypted"),)
    ),
)
