"""Use authplug credentials with httpx (an optional extra), sync and async.

The same as :mod:`authplug.adapters.httpx2`, for httpx itself::

    from authplug.adapters.httpx import Auth

    client = httpx.Client(auth=Auth(credentials))

httpx is imported when this module is; install it with
``pip install 'authplug[httpx]'``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from authplug.adapters._httpx_family import HttpxFamilyAuth, run_async, run_sync
from authplug.errors import MissingDependency
from authplug.lifecycle import Exchange

try:
    import httpx
except ImportError as err:  # pragma: no cover - exercised without the extra
    raise MissingDependency("the httpx adapter", "httpx") from err

__all__ = ["Auth", "arun", "run"]

T = TypeVar("T")


class Auth(HttpxFamilyAuth, httpx.Auth):
    """An ``httpx.Auth`` for any authplug credentials.

    Args:
        credentials: The credentials, or a mapping to load them from.
        store: Where tokens live; the process-wide memory store if None.
        key: The store key; derived from the credentials if None.
        **options: Flow options, as for :class:`authplug.adapters.httpx2.Auth`.
    """

    _http: ClassVar[Any] = httpx


def run(exchange: Exchange[T], client: httpx.Client) -> T:
    """Run ``exchange`` to the end with ``client`` and return its result."""
    return run_sync(exchange, client, httpx.TransportError)


async def arun(exchange: Exchange[T], client: httpx.AsyncClient) -> T:
    """Run ``exchange`` to the end with an async ``client``."""
    return await run_async(exchange, client, httpx.TransportError)
