"""Suggestions for misspelled names: exactly difflib's, found for less."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authplug.suggest import _closest, closest

# Few letters, so that words share many and the bounds are put to work.
WORDS = st.text("abcdeo_", max_size=12)


def difflib_answer(word: str, choices: list[str], cutoff: float) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return found[0] if found else None


@given(
    word=WORDS,
    choices=st.lists(WORDS, max_size=8),
    cutoff=st.sampled_from([0.0, 0.5, 0.6, 0.8, 1.0]),
)
def test_the_answer_is_difflibs(word: str, choices: list[str], cutoff: float) -> None:
    _closest.cache_clear()

    assert closest(word, choices, cutoff=cutoff) == difflib_answer(
        word, choices, cutoff
    )


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("scope", ["client_id", "pkce", "resource", "scopes"], "scopes"),
        (
            "client_secret_jwt",
            ["client_secret_basic", "client_secret_post", "none"],
            "client_secret_post",
        ),
        ("ap", ["type", "auth_id", "user", "app"], "app"),
        ("zzz", ["count", "enabled"], None),
    ],
)
def test_known_misspellings(word: str, choices: list[str], expected: str) -> None:
    assert closest(word, choices) == expected


def test_a_repeated_question_is_answered_from_memory() -> None:
    _closest.cache_clear()

    closest("scope", ["scopes", "pkce"])
    closest("scope", ["scopes", "pkce"])

    assert _closest.cache_info().hits == 1
