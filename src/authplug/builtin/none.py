"""The ``none`` type: for connectors whose service needs no credentials."""

from __future__ import annotations

from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl
from authplug.records import AuthType, NoFields

__all__ = ["NONE", "NoAuthFlow"]


class NoAuthFlow(AuthFlow[NoFields, NoFields]):
    """Send requests unchanged."""


NONE = AuthType(
    name="none",
    summary="No authentication, for helper and utility connectors",
    flow=NoAuthFlow,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``none`` type."""
    return [NONE]
