"""The DLT client against the sandbox over real HTTP: valid / expired / unknown answers with
the raw JSON, retries on 5xx and timeouts but not on 4xx, the circuit breaker opening after N
failed attempts and failing fast without a request (counted on the sandbox), the half-open
trial, and the sandbox refusing a request without its API key."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.config import Settings
from polis.integrations.dlt import (
    CircuitBreaker,
    DltCircuitOpen,
    DltClient,
    DltRejected,
    DltUnavailable,
)
from polis.integrations.dlt_sandbox import (
    CHECK_PATH,
    bangkok_today,
    outcome,
    plate_number,
    start_for_demo,
)
from tests.integrations.sandbox import KEY, RunningSandbox, closed_port_url, running_sandbox

BANGKOK = "กรุงเทพมหานคร"
REFERENCE = re.compile(r"^DLT\d{8}\d{8}$")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(slow_seconds=1.0, flaky_failures=2) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(base_url: str, **options: object) -> DltClient:
    defaults: dict[str, object] = {
        "timeout_seconds": 2.0,
        "retries": 2,
        "breaker_failures": 5,
        "breaker_reset_seconds": 30.0,
        "backoff_seconds": 0.01,
    }
    defaults.update(options)
    return DltClient(base_url, KEY, **defaults)  # type: ignore[arg-type]


class TestAnswers:
    async def test_valid(self, sandbox: RunningSandbox) -> None:
        result = await make_client(sandbox.base_url).check_registration(
            "1กข 1234", BANGKOK, "MR0FZ29G501234567"
        )
        assert result.status == "VALID" and result.http_status == 200
        assert (result.registration_valid, result.tax_paid) == (True, True)
        assert result.registration_expiry == bangkok_today() + timedelta(days=60 + 1234 % 300)
        assert result.reference_number is not None
        assert REFERENCE.match(result.reference_number)
        raw = result.raw
        assert raw["reference_number"] == result.reference_number
        assert raw["status"] == "VALID"
        assert raw["registration_number"] == "1กข 1234" and raw["province"] == BANGKOK
        assert raw["chassis_number"] == "MR0FZ29G501234567"
        assert raw["registration_expiry"] == result.registration_expiry.isoformat()
        assert sandbox.state.requests == 1

    async def test_expired(self, sandbox: RunningSandbox) -> None:
        result = await make_client(sandbox.base_url).check_registration("2ขค 5677", BANGKOK)
        assert result.status == "EXPIRED"
        assert (result.registration_valid, result.tax_paid) == (False, False)
        assert result.registration_expiry == bangkok_today() - timedelta(days=1 + 5677 % 300)
        assert result.raw["status"] == "EXPIRED" and result.raw["chassis_number"] is None

    async def test_unknown_is_an_answer_not_an_error(self, sandbox: RunningSandbox) -> None:
        client = make_client(sandbox.base_url)
        result = await client.check_registration("1กข 1239", BANGKOK)
        assert result.status == "NOT_FOUND" and result.http_status == 404
        assert (result.registration_valid, result.tax_paid) == (False, False)
        assert result.registration_expiry is None
        assert result.raw["status"] == "NOT_FOUND"
        assert result.reference_number == result.raw["reference_number"]
        assert sandbox.state.requests == 1  # a 404 is not retried
        assert client.breaker.consecutive_failures == 0

    async def test_reference_numbers_are_unique(self, sandbox: RunningSandbox) -> None:
        client = make_client(sandbox.base_url)
        refs = {(await client.check_registration("1กข 1234", BANGKOK)).reference_number}
        refs.add((await client.check_registration("1กข 1234", BANGKOK)).reference_number)
        assert len(refs) == 2

    async def test_a_404_without_the_checks_body_is_refused(self, sandbox: RunningSandbox) -> None:
        """A wrong base URL (any server's 404) is never taken for an unknown vehicle."""
        client = make_client(sandbox.base_url + "/wrong")
        with pytest.raises(DltRejected) as info:
            await client.check_registration("1กข 1234", BANGKOK)
        assert info.value.status_code == 404


class TestApiKey:
    async def test_sandbox_refuses_a_request_without_the_key(self, sandbox: RunningSandbox) -> None:
        body = {"registration_number": "1กข 1234", "province": BANGKOK}
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            missing = await http.post(CHECK_PATH, json=body)
            wrong = await http.post(CHECK_PATH, json=body, headers={"X-API-Key": "nope"})
            right = await http.post(CHECK_PATH, json=body, headers={"X-API-Key": KEY})
        assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
        assert missing.json()["status"] == "UNAUTHORIZED"
        assert "reference_number" not in missing.json()
        assert sandbox.state.requests == 3
        assert sum(sandbox.state.by_plate.values()) == 1  # only the authorised one was checked

    async def test_client_with_a_wrong_key_is_rejected_without_retries(
        self, sandbox: RunningSandbox
    ) -> None:
        client = DltClient(sandbox.base_url, "wrong", retries=3, backoff_seconds=0.01)
        with pytest.raises(DltRejected) as info:
            await client.check_registration("1กข 1234", BANGKOK)
        assert info.value.status_code == 401
        assert sandbox.state.requests == 1
        assert client.breaker.state == "closed" and client.breaker.consecutive_failures == 0


class TestRetries:
    async def test_flaky_plate_succeeds_after_retries(self, sandbox: RunningSandbox) -> None:
        client = make_client(sandbox.base_url, retries=2)
        result = await client.check_registration("1กข 9981", BANGKOK)
        assert result.status == "VALID"
        assert sandbox.state.by_plate[("1กข 9981", BANGKOK)] == 3  # 503, 503, 200
        assert client.breaker.consecutive_failures == 0

    async def test_too_few_retries_give_up_then_a_later_call_succeeds(
        self, sandbox: RunningSandbox
    ) -> None:
        client = make_client(sandbox.base_url, retries=1)
        with pytest.raises(DltUnavailable) as info:
            await client.check_registration("1กข 9981", BANGKOK)
        assert not isinstance(info.value, DltCircuitOpen)
        assert info.value.attempts == 2 and "HTTP 503" in str(info.value)
        assert (await client.check_registration("1กข 9981", BANGKOK)).status == "VALID"
        assert sandbox.state.requests == 3

    async def test_timeouts_are_retried_then_unavailable(self, sandbox: RunningSandbox) -> None:
        client = make_client(sandbox.base_url, retries=1, timeout_seconds=0.2)
        t0 = time.monotonic()
        with pytest.raises(DltUnavailable) as info:
            await client.check_registration("1กข 9975", BANGKOK)
        assert time.monotonic() - t0 < 0.9  # the sandbox sleeps 1 s per attempt
        assert info.value.attempts == 2 and "timed out" in str(info.value)
        assert sandbox.state.requests == 2

    async def test_slow_plate_within_the_timeout_is_valid(self, sandbox: RunningSandbox) -> None:
        client = make_client(sandbox.base_url, retries=0, timeout_seconds=3.0)
        assert (await client.check_registration("1กข 9975", BANGKOK)).status == "VALID"

    async def test_connection_refused_is_retried_then_unavailable(self) -> None:
        client = make_client(closed_port_url(), retries=2)
        with pytest.raises(DltUnavailable) as info:
            await client.check_registration("1กข 1234", BANGKOK)
        assert info.value.attempts == 3 and "ConnectError" in str(info.value)
        assert client.breaker.consecutive_failures == 3


class TestCircuitBreaker:
    async def test_opens_after_n_failures_fails_fast_and_recovers(
        self, sandbox: RunningSandbox
    ) -> None:
        clock = Clock()
        client = make_client(
            sandbox.base_url,
            retries=2,
            breaker_failures=3,
            breaker_reset_seconds=10.0,
            clock=clock,
        )
        # Three failed attempts (one call with its two retries) open the breaker.
        with pytest.raises(DltUnavailable) as info:
            await client.check_registration("1กข 9995", BANGKOK)
        assert info.value.attempts == 3
        assert sandbox.state.requests == 3
        assert client.breaker.state == "open"

        # While open: fail fast, no request, whatever the plate.
        for plate in ("1กข 9995", "1กข 1234"):
            with pytest.raises(DltCircuitOpen) as fast:
                await client.check_registration(plate, BANGKOK)
            assert fast.value.retry_after == pytest.approx(10.0)
        assert sandbox.state.requests == 3

        # After the reset period, one trial; it fails, so the breaker opens again at once
        # (no retries through an open breaker).
        clock.now += 10.0
        assert client.breaker.state == "half-open"
        with pytest.raises(DltCircuitOpen):
            await client.check_registration("1กข 9995", BANGKOK)
        assert sandbox.state.requests == 4
        assert client.breaker.state == "open"

        # A successful trial closes it.
        clock.now += 10.0
        assert (await client.check_registration("1กข 1234", BANGKOK)).status == "VALID"
        assert sandbox.state.requests == 5
        assert client.breaker.state == "closed"
        assert (await client.check_registration("1กข 1234", BANGKOK)).status == "VALID"

    async def test_real_time_reset(self, sandbox: RunningSandbox) -> None:
        client = make_client(
            sandbox.base_url, retries=0, breaker_failures=1, breaker_reset_seconds=0.2
        )
        with pytest.raises(DltUnavailable):
            await client.check_registration("1กข 9990", BANGKOK)
        with pytest.raises(DltCircuitOpen):
            await client.check_registration("1กข 1234", BANGKOK)
        assert sandbox.state.requests == 1
        await asyncio.sleep(0.25)
        assert (await client.check_registration("1กข 1234", BANGKOK)).status == "VALID"
        assert sandbox.state.requests == 2

    def test_half_open_lets_one_trial_through(self) -> None:
        clock = Clock()
        breaker = CircuitBreaker(2, 5.0, clock)
        breaker.record_failure()
        breaker.before_call()  # still closed after one failure
        breaker.record_failure()
        with pytest.raises(DltCircuitOpen):
            breaker.before_call()
        clock.now += 5.0
        breaker.before_call()  # the trial
        with pytest.raises(DltCircuitOpen):
            breaker.before_call()  # a second caller while the trial runs
        breaker.release()  # the trial was cancelled: the slot is free again
        breaker.before_call()
        breaker.record_success()
        assert breaker.state == "closed" and breaker.consecutive_failures == 0

    @given(st.integers(1, 6), st.lists(st.booleans(), max_size=40))
    def test_open_exactly_when_n_consecutive_failures(
        self, threshold: int, outcomes: list[bool]
    ) -> None:
        """Without the clock moving, the breaker is open iff some run of failures reached the
        threshold since the last success (calls refused while open change nothing)."""
        breaker = CircuitBreaker(threshold, 60.0, Clock())
        run = 0
        opened = False
        for ok in outcomes:
            try:
                breaker.before_call()
            except DltCircuitOpen:
                assert opened
                continue
            assert not opened
            if ok:
                breaker.record_success()
                run = 0
            else:
                breaker.record_failure()
                run += 1
                opened = run >= threshold
            assert (breaker.state == "open") == opened

    def test_from_settings(self) -> None:
        settings = Settings(
            dlt_base_url="http://dlt.example/api/",
            dlt_api_key="k",
            dlt_timeout_seconds=1.5,
            dlt_retries=4,
            dlt_breaker_failures=7,
            dlt_breaker_reset_seconds=12,
        )
        client = DltClient.from_settings(settings)
        assert (client.base_url, client.api_key) == ("http://dlt.example/api", "k")
        assert (client.timeout_seconds, client.retries) == (1.5, 4)
        assert (client.breaker.threshold, client.breaker.reset_seconds) == (7, 12.0)


class TestSandboxRule:
    @given(st.integers(0, 9969))
    def test_outcome_by_last_digit(self, n: int) -> None:
        expected = {9: "NOT_FOUND", 7: "EXPIRED", 8: "EXPIRED"}.get(n % 10, "VALID")
        assert outcome(n) == expected

    def test_plate_number(self) -> None:
        assert plate_number("1กข 1234") == 1234
        assert plate_number("กข 7") == 7
        assert plate_number("กข") is None
        assert outcome(None) == "NOT_FOUND"
        assert outcome(9989) == "VALID" and outcome(9979) == "VALID"


class TestStarting:
    def test_cli_group_is_registered(self) -> None:
        from typer.testing import CliRunner

        from polis.cli import app

        result = CliRunner().invoke(app, ["sandbox", "dlt", "--help"])
        assert result.exit_code == 0, result.output
        assert "--port" in result.output

    def test_demo_start_in_a_thread(self) -> None:
        url = closed_port_url()
        line, server = start_for_demo(url, KEY)
        assert line == f"DLT sandbox on {url}" and server is not None
        try:
            for _ in range(500):
                if server.started:
                    break
                time.sleep(0.01)
            body = {"registration_number": "1กข 1234", "province": BANGKOK}
            answer = httpx.post(url + CHECK_PATH, json=body, headers={"X-API-Key": KEY})
            assert answer.status_code == 200 and answer.json()["status"] == "VALID"
            again, none = start_for_demo(url, KEY)  # the port is taken now
            assert none is None and "taken" in again
        finally:
            server.should_exit = True
        line, none = start_for_demo("https://dlt.example.go.th/api", KEY)
        assert none is None and "not started" in line
