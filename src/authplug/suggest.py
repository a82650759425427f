"""Find the choice a misspelled word most likely meant, for "did you mean".

:func:`closest` gives exactly the answer of ``difflib.get_close_matches(word,
choices, n=1, cutoff=cutoff)``, for less. Error messages make a suggestion
for every unknown field and every near-miss choice, and the similarity ratio
behind it is costly, so two things are saved:

- difflib rates every choice that passes its two cheap upper bounds; here
  the choices are rated best bound first, and rating stops once no bound
  left can beat the best ratio found;
- answers are remembered: the same document, or the same mistake in many
  documents, is often loaded again. The cache keeps only words that a
  document held (a misspelled key, a choice's near miss), never shows them,
  and forgets the oldest first.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

__all__ = ["closest"]


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """Return the choice most similar to ``word``, or None if none is close.

    Args:
        word: What was given.
        choices: What would have been valid.
        cutoff: The lowest similarity (0 to 1) worth suggesting.
    """
    return _closest(word, tuple(choices), cutoff)


@functools.lru_cache(maxsize=1024)
def _closest(word: str, choices: tuple[str, ...], cutoff: float) -> str | None:
    # Imported here: only a mistake needs it, and start-up should not pay.
    from difflib import SequenceMatcher

    # As in difflib: each choice is the first sequence, the word the second
    # (the ratio is not symmetric), and ties go to the greater choice.
    matcher = SequenceMatcher()
    matcher.set_seq2(word)
    bounded = []
    for choice in choices:
        matcher.set_seq1(choice)
        if matcher.real_quick_ratio() >= cutoff:
            bound = matcher.quick_ratio()
            if bound >= cutoff:
                bounded.append((bound, choice))

    best: tuple[float, str] | None = None
    for bound, choice in sorted(bounded, reverse=True):
        # Sorted, so no later choice can reach past this bound either.
        if best is not None and (bound, choice) < best:
            break
        matcher.set_seq1(choice)
        score = matcher.ratio()
        if score >= cutoff and (best is None or (score, choice) > best):
            best = (score, choice)

    return None if best is None else best[1]
