"""Sign-in by SMS one-time password for customers and members (decision 0063).

POST /auth/otp {username} always answers the same 202 {challenge_token, expires_at}: only
when the username is a live ACTIVE CUSTOMER or MEMBER login with a phone number (and not
locked out, and under SMS_OTP_MAX_PER_HOUR sends) is a challenge stored and a 6-digit code
sent, after the response, through the SMS provider. Every request reserves one attempt of the
client address's login rate limit (never given back: each one may cost an SMS).

POST /auth/otp/verify {challenge_token, code}: the challenge must be unused and younger than
SMS_OTP_EXPIRY_MINUTES (the setting when set, else the ref.system_configurations row, else 5);
a wrong code counts on the challenge (5 burn it) and as a failed login of the user. The code
is stored as HMAC-SHA256 under the blind-index key, bound to its challenge. A right code opens
a session with login_method 'TOKEN' (the seed's CHECK has no 'OTP'), or, when the user has
TOTP enabled, answers the TOTP challenge as a password would.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings
from polis.iam.models import LoginChallenge, User
from polis.iam.permissions import Role
from polis.iam.ratelimit import LoginRateLimiter
from polis.iam.repository import UserRepository
from polis.iam.two_factor import keyed_hash, two_factor, utcnow
from polis.integrations.sms import SmsError, SmsSender
from polis.platform.context import client_ip
from polis.platform.crypto import mask
from polis.reference.service import ConfigurationNotFoundError, get_config

log = structlog.get_logger("polis.iam.sms_otp")

SMS_OTP_ROLES = frozenset({Role.CUSTOMER, Role.MEMBER})
SMS_OTP_MAX_PER_HOUR = 5

_MESSAGES = {
    "th": "รหัสเข้าสู่ระบบ Polis ของคุณคือ {code} ใช้ได้ {minutes} นาที ห้ามบอกรหัสนี้กับผู้ใด",
    "en": "Your Polis sign-in code is {code}. It expires in {minutes} minutes. Never share it.",
    "id": "Kode masuk Polis Anda {code}. Berlaku {minutes} menit. Jangan bagikan kode ini.",
}


@dataclass(frozen=True)
class OtpDelivery:
    """A message to send after the response (None for accounts that get none)."""

    to: str
    text: str


async def otp_expiry_minutes(session: AsyncSession, settings: Settings) -> int:
    """SMS_OTP_EXPIRY_MINUTES: the setting when the deployment sets it, else the seed's
    ref.system_configurations row, else the setting's default (5)."""
    if "sms_otp_expiry_minutes" not in settings.model_fields_set:
        try:
            value = await get_config(session, "SMS_OTP_EXPIRY_MINUTES")
        except (ConfigurationNotFoundError, ValueError):
            value = None
        if isinstance(value, int) and 1 <= value <= 60:
            return value
    return settings.sms_otp_expiry_minutes


def message(language: str | None, code: str, minutes: int) -> str:
    """The SMS text in the user's language (Thai by default)."""
    template = _MESSAGES.get(language or "th", _MESSAGES["th"])
    return template.format(code=code, minutes=minutes)


class SmsOtpService:
    """Request and verify SMS one-time passwords."""

    async def _eligible(self, session: AsyncSession, username: str) -> User | None:
        user = await UserRepository.from_session(session).get_by_username(username)
        if user is None or user.role not in SMS_OTP_ROLES or not user.phone_number:
            return None
        if user.account_status != "ACTIVE":
            return None
        if user.locked_until is not None and user.locked_until > utcnow():
            return None
        sent = await session.scalar(
            select(func.count())
            .select_from(LoginChallenge)
            .where(
                LoginChallenge.user_id == user.id,
                LoginChallenge.kind == "SMS_OTP",
                LoginChallenge.created_at > utcnow() - timedelta(hours=1),
            )
        )
        return user if int(sent or 0) < SMS_OTP_MAX_PER_HOUR else None

    async def request(
        self, session: AsyncSession, *, username: str, ip_address: str | None, settings: Settings
    ) -> tuple[str, datetime, OtpDelivery | None]:
        """(challenge token, expires_at, the SMS to send or None): the same shape whatever
        the username, so the answer does not tell whether an account exists."""
        ip = client_ip(ip_address)
        await LoginRateLimiter.from_settings(session, settings).reserve(ip)
        minutes = await otp_expiry_minutes(session, settings)
        user = await self._eligible(session, username)
        if user is None or user.phone_number is None:
            # An unknown account gets a token that no code will ever match.
            return secrets.token_urlsafe(32), utcnow() + timedelta(minutes=minutes), None
        code = f"{secrets.randbelow(1_000_000):06d}"
        token, challenge = await two_factor.open_challenge(
            session,
            user,
            kind="SMS_OTP",
            ip_address=ip_address,
            minutes=minutes,
            code_hash_for=code,
        )
        delivery = OtpDelivery(user.phone_number, message(user.preferred_language, code, minutes))
        return token, challenge.expires_at, delivery

    async def verify(
        self,
        session: AsyncSession,
        *,
        token: str,
        code: str,
        ip_address: str | None,
        settings: Settings,
    ) -> User:
        """The user of an SMS_OTP challenge answered by its code; else InvalidCode after
        counting (on the challenge, and as a failed login of the user)."""

        async def code_is_right(_user: User, challenge: LoginChallenge) -> bool:
            expected = challenge.code_hash or ""
            given = keyed_hash(f"{challenge.challenge_hash}{code}")
            return secrets.compare_digest(given, expected)

        user = await two_factor.answer_challenge(
            session,
            token=token,
            kind="SMS_OTP",
            may_answer=lambda user: user.role in SMS_OTP_ROLES,
            code_is_right=code_is_right,
            ip_address=ip_address,
            settings=settings,
        )
        if not user.phone_verified:
            await UserRepository.from_session(session).set_fields(user, phone_verified=True)
        return user


async def deliver(sender: SmsSender, delivery: OtpDelivery) -> None:
    """Send one OTP message (run after the response); a failure is logged, never the code or
    the whole number."""
    try:
        receipt = await sender.send(delivery.to, delivery.text)
    except SmsError as exc:
        log.warning("sms_otp.not_sent", to=mask(delivery.to), error=type(exc).__name__)
        return
    log.info("sms_otp.sent", to=mask(delivery.to), message_id=receipt.message_id)


sms_otp = SmsOtpService()
