"""Every string of the user interface is translated into Simplified Chinese, and the compiled catalogue is current.

Strings are extracted from the code and templates exactly as ``make translations`` does; a string added to a page
without its translation fails here, naming the string.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "insurecrm" / "translations" / "zh" / "LC_MESSAGES"
PACKAGES = ("insurecrm", "agents", "policies", "policyholders", "reports")
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def source_messages() -> set[str]:
    found = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, METHODS, keywords=KEYWORDS, comment_tags=()
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_interface_string_has_a_chinese_translation():
    with open(CATALOGUE / "messages.po", "rb") as po:
        catalogue = read_po(po)
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalogue
                  if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    missing = sorted(source_messages() - translated)
    assert not missing, f"{len(missing)} strings lack a translation (run `make translations`, then translate):\n" + \
        "\n".join(missing[:50])


def test_compiled_catalogue_matches_the_translations():
    with open(CATALOGUE / "messages.po", "rb") as po, open(CATALOGUE / "messages.mo", "rb") as mo:
        source, compiled = read_po(po), read_mo(mo)
    assert as_dict(compiled) == as_dict(source), "run `make translations` to recompile messages.mo"


def as_dict(catalogue) -> dict:
    # plural entries: read_mo gives lists where read_po gives tuples
    hashable = lambda value: tuple(value) if isinstance(value, list | tuple) else value  # noqa: E731
    return {hashable(m.id): hashable(m.string) for m in catalogue if m.id and m.string}


def test_every_translation_formats_like_its_original():
    """Pages format every translated string with ``%`` (Jinja's new-style gettext does so even without
    variables): a stray ``%`` in a translation, or a placeholder the original does not have, breaks the page
    in that language alone."""
    with open(CATALOGUE / "messages.po", "rb") as po:
        catalogue = read_po(po)
    broken = []
    for message in catalogue:
        if not message.id:
            continue
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        names = {name: 1 for original in originals for name in _placeholders(original)}
        for translation in message.string if isinstance(message.string, tuple) else (message.string,):
            try:
                translation % names
            except (KeyError, ValueError, TypeError) as exc:
                broken.append(f"{originals[0]!r} -> {translation!r}: {exc!r}")
    assert not broken, "\n".join(broken)


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)[sd]", text)
