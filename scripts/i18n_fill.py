"""Fill a catalog's empty msgstrs from translation dictionaries, instead of hand-editing the .po file.

Why: the catalogs hold hundreds of entries and other engineers keep adding msgids; after each
``scripts/i18n.sh`` run the translator writes only the new pairs in a small Python/JSON file and this
script merges them, checks the %(name)s placeholders, and lists what is still untranslated.

Usage::

    .venv/bin/python scripts/i18n_fill.py [--locale zh] [--overwrite] FILE...   # merge
    .venv/bin/python scripts/i18n_fill.py --missing                               # list untranslated

A FILE is either JSON (``{"msgid": "msgstr", ...}``) or a Python file defining ``TRANSLATIONS``.
An entry whose placeholders differ from the msgid's is refused. Existing translations are kept unless
``--overwrite``. Exit status 1 when any translation was refused or any msgid is still untranslated.
"""

from __future__ import annotations

import argparse
import json
import re
import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "lti_tool" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def load(path: Path) -> dict[str, str]:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return dict(runpy.run_path(str(path))["TRANSLATIONS"])


def singular(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(strings) and "fuzzy" not in message.flags


def fill(catalog: Catalog, pairs: dict[str, str], overwrite: bool) -> tuple[int, list[str]]:
    """Merge ``pairs`` into ``catalog``; returns (number filled, problems)."""
    filled, problems = 0, []
    for msgid, msgstr in pairs.items():
        message = catalog.get(msgid)
        if message is None:
            continue  # not (or no longer) in the catalog: harmless, reported by --unused
        if translated(message) and not overwrite:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        if any(placeholders(i) != placeholders(msgstr) for i in ids):
            problems.append(f"placeholders differ: {msgid!r} -> {msgstr!r}")
            continue
        if "%%" in msgid and "%%" not in msgstr:
            problems.append(f"'%%' lost: {msgid!r} -> {msgstr!r}")
            continue
        if isinstance(message.id, str):
            message.string = msgstr
        else:  # plural: every form of a one-plural-form language gets the same text
            message.string = tuple(msgstr for _ in range(catalog.num_plurals))
        message.flags.discard("fuzzy")
        filled += 1
    return filled, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--locale", default="zh", help="catalog directory (zh serves zh_CN)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing translations too")
    parser.add_argument("--missing", action="store_true", help="print untranslated msgids as a dict")
    parser.add_argument("--unused", action="store_true", help="list given msgids that are not in the catalog")
    args = parser.parse_args()

    po_path = TRANSLATIONS / args.locale / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as f:
        catalog = read_po(f, locale=args.locale)

    problems: list[str] = []
    total = 0
    for path in args.files:
        pairs = load(path)
        if args.unused:
            for msgid in pairs:
                if catalog.get(msgid) is None:
                    print(f"unused ({path.name}): {msgid!r}", file=sys.stderr)
        filled, bad = fill(catalog, pairs, args.overwrite)
        total += filled
        problems += bad
    if args.files:
        if catalog.project == "PROJECT":  # Babel's placeholders, from a catalog made before --project was set
            catalog.project, catalog.version = "Tingke", ""
            catalog.header_comment = catalog.header_comment.replace("PROJECT", "Tingke").replace(
                "ORGANIZATION", "Tingke"
            )
        if catalog.last_translator.startswith("FULL NAME"):
            catalog.last_translator = "Tingke localisation"
        if catalog.language_team.startswith(str(catalog.locale)):  # Babel's "zh_Hans_CN <LL@li.org>"
            catalog.language_team = "Tingke"
        with po_path.open("wb") as f:
            write_po(f, catalog, width=76)
        print(f"{po_path.relative_to(ROOT)}: {total} translation(s) filled", file=sys.stderr)

    missing = [m for m in catalog if m.id and not translated(m)]
    if args.missing:
        print("TRANSLATIONS = {")
        for m in missing:
            where = ", ".join(f"{p}:{n}" for p, n in m.locations[:2])
            print(f'    # {where}\n    {singular(m)!r}: "",')
        print("}")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len([m for m in catalog if m.id])} msgids, {len(missing)} untranslated", file=sys.stderr)
    return 1 if problems or missing else 0


if __name__ == "__main__":
    sys.exit(main())
