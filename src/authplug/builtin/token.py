"""The ``token`` type: a bearer token or an API key sent with each request."""

from __future__ import annotations

import re
from typing import Literal

from attrs import frozen

from authplug.fields import describe, field_validator
from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl
from authplug.http import Request
from authplug.records import AuthType
from authplug.secret import Secret

__all__ = ["TOKEN", "TokenApp", "TokenFlow", "TokenUser", "set_header"]


# RFC 9110 field names are tokens: ASCII letters, digits and these marks.
# The lookahead refuses a trailing newline, which "$" alone lets through in
# Python's re (and so in Python validators of the JSON Schema).
HEADER_NAME_PATTERN = r"^(?![\s\S]*\s)[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
_HEADER_NAME = re.compile(HEADER_NAME_PATTERN)


@field_validator
def _check_header_name(value: str) -> None:
    # The value is not quoted: a token pasted into the wrong field is common.
    if not _HEADER_NAME.fullmatch(value):
        raise ValueError(
            "must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~, "
            "with no spaces or colons"
        )


@field_validator
def _check_query_param(value: str) -> None:
    if not value:
        raise ValueError("must not be empty")


def set_header(request: Request, name: str, value: str) -> None:
    """Set header ``name`` on ``request``, replacing it in any letter case.

    Request headers may be a plain dict, where ``authorization`` and
    ``Authorization`` are two keys; a second header must never be added.
    """
    lowered = name.lower()
    for key in [key for key in request.headers if key.lower() == lowered]:
        del request.headers[key]
    request.headers[name] = value


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
        metadata={"json_schema": {"pattern": HEADER_NAME_PATTERN}},
    )
    prefix: str | None = describe(
        "Put before the token in the header, such as 'Bearer' or 'Token'; "
        "null for none",
        default="Bearer",
    )
    query_param: str = describe(
        "The query parameter that carries the token",
        default="api_key",
        validator=_check_query_param,
        metadata={"json_schema": {"minLength": 1}},
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
        set_header(request, app.header_name, value)


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
