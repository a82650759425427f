"""Reading token endpoint responses: tokens, lifetimes, errors, retry hints.

Everything here is a pure function of a :class:`~authplug.http.Response`,
so every odd answer a real server gives can be tested directly:

- ``expires_in`` as an integer, a float, a numeric string or a float
  string; missing, zero, negative or unreadable means the documented
  default lifetime (an hour unless configured), never "forever".
- A refresh response without ``refresh_token`` keeps the one sent.
- An RFC 6749 section 5.2 error becomes :class:`~authplug.TokenError` with
  its ``error``, ``error_description`` and ``error_uri``;
  ``invalid_grant`` on a refresh or a code exchange becomes
  :class:`~authplug.ReauthorizationRequired`.
- A body that is not JSON (an HTML login page, a proxy's error page) gives
  an error naming the status and the content type, never the body.
- Server error text is scrubbed of every secret the request carried, in
  case a server echoes what it was sent.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from authplug.errors import ReauthorizationRequired, TokenError
from authplug.http import Response
from authplug.secret import MASK
from authplug.stores.base import TokenRecord

__all__ = [
    "ERROR_HINTS",
    "TRANSIENT_STATUSES",
    "clock_offset",
    "parse_expires_in",
    "parse_token_response",
    "retry_after",
    "scrub",
    "token_error",
]

logger = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another try: the server is busy or briefly broken."""

_REAUTHORIZE_GRANTS = frozenset({"refresh_token", "authorization_code"})
_JSON_TYPES = frozenset({"application/json", "text/json"})
_FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_ERROR_TEXT = 300


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every occurrence of a secret masked."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, MASK)
    return text


def parse_expires_in(value: object) -> float | None:
    """Return a positive, finite ``expires_in`` as seconds, or None.

    Integers, floats and strings holding either are accepted; booleans,
    other types, unreadable strings, zero and negative values are not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None

    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


def clock_offset(response: Response, received_at: float) -> float | None:
    """Return how far the server's clock runs ahead of ours, from ``Date``.

    Date has one-second resolution, so the result is good to about a
    second plus the network delay; None when the header is missing or
    unreadable.
    """
    raw = response.header("date")
    if not raw:
        return None
    try:
        server_time = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return server_time - received_at


def retry_after(response: Response, received_at: float) -> float | None:
    """Return the seconds ``Retry-After`` asks to wait, or None.

    Both forms are read: a number of seconds, and an HTTP date (measured
    against the response's own ``Date`` when it has one).
    """
    raw = response.header("retry-after")
    if not raw:
        return None

    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    offset = clock_offset(response, received_at) or 0.0
    return max(0.0, when - (received_at + offset))


def _body(response: Response) -> Mapping[str, Any] | None:
    """Return the body as a mapping if it is JSON or form data, else None."""
    media_type = response.content_type
    text = response.content.decode("utf-8", errors="replace").strip()

    if media_type == _FORM_TYPE:
        return dict(parse_qsl(text, keep_blank_values=True))

    looks_json = text.startswith("{")
    is_json = media_type in _JSON_TYPES or media_type.endswith("+json")
    if not (is_json or (looks_json and media_type in ("", "text/plain"))):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _describe_body(response: Response) -> str:
    status = response.status_code
    media_type = response.content_type or "no content type"
    if not response.content:
        return f"HTTP {status} with an empty body"
    if 200 <= status < 300:
        return f"HTTP {status} with {media_type}, not a JSON token"
    return f"HTTP {status} ({media_type})"


def token_error(
    response: Response,
    *,
    endpoint: str,
    grant_type: str,
    secrets: Iterable[str] = (),
    note: str = "",
    hints: Mapping[str, str] | None = None,
) -> TokenError:
    """Return the error a failed token response stands for.

    Args:
        response: The token endpoint's answer.
        endpoint: The token URL, named in the message.
        grant_type: The grant that was asked for.
        secrets: Values the request carried, masked out of server text.
        note: Said after the server's part, e.g. how many tries were made.
        hints: What to suggest after each error code; :data:`ERROR_HINTS`
            by default.
    """
    secrets = list(secrets)
    data = _body(response)
    status = response.status_code

    if data is None or not isinstance(data.get("error"), str):
        message = (
            f"token endpoint {endpoint} answered the {grant_type} grant with "
            f"{_describe_body(response)}{note}; check token_url, and that "
            "the service is up"
        )
        return TokenError(message, status_code=status)

    error = scrub(str(data["error"]), secrets)[:_MAX_ERROR_TEXT]
    description = _text_field(data, "error_description", secrets)
    uri = _text_field(data, "error_uri", secrets)

    message = (
        f"token endpoint {endpoint} refused the {grant_type} grant "
        f"(HTTP {status}): {error}"
    )
    if description:
        message += f": {description}"
    message += note

    fields: dict[str, Any] = {
        "error": error,
        "description": description,
        "uri": uri,
        "status_code": status,
    }
    if error == "invalid_grant" and grant_type in _REAUTHORIZE_GRANTS:
        message += ". The grant is no longer valid: the user must authorize again"
        return ReauthorizationRequired(message, **fields)
    hint = (ERROR_HINTS if hints is None else hints).get(error, "")
    return TokenError(message + hint, **fields)


def _text_field(data: Mapping[str, Any], name: str, secrets: list[str]) -> str | None:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        return None
    # Mask first: a secret cut in two by the limit would no longer match.
    return scrub(value, secrets)[:_MAX_ERROR_TEXT]


ERROR_HINTS: Mapping[str, str] = {
    "invalid_client": "; check client_id, client_secret and client_auth",
    "unauthorized_client": "; the client may not use this grant type",
    "invalid_scope": "; check the scopes the client asks for",
    "unsupported_grant_type": "; the server does not offer this grant",
    "invalid_grant": "; check the user name and password",
}
"""What a failed token request's message suggests, by error code; a flow
for another grant or client authentication gives its own
(:attr:`~authplug.oauth2.flows.TokenFlow.error_hints`)."""


def parse_token_response(
    response: Response,
    *,
    endpoint: str,
    grant_type: str,
    received_at: float,
    default_lifetime: float,
    previous: TokenRecord | None = None,
    requested_scopes: tuple[str, ...] = (),
    secrets: Iterable[str] = (),
    hints: Mapping[str, str] | None = None,
) -> tuple[TokenRecord, float]:
    """Return the tokens a successful response issued, and the clock offset.

    Times in the record are on the server's clock: ``received_at`` plus
    the offset measured from ``Date`` (zero without one).

    Args:
        response: The token endpoint's answer.
        endpoint: The token URL, for messages.
        grant_type: The grant that was asked for.
        received_at: Our clock when the response arrived.
        default_lifetime: Seconds an access token lives when the response
            gives no usable ``expires_in``.
        previous: The tokens being refreshed: their refresh token and
            scopes carry over when the response leaves them out.
        requested_scopes: The scopes asked for, assumed granted when the
            response names none.
        secrets: Values the request carried, masked out of server text.
        hints: What an error message suggests, by error code; see
            :func:`token_error`.

    Raises:
        TokenError: The response is an error or holds no access token.
    """
    secrets = list(secrets)
    data = _body(response) if 200 <= response.status_code < 300 else None
    if data is None or "error" in data:
        raise token_error(
            response,
            endpoint=endpoint,
            grant_type=grant_type,
            secrets=secrets,
            hints=hints,
        )

    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenError(
            f"token endpoint {endpoint} answered the {grant_type} grant with "
            "no access_token; the service may not implement OAuth2 as "
            "expected",
            status_code=response.status_code,
        )

    offset = clock_offset(response, received_at) or 0.0
    issued_at = received_at + offset
    lifetime = _lifetime(data, default_lifetime, endpoint)

    refresh_token = data.get("refresh_token")
    if isinstance(refresh_token, str) and refresh_token:
        kept_refresh: Any = refresh_token
    else:
        # No new one: the server keeps the old one valid (RFC 6749 6).
        kept_refresh = previous.refresh_token if previous else None

    record = TokenRecord(
        access_token=access_token,
        refresh_token=kept_refresh,
        expires_at=issued_at + lifetime,
        issued_at=issued_at,
        token_type=_token_type(data.get("token_type")),
        scopes=_granted_scopes(data.get("scope"), previous, requested_scopes),
    )
    return record, offset


def _lifetime(data: Mapping[str, Any], default: float, endpoint: str) -> float:
    raw = data.get("expires_in")
    seconds = parse_expires_in(raw)
    if seconds is not None:
        return seconds

    if raw is None:
        logger.debug(
            "token from %s has no expires_in; assuming %g s", endpoint, default
        )
    else:
        logger.warning(
            "token from %s has an unusable expires_in (%s); assuming %g s",
            endpoint,
            type(raw).__name__,
            default,
        )
    return default


def _token_type(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "Bearer"
    if value.lower() == "bearer":
        return "Bearer"
    return value


def _granted_scopes(
    value: object, previous: TokenRecord | None, requested: tuple[str, ...]
) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(dict.fromkeys(value.replace(",", " ").split()))
    if previous is not None and previous.scopes:
        return previous.scopes
    return requested
