"""Building OAuth2 requests: token requests for each grant, and the
authorization URL of the code grant.

Every token request carries the client's ``audience``, ``resource`` and
``token_params``, refreshes included, because services that need them
(Auth0's audience, RFC 8707 resources) need them on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authplug.builtin.oauth2 import RESERVED_TOKEN_PARAMS
from authplug.errors import ConfigError, FieldError
from authplug.http import Request, form_encode
from authplug.oauth2.client_auth import apply_client_auth

if TYPE_CHECKING:
    from authplug.builtin.oauth2 import OAuth2App, OAuth2Client

__all__ = [
    "RESERVED_PARAMS",
    "Authenticate",
    "authorization_url",
    "check_token_params",
    "extra_params",
    "parse_callback",
    "token_request",
]

FORM_TYPE = "application/x-www-form-urlencoded"

RESERVED_PARAMS = RESERVED_TOKEN_PARAMS
"""Token request fields that the grants or dedicated settings send."""


def check_token_params(client: OAuth2Client, path: str = "app") -> None:
    """Refuse ``token_params`` that would override what a grant sends.

    Raises:
        ConfigError: Naming each reserved parameter.
    """
    clashes = sorted(set(client.token_params) & RESERVED_PARAMS)
    if clashes:
        raise ConfigError(
            [
                FieldError(
                    f"{path}.token_params.{name}",
                    "is set by the grant itself; use the field for it "
                    "(scopes, client_id, ...) instead",
                )
                for name in clashes
            ]
        )


def extra_params(client: OAuth2Client) -> list[tuple[str, str]]:
    """Return the parameters every token request of ``client`` carries."""
    params: list[tuple[str, str]] = []
    if client.audience is not None:
        params.append(("audience", client.audience))
    if client.resource is not None:
        params.append(("resource", client.resource))
    params.extend(client.token_params.items())
    return params


Authenticate = Callable[[MutableMapping[str, str], list[tuple[str, str]]], None]
"""Adds a client's authentication to a token request's headers and fields."""


def token_request(
    client: OAuth2Client,
    grant: list[tuple[str, str]],
    *,
    authenticate: Authenticate | None = None,
) -> Request:
    """Return the POST to the token endpoint for one grant.

    Args:
        client: The client settings.
        grant: The grant's own fields, ``grant_type`` first.
        authenticate: Adds the client's authentication; by default the
            client's ``client_auth`` method (:func:`apply_client_auth`).
    """
    headers = {"Content-Type": FORM_TYPE, "Accept": "application/json"}
    params = list(grant)
    if authenticate is None:
        apply_client_auth(client, headers, params)
    else:
        authenticate(headers, params)
    params.extend(extra_params(client))
    return Request("POST", client.token_url, headers, form_encode(params))


def authorization_url(
    app: OAuth2App,
    *,
    state: str,
    redirect_uri: str | None,
    code_challenge: str | None,
    params: Mapping[str, str] | None = None,
) -> str:
    """Return the URL that sends a user to authorize the client.

    The query that ``auth_url`` already has is kept; ``params`` add to it
    (``prompt``, ``login_hint``, ``access_type`` and so on).
    """
    query: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", app.client_id),
    ]
    if redirect_uri is not None:
        query.append(("redirect_uri", redirect_uri))
    if app.scopes:
        query.append(("scope", " ".join(app.scopes)))
    query.append(("state", state))
    if code_challenge is not None:
        query.extend(
            [("code_challenge", code_challenge), ("code_challenge_method", "S256")]
        )
    if app.audience is not None:
        query.append(("audience", app.audience))
    if app.resource is not None:
        query.append(("resource", app.resource))
    query.extend((params or {}).items())

    parts = urlsplit(app.auth_url)
    existing = parse_qsl(parts.query, keep_blank_values=True)
    return urlunsplit(parts._replace(query=urlencode(existing + query)))


def parse_callback(callback: str) -> dict[str, str]:
    """Return the query parameters of a redirect URL (or of a bare query)."""
    text = callback.strip()
    if "://" in text:
        parts = urlsplit(text)
        # Some servers answer in the fragment (response_mode=fragment).
        text = parts.query or parts.fragment
    return dict(parse_qsl(text.lstrip("?#"), keep_blank_values=True))
