"""The ``token`` type: a bearer token or an API key sent with each request."""

from __future__ import annotations

from typing import Literal

from attrs import frozen

from authplug.fields import describe, field_validator
from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl
from authplug.http import Request
from authplug.records import AuthType
from authplug.secret import Secret

__all__ = ["TOKEN", "TokenApp", "TokenFlow", "TokenUser"]


@field_validator
def _check_header_name(value: str) -> None:
    if not value or any(ch in value for ch in " \t\r\n:"):
        raise ValueError(f"must be an HTTP header name, got {value!r}")


@frozen(kw_only=True)
class TokenApp:
    """How the token travels: a header (bearer by default) or a query param."""

    location: Literal["header", "query"] = describe(
        "Where to send the token", default="header"
    )
    header_name: str = describe(
        "The header that carries the token",
        default="Authorization",
        validator=_check_header_name,
    )
    prefix: str | None = describe(
        "Put before the token in the header, such as 'Bearer' or 'Token'; "
        "null for none",
        default="Bearer",
    )
    query_param: str = describe(
        "The query parameter that carries the token", default="api_key"
    )


@frozen(kw_only=True)
class TokenUser:
    """The token itself."""

    access_token: Secret = describe("The token or API key")


class TokenFlow(AuthFlow[TokenUser, TokenApp]):
    """Send the token in a header or query parameter of every request."""

    def apply(self, request: Request) -> None:
        """Set the token header or query parameter, replacing any earlier one."""
        token = self.user.access_token.reveal()
        app = self.app

        if app.location == "query":
            request.set_query_param(app.query_param, token)
            return

        value = f"{app.prefix} {token}" if app.prefix else token
        request.headers[app.header_name] = value


TOKEN = AuthType(
    name="token",
    summary="A bearer token or an API key sent in a header or query parameter",
    user_model=TokenUser,
    app_model=TokenApp,
    aliases=("TOKEN",),
    flow=TokenFlow,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``token`` type."""
    return [TOKEN]
