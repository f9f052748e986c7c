"""Every phrase of the portal exists in both languages; Swedish numbers have a decimal comma."""

from __future__ import annotations

from tempen_portal.domain.words import WORDS, number


def test_swedish_and_english_have_the_same_phrases_and_none_is_empty() -> None:
    assert WORDS["sv"].keys() == WORDS["en"].keys()
    assert all(text.strip() for language in WORDS.values() for text in language.values())


def test_numbers_are_written_as_each_language_writes_them() -> None:
    assert number(61.54, "sv") == "61,5"
    assert number(61.54, "en") == "61.5"
    assert number(-2.0, "sv") == "−2,0"
    assert number(None, "sv") == "–"
