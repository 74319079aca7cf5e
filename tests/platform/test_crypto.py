"""Field encryption and blind indexes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.platform.crypto import CryptoError, keyring_from, mask

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
BLIND = base64.b64encode(b"b" * 32).decode()


@given(st.text(max_size=200))
def test_round_trip(value: str) -> None:
    ring = keyring_from(f"k1:{K1}", BLIND)
    blob = ring.encrypt(value)
    if len(value.encode()) >= 16:
        # a long plaintext never survives verbatim; short ones may collide by chance
        assert value.encode() not in blob
    assert ring.decrypt(blob) == value


def test_old_key_still_decrypts_after_rotation() -> None:
    old = keyring_from(f"k1:{K1}", BLIND)
    blob = old.encrypt("3100600445635")
    rotated = keyring_from(f"k2:{K2},k1:{K1}", BLIND)
    assert rotated.decrypt(blob) == "3100600445635"
    assert rotated.key_id(rotated.encrypt("x")) == "k2"


def test_tampered_or_relabelled_ciphertext_is_refused() -> None:
    ring = keyring_from(f"k2:{K2},k1:{K1}", BLIND)
    blob = ring.encrypt("secret")
    with pytest.raises(CryptoError):
        ring.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(CryptoError):
        ring.decrypt(b"k1" + blob[2:])  # same bytes under another key id


def test_blind_index_normalises_and_is_keyed() -> None:
    ring = keyring_from(f"k1:{K1}", BLIND)
    assert ring.blind_index("3-1006-00445-63-5") == ring.blind_index("3100600445635")
    other = keyring_from(f"k1:{K1}", base64.b64encode(b"c" * 32).decode())
    assert other.blind_index("3100600445635") != ring.blind_index("3100600445635")


def test_mask() -> None:
    assert mask("3100600445635") == "*********5635"
    assert mask("12") == "12"
    assert mask(None) is None


def test_seal_gives_every_stored_form_of_one_value() -> None:
    ring = keyring_from(f"k2:{K2},k1:{K1}", BLIND)
    sealed = ring.seal("3171014506900001")
    assert sealed.masked == "************0001"
    assert ring.decrypt(sealed.ciphertext) == "3171014506900001"
    assert sealed.blind_index == ring.blind_index("3171014506900001")
    assert sealed.key_id == "k2" == ring.key_id(sealed.ciphertext)
