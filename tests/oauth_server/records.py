"""What the server saw: one record per token or API request, in arrival order.

A record is written when the request arrives (``status`` None: in flight)
and replaced by its finished form when the answer goes out, so a test that
asserts right after a client timed out still sees the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from attrs import frozen

__all__ = ["ApiRequestRecord", "TokenRequestRecord"]


@frozen
class TokenRequestRecord:
    """One request to the token endpoint.

    Args:
        index: Position in arrival order, from 0.
        grant_type: The ``grant_type`` form field, None when absent.
        form: The form fields (first value of each).
        form_lists: Every value of every form field.
        query: The query string parameters.
        headers: The request headers, names in lower case.
        received_at: Server time of arrival (``time.time()``).
        fault: The kind of injected fault that answered, if any.
        status: The response status; None while the request is in flight.
        client_id: The client Authlib authenticated, if it got that far.
        auth_method: The client authentication method that succeeded.
        response: The response body, parsed when it was JSON.
    """

    index: int
    grant_type: str | None
    form: Mapping[str, str]
    form_lists: Mapping[str, tuple[str, ...]]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    received_at: float
    fault: str | None = None
    status: int | None = None
    client_id: str | None = None
    auth_method: str | None = None
    response: Any = None

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """Return the HTTP Basic user and password exactly as sent.

        They are base64-decoded but not form-decoded, so a test can check
        how the client encoded them.
        """
        header = self.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None

        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None


@frozen
class ApiRequestRecord:
    """One request to a protected resource.

    Args:
        index: Position in arrival order, from 0.
        method: The HTTP method.
        path: The request path.
        headers: The request headers, names in lower case.
        access_token: The bearer token sent, None when there was none.
        received_at: Server time of arrival.
        fault: The kind of injected fault that answered, if any.
        status: The response status; None while in flight.
        client_id: The client the token belongs to, when it was valid.
        username: The user the token belongs to, when it has one.
    """

    index: int
    method: str
    path: str
    headers: Mapping[str, str]
    access_token: str | None
    received_at: float
    fault: str | None = None
    status: int | None = None
    client_id: str | None = None
    username: str | None = None
