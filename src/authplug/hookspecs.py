"""The hooks a plugin implements.

A plugin is a module (or any object) with functions marked by
:data:`hookimpl`, registered through the entry-point group ``authplug``.
Each hook returns frozen records; the registry checks every record before
anything uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from authplug.records import AuthType

if TYPE_CHECKING:
    from authplug.stores.store_type import StoreType

__all__ = ["hookimpl", "hookspec"]

PROJECT = "authplug"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def authplug_auth_types() -> Iterable[AuthType]:
    """Return the auth types this plugin provides.

    Return an iterable of :class:`~authplug.AuthType` records. Each name and
    alias must be unique across every installed plugin.

    Example plugin module, registered in its ``pyproject.toml`` with
    ``[project.entry-points.authplug] acme = "acme_auth"``::

        import attrs
        import authplug
        from authplug import AuthType, Secret, hookimpl
        from authplug.builtin.token import TokenFlow, TokenApp

        @attrs.frozen(kw_only=True)
        class AcmeUser:
            access_token: Secret
            workspace: str = authplug.describe("The Acme workspace slug")

        ACME = AuthType(
            name="acme.key",
            summary="Acme workspace API key",
            user_model=AcmeUser,
            app_model=TokenApp,
            flow=TokenFlow,
        )

        @hookimpl
        def authplug_auth_types():
            return [ACME]
    """
    raise NotImplementedError


@hookspec
def authplug_token_stores() -> Iterable[StoreType]:
    """Return the kinds of token store this plugin provides.

    Return an iterable of :class:`~authplug.stores.store_type.StoreType`
    records, each naming the URL scheme that selects it and a factory that
    opens a store from the whole URL. Each scheme must be unique across
    every installed plugin. Import the store's client library inside the
    factory, so that listing stores costs nothing.

    Example plugin module, registered in its ``pyproject.toml`` with
    ``[project.entry-points.authplug] acme-vault = "acme_vault_store"``::

        from authplug import hookimpl
        from authplug.stores import TokenStore
        from authplug.stores.store_type import StoreType

        class VaultStore(TokenStore):
            def __init__(self, url):
                ...  # connect; get, put and delete, lock across hosts

        def open_vault(url):
            return VaultStore(url)

        @hookimpl
        def authplug_token_stores():
            return [
                StoreType(
                    scheme="vault",
                    factory=open_vault,
                    summary="Tokens in Acme Vault, shared by every host",
                )
            ]

    ``authplug.stores.open_store("vault://vault.internal/tokens")`` then
    opens it.
    """
    raise NotImplementedError
