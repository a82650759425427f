"""The ``basic`` type: HTTP Basic authentication (RFC 7617)."""

from __future__ import annotations

from base64 import b64encode

from attrs import frozen

from authplug.builtin.token import set_header
from authplug.fields import describe, field_validator
from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl
from authplug.http import Request
from authplug.records import AuthType, NoFields
from authplug.secret import Secret

__all__ = ["BASIC", "BasicFlow", "BasicUser", "basic_header"]


@field_validator
def _check_username(value: str) -> None:
    if ":" in value:
        raise ValueError("must not contain ':' (RFC 7617)")


@frozen(kw_only=True)
class BasicUser:
    """A user name and password."""

    username: str = describe(
        "The user name",
        validator=_check_username,
        metadata={"json_schema": {"pattern": "^[^:]*$"}},
    )
    password: Secret = describe("The password")


def basic_header(username: str, password: str) -> str:
    """Return the ``Authorization`` value for a user name and password."""
    pair = f"{username}:{password}".encode()
    return "Basic " + b64encode(pair).decode("ascii")


class BasicFlow(AuthFlow[BasicUser, NoFields]):
    """Send the user name and password in an Authorization header."""

    def apply(self, request: Request) -> None:
        """Set the Authorization header, replacing any earlier one."""
        user = self.user
        value = basic_header(user.username, user.password.reveal())
        set_header(request, "Authorization", value)


BASIC = AuthType(
    name="basic",
    summary="HTTP Basic authentication with a user name and password",
    user_model=BasicUser,
    flow=BasicFlow,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``basic`` type."""
    return [BASIC]
