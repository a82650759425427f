"""A value that keeps itself out of reprs, logs and error messages."""

from __future__ import annotations

import hmac
from typing import Any, Final

__all__ = ["MASK", "Secret", "reveal"]

MASK: Final = "********"


class Secret:
    """Hold a secret string and show only a mask unless asked to reveal it.

    ``repr``, ``str`` and ``format`` all give the mask, so a secret that
    slips into a log line, an f-string or an exception message shows
    nothing. Call :meth:`reveal` where the real value is needed, such as
    when building a request.

    Example:
        >>> token = Secret("s3cr3t")
        >>> f"token={token}"
        'token=********'
        >>> token.reveal()
        's3cr3t'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        # A plain str first, in one test: loading makes one Secret per field.
        if type(value) is not str:
            if isinstance(value, Secret):
                value = value.reveal()
            if not isinstance(value, str):
                raise TypeError(f"a Secret holds a str, got {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return format(MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant time, so comparing secrets leaks nothing through timing.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self._value,))


def reveal(value: Secret | str | None) -> str | None:
    """Return the plain value of a secret, a string, or None."""
    if isinstance(value, Secret):
        return value.reveal()
    return value
