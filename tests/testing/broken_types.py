"""Auth types that each break one rule of the contract, to prove the kit fails.

Every type here is correct except for the one thing its name says, so a test
can insist that the kit reports exactly that rule and nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from typing import Any, ClassVar

import attrs
from attrs import define, field, frozen

from authplug import AuthType, Request, Secret, build_registry, hookimpl
from authplug.builtin.token import TokenApp, TokenFlow, TokenUser
from authplug.errors import ConfigError, FieldError
from authplug.fields import describe
from authplug.flow import AuthFlow

log = logging.getLogger(__name__)


def _show_secret(value: Secret) -> str:
    return repr(value.reveal())


@frozen(kw_only=True)
class LeakyUser:
    """A token whose repr shows it: the classic slip."""

    access_token: Secret = field(repr=_show_secret)


LEAKY_REPR = AuthType(
    name="broken.leaky-repr",
    summary="Leaks its token through the model's repr",
    user_model=LeakyUser,
    app_model=TokenApp,
    flow=TokenFlow,
)


class LoggingFlow(TokenFlow):
    """Logs the token it sends, at debug level, where nobody looks."""

    def apply(self, request: Request) -> None:
        """Apply the token, and log it."""
        log.debug("sending token %s", self.user.access_token.reveal())
        super().apply(request)


LEAKY_LOG = AuthType(
    name="broken.leaky-log",
    summary="Leaks its token into a debug log record",
    user_model=TokenUser,
    app_model=TokenApp,
    flow=LoggingFlow,
)


def _add_prefix(value: str) -> str:
    return f"v1-{value}"


@frozen(kw_only=True)
class PrefixApp(TokenApp):
    """A region that gains a prefix each time it is loaded."""

    region: str = describe("The region", default="eu", converter=_add_prefix)


NO_ROUND_TRIP = AuthType(
    name="broken.no-round-trip",
    summary="Changes a value on every load, so load(dump(x)) != x",
    user_model=TokenUser,
    app_model=PrefixApp,
    flow=TokenFlow,
)


class AppendingFlow(AuthFlow[TokenUser, Any]):
    """Appends the key to the query string instead of setting it."""

    def apply(self, request: Request) -> None:
        """Append ``key=<token>``, even when it is already there."""
        joiner = "&" if "?" in request.url else "?"
        request.url += f"{joiner}key=token"


DUPLICATES = AuthType(
    name="broken.duplicates",
    summary="Adds its query parameter again on every application",
    user_model=TokenUser,
    flow=AppendingFlow,
)


class PhoningFlow(TokenFlow):
    """Looks up a host on its own, and hides the failure."""

    def apply(self, request: Request) -> None:
        """Resolve the token service first, ignoring any error."""
        with contextlib.suppress(OSError):
            socket.getaddrinfo("tokens.example.test", 443)
        super().apply(request)


DOES_IO = AuthType(
    name="broken.does-io",
    summary="Does network I/O in its flow and swallows the error",
    user_model=TokenUser,
    app_model=TokenApp,
    flow=PhoningFlow,
)


@define(kw_only=True)
class MutableUser:
    """A token model that can be changed after loading."""

    access_token: Secret


NOT_FROZEN = AuthType(
    name="broken.not-frozen",
    summary="Has a mutable user model",
    user_model=MutableUser,
    app_model=TokenApp,
    flow=TokenFlow,
)


@frozen(kw_only=True)
class WorkspaceApp(TokenApp):
    """A workspace that has a default, but the schema requires it."""

    workspace: str = describe("The workspace", default="main")

    __authplug_schema__: ClassVar[dict[str, Any]] = {"required": ["workspace"]}


STRICT_SCHEMA = AuthType(
    name="broken.strict-schema",
    summary="Has a schema that rejects documents that load",
    user_model=TokenUser,
    app_model=WorkspaceApp,
    flow=TokenFlow,
)


@frozen(kw_only=True)
class ClockUser:
    """A plain token."""

    access_token: Secret


class ClockFlow(AuthFlow[ClockUser, Any]):
    """Stamps each request with the wall clock, not the flow's clock."""

    def apply(self, request: Request) -> None:
        """Set the token and a timestamp header."""
        request.headers["Authorization"] = f"Bearer {self.user.access_token.reveal()}"
        request.headers["X-Timestamp"] = repr(time.perf_counter_ns())


NOT_DETERMINISTIC = AuthType(
    name="broken.not-deterministic",
    summary="Reads the wall clock instead of the injected one",
    user_model=ClockUser,
    flow=ClockFlow,
)


def _wrong_path(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ConfigError([FieldError("store", "must not be empty")])


@frozen(kw_only=True)
class ShopApp(TokenApp):
    """A shop name whose validator blames a field that does not exist."""

    shop: str = describe(
        "The shop",
        validator=_wrong_path,
        metadata={"json_schema": {"minLength": 1}},
    )


WRONG_PATH = AuthType(
    name="broken.wrong-path",
    summary="Blames the wrong field when the shop is empty",
    user_model=TokenUser,
    app_model=ShopApp,
    flow=TokenFlow,
)


@frozen(kw_only=True)
class HopelessUser:
    """A model that refuses every value: nothing can ever load."""

    access_token: Secret

    def __attrs_post_init__(self) -> None:
        raise ConfigError([FieldError("access_token", "is never right")])


LOADS_NOTHING = AuthType(
    name="broken.loads-nothing",
    summary="Rejects every document",
    user_model=HopelessUser,
    flow=TokenFlow,
)

BROKEN_TYPES = (
    LEAKY_REPR,
    LEAKY_LOG,
    NO_ROUND_TRIP,
    DUPLICATES,
    DOES_IO,
    NOT_FROZEN,
    STRICT_SCHEMA,
    NOT_DETERMINISTIC,
    WRONG_PATH,
    LOADS_NOTHING,
)


class BrokenPlugin:
    """Provides every broken type, as a plugin would."""

    @hookimpl
    def authplug_auth_types(self) -> list[AuthType]:
        """Provide the broken types."""
        return list(BROKEN_TYPES)


def broken_registry() -> Any:
    """Return a registry of the broken types alone."""
    return build_registry(plugins={"broken": BrokenPlugin()}, entry_points=False)
