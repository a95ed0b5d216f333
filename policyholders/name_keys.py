"""Names reduced to what a person's name sounds like: 张伟, "Zhang Wei", "zhang  wei" and "Wei Zhang" are one name.

A name is read as toneless pinyin syllables for its Chinese characters and lowercase words for the rest
(:func:`name_words`); :func:`name_key` sorts those words, so the order of surname and given name does not matter
("Wei Zhang" written the Western way). ``policyholders.name_key`` stores it, indexed beside the date of birth: the
duplicates queue pairs records by the same date of birth and key in SQL, and :func:`name_similarity` scores two
names on the few candidates found, with rapidfuzz (a typo, a missing syllable).
"""

from __future__ import annotations

import re
from functools import cache

from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz

LENGTH = 255
_WORD = re.compile(r"[^\W_]+")


@cache
def _syllable(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL)[0]


def name_words(name: str | None) -> list[str]:
    """The words of ``name``: one toneless pinyin syllable per Chinese character, other words lowercased
    (punctuation dropped): 张伟 → ``["zhang", "wei"]``, "O'Brien, Mary" → ``["o", "brien", "mary"]``."""
    words: list[str] = []
    for chunk in _WORD.findall(name or ""):
        latin = ""
        for char in chunk:
            reading = _syllable(char)
            if reading == char:  # not a Chinese character: part of a word as written
                latin += char.lower()
            else:
                words += [latin, reading.lower()] if latin else [reading.lower()]
                latin = ""
        if latin:
            words.append(latin)
    return words


def name_key(name: str | None) -> str:
    """The words of ``name`` sorted and joined by a space: the same key for 张伟 and "Wei Zhang"."""
    return " ".join(sorted(name_words(name)))[:LENGTH]


def name_similarity(first: str | None, second: str | None) -> int:
    """How alike two names are, 0 to 100, read as pinyin: 100 for the same words in any order or spacing
    ("ZhangWei" and 张伟), less for a typo or a missing word."""
    words_1, words_2 = name_words(first), name_words(second)
    if not words_1 or not words_2:
        return 0
    joined_1, joined_2 = " ".join(words_1), " ".join(words_2)
    return round(max(fuzz.token_sort_ratio(joined_1, joined_2),
                     fuzz.ratio("".join(words_1), "".join(words_2)),
                     fuzz.ratio("".join(sorted(words_1)), "".join(sorted(words_2)))))
