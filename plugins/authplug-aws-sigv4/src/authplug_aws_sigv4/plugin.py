"""The ``aws.sigv4`` auth type: requests signed with AWS Signature Version 4.

The registry finds this module through the entry-point group ``authplug``.
Credentials look like this::

    {
        "type": "aws.sigv4",
        "user": {
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        },
        "app": {"region": "eu-west-1", "service": "execute-api"},
    }
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal

from attrs import frozen
from authplug.errors import ConfigError, FieldError
from authplug.fields import describe
from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl
from authplug.http import Request
from authplug.records import AuthType
from authplug.secret import Secret, reveal

from authplug_aws_sigv4.signing import MAX_EXPIRES, Placement, sign_request

__all__ = ["AWS_SIGV4", "SigV4App", "SigV4Flow", "SigV4User"]

# Each rule is one regular expression, checked on loading and put in the
# JSON Schema, so that a form accepts exactly what loading does.
_ACCESS_KEY_ID: Final = r"[\x21-\x2e\x30-\x7e]+"  # printable ASCII but "/"
_SECRET: Final = r"\S(?:[\s\S]*\S)?"  # no blank at either end
_SESSION_TOKEN: Final = r"[\x21-\x7e]+"  # one word of printable ASCII
_SIGNING_WORD: Final = r"[a-z0-9]+(?:-[a-z0-9]+)*"


def _schema_rule(rule: str) -> dict[str, Any]:
    # "(?![\s\S])" means the very end in both ECMA-262 and Python, while
    # "$" lets a trailing line break through in Python's re.
    return {"json_schema": {"pattern": f"^(?:{rule})(?![\\s\\S])"}}


Check = Callable[[object], str | None]


def _problems(instance: object, checks: dict[str, Check]) -> None:
    """Run every check and raise one ConfigError naming each bad field.

    Checking in one place, not in per-field validators that stop at the
    first failure, lets a user fix every mistake in one go.
    """
    errors = []
    for name, check in checks.items():
        message = check(getattr(instance, name))
        if message is not None:
            errors.append(FieldError(name, message))
    if errors:
        raise ConfigError(errors)


def _check_access_key_id(value: object) -> str | None:
    if isinstance(value, str) and re.fullmatch(_ACCESS_KEY_ID, value):
        return None
    if isinstance(value, str) and "/" in value:
        return "must not contain '/', which separates the credential scope"
    return "must be a non-empty access key id without spaces, e.g. AKIA..."


# The secret checks never quote the value: it is the secret.


def _check_secret(value: object) -> str | None:
    if not isinstance(value, Secret):
        return "must be an authplug.Secret"
    text = value.reveal()
    if not text:
        return "must not be empty"
    if not re.fullmatch(_SECRET, text):
        return "has spaces or a line break at either end; paste it again"
    return None


def _check_session_token(value: object) -> str | None:
    if value is None:
        return None
    problem = _check_secret(value)
    if problem is not None or not isinstance(value, Secret):
        return problem

    # It travels as it is in a header or a URL, so it must be one word.
    if not re.fullmatch(_SESSION_TOKEN, value.reveal()):
        return "must be one word of printable ASCII characters, as STS issues it"
    return None


def _check_signing_word(example: str) -> Check:
    def check(value: object) -> str | None:
        if isinstance(value, str) and re.fullmatch(_SIGNING_WORD, value):
            return None
        return (
            f"must be lower-case letters, digits and hyphens, such as "
            f"{example!r}, got {value!r}"
        )

    return check


def _check_expires(value: object) -> str | None:
    if isinstance(value, int) and 1 <= value <= MAX_EXPIRES:
        return None
    return f"must be between 1 and {MAX_EXPIRES} seconds (7 days), got {value!r}"


@frozen(kw_only=True)
class SigV4User:
    """The AWS access key pair, and a session token for temporary ones."""

    access_key_id: str = describe(
        "The access key id, such as AKIAIOSFODNN7EXAMPLE",
        metadata=_schema_rule(_ACCESS_KEY_ID),
    )
    secret_access_key: Secret = describe(
        "The secret access key", metadata=_schema_rule(_SECRET)
    )
    session_token: Secret | None = describe(
        "The session token that comes with temporary (STS) credentials",
        default=None,
        metadata=_schema_rule(_SESSION_TOKEN),
    )

    def __attrs_post_init__(self) -> None:
        _problems(
            self,
            {
                "access_key_id": _check_access_key_id,
                "secret_access_key": _check_secret,
                "session_token": _check_session_token,
            },
        )


@frozen(kw_only=True)
class SigV4App:
    """The region and service to sign for, and how to sign."""

    region: str = describe(
        "The region to sign for, such as us-east-1",
        metadata=_schema_rule(_SIGNING_WORD),
    )
    service: str = describe(
        "The service's signing name, such as s3, execute-api or es",
        metadata=_schema_rule(_SIGNING_WORD),
    )
    placement: Literal["header", "query"] = describe(
        "Where the signature goes: the Authorization header, or the query "
        "string as a presigned URL",
        default="header",
    )
    expires: int = describe(
        "Seconds a presigned URL stays valid, for placement 'query'",
        default=3600,
        metadata={"json_schema": {"minimum": 1, "maximum": MAX_EXPIRES}},
    )
    unsigned_payload: bool = describe(
        "Sign UNSIGNED-PAYLOAD instead of the body's SHA-256, as S3 allows",
        default=False,
    )

    def __attrs_post_init__(self) -> None:
        _problems(
            self,
            {
                "region": _check_signing_word("us-east-1"),
                "service": _check_signing_word("execute-api"),
                "expires": _check_expires,
            },
        )


class SigV4Flow(AuthFlow[SigV4User, SigV4App]):
    """Sign every request with AWS Signature Version 4.

    The signing time comes from the flow's clock, so a test can fix it.
    Signing a request again (a retry) replaces the earlier signature.
    """

    # The payload hash covers the body, so adapters must hand it over.
    requires_request_body: ClassVar[bool] = True

    def apply(self, request: Request) -> None:
        """Sign ``request`` in place, in its headers or its query string."""
        user = self.user
        app = self.app

        sign_request(
            request,
            access_key_id=user.access_key_id,
            secret_access_key=user.secret_access_key.reveal(),
            session_token=reveal(user.session_token),
            region=app.region,
            service=app.service,
            timestamp=datetime.fromtimestamp(self.clock(), UTC),
            placement=Placement(app.placement),
            expires=app.expires,
            unsigned_payload=app.unsigned_payload,
        )


AWS_SIGV4 = AuthType(
    name="aws.sigv4",
    summary="AWS Signature Version 4: requests signed with an access key pair",
    user_model=SigV4User,
    app_model=SigV4App,
    flow=SigV4Flow,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``aws.sigv4`` type."""
    return [AWS_SIGV4]
