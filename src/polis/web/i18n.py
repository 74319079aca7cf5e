"""Languages of the pages: gettext catalogs compiled from their .po files at first use, the
language of a request, and numbers, money and dates in that language (Babel).

The catalogs are `locale/<lang>/LC_MESSAGES/messages.po`; no .mo file is kept in the tree:
`translations(lang)` compiles the .po in memory with Babel's pofile/mofile once per process
(decision 0065), so a .po edit shows at the next start and a stale .mo cannot exist.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES: tuple[str, ...] = ("th", "id", "en")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"th": "ไทย", "id": "Bahasa Indonesia", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
BUDDHIST_ERA_OFFSET = 543
# Health business dates and times are local to Jakarta (DESIGN.md).
JAKARTA = ZoneInfo("Asia/Jakarta")

_current: ContextVar[str] = ContextVar("polis_web_language", default=DEFAULT_LANGUAGE)


def po_path(lang: str) -> Path:
    """The catalog of a language."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The language's messages, compiled from its .po (English: the message ids)."""
    path = po_path(lang)
    if lang not in LANGUAGES or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def set_language(lang: str) -> None:
    """Make `lang` the language of what is rendered next in this context (the request)."""
    _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    """The language of the request being rendered."""
    return _current.get()


def gettext_(message: str) -> str:
    """`message` in the current language."""
    return translations(current_language()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message in the current language."""
    return translations(current_language()).ngettext(singular, plural, n)


def supported(value: str | None) -> str | None:
    """`value` when it names a supported language ('th', 'th-TH', 'TH'), else None."""
    if not value:
        return None
    lang = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return lang if lang in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an Accept-Language header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = supported(tag)
        if lang and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else None


def negotiate(
    query: str | None, cookie: str | None, preferred: str | None, accept: str | None
) -> str:
    """The language of a request: an explicit choice (the query, then the cookie the
    switcher sets), then the signed-in user's preferred_language, then Accept-Language."""
    return (
        supported(query)
        or supported(cookie)
        or supported(preferred)
        or from_accept_language(accept)
        or DEFAULT_LANGUAGE
    )


# --- formatting -----------------------------------------------------------------------------


def number(value: Decimal | int | None, lang: str | None = None) -> str:
    """A whole number with the language's grouping."""
    if value is None:
        return "-"
    return format_decimal(value, format="#,##0", locale=lang or current_language())


def money(amount: Decimal | None, lang: str | None = None) -> str:
    """A rupiah amount as the EOB shows it: two decimals, grouped the language's way
    (`Rp 1.234.567,00` in Indonesian, `IDR 1,234,567.00` in English and Thai)."""
    if amount is None:
        return "-"
    lang = lang or current_language()
    quantized = Decimal(amount).quantize(Decimal("0.01"))
    digits = format_decimal(quantized, format="#,##0.00", locale=lang, decimal_quantization=True)
    return ("Rp " if lang == "id" else "IDR ") + digits


def day(value: date | datetime | None, lang: str | None = None) -> str:
    """A date: `10 มี.ค. 2568` in Thai (Buddhist era), `10 Mar 2025` otherwise."""
    if value is None:
        return "-"
    lang = lang or current_language()
    if isinstance(value, datetime):
        value = value.astimezone(JAKARTA).date()
    if lang == "th":
        return f"{format_date(value, 'd MMM', locale='th')} {value.year + BUDDHIST_ERA_OFFSET}"
    return format_date(value, "d MMM y", locale=lang)


def moment(value: datetime | None, lang: str | None = None) -> str:
    """A date and time in Jakarta (Buddhist era in Thai)."""
    if value is None:
        return "-"
    lang = lang or current_language()
    local = value.astimezone(JAKARTA)
    return f"{day(local.date(), lang)} {format_time(local, 'HH:mm', locale=lang)}"


def month_name(year: int, month: int, lang: str | None = None) -> str:
    """`Mar 2025` / `มี.ค. 2568`: a chart's month label."""
    lang = lang or current_language()
    name = Locale.parse(lang).months["format"]["abbreviated"][month]
    return f"{name} {year + BUDDHIST_ERA_OFFSET if lang == 'th' else year}"
