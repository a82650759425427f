"""How an OAuth2 client authenticates at the token endpoint.

Three methods, named as RFC 7591 names them:

- ``client_secret_basic``: HTTP Basic with the client id and secret, each
  form-urlencoded *before* base64 (RFC 6749 section 2.3.1), so an id or
  secret holding ``:``, ``%``, ``+``, spaces or non-ASCII text survives.
  The server form-decodes them again.
- ``client_secret_post``: ``client_id`` and ``client_secret`` in the body.
- ``none``: a public client sends only ``client_id`` (PKCE protects the
  code grant).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import MutableMapping
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from authplug.builtin.oauth2 import OAuth2Client


__all__ = ["apply_client_auth", "basic_authorization"]


def basic_authorization(client_id: str, client_secret: str) -> str:
    """Return the ``Authorization`` value for ``client_secret_basic``."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + b64encode(pair.encode("ascii")).decode("ascii")


def apply_client_auth(
    client: OAuth2Client,
    headers: MutableMapping[str, str],
    params: list[tuple[str, str]],
) -> None:
    """Add the client's authentication to a token request being built."""
    method = client.client_auth
    secret = client.client_secret

    if method == "client_secret_basic" and secret is not None:
        headers["Authorization"] = basic_authorization(
            client.client_id, secret.reveal()
        )
        return

    params.append(("client_id", client.client_id))
    if method == "client_secret_post" and secret is not None:
        params.append(("client_secret", secret.reveal()))
