"""The messages of the pages and their catalogs: what to translate, and keeping the .po
files in step with the code.

    python -m polis.web.messages           # add new messages to every .po, drop unused ones
    python -m polis.web.messages --check   # exit 1 when a message lacks a th or id translation
    python -m polis.web.messages --fill F  # take translations from a JSON file
                                           # {"msgid": {"th": "...", "id": "..."}}

Messages come from the templates (`_()`, `{% trans %}`), from Python (`_()`, `gettext_()`)
and from the tables whose words are translated when shown (statuses, navigation, flash
messages, and for Thai the EOB's English words of trace codes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from polis.health import eob
from polis.web import i18n

PACKAGE = Path(__file__).parent
KEYWORDS = {"_": None, "gettext_": None, "gettext": None, "ngettext_": (1, 2), "ngettext": (1, 2)}
METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
TRANSLATED = ("th", "id")


def table_messages() -> set[str]:
    """Words kept in tables and translated when shown."""
    from polis.web.templating import FLASHES, NAV
    from polis.web.words import EXTRA_CODES, STATUSES

    found = set(STATUSES.values()) | {n.label for n in NAV} | set(FLASHES.values())
    return found | set(EXTRA_CODES.values())


def thai_only_messages() -> set[str]:
    """The EOB's English words of trace and reason codes (Indonesian has its own)."""
    return {english for _, english in eob.CODE_WORDS.values()}


def extract() -> dict[str, set[str]]:
    """{language: message ids it must translate}."""
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE),
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}},
    ):
        if isinstance(message, tuple):
            found.update(m for m in message if m)
        elif message:
            found.add(message)
    found |= table_messages()
    return {
        lang: found | (thai_only_messages() if lang == "th" else set()) for lang in i18n.LANGUAGES
    }


def read(lang: str) -> Catalog:
    """The language's catalog."""
    with i18n.po_path(lang).open("rb") as po:
        return read_po(po, locale=lang)


def missing(lang: str) -> list[str]:
    """Message ids the language's catalog does not translate."""
    catalog = read(lang)

    def translated(msgid: str) -> bool:
        message = catalog.get(msgid)
        return message is not None and bool(message.string)

    return sorted(m for m in extract()[lang] if not translated(m))


def update() -> None:
    """Add new message ids to every catalog (untranslated), drop ids no longer used."""
    wanted = extract()
    for lang in i18n.LANGUAGES:
        old = read(lang) if i18n.po_path(lang).exists() else Catalog(locale=lang)
        new = Catalog(locale=lang, project="Polis", domain="messages")
        for msgid in sorted(wanted[lang]):
            before = old.get(msgid)
            new.add(msgid, before.string if before else "")
        i18n.po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        with i18n.po_path(lang).open("wb") as po:
            write_po(po, new, width=100, omit_header=False, sort_output=True)


def fill(path: Path) -> int:
    """Put the translations of a JSON file {msgid: {lang: text}} into the catalogs (after
    `update`, for message ids the code uses); how many were set."""
    import json

    wanted: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    count = 0
    for lang in TRANSLATED:
        catalog = read(lang)
        for msgid, texts in wanted.items():
            message = catalog.get(msgid)
            if message is not None and texts.get(lang):
                message.string = texts[lang]
                count += 1
        with i18n.po_path(lang).open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=True)
    return count


def main(argv: list[str]) -> int:
    """Update the catalogs, or with --check report missing translations."""
    if "--check" in argv:
        gaps = {lang: missing(lang) for lang in TRANSLATED}
        for lang, ids in gaps.items():
            for msgid in ids:
                print(f"{lang}: {msgid}")
        return 1 if any(gaps.values()) else 0
    update()
    if "--fill" in argv:
        for name in argv[argv.index("--fill") + 1 :]:
            print(f"{fill(Path(name))} translations from {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
