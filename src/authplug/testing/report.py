"""What the contract kit says when a type breaks the contract, or passes it."""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen

__all__ = [
    "Broken",
    "ContractReport",
    "ContractSkipped",
    "ContractViolation",
    "Failure",
]


@frozen
class Failure:
    """One broken rule of the contract.

    Args:
        check: The check that found it, e.g. ``round_trip``.
        message: What was violated, with the example that shows it.
    """

    check: str
    message: str

    def __str__(self) -> str:
        body = self.message.replace("\n", "\n    ")
        return f"[{self.check}] {body}"


class ContractViolation(AssertionError):
    """An auth type that breaks the plugin contract.

    An AssertionError, so pytest shows it as a failed test; its text names
    the type, its plugin, and every rule it broke with the example that
    shows it.

    Attributes:
        auth_type: The name of the offending type.
        failures: Every broken rule found.
    """

    def __init__(
        self, auth_type: str, failures: Sequence[Failure], *, origin: str = ""
    ) -> None:
        self.auth_type = auth_type
        self.failures = list(failures)
        self.origin = origin
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        count = len(self.failures)
        noun = "rule" if count == 1 else "rules"
        lines = [
            f"auth type {self.auth_type!r}{where} breaks {count} {noun} "
            "of the authplug plugin contract:"
        ]
        lines.extend(f"  {failure}" for failure in self.failures)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()


class Broken(AssertionError):
    """One broken rule, found inside a property; the runner names the check."""


class ContractSkipped(Exception):
    """A check that does not apply to a type (a type with no flow, say).

    Attributes:
        reason: Why the check was not run.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@frozen
class ContractReport:
    """The outcome of a contract run that found nothing wrong.

    Args:
        auth_type: The name of the type checked.
        passed: The checks that ran and passed.
        skipped: The checks that did not apply, each with its reason.
    """

    auth_type: str
    passed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        lines = [f"auth type {self.auth_type!r} passes the authplug contract"]
        lines.append(f"  passed: {', '.join(self.passed) or '(none)'}")
        lines.extend(f"  skipped {check}: {reason}" for check, reason in self.skipped)
        return "\n".join(lines)
