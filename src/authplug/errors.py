"""Errors raised by authplug.

Every error derives from :class:`AuthplugError`, so one ``except`` clause
catches them all. None of them ever carries a secret value in its message.

::

    AuthplugError
     +-- ConfigError          bad credentials or settings, every field path
     +-- UnknownAuthType      a name that no plugin provides
     +-- PluginError          a plugin that cannot be used
     |    +-- PluginClash     two plugins claim one name
     +-- FlowError            an auth flow could not complete
          +-- TokenError      a token endpoint refused or failed
          |    +-- ReauthorizationRequired
          +-- MissingDependency
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attrs import frozen

__all__ = [
    "AuthplugError",
    "ConfigError",
    "FieldError",
    "FlowError",
    "MissingDependency",
    "PluginClash",
    "PluginError",
    "ReauthorizationRequired",
    "TokenError",
    "UnknownAuthType",
]


class AuthplugError(Exception):
    """Base class of every error authplug raises."""


@frozen
class FieldError:
    """One problem with one field.

    Args:
        path: Where the field sits, dotted, e.g. ``app.token_url`` or
            ``app.scopes[2]``. Empty for the document as a whole.
        message: What is wrong and what was expected.
    """

    path: str
    message: str

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{self.path}: {self.message}"

    def under(self, prefix: str) -> FieldError:
        """Return the same error with ``prefix`` put in front of its path."""
        if not prefix:
            return self
        if not self.path:
            return FieldError(prefix, self.message)
        joiner = "" if self.path.startswith("[") else "."
        return FieldError(f"{prefix}{joiner}{self.path}", self.message)


class ConfigError(AuthplugError, ValueError):
    """Credentials or settings that do not validate.

    Attributes:
        errors: Every problem found, each with its field path.
        source: Where the data came from (a file name), if known.
    """

    def __init__(
        self, errors: Iterable[FieldError], *, source: str | None = None
    ) -> None:
        self.errors: list[FieldError] = list(errors)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.errors)
        where = f" in {self.source}" if self.source else ""
        noun = "problem" if count == 1 else "problems"
        lines = [f"{count} {noun}{where}:"]
        lines.extend(f"  {error}" for error in self.errors)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()

    def under(self, prefix: str) -> ConfigError:
        """Return the same errors with ``prefix`` put in front of each path."""
        return ConfigError(
            [error.under(prefix) for error in self.errors], source=self.source
        )

    def with_source(self, source: str) -> ConfigError:
        """Return the same errors, noting the file they came from."""
        return ConfigError(self.errors, source=source)


class UnknownAuthType(AuthplugError, LookupError):
    """A name that no registered plugin provides.

    Attributes:
        name: The name asked for.
        known: Every name and alias the registry knows.
        suggestions: The closest known names, best first.
    """

    def __init__(
        self, name: str, known: Sequence[str], suggestions: Sequence[str]
    ) -> None:
        self.name = name
        self.known = list(known)
        self.suggestions = list(suggestions)

        message = f"unknown auth type {name!r}"
        if self.suggestions:
            close = ", ".join(repr(s) for s in self.suggestions)
            message += f"; did you mean {close}?"
        message += f" Known types: {', '.join(self.known) or '(none)'}."
        message += " Install the plugin that provides it, or check the spelling."
        super().__init__(message)


class PluginError(AuthplugError):
    """A plugin that failed to load or returned something unusable.

    Attributes:
        plugin: The plugin's name (its entry point name).
    """

    def __init__(self, message: str, *, plugin: str) -> None:
        self.plugin = plugin
        super().__init__(message)


class PluginClash(PluginError):
    """Two plugins that claim the same auth type name or alias.

    Attributes:
        name: The contested name.
        plugins: Both claimants, each described with distribution and version.
    """

    def __init__(
        self,
        name: str,
        first: str,
        second: str,
        *,
        plugin: str,
        what: str = "auth type name",
        remedy: str | None = None,
    ) -> None:
        self.name = name
        self.plugins = (first, second)
        if remedy is None:
            remedy = (
                "Uninstall one of them, or block one by its plugin name with "
                "AUTHPLUG_BLOCK=<plugin>."
            )
        message = f"{what} {name!r} is claimed by both {first} and {second}. {remedy}"
        super().__init__(message, plugin=plugin)


class FlowError(AuthplugError):
    """An auth flow that could not complete."""


class MissingDependency(FlowError):
    """An optional library that a feature needs is not installed."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f"{feature} needs an optional dependency; "
            f"install it with: pip install 'authplug[{extra}]'"
        )


class TokenError(FlowError):
    """A token endpoint that refused a request or answered something unusable.

    Attributes:
        error: The RFC 6749 error code, e.g. ``invalid_client``, if the
            server sent one.
        description: The server's ``error_description``, if any.
        uri: The server's ``error_uri``, if any.
        status_code: The HTTP status of the response, if there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        uri: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.error = error
        self.description = description
        self.uri = uri
        self.status_code = status_code
        super().__init__(message)


class ReauthorizationRequired(TokenError):
    """The grant is gone (``invalid_grant``): the user must authorize again."""
