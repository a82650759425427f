"""Use authplug credentials with httpx2, sync and async: the default adapter.

One object serves both clients::

    import authplug, httpx2

    auth = authplug.auth(credentials)           # this module's Auth
    with httpx2.Client(auth=auth) as client:
        client.get("https://api.example.com/me")
    async with httpx2.AsyncClient(auth=auth) as client:
        await client.get("https://api.example.com/me")

    save(auth.credentials)                     # the newest tokens, to persist

Token requests are sent by the client the request came from (see
:mod:`authplug.adapters._httpx_family` for what that means for timeouts).
To run a one-off exchange yourself, such as the code grant's
:meth:`~authplug.oauth2.OAuth2Flow.exchange_code`, use :func:`run` or
:func:`arun`; there transport errors are retried like 503s.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import httpx2

from authplug.adapters._httpx_family import HttpxFamilyAuth, run_async, run_sync
from authplug.lifecycle import Exchange

__all__ = ["Auth", "arun", "run"]

T = TypeVar("T")


class Auth(HttpxFamilyAuth, httpx2.Auth):
    """An ``httpx2.Auth`` for any authplug credentials; see the module doc.

    Args:
        credentials: The credentials, or a mapping to load them from.
        store: Where tokens live; the process-wide memory store if None.
        key: The store key; derived from the credentials if None.
        **options: Flow options: ``margin``, ``default_lifetime``,
            ``lock_timeout``, ``retry``, ``refresh_on``, or ``policy``.
    """

    _http: ClassVar[Any] = httpx2


def run(exchange: Exchange[T], client: httpx2.Client) -> T:
    """Run ``exchange`` to the end with ``client`` and return its result."""
    return run_sync(exchange, client, httpx2.TransportError)


async def arun(exchange: Exchange[T], client: httpx2.AsyncClient) -> T:
    """Run ``exchange`` to the end with an async ``client``."""
    return await run_async(exchange, client, httpx2.TransportError)
