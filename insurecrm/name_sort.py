"""Names in the order a reader expects: Chinese names by their pinyin, beside Latin names, on every database.

A stored key, not a collation: SQLite has no pinyin collation, and PostgreSQL's ICU collations differ by server
build (and would need one on every index and ``ORDER BY``). ``name_sort_key`` is computed with ``pypinyin``
whenever a name is written (a mapper event, so every service, import and the API agree; bulk writers such as the
demo book call :func:`name_sort_key` themselves), indexed, and compared byte by byte (collation "C" on
PostgreSQL, SQLite's binary default), so both databases give the same order.

The key is the lowercase pinyin with tone numbers, syllables separated by spaces: 李娜 → ``li3 na4``, 张伟 →
``zhang1 wei3``, and a Latin name as it is, lowercased: "Wang Fang" → ``wang fang``. So 李娜 comes before 林 and
after "Li Na"; syllable by syllable, then by tone. The usual surname reading of a character with several
readings is used at the start of a name (曾 zēng, not céng).
"""

from __future__ import annotations

from functools import cache

from pypinyin import Style, lazy_pinyin
from sqlalchemy import String, event
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

LENGTH = 255
#: surnames whose usual reading differs from the character's most common one
SURNAME_READINGS = {"曾": "zeng1", "单": "shan4", "解": "xie4", "仇": "qiu2", "朴": "piao2", "查": "zha1",
                    "区": "ou1", "乐": "yue4", "覃": "qin2", "盖": "ge3", "缪": "miao4", "翟": "zhai2",
                    "员": "yun4", "种": "chong2", "折": "she2", "黑": "he4", "秘": "bi4", "长": "zhang3"}
#: byte-wise comparison on PostgreSQL, as SQLite compares by default
SORT_KEY_TYPE = String(LENGTH).with_variant(String(LENGTH, collation="C"), "postgresql")


def name_sort_key(name: str | None) -> str:
    """The sort key of ``name`` (see the module's docstring); at most 255 characters."""
    words: list[str] = []
    latin = ""
    for position, char in enumerate(" ".join((name or "").split())):
        reading = SURNAME_READINGS.get(char) if position == 0 else None
        reading = reading or _reading(char)
        if reading == char:  # not a Chinese character: part of a word as written
            latin += char
        else:
            words += [latin, reading]
            latin = ""
    words.append(latin)
    return " ".join(" ".join(words).lower().split())[:LENGTH]


@cache
def _reading(char: str) -> str:
    # one character at a time, each reading computed once: a name costs microseconds instead of the tenth of a
    # millisecond of a phrase-segmented conversion, which matters to the demo book and to imports of many names
    return lazy_pinyin(char, style=Style.TONE3, neutral_tone_with_five=True)[0]


class SortedByName:
    """A model with a ``name`` gets ``name_sort_key``, kept in step with it on every insert and update."""

    #: the API's and the pages' sort key "name" orders by this column (insurecrm.api.apply_sort)
    __sort_columns__ = {"name": "name_sort_key"}

    @declared_attr
    def name_sort_key(cls) -> Mapped[str]:  # noqa: N805 - a declared attribute takes the class
        return mapped_column(SORT_KEY_TYPE, default="", server_default="", index=True)


@event.listens_for(SortedByName, "before_insert", propagate=True)
@event.listens_for(SortedByName, "before_update", propagate=True)
def _keep_the_sort_key(_mapper, _connection, target) -> None:
    key = name_sort_key(target.name)
    if target.name_sort_key != key:
        target.name_sort_key = key
