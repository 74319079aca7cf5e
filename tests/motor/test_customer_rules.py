"""Pure rules of motor customers and vehicles (polis.motor.customer_rules), with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.motor import customer_rules as rules

digits12 = st.lists(st.integers(0, 9), min_size=11, max_size=11)


def _pin(first: int, rest: list[int]) -> str:
    digits = [first, *rest]
    check = (11 - sum(d * (13 - i) for i, d in enumerate(digits)) % 11) % 10
    return "".join(map(str, digits)) + str(check)


pins = st.builds(_pin, st.integers(1, 8), digits12)
separators = st.sampled_from(["", " ", "-", " - "])


class TestNationalId:
    def test_known_values(self) -> None:
        assert rules.normalise_national_id("1101700230708") == "1101700230708"
        with pytest.raises(ValueError) as err:
            rules.normalise_national_id("3100600445636")
        assert "3100600445636" not in str(err.value)
        for bad in ("", "123", "110170023070", "11017002307081", "abcdefghijklm"):
            with pytest.raises(ValueError):
                rules.normalise_national_id(bad)

    @given(pins, separators)
    def test_valid_ids_survive_any_separators(self, pin: str, sep: str) -> None:
        spaced = sep.join([pin[0], pin[1:5], pin[5:10], pin[10:12], pin[12]])
        assert rules.normalise_national_id(spaced) == pin

    @given(pins, st.integers(1, 9))
    def test_a_wrong_check_digit_is_refused(self, pin: str, shift: int) -> None:
        wrong = pin[:12] + str((int(pin[12]) + shift) % 10)
        with pytest.raises(ValueError):
            rules.normalise_national_id(wrong)


class TestContacts:
    @given(
        st.from_regex(r"[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9]{1,10}\.(co\.th|com|th)", fullmatch=True)
    )
    def test_email_is_lower_cased_and_stable(self, email: str) -> None:
        if ".." in email:
            return
        once = rules.normalise_email(email)
        assert once == email.lower()
        assert rules.normalise_email(once) == once

    @pytest.mark.parametrize("bad", ["plain", "a@b", "a@@b.com", "a b@c.com", "@x.com"])
    def test_bad_emails(self, bad: str) -> None:
        with pytest.raises(ValueError):
            rules.normalise_email(bad)

    @given(st.sampled_from(["6", "8", "9"]), st.from_regex(r"[0-9]{8}", fullmatch=True))
    def test_thai_mobile_forms_agree(self, lead: str, rest: str) -> None:
        national = f"0{lead}{rest}"
        spaced = f"0{lead}{rest[:2]}-{rest[2:5]}-{rest[5:]}"
        assert rules.normalise_phone(national) == national
        assert rules.normalise_phone(spaced) == national
        assert rules.normalise_phone(f"+66 {lead}{rest}") == national
        assert rules.normalise_phone(f"0066{lead}{rest}") == national
        assert rules.normalise_phone(rules.normalise_phone(spaced)) == national

    @pytest.mark.parametrize("bad", ["12", "0812", "+0123456789", "phone", "1234567890123456789"])
    def test_bad_phones(self, bad: str) -> None:
        with pytest.raises(ValueError):
            rules.normalise_phone(bad)


class TestNames:
    @pytest.mark.parametrize("name", ["สมชาย", "ณัฐพงษ์", "Mary-Jane", "O'Neil", "Jean  Luc"])
    def test_accepted(self, name: str) -> None:
        assert rules.check_name(name) == " ".join(name.split())

    @pytest.mark.parametrize("name", ["Som1", "สม๑", "฿", "...", "a_b", "<script>"])
    def test_refused(self, name: str) -> None:
        with pytest.raises(ValueError):
            rules.check_name(name)

    def test_english_names_are_latin(self) -> None:
        assert rules.check_name("Somchai", latin_only=True) == "Somchai"
        with pytest.raises(ValueError):
            rules.check_name("สมชาย", latin_only=True)


class TestKyc:
    @given(st.sampled_from(rules.KYC_STATUSES))
    def test_staying_put_is_allowed(self, status: str) -> None:
        assert rules.kyc_transition_allowed(status, status)

    def test_table(self) -> None:
        allowed = {
            (a, b)
            for a in rules.KYC_STATUSES
            for b in rules.KYC_STATUSES
            if a != b and rules.kyc_transition_allowed(a, b)
        }
        assert allowed == {
            ("PENDING", "IN_PROGRESS"),
            ("PENDING", "VERIFIED"),
            ("PENDING", "REJECTED"),
            ("IN_PROGRESS", "PENDING"),
            ("IN_PROGRESS", "VERIFIED"),
            ("IN_PROGRESS", "REJECTED"),
            ("REJECTED", "PENDING"),
            ("REJECTED", "IN_PROGRESS"),
        }

    def test_every_status_is_reachable_from_pending(self) -> None:
        seen, todo = {"PENDING"}, ["PENDING"]
        while todo:
            for nxt in rules.KYC_TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen == set(rules.KYC_STATUSES)

    def test_consent_flags_are_a_bijection(self) -> None:
        assert {v: k for k, v in rules.CONSENT_FLAGS.items()} == rules.FLAG_CONSENTS
        assert set(rules.CONSENT_FLAGS) <= set(rules.CONSENT_TYPES)
        assert set(rules.CONSENT_PURPOSES) == set(rules.CONSENT_TYPES)


class TestGeography:
    @pytest.mark.parametrize(
        ("given_", "expected"),
        [
            ("จังหวัดเชียงใหม่", "เชียงใหม่"),
            ("จ. เชียงใหม่", "เชียงใหม่"),
            ("เขตพระนคร", "พระนคร"),
            ("แขวงวังบูรพาภิรมย์", "วังบูรพาภิรมย์"),
            ("Amphoe  Mueang Chiang Mai", "mueang chiang mai"),
            ("  BANGKOK ", "bangkok"),
        ],
    )
    def test_geo_key(self, given_: str, expected: str) -> None:
        assert rules.geo_key(given_) == expected

    def test_province_aliases_are_keyed_as_geo_key_gives_them(self) -> None:
        for alias in rules.PROVINCE_ALIASES:
            assert rules.geo_key(alias) == alias

    def test_geo_code(self) -> None:
        assert rules.geo_code("10", 2) == "10"
        assert rules.geo_code("1001", 2) is None
        assert rules.geo_code("Bangkok", 2) is None

    @given(st.text(min_size=1, max_size=30))
    def test_geo_key_is_case_and_space_blind(self, text: str) -> None:
        assert rules.geo_key(f"  {text.upper()}  ") == rules.geo_key(text.upper())


thai_letters = st.sampled_from("กขคฆงจฉชซญฎฐฒณดตถทธนบปผพฟภมยรลวศษสหฬอฮ")


class TestVehicles:
    @given(
        st.sampled_from(["", "1", "9"]),
        st.lists(thai_letters, min_size=1, max_size=2).map("".join),
        st.integers(1, 9999),
        separators,
    )
    def test_registration_has_one_spelling(
        self, prefix: str, letters: str, number: int, sep: str
    ) -> None:
        canonical = f"{prefix}{letters} {number}"
        written = f"{prefix}{sep}{letters}{sep}{number}"
        assert rules.normalise_registration(written) == canonical
        assert rules.normalise_registration(canonical) == canonical

    @given(st.text(min_size=1, max_size=25))
    def test_registration_is_idempotent_or_refused(self, text: str) -> None:
        try:
            once = rules.normalise_registration(text)
        except ValueError:
            return
        assert rules.normalise_registration(once) == once
        assert len(once) <= 20

    def test_numeric_plates(self) -> None:
        assert rules.normalise_registration("70 1234") == "70-1234"
        assert rules.normalise_registration("70-1234") == "70-1234"
        with pytest.raises(ValueError):
            rules.normalise_registration("กขค")

    @given(st.from_regex(r"[A-HJ-NPR-Z0-9]{17}", fullmatch=True))
    def test_vins_are_accepted_in_any_case(self, vin: str) -> None:
        assert rules.normalise_chassis(vin.lower()) == vin
        assert rules.normalise_chassis(f"{vin[:8]} {vin[8:]}") == vin

    @given(st.from_regex(r"[A-HJ-NPR-Z0-9]{16}", fullmatch=True), st.sampled_from("IOQ"))
    def test_17_characters_with_i_o_q_are_refused(self, body: str, letter: str) -> None:
        with pytest.raises(ValueError):
            rules.normalise_chassis(body[:5] + letter + body[5:])

    def test_frame_numbers(self) -> None:
        assert rules.normalise_chassis("kdh222-0012345") == "KDH222-0012345"
        for bad in ("ab", "A--B123", "ABC#123", "-ABC123"):
            with pytest.raises(ValueError):
                rules.normalise_chassis(bad)

    @given(st.integers(1800, 2200))
    def test_year_range(self, year: int) -> None:
        now = datetime(2026, 11, 23, tzinfo=UTC)
        if 1950 <= year <= 2027:
            assert rules.check_year_of_manufacture(year, now) == year
        else:
            with pytest.raises(ValueError):
                rules.check_year_of_manufacture(year, now)

    def test_max_year_uses_utc(self) -> None:
        # 2026-12-31 23:30 in UTC is already 2027 in Bangkok; the database CHECK uses UTC.
        assert rules.max_year_of_manufacture(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 2027
