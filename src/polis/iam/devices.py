"""What a User-Agent header says about the client: browser, operating system, device type.

A pure function (no I/O, no dependency) for iam.user_sessions.device_info, shown in the
sessions list so that a user recognises "Chrome on Android (mobile)". It reads the common
shapes of the header only; anything it does not recognise is "Other". It never raises; its
regular expressions have no nested repetition (no catastrophic backtracking) and read at most
MAX_USER_AGENT characters, so any header costs little.
"""

from __future__ import annotations

import re
from typing import Final, TypedDict

from polis.platform.context import MAX_USER_AGENT

OTHER: Final = "Other"
DEVICE_TYPES: Final = ("desktop", "mobile", "tablet", "bot", "other")


class DeviceInfo(TypedDict):
    """device_info as stored: names, never the raw header (that is user_agent)."""

    browser: str
    browser_version: str | None
    os: str
    device_type: str


# First match wins: the order matters (Edge and Opera also say Chrome, Chrome also says Safari).
_BROWSERS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("LINE", r"\bLine/(\d+)"),
        ("Facebook", r"\bFBAV/(\d+)"),
        ("Edge", r"\bEdg(?:e|A|iOS)?/(\d+)"),
        ("Opera", r"\b(?:OPR|OPiOS)/(\d+)|\bOpera\b(?:.*?Version/(\d+))?"),
        ("Samsung Internet", r"\bSamsungBrowser/(\d+)"),
        ("UC Browser", r"\bUCBrowser/(\d+)"),
        ("Firefox", r"\b(?:Firefox|FxiOS)/(\d+)"),
        ("Chrome", r"\b(?:Chrome|CriOS)/(\d+)"),
        ("Internet Explorer", r"\bMSIE (\d+)|\bTrident/.*?\brv:(\d+)"),
        ("Safari", r"\bVersion/(\d+)[^ ]* (?:Mobile/\S+ )?Safari/"),
        ("curl", r"\bcurl/(\d+)"),
        ("Wget", r"\bWget/(\d+)"),
        ("python-httpx", r"\bpython-httpx/(\d+)"),
        ("python-requests", r"\bpython-requests/(\d+)"),
        ("okhttp", r"\bokhttp/(\d+)"),
        ("Postman", r"\bPostmanRuntime/(\d+)"),
    )
)

_BOT: Final = re.compile(r"bot\b|crawl|spider|slurp|headless", re.IGNORECASE)

_OSES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("Windows Phone", r"Windows Phone"),
        ("Windows", r"Windows|Win64|Win32"),
        ("iOS", r"iPhone|iPad|iPod"),
        ("Android", r"Android"),
        ("Chrome OS", r"\bCrOS\b"),
        ("macOS", r"Mac OS X|Macintosh"),
        ("Linux", r"Linux|X11"),
    )
)

_TABLET: Final = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook", re.IGNORECASE)
_MOBILE: Final = re.compile(r"Mobi|iPhone|iPod|Windows Phone|Opera Mini", re.IGNORECASE)
_DESKTOP_OS: Final = frozenset({"Windows", "macOS", "Linux", "Chrome OS"})


def _browser(ua: str) -> tuple[str, str | None]:
    for name, pattern in _BROWSERS:
        match = pattern.search(ua)
        if match:
            version = next((g for g in match.groups() if g), None)
            return name, version[:10] if version else None
    return OTHER, None


def _os(ua: str) -> str:
    for name, pattern in _OSES:
        if pattern.search(ua):
            return name
    return OTHER


def _device_type(ua: str, os_name: str) -> str:
    if _BOT.search(ua):
        return "bot"
    if _TABLET.search(ua) or (os_name == "Android" and not _MOBILE.search(ua)):
        return "tablet"
    if _MOBILE.search(ua) or os_name in ("Android", "iOS"):
        return "mobile"
    if os_name in _DESKTOP_OS:
        return "desktop"
    return "other"


def parse_user_agent(user_agent: str | None) -> DeviceInfo | None:
    """Browser (and its major version), OS and device type of a User-Agent header; None
    when there is no header."""
    if not user_agent or not user_agent.strip():
        return None
    ua = user_agent[:MAX_USER_AGENT]
    browser, version = _browser(ua)
    os_name = _os(ua)
    return DeviceInfo(
        browser=browser,
        browser_version=version,
        os=os_name,
        device_type=_device_type(ua, os_name),
    )
